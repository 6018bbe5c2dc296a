// The whole public API of the CLIP library.
#pragma once

#include "clip/atomic_file.h"
#include "clip/checkpoint.h"
#include "clip/collection.h"
#include "clip/error.h"
#include "clip/image.h"
#include "clip/model.h"
#include "clip/models.h"
#include "clip/npy.h"
#include "clip/tensor.h"
#include "clip/threads.h"
#include "clip/tokenizer.h"
#include "clip/version.h"

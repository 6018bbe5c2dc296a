// CLIP_API marks the public API. The library is compiled with hidden symbol visibility, so
// a shared build (-DBUILD_SHARED_LIBS=ON) exports these declarations and nothing else.
#pragma once

#define CLIP_API __attribute__((visibility("default")))

// Threads, as torch.set_num_threads / torch.get_num_threads.
#pragma once

#include "clip/export.h"

namespace clip {

// The threads the library uses where no model's own count applies: checkpoint loading, and
// the default of models created afterwards (Model::set_num_threads changes one model).
// Default: OMP_NUM_THREADS when set, else the CPUs this process may use (its affinity
// mask, capped by its cgroup's CPU quota, v1 or v2, rounded up). clip::Error below 1.
CLIP_API void set_num_threads(int threads);
CLIP_API int get_num_threads();

}  // namespace clip

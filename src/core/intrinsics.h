// <immintrin.h> for the files with hand-written x86 SIMD (AVX2 / AVX-512), without GCC 12's
// false warnings: it flags its own _mm512_undefined_*() inside the AVX-512 intrinsics as
// maybe uninitialised (GCC bug 105593, fixed in GCC 13). The warning is reported at the
// intrinsics' location, so it is set off before they are included, for the including file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

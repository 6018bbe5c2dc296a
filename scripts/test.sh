#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite, then the library as other
# projects use it (scripts/test_install.sh: install, find_package, pkg-config, shared
# library, .deb). ../shared (the golden data made with the Python reference) must be beside
# the repository: nothing may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCLIP_WERROR=ON
cmake --build build -j"$(nproc)"
CLIP_REQUIRE_SHARED=1 ctest --test-dir build --output-on-failure -j"$(nproc)"
bash scripts/test_install.sh

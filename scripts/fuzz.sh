#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) and
# runs each for SECONDS, seeded from ../shared/fixtures. Prints one line per target:
#   FUZZ target=<name> seconds=<s> execs=<n> crashes=<n>
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (default: all targets)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
# "image" reaches every decoder through format detection; jpeg, png, gif, webp, bmp, tiff,
# ppm, tga, ico, heif, psd, dds and jpeg2000 call one decoder directly and can be named on the command line. Seeds: the shared
# fixtures' images and the repository's format cases (tests/image/formats).
((${#targets[@]})) || targets=(tokenizer serve_request pickle torch_pickle zip zip_layout torch_checkpoint safetensors image)
shared=${CLIP_SHARED_DIR:-../shared}
build=build-fuzz
work=${CLIP_FUZZ_DIR:-/tmp/clip-fuzz}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined" \
  -DCLIP_BUILD_TESTS=OFF -DCLIP_BUILD_BENCHMARKS=OFF -DCLIP_BUILD_FUZZERS=ON -DCLIP_PYTHON=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

seed() {  # seed <target> <dir>
  local t=$1 dir=$2 images="$shared/fixtures/preprocess/images" formats=tests/image/formats/images
  mkdir -p "$dir"
  case $t in
    tokenizer) python3 -c "
import json, sys
for i, line in enumerate(open('$shared/fixtures/tokenizer/cases.jsonl')):
    open(f'$dir/{i}', 'wb').write(json.loads(line)['text'].encode('utf-8', 'surrogatepass'))" ;;
    pickle) for m in "$shared"/fixtures/models/*/; do
              for f in model.pt state_dict.pt; do
                [[ -f $m$f ]] || continue
                python3 -c "
import zipfile, sys
z = zipfile.ZipFile('$m$f')
name = [n for n in z.namelist() if n.endswith('/data.pkl')][0]
open('$dir/$(basename "$m")_$f.pkl', 'wb').write(z.read(name))"
              done
            done ;;
    zip|torch_checkpoint) cp "$shared/fixtures/models/vit-p16-tiny/model.pt" "$dir/model.pt"
                          cp "$shared/fixtures/models/rn50-tiny/state_dict.pt" "$dir/state_dict.pt" ;;
    torch_pickle|zip_layout) fuzz/make_seeds.py "$t" "$dir" ;;
    safetensors) fuzz/make_seeds.py safetensors "$dir"
                 python3 -c "
import json, struct
h = json.dumps({'__metadata__': {'format': 'pt'}, 'visual.proj': {'dtype': 'F16', 'shape': [2, 2], 'data_offsets': [0, 8]},
                'logit_scale': {'dtype': 'F32', 'shape': [], 'data_offsets': [8, 12]}}).encode()
open('$dir/seed.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + bytes(12))" ;;
    serve_request) for body in '{"texts": ["a dog", "a cat"], "normalize": false}' '{"texts": ["x"], "truncate": true}' \
                               '{"text": "a dog on a beach", "top": 3, "templates": ["a photo of a {}."]}' '[1, {"a": null}]'; do
                     printf '%s' "$body" > "$dir/$(printf '%s' "$body" | md5sum | cut -c1-8)"
                   done ;;
    image) cp "$images"/* "$formats"/* "$dir/" ;;
    jpeg) cp "$images"/*.jpg "$dir/" ;;
    png) cp "$images"/*.png "$dir/" ;;
    gif) cp "$images"/*.gif "$formats"/*.gif "$dir/" ;;
    webp) cp "$images"/*.webp "$dir/" ;;
    bmp) cp "$images"/*.bmp "$formats"/*.bmp "$dir/" ;;
    tiff) cp "$images"/*.tif "$formats"/*.tif "$dir/" ;;
    ppm) cp "$formats"/*.p?m "$dir/" ;;
    tga) cp "$formats"/*.tga "$dir/" ;;
    ico) cp "$formats"/*.ico "$formats"/*.cur "$dir/" ;;
    heif) cp "$formats"/*.heic "$formats"/*.avif "$dir/" ;;
    psd) cp "$formats"/*.psd "$dir/" ;;
    dds) cp "$formats"/*.dds "$dir/" ;;
    jpeg2000) cp "$formats"/*.jp2 "$formats"/*.j2k "$dir/" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus="$work/$t/corpus" artifacts="$work/$t/artifacts/"
  rm -rf "$artifacts" && mkdir -p "$corpus" "$artifacts"
  seed "$t" "$corpus"  # into what earlier runs found
  log="$work/$t/log.txt"
  case $t in  # dictionaries of the values that found issue #15's classes
    pickle|torch_pickle|zip_layout|torch_checkpoint) dict=(-dict=fuzz/pickle.dict) ;;
    safetensors) dict=(-dict=fuzz/safetensors.dict) ;;
    *) dict=() ;;
  esac
  LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" "$build/fuzz/fuzz_$t" "$corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2560 -timeout=25 -max_len=2200000 \
    -artifact_prefix="$artifacts" >"$log" 2>&1 || true
  execs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo 0)
  crashes=$(find "$artifacts" -type f | wc -l)
  echo "FUZZ target=$t seconds=$seconds execs=${execs:-0} crashes=$crashes"
  ((crashes == 0)) || { status=1; ls "$artifacts"; tail -30 "$log"; }
done
exit $status

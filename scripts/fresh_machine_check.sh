#!/usr/bin/env bash
# Proves the README's set-up on a new machine. Builds a pristine Debian root (bookworm =
# Debian 12, trixie = 13) with mmdebstrap from this machine's apt sources, copies a clean
# clone of HEAD and ../shared into it, and runs there exactly the README's two commands:
# the quick start line (its output must be what the README shows), then the test command.
# Then installs the .deb those tests packed into a second pristine root, which has no
# build tools, and runs `clip classify` there. Prints each step's time and PASS or FAIL.
#
# Usage (as root): scripts/fresh_machine_check.sh bookworm|trixie
# The roots carry this machine's network settings as a container build would: the proxy
# variables, the CA bundles named by SSL_CERT_FILE / NODE_EXTRA_CA_CERTS, the system-wide
# npm config and apt's proxy settings. Everything made is unmounted and removed on exit.
set -euo pipefail

release=${1:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "${CLIP_SHARED_DIR:-$repo/../shared}" 2>/dev/null && pwd || true)
start=$SECONDS
fail() {
  echo "fresh_machine_check $release: $*" >&2
  echo "FAIL fresh_machine_check $release ($((SECONDS - start)) s)"
  exit 1
}
[[ $release == bookworm || $release == trixie ]] || { echo "usage: $0 bookworm|trixie" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || fail "must run as root (mmdebstrap and chroot)"
command -v mmdebstrap >/dev/null || fail "mmdebstrap is missing (apt-get install mmdebstrap)"
[[ -n $shared && -d $shared/fixtures ]] || fail "no golden data at ${CLIP_SHARED_DIR:-$repo/../shared}"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/clip-fresh-$release.XXXXXX")
cleanup() {
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- This machine's Debian sources and network settings ----------------------------
# The archive and security URIs of the sources apt uses here, for the requested release.
read -r mirror security < <(python3 - <<'EOF'
import glob, re
archive = security = ""
def add(uri, suites):
    global archive, security
    for s in suites:
        if s.endswith("-security"):
            security = security or uri
        else:
            archive = archive or uri
for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        f = dict((k.strip(), v.strip()) for k, v in re.findall(r"^([\w-]+):(.*)$", stanza, re.M))
        if "deb" in f.get("Types", "").split() and f.get("Enabled", "yes") != "no" and "URIs" in f:
            add(f["URIs"].split()[0], f.get("Suites", "").split())
for path in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):
    try:
        for line in open(path):
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                add(m.group(1), [m.group(2)])
    except FileNotFoundError:
        pass
print(archive or "-", security or "-")
EOF
)
[[ $mirror != - ]] || fail "no Debian archive in this machine's apt sources"
sources=("deb $mirror $release main" "deb $mirror $release-updates main")
[[ $security != - ]] && sources+=("deb $security $release-security main")
python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=30).read(64)" \
  "$mirror/dists/$release/InRelease" 2>/dev/null || fail "cannot reach $mirror (no network?)"

env_vars=(DEBIAN_FRONTEND=noninteractive HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY SSL_CERT_FILE NODE_EXTRA_CA_CERTS; do
  [[ -n ${!v:-} ]] && env_vars+=("$v=${!v}")
done
aptopts=()
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  [[ -f $f ]] && grep -qiE 'Proxy|Check-Valid-Until|Check-Date' "$f" && aptopts+=(--aptopt="$f")
done

new_root() {  # new_root <dir>: a pristine root with this machine's network settings
  local root=$1 f
  mmdebstrap --quiet "${aptopts[@]}" "$release" "$root" "${sources[@]}" >"$work/$(basename "$root").log" 2>&1 ||
    { tail -20 "$work/$(basename "$root").log"; fail "mmdebstrap $release failed"; }
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  for f in "${SSL_CERT_FILE:-}" "${NODE_EXTRA_CA_CERTS:-}"; do
    [[ -n $f && -f $f ]] || continue
    mkdir -p "$root$(dirname "$f")" "$root/usr/local/share/ca-certificates"
    cp "$f" "$root$f"
    # Kept when ca-certificates is installed and rebuilds the bundle.
    cp "$f" "$root/usr/local/share/ca-certificates/host-$(basename "$f" .crt).crt"
  done
  for f in /etc/npmrc /usr/etc/npmrc /usr/local/etc/npmrc; do
    [[ -f $f ]] && mkdir -p "$root$(dirname "$f")" && cp "$f" "$root$f"
  done
  # (Run under `step`, where set -e does not apply: each failure returns.)
  mount -t proc proc "$root/proc" || return 1
  mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" || return 1
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" || return 1
}
in_root() {  # in_root <root> <dir> <command>: as a new login shell would run it
  chroot "$1" /usr/bin/env -i "${env_vars[@]}" /bin/bash -c "cd $2 && $3"
}
step() {  # step <name> <command...>: runs it, prints its time
  local t=$SECONDS
  echo "fresh_machine_check $release: $1 ..."
  "${@:2}" || fail "$1 failed"
  echo "STEP $release $1: $((SECONDS - t)) s"
}

# --- The README's commands, from the README itself ------------------------------------
readme_block() {  # readme_block <n>: the n-th fenced block after "## Quick start"
  awk -v n="$1" '/^## Quick start/ {on = 1} on && /^```/ {i++; next} on && i == 2 * n - 1 {print}' "$repo/README.md"
}
quick_start=$(readme_block 1)
quick_start_output=$(readme_block 2)
test_command=$(grep -m1 -E '^bash scripts/test\.sh' "$repo/README.md")
[[ $quick_start == "bash scripts/setup.sh && "* && -n $quick_start_output && -n $test_command ]] ||
  fail "cannot find the quick start and test commands in README.md"

# --- 1. Build and test in a pristine root ----------------------------------------------
root=$work/build-root
step "pristine root (mmdebstrap)" new_root "$root"
mkdir -p "$root/home/user"
git clone -q --no-hardlinks "$repo" "$root/home/user/clip-cpp"
cp -r "$shared" "$root/home/user/shared"
run_quick_start() {
  in_root "$root" /home/user/clip-cpp "$quick_start" | tee "$work/quick_start.out" | tail -8
  diff <(tail -n "$(wc -l <<<"$quick_start_output")" "$work/quick_start.out") <(echo "$quick_start_output") ||
    { echo "the quick start printed something else than the README shows"; return 1; }
}
step "quick start (README)" run_quick_start
run_tests() {
  # On failure: what the failing tests said (gtest's failure lines; the log is removed with
  # the root), then the summary.
  in_root "$root" /home/user/clip-cpp "$test_command" >"$work/tests.log" 2>&1 || {
    grep -E -B3 -A6 'Failure$|^\[  FAILED  \] [A-Za-z]|differ' "$work/tests.log" | head -120
    tail -40 "$work/tests.log"
    return 1
  }
  grep -E 'tests passed|test_install: ok' "$work/tests.log"
}
step "test command (README)" run_tests
deb=$(find "$root/home/user/clip-cpp/build/package" -maxdepth 1 -name 'clip-cpp_*.deb' | head -1)
[[ -n $deb ]] || fail "the tests made no .deb"
cp "$deb" "$work/"
deb=$work/$(basename "$deb")

# --- 2. The .deb in a second pristine root, with no build tools -----------------------
user_root=$work/user-root
step "pristine root for the .deb (mmdebstrap)" new_root "$user_root"
mkdir -p "$user_root/home/user/examples/images"
cp "$deb" "$user_root/tmp/"
cp "$repo/examples/images/red-star.png" "$user_root/home/user/examples/images/"
run_deb() {
  in_root "$user_root" /home/user "! command -v c++ && ! command -v cmake" >/dev/null ||
    { echo "the root has build tools"; return 1; }
  in_root "$user_root" /tmp "apt-get update -qq && apt-get install -y -qq ./$(basename "$deb")" \
    >"$work/deb.log" 2>&1 || { tail -20 "$work/deb.log"; return 1; }
  # The quick start's classification, with the installed tool.
  local command=${quick_start##*&& ./build/clip }
  in_root "$user_root" /home/user "clip $command" | tee "$work/deb.out"
  diff "$work/deb.out" <(echo "$quick_start_output") >/dev/null || { echo "the installed clip printed something else"; return 1; }
}
step "apt install ./$(basename "$deb") and clip classify" run_deb

echo "PASS fresh_machine_check $release ($((SECONDS - start)) s)"

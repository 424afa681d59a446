#!/usr/bin/env bash
# Prove that `pip install 'edgephoto[runtime]'` alone runs correctly on a Raspberry-Pi-class aarch64
# system, emulated: Debian bookworm arm64 rootfs + qemu-user (binfmt), CPU cortex-a76 (Pi 5).
#
#   sudo scripts/aarch64_check.sh [ROOTFS]        (default /tmp/edgephoto-arm64)
#
# Exits non-zero when any raw engine output on aarch64 differs from the host's beyond tolerance
# (benchmarks/aarch64_check.py compare). For CI: CONTROL_CPU= skips the control run,
# RESULTS=DIR keeps the report out of the work tree, STEP_TIMEOUT bounds each emulated step.
#
# Steps (each skipped when already done, so re-running is cheap apart from the pip install):
#   1. qemu-user-static, debootstrap, binfmt-support; binfmt_misc mounted, qemu-aarch64 enabled
#   2. debootstrap arm64 bookworm minbase with python3, venv, pip, ca-certificates
#   3. the host's extra CA certificates and /etc/pip.conf into the rootfs (the other host pip
#      files point at x86-only local wheel mirrors and are left out on purpose)
#   4. artifacts built on the host (fastdepth, selfie, fsrcnn-x2 -> tflite, onnx, openvino) with
#      the host venv ($HOST_PY, needs the convert extra), copied in with `git archive HEAD`
#   5. inside the chroot: a fresh venv, `pip install './edgephoto[runtime]'` (timed, no pip cache),
#      pip check, venv size, the wheels taken (pip --report)
#   6. benchmarks/aarch64_check.py run on the host and in the chroot, again in the chroot under
#      QEMU_CPU=$CONTROL_CPU (default max: shows the check can fail), then compare ->
#      benchmarks/results/aarch64_check.{json,md}
#
# Two traps (see /work/shared/ENVIRONMENT.md): QEMU 7.2 shows the guest the host's x86
# /proc/cpuinfo (onnxruntime and LiteRT segfault), so an ARM-style cpuinfo is bind-mounted over
# it; QEMU's default `max` CPU makes LiteRT's XNNPACK return silently wrong outputs, so QEMU_CPU
# is set (cortex-a76 = Pi 5; cortex-a72 = Pi 4). Mounts live in a private mount namespace
# (unshare), so nothing stays mounted and the host's /proc is never touched.
set -euo pipefail

ROOTFS=$(realpath -m "${1:-/tmp/edgephoto-arm64}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
ART=${ART:-/tmp/arm-art}
OUT=${OUT:-/tmp/arm-out}
QEMU_CPU=${QEMU_CPU:-cortex-a76}
CONTROL_CPU=${CONTROL_CPU-max}     # empty: skip the control run
MIRROR=${MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MODELS=(${MODELS:-fastdepth selfie fsrcnn-x2})
RESULTS=${RESULTS:-$REPO/benchmarks/results}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}  # seconds per emulated step (install, run)
WORK=/opt/edgephoto-check          # inside the rootfs
export EDGEPHOTO_WEIGHTS_PATH=${EDGEPHOTO_WEIGHTS_PATH:-/work/shared/weights}

log() { printf '== %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot, mounts)" >&2; exit 1; }

# 1. tools and binfmt
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
   || ! command -v update-binfmts >/dev/null; then
  log "installing qemu-user-static debootstrap binfmt-support"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap binfmt-support
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

# 2. rootfs
if [ ! -e "$ROOTFS/.edgephoto-debootstrap-done" ]; then
  log "debootstrap arm64 bookworm into $ROOTFS from $MIRROR"
  rm -rf "$ROOTFS"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$ROOTFS" "$MIRROR"
  touch "$ROOTFS/.edgephoto-debootstrap-done"
fi

# 3. CA certificates and pip configuration
mkdir -p "$ROOTFS/usr/local/share/ca-certificates" "$ROOTFS$WORK"
cp -a /usr/local/share/ca-certificates/. "$ROOTFS/usr/local/share/ca-certificates/"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$ROOTFS/etc/pip.conf"
case "$QEMU_CPU" in  # what a Pi's kernel shows; only the fields the engines read
  cortex-a72) PART=0xd08 VARIANT=0x0 REV=3 FEATURES="fp asimd evtstrm crc32 cpuid" ;;
  *) PART=0xd0b VARIANT=0x4 REV=1
     FEATURES="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
esac
CPUINFO="$ROOTFS$WORK/cpuinfo"
: > "$CPUINFO"
for ((i = 0; i < $(nproc); i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %d\n\n' \
    "$i" "$FEATURES" "$VARIANT" "$PART" "$REV" >> "$CPUINFO"
done

in_chroot() {  # run a bash script inside the rootfs, private mounts, ARM cpuinfo, chosen QEMU CPU
  timeout --kill-after=20 "$STEP_TIMEOUT" unshare --mount --propagation private bash -euc '
    R=$1; shift
    mount -t proc proc "$R/proc"
    mount --bind "$R'"$WORK"'/cpuinfo" "$R/proc/cpuinfo"
    mount --rbind /sys "$R/sys"
    mount --rbind /dev "$R/dev"
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" \
      PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 chroot "$R" /bin/bash -euc "$1"
  ' _ "$ROOTFS" "$1"
}
export QEMU_CPU
in_chroot 'update-ca-certificates >/dev/null; uname -m; python3 --version; grep -m1 "CPU part" /proc/cpuinfo'

# 4. artifacts (built on the host) and the repo at HEAD
for model in "${MODELS[@]}"; do
  if [ ! -e "$ART/$model/tflite-fp32/manifest.json" ] || [ ! -e "$ART/$model/onnx-fp32/manifest.json" ] \
     || [ ! -e "$ART/$model/openvino-fp32/manifest.json" ]; then
    log "converting $model on the host"
    "$(dirname "$HOST_PY")/edgephoto" convert --model "$model" --target tflite,onnx,openvino --out "$ART"
  fi
done
COMMIT=$(git -C "$REPO" rev-parse HEAD)
rm -rf "$ROOTFS$WORK/edgephoto" "$ROOTFS$WORK/art" "$ROOTFS$WORK/out"
mkdir -p "$ROOTFS$WORK/edgephoto"
git -C "$REPO" archive HEAD | tar -x -C "$ROOTFS$WORK/edgephoto"
cp -a "$ART" "$ROOTFS$WORK/art"

# 5. the runtime extra alone, in a fresh venv
log "pip install './edgephoto[runtime]' inside the chroot (emulated; minutes)"
in_chroot "
  cd $WORK && rm -rf venv && python3 -m venv venv
  start=\$(date +%s.%N)
  venv/bin/pip install --no-cache-dir --report pip-report.json './edgephoto[runtime]' > pip-install.log 2>&1
  end=\$(date +%s.%N)
  venv/bin/pip check > pip-check.log 2>&1 || true
  echo \"\$start \$end \$(du -sm venv | cut -f1) \$(venv/bin/pip --version | cut -d' ' -f2)\" > install-facts.txt
"
read -r START END VENV_MB PIP_VERSION < "$ROOTFS$WORK/install-facts.txt"
mkdir -p "$OUT"
cp "$ROOTFS$WORK/pip-report.json" "$ROOTFS$WORK/pip-install.log" "$OUT/"
"$HOST_PY" - "$ROOTFS$WORK/pip-report.json" "$OUT/install.json" <<EOF
import json, sys
from urllib.parse import unquote
report = json.load(open(sys.argv[1]))
wheels = sorted(unquote(i["download_info"]["url"].rsplit("/", 1)[-1]) for i in report["install"])
facts = {"pip_install_s": round($END - $START, 1), "venv_mb": $VENV_MB, "pip": "$PIP_VERSION",
         "command": "pip install --no-cache-dir './edgephoto[runtime]'", "wheels": wheels,
         "pip_check": open("$ROOTFS$WORK/pip-check.log").read().strip(), "commit": "$COMMIT",
         "qemu": "$(qemu-aarch64-static --version | head -1)", "qemu_cpu": "$QEMU_CPU",
         "rootfs": "debootstrap --arch=arm64 --variant=minbase bookworm"}
json.dump(facts, open(sys.argv[2], "w"), indent=1)
print(json.dumps(facts, indent=1))
EOF

# 6. the same runs on both sides, then compare
log "running the artifacts on the host"
"$HOST_PY" "$REPO/benchmarks/aarch64_check.py" run --artifacts "$ART" --out "$OUT" --label host
log "running the artifacts inside the chroot (emulated; minutes)"
in_chroot "cd $WORK && venv/bin/python edgephoto/benchmarks/aarch64_check.py run --artifacts art --out out --label aarch64"
cp "$ROOTFS$WORK/out/outputs-aarch64.json" "$ROOTFS$WORK/out/outputs-aarch64.npz" "$OUT/"
rm -f "$OUT"/outputs-aarch64-qemu-max.*
if [ -n "$CONTROL_CPU" ]; then  # the trap, shown: same runs under QEMU's default CPU
  log "control: the same runs under QEMU_CPU=$CONTROL_CPU"
  if QEMU_CPU=$CONTROL_CPU in_chroot "cd $WORK && venv/bin/python edgephoto/benchmarks/aarch64_check.py run --artifacts art --out out --label aarch64-qemu-max"; then
    cp "$ROOTFS$WORK"/out/outputs-aarch64-qemu-max.* "$OUT/"
  else
    log "control run under QEMU_CPU=$CONTROL_CPU failed (exit $?)"
  fi
fi
"$HOST_PY" "$REPO/benchmarks/aarch64_check.py" compare --outputs "$OUT" --install "$OUT/install.json" \
  --results "$RESULTS"

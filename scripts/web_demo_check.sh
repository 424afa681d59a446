#!/usr/bin/env bash
# web_demo/ from nothing, as CI runs it on a fresh Debian machine (as root): Chromium, npm ci,
# the onnxruntime-web WASM files, the .onnx artifacts (edgephoto convert), the Python runtime's
# reference outputs, then the node golden-vector tests and the browser tests (headless Chromium,
# Pixel and iPhone emulation). Prints "N passed, N failed" per runner; exits non-zero on any failure.
# Environment: EDGEPHOTO_WEIGHTS_PATH / EDGEPHOTO_CACHE pass through to `edgephoto convert`;
# WEB_DEMO_ARTIFACTS=DIR keeps the converted artifacts there (default: a temp dir).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
START=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - START )) s)"; }

ART="${WEB_DEMO_ARTIFACTS:-$(mktemp -d /tmp/web-demo-artifacts.XXXXXX)}"
mkdir -p "$ART"
LOG="$(mktemp -d /tmp/web-demo-log.XXXXXX)"

step "convert the artifacts the demo runs (in the background)"
convert() {  # model [target]: its artifact, unless an intact one is already there
  local target="${2:-onnx}"
  if [ -f "$ART/$1/$target-fp32/manifest.json" ]; then return 0; fi
  "$ROOT/.venv/bin/edgephoto" convert -m "$1" -t "$target" -o "$ART" >"$LOG/convert-$1-$target.log" 2>&1 \
    || { echo "convert $1 $target failed:"; tail -20 "$LOG/convert-$1-$target.log"; return 1; }
}
# two at a time: conversions are mostly single-threaded; two of them fill the 2 cores
( convert selfie && convert selfie tflite && convert fsrcnn-x2 ) & PID_A=$!
( convert fastdepth && convert esrgan-slim-x2 ) & PID_B=$!

step "chromium"
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium >"$LOG/apt.log" 2>&1 || { apt-get update >>"$LOG/apt.log" 2>&1 && apt-get install -y chromium >>"$LOG/apt.log" 2>&1; } \
    || { tail -20 "$LOG/apt.log"; exit 1; }
fi
/usr/bin/chromium --version

step "node"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "node >= 20 is needed (playwright-core 1.65); found: $(node --version 2>/dev/null || echo none)"; exit 1
fi
node --version

step "npm ci"
(cd web_demo && npm ci --no-audit --no-fund --loglevel=error)

step "node tests: the JS ports against golden_vectors/"
FAILED=0
node web_demo/test/golden_test.mjs | grep -v '^ok ' || FAILED=1

step "wait for the conversions"
wait "$PID_A" || FAILED=1
wait "$PID_B" || FAILED=1
if [ "$FAILED" != 0 ] && [ ! -f "$ART/esrgan-slim-x2/onnx-fp32/manifest.json" ]; then echo "conversion failed"; exit 1; fi

step "stage vendor/ (WASM only), artifacts/, precache.json"
SAMPLE="$("$PY" -c 'from edgephoto.runtime.image_io import sample_path; print(sample_path())')"
node web_demo/tools/stage.mjs --artifacts "$ART" --sample "$SAMPLE" --wasm-only

step "Python runtime reference outputs on the sample photo"
rm -rf web_demo/test-artifacts
"$PY" web_demo/tools/python_reference.py web_demo/test-artifacts/reference

step "browser tests (headless Chromium, Pixel 7 and iPhone 14 emulation)"
node web_demo/test/browser_test.mjs web_demo/test-artifacts/reference | grep -v '^ok ' || FAILED=1

step "bench JSON from the browser reads as edgephoto bench results"
for f in web_demo/test-artifacts/bench-*.json; do
  "$PY" - "$f" <<'PYEOF' || FAILED=1
import sys
from pathlib import Path
from edgephoto.bench.report import read_results, render_markdown
data = read_results(Path(sys.argv[1]))
render_markdown(data)  # the report renders from it as from any bench run
print(f"{sys.argv[1]}: {len(data['results'])} results, schema {data['schema']}, renders")
PYEOF
done

step "done"
if [ -z "${WEB_DEMO_ARTIFACTS:-}" ]; then rm -rf "$ART"; fi
rm -rf "$LOG"
exit "$FAILED"

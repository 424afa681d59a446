#!/usr/bin/env bash
# The web demo's engine against the Python runtime's on the same artifacts and machine:
# `edgephoto bench run` (onnxruntime, 2 threads) then the benchmark page in headless Chromium
# (onnxruntime-web WASM, 2 threads, Pixel 7 emulation), each with interleaved runs, merged by
# `edgephoto bench compare` into benchmarks/results/web_demo_chromium.{json,md}.
# Stage first (scripts/web_demo_check.sh does). usage: web_demo/tools/bench.sh [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUNS="${1:-30}"
OUT="web_demo/test-artifacts/bench"
mkdir -p "$OUT"
DIRS=$(node -e 'const i=require("./web_demo/artifacts/index.json"); console.log([...new Set(Object.values(i.models))].map(d=>"web_demo/"+d).join(" "))')
# shellcheck disable=SC2086
nice -n 10 .venv/bin/edgephoto bench run $DIRS --threads 2 --runs "$RUNS" --warmup 5 --no-peak -o "$OUT/python-onnxruntime.json" >/dev/null
(cd web_demo && nice -n 10 node tools/bench_chromium.mjs --out "test-artifacts/bench/chromium-pixel7.json" --runs "$RUNS" --warmup 5)
.venv/bin/edgephoto bench compare "$OUT/python-onnxruntime.json" "$OUT/chromium-pixel7.json" \
  -o benchmarks/results/web_demo_chromium.json --report benchmarks/results/web_demo_chromium.md >/dev/null
echo "benchmarks/results/web_demo_chromium.json, .md"

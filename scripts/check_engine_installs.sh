#!/usr/bin/env bash
# One engine per install: for each of onnxruntime, litert, openvino, a fresh venv with only
# `pip install '.[<engine>]'` runs `edgephoto run --backend <engine>` (every default step) on
# artifacts converted once by the main .venv, with no converter installed.
#
#   scripts/check_engine_installs.sh [WORK]        (default /tmp/edgephoto-engines)
#
# Checked per engine (any failure -> non-zero exit):
#   - pip check is clean; torch, tensorflow, onnx, coremltools, nncf, keras are not installed
#   - the other two engines are not installed, and choosing one of them raises
#     MissingExtraError naming its own extra (pip install 'edgephoto[<extra>]')
#   - `edgephoto run --backend <engine> --artifacts ART --no-build` exits 0, every model step
#     ran on <engine>
#   - a missing artifact without --no-build fails with exit 3 naming the convert extra
# Facts (pip time, venv size in MB) -> benchmarks/results/engine_installs.json.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(realpath -m "${1:-/tmp/edgephoto-engines}")
ART=${ART:-$WORK/artifacts}
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
PYTHON=${PYTHON:-python3}
ENGINES=(${ENGINES:-onnxruntime litert openvino})
MODELS=(fastdepth selfie blazeface facemesh fsrcnn-x2)  # the models `edgephoto run` uses by default
RESULT=${RESULT:-$REPO/benchmarks/results/engine_installs.json}
log() { printf '== %s\n' "$*" >&2; }
mkdir -p "$WORK"

# 1. artifacts, converted once by the main venv (which has the convert extra)
for model in "${MODELS[@]}"; do
  for target in onnx tflite openvino; do
    if [ ! -e "$ART/$model/$target-fp32/manifest.json" ]; then
      log "converting $model to $target with the main venv"
      "$(dirname "$HOST_PY")/edgephoto" convert --model "$model" --target "$target" --out "$ART"
    fi
  done
done

FACTS="$WORK/facts.jsonl"
: > "$FACTS"
for engine in "${ENGINES[@]}"; do
  venv="$WORK/venv-$engine"
  log "$engine: fresh venv, pip install '.[$engine]'"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  start=$(date +%s)
  "$venv/bin/python" -m pip install --quiet --no-cache-dir "$REPO[$engine]"
  pip_s=$(( $(date +%s) - start ))
  "$venv/bin/python" -m pip check
  mb=$(du -sm "$venv" | cut -f1)

  log "$engine: imports and the error for a missing engine"
  "$venv/bin/python" - "$engine" <<'EOF'
import importlib.util, sys

from edgephoto.errors import MissingExtraError
from edgephoto.runtime.backends import BACKENDS, load_backend

engine = sys.argv[1]
heavy = [m for m in ("torch", "tensorflow", "onnx", "coremltools", "nncf", "keras", "tf_keras")
         if importlib.util.find_spec(m) is not None]
assert not heavy, f"installed by '.[{engine}]': {heavy}"
for name in ("onnxruntime", "litert", "openvino"):
    info = BACKENDS.get(name)
    present = importlib.util.find_spec(info.engine_module.split(".")[0]) is not None
    if name == engine:
        assert present, f"{info.engine_module} missing from '.[{engine}]'"
        continue
    assert not present, f"'.[{engine}]' also installed {info.engine_module}"
    try:
        load_backend(name, "model" + info.suffixes[0])
    except MissingExtraError as exc:
        assert f"edgephoto[{name}]" in str(exc), str(exc)
        print(f"  {name}: {exc}")
    else:
        raise AssertionError(f"{name} loaded without its engine")
EOF

  log "$engine: edgephoto run --backend $engine (every default step)"
  out="$WORK/out-$engine"
  rm -rf "$out"
  start=$(date +%s)
  EDGEPHOTO_CACHE="$WORK/cache-$engine" "$venv/bin/edgephoto" run --backend "$engine" \
    --artifacts "$ART" --no-build --out "$out" --json > "$WORK/run-$engine.json"
  run_s=$(( $(date +%s) - start ))
  "$venv/bin/python" - "$engine" "$WORK/run-$engine.json" <<'EOF'
import json, sys

engine, path = sys.argv[1], sys.argv[2]
(summary,) = json.load(open(path))
assert summary["ok"], summary
used = {m["backend"] for m in summary["models"].values()}
assert used == {engine}, f"model steps ran on {used}, not {engine}"
print(f"  {len(summary['models'])} model steps on {engine}, {len(summary['outputs'])} outputs")
EOF

  log "$engine: a missing artifact names the convert extra"
  mkdir -p "$WORK/empty"
  rc=0
  EDGEPHOTO_CACHE="$WORK/cache-$engine" "$venv/bin/edgephoto" run --backend "$engine" \
    --artifacts "$WORK/empty" --steps depth --out "$out-missing" > "$WORK/missing-$engine.log" 2>&1 || rc=$?
  if [ "$rc" != 3 ] || ! grep -q "edgephoto\[convert\]" "$WORK/missing-$engine.log"; then
    log "$engine: expected exit 3 naming edgephoto[convert], got exit $rc:"
    cat "$WORK/missing-$engine.log" >&2
    exit 1
  fi
  printf '{"engine": "%s", "command": "pip install --no-cache-dir .[%s]", "pip_install_s": %s, "venv_mb": %s, "run_s": %s}\n' \
    "$engine" "$engine" "$pip_s" "$mb" "$run_s" >> "$FACTS"
  log "$engine: ok (venv $mb MB, pip $pip_s s, run $run_s s)"
done

"$PYTHON" - "$FACTS" "$RESULT" "$(git -C "$REPO" rev-parse HEAD)" "$("$PYTHON" --version)" <<'EOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
json.dump({"what": "one engine per install: fresh venv, only that extra, edgephoto run on it",
           "commit": sys.argv[3], "python": sys.argv[4], "rows": rows},
          open(sys.argv[2], "w"), indent=1)
print(json.dumps(rows, indent=1))
EOF

#!/usr/bin/env bash
# ios_demo on this machine (no Swift toolchain, no Xcode): every .swift file parsed with
# tree-sitter-swift (fails on ERROR/MISSING nodes), and the names, sizes and image colour spaces
# the Swift code feeds checked against real Core ML artifacts converted here (manifest.json and the
# .mlpackage spec): tests/demos/test_ios_manifest_names.py. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)
WORK=${IOS_CHECK_DIR:-$ROOT/.cache/ios-check}
ART=${IOS_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$WORK"
export EDGEPHOTO_CACHE=${EDGEPHOTO_CACHE:-${EDGEPHOTO_TEST_CACHE:-$ROOT/.cache/edgephoto}}
if ! .venv/bin/python -c "import tree_sitter, tree_sitter_swift" 2>/dev/null; then
  echo "ios: pip install tree-sitter==0.26.1 tree-sitter-swift==0.7.4 into .venv"
  .venv/bin/pip install -q tree-sitter==0.26.1 tree-sitter-swift==0.7.4
fi
for model in fsrcnn-x2 selfie fastdepth; do
  if [ ! -f "$ART/$model/coreml-fp32/manifest.json" ]; then
    echo "ios: edgephoto convert --model $model --target coreml ($(( $(date +%s) - started )) s)"
    .venv/bin/edgephoto convert --model "$model" --target coreml --out "$ART" >"$WORK/convert-$model.log" 2>&1 \
      || { tail -20 "$WORK/convert-$model.log"; echo "ios check: 0 passed, 1 failed (convert $model)"; exit 1; }
  fi
done
echo "ios: tree-sitter parse + manifest/spec checks ($(( $(date +%s) - started )) s)"
set +e
IOS_ARTIFACTS="$ART" .venv/bin/python -m pytest tests/demos/test_ios_manifest_names.py -q -p no:cacheprovider \
  --junitxml="$WORK/junit.xml" | tail -15
set -e
.venv/bin/python - "$WORK/junit.xml" "$started" <<'PY'
import sys
import time
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
failed = failures + errors + skipped  # a skip here means something was not checked: count it as a failure
print(f"ios check: {tests - failed} passed, {failed} failed ({int(time.time()) - int(sys.argv[2])} s)")
sys.exit(1 if failed or not tests else 0)
PY

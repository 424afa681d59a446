#!/usr/bin/env bash
# android_demo on this machine: everything that can be built and run without the Android SDK.
#   1. the pure-Kotlin core (android_demo/core) compiled with kotlinc (npm kotlin-compiler) and
#      unit-tested with JUnit 4 (Debian junit4, libgoogle-gson-java) against golden_vectors/ and
#      real artifacts `edgephoto convert` makes here (fsrcnn-x2, selfie, fastdepth; tflite);
#   2. the bench JSON the core writes, read back by edgephoto's own report.validate + Markdown;
#   3. the app's Kotlin (android.* unresolvable: no android.jar here) through the same compiler's
#      parser and resolver against the core: fails on syntax errors and on misuse of core APIs
#      that needs no Android type to see (wrong argument names/counts); the script proves the
#      check can fail on a broken copy first. Resource names are checked by AppResourcesTest.
# Ends with a plain "N passed, N failed" line; exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)
WORK=${ANDROID_CHECK_DIR:-$ROOT/.cache/android-check}
ART=${ANDROID_ARTIFACTS:-$WORK/artifacts}
KOTLIN_DIR=$ROOT/.cache/kotlin-compiler
mkdir -p "$WORK"
export EDGEPHOTO_CACHE=${EDGEPHOTO_CACHE:-${EDGEPHOTO_TEST_CACHE:-$ROOT/.cache/edgephoto}}

jars=(/usr/share/java/junit4.jar /usr/share/java/hamcrest-core.jar /usr/share/java/gson.jar)
for jar in "${jars[@]}"; do
  if [ ! -f "$jar" ]; then
    echo "android: installing junit4 libgoogle-gson-java (Debian)"
    apt-get install -y -q junit4 libgoogle-gson-java >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q junit4 libgoogle-gson-java >/dev/null; }
    break
  fi
done
if ! command -v javac >/dev/null; then
  apt-get install -y -q default-jdk-headless >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q default-jdk-headless >/dev/null; }
fi
KOTLINC=$KOTLIN_DIR/node_modules/kotlin-compiler/bin/kotlinc
if [ ! -x "$KOTLINC" ]; then
  echo "android: npm install kotlin-compiler@2.4.20 into $KOTLIN_DIR"
  npm install --prefix "$KOTLIN_DIR" --no-audit --no-fund --loglevel=error kotlin-compiler@2.4.20 >/dev/null
fi
STDLIB=$KOTLIN_DIR/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar
CP=$(IFS=:; echo "${jars[*]}")

# real artifacts: converted here, never downloaded as files
for model in fsrcnn-x2 selfie fastdepth; do
  if [ ! -f "$ART/$model/tflite-fp32/manifest.json" ]; then
    echo "android: edgephoto convert --model $model --target tflite"
    .venv/bin/edgephoto convert --model "$model" --target tflite --out "$ART" >"$WORK/convert-$model.log" 2>&1 \
      || { tail -20 "$WORK/convert-$model.log"; echo "android: 0 passed, 1 failed (convert $model)"; exit 1; }
  fi
done

echo "android: kotlinc core + tests ($(( $(date +%s) - started )) s)"
"$KOTLINC" -nowarn -no-reflect -jvm-target 17 -cp "$CP" -d "$WORK/core-tests.jar" \
  android_demo/core/src/main/kotlin android_demo/core/src/test/kotlin
echo "android: JUnit ($(( $(date +%s) - started )) s)"
rm -f "$WORK/out/android_bench_sample.json"
set +e
java -cp "$WORK/core-tests.jar:$STDLIB:$CP" -Dedgephoto.repo="$ROOT" -Dedgephoto.artifacts="$ART" \
  -Dedgephoto.out="$WORK/out" edgephoto.core.RunAllKt | tee "$WORK/junit.log"
set -e
line=$(grep -E '^kotlin core: [0-9]+ passed, [0-9]+ failed' "$WORK/junit.log" || echo "kotlin core: 0 passed, 1 failed")
passed=$(echo "$line" | sed -E 's/kotlin core: ([0-9]+) passed.*/\1/')
failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')

# the core's bench JSON through edgephoto's own reader and renderer
if [ -f "$WORK/out/android_bench_sample.json" ] && .venv/bin/python - "$WORK/out/android_bench_sample.json" <<'PY'
import sys
from pathlib import Path
from edgephoto.bench.report import read_results, render_markdown
data = read_results(Path(sys.argv[1]))
text = render_markdown(data)
assert all(r["label"] in text for r in data["results"]), "a result is missing from the Markdown"
print(f"android: bench JSON from the Kotlin core validates and renders ({len(data['results'])} results)")
PY
then passed=$((passed + 1)); else echo "FAILED: bench JSON from the Kotlin core"; failed=$((failed + 1)); fi

# app Kotlin: parse + resolve against the core; android.* stays unresolved (no android.jar). A probe
# file with a syntax error and a wrong core argument name compiles beside it: the check must flag
# exactly the probe's two lines, proving it can fail, and nothing in the app.
probe=$WORK/app-probe
rm -rf "$probe" && mkdir -p "$probe"
printf 'package probe\n\nfun brokenOnPurpose( { }\n\nfun misuse() = edgephoto.core.marginFor(receptive = 3, overlap = 8)\n' >"$probe/Probe.kt"
echo "android: app Kotlin parse check ($(( $(date +%s) - started )) s)"
log=$WORK/app-kotlinc.log
"$KOTLINC" -Xrender-internal-diagnostic-names -nowarn -cp "$WORK/core-tests.jar:$STDLIB:$CP" \
  -d "$WORK/app-classes" android_demo/app/src/main/java "$probe" >"$log" 2>&1 || true
fatal='error: \[(SYNTAX|NAMED_PARAMETER_NOT_FOUND|NO_VALUE_FOR_PARAMETER|TOO_MANY_ARGUMENTS|ARGUMENT_TYPE_MISMATCH)\]'
if [ "$(grep -E "$fatal" "$log" | grep -c 'Probe.kt')" -lt 2 ]; then
  echo "FAILED: the parse check did not flag the probe's syntax error and wrong argument name"
  failed=$((failed + 1))
else
  passed=$((passed + 1))
fi
files=$(find android_demo/app/src/main/java -name '*.kt' | wc -l)
kinds=$(grep -v Probe.kt "$log" | grep -oE 'error: \[[A-Z_]+\]' | sort | uniq -c | sort -rn | head -5 | awk '{printf "%s %s, ", $1, $3}')
if grep -E "$fatal" "$log" | grep -v 'Probe.kt'; then
  echo "FAILED: app Kotlin ($files files) has syntax errors or misuses the core"
  failed=$((failed + 1))
else
  echo "android: app Kotlin ($files files) parses, core calls resolve; unresolved Android SDK names as expected (${kinds%, })"
  passed=$((passed + 1))
fi
echo "android check: $passed passed, $failed failed ($(( $(date +%s) - started )) s)"
[ "$failed" -eq 0 ]

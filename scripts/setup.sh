#!/usr/bin/env bash
# Create .venv with edgephoto and every extra (conversion, runtime engines, tests).
# torch==2.13.0 is pinned: on these machines pip takes a local CPU wheel; elsewhere install the
# CPU wheel first from https://download.pytorch.org/whl/cpu to avoid a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[all]'
.venv/bin/python -m pip check
command -v npm >/dev/null || echo "note: npm not found; zoo models published on npm will use their URL sources" >&2

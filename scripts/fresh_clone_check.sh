#!/usr/bin/env bash
# The README's first command, exactly as written, on a clean clone with nothing beside it:
# no ../shared, no $EDGEPHOTO_WEIGHTS_PATH, an empty home (so an empty ~/.cache/edgephoto) and no
# npm for the zoo. pip keeps the machine's own configuration and wheel cache. Then the outputs
# are checked. Usage: scripts/fresh_clone_check.sh [REPO] (default: this checkout's HEAD).
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d /tmp/edgephoto-fresh.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/edgephoto"
mkdir -p "$work/home"
first_command=$(grep -m1 -E '^bash scripts/setup.sh && .venv/bin/edgephoto run' "$repo/README.md")
echo "fresh clone in $work/edgephoto: $first_command"
started=$(date +%s)
(
  cd "$work/edgephoto"
  env -u EDGEPHOTO_WEIGHTS_PATH -u EDGEPHOTO_CACHE -u EDGEPHOTO_TEST_CACHE \
    HOME="$work/home" \
    XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$HOME/.config}" \
    PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}" \
    EDGEPHOTO_NPM=/nonexistent/npm \
    bash -c "$first_command"
)
echo "first command took $(( $(date +%s) - started )) s; venv $(du -sm "$work/edgephoto/.venv" | cut -f1) MB"
"$work/edgephoto/.venv/bin/python" - "$work/edgephoto/out" "$work/home/.cache/edgephoto" <<'PY'
import json, os, stat, sys
from pathlib import Path

out, cache = Path(sys.argv[1]), Path(sys.argv[2])
summary = json.loads((out / "astronaut.json").read_text())
assert summary["ok"], summary.get("error")
expected = {f"astronaut.{s}" for s in ("json", "enhanced.jpg", "depth.png", "mask.png", "matte.png",
                                       "bokeh.jpg", "cutout.png", "x2.png")}
written = {p.name for p in out.iterdir()}
assert written == expected, f"outputs {sorted(written)} != {sorted(expected)}"
models = {m["model"] for m in summary["models"].values()}
assert {"fastdepth", "selfie", "blazeface", "facemesh", "fsrcnn-x2"} <= models, models
mask = os.umask(0)
os.umask(mask)
modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
assert set(modes.values()) == {0o666 & ~mask}, modes
assert (cache / "weights").is_dir(), f"nothing cached under {cache}"
print(f"fresh clone: {len(written)} outputs ok, models {sorted(models)}, "
      f"total {summary['total_s']} s in the pipeline")
PY

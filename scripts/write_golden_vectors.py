"""Write golden_vectors/*.json from the Python runtime (edgephoto.runtime.golden).

Run after a runtime change that moves them on purpose:
    .venv/bin/python scripts/write_golden_vectors.py
tests/demos/test_golden_vectors.py fails until the committed files equal what the runtime computes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edgephoto.runtime.golden import write_all

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    for path in write_all(ROOT / "golden_vectors"):
        sys.stdout.write(f"{path.relative_to(ROOT)} {path.stat().st_size} bytes\n")

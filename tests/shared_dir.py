"""Where the test photos and pinned weights beside the repo live: $EDGEPHOTO_SHARED, else
../shared (portraits with masks, Set5, EXIF orientation examples, the lemur matte; the weights
no registry carries, which the package also bundles).

A fresh clone has no ../shared: tests that read from it carry `@pytest.mark.shared("data/exif")`
(paths relative to SHARED) and conftest skips them, naming what is missing, instead of failing.
Point EDGEPHOTO_SHARED at an empty directory to run the suite as a fresh clone would.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("EDGEPHOTO_SHARED") or Path(__file__).resolve().parents[2] / "shared")
DATA = SHARED / "data"
PORTRAITS = DATA / "portraits" / "images"
EXIF_DIR = DATA / "exif"
SET5 = DATA / "sr" / "set5"

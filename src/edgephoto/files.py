"""Atomic writes and the file-mode rule they share (a leaf: imports nothing from edgephoto).

Every output is written beside its final path and moved into place only when complete, so a
reader never sees a half-written file and a failure leaves nothing behind. The temp files come
from `tempfile.mkstemp` / `mkdtemp`, which create 0600 files and 0700 directories; without
`give_umask_mode` every output would be private to its writer whatever the umask says.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

StrPath = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask_file_mode() -> int:
    """The mode `open()` gives a new file under the current umask."""
    return 0o666 & ~_umask()


def umask_dir_mode() -> int:
    """The mode `mkdir()` gives a new directory under the current umask."""
    return 0o777 & ~_umask()


def give_umask_mode(fd_or_path: int | StrPath) -> None:
    """chmod a freshly written temp file (by descriptor or path) to `umask_file_mode()`."""
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, umask_file_mode())
    else:
        os.chmod(fd_or_path, umask_file_mode())


def temp_file(directory: StrPath, stem: str, suffix: str = ".tmp") -> Path:
    """A new empty file `.<stem>.<random><suffix>` in `directory`, with the umask's mode.

    For writers that fill a temp file themselves and move it into place after a check of their
    own (e.g. a download verified against its sha256).
    """
    Path(directory).mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=directory)
    try:
        give_umask_mode(fd)
    finally:
        os.close(fd)
    return Path(name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: StrPath, write: Callable[[Path], object], *, fsync: bool = False) -> Path:
    """Run `write(tmp)` on an empty temp file beside `path`, then move it onto `path`.

    For libraries that write to a path themselves (onnx.save, flatbuffer writers); `write` may
    also check the file and raise to abandon it. The temp name keeps the final suffix, for
    libraries that look at it.
    """
    path = Path(path)
    tmp = temp_file(path.parent, path.name, suffix=f".tmp{path.suffix}")
    try:
        write(tmp)
        give_umask_mode(tmp)  # again: a library may have replaced the file rather than filled it
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: StrPath, data: bytes, *, fsync: bool = False) -> Path:
    """`data` into `path` atomically (fsync first when the caller needs it on disk)."""
    return write_file_atomic(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def install_dir(staging: StrPath, final: StrPath) -> Path:
    """Move a finished directory onto `final` (same file system), with the umask's mode.

    A previous `final` (directory or file) is renamed aside first and deleted only once the new
    one is in place, so a reader sees the old or the new, never a half of either.
    """
    staging, final = Path(staging), Path(final)
    os.chmod(staging, umask_dir_mode())  # mkdtemp made it 0700
    old = final.with_name(f".{final.name}.old")
    if final.exists() or final.is_symlink():
        _remove(old)
        os.replace(final, old)
    os.replace(staging, final)
    _remove(old)
    return final


def write_dir_atomic(out: StrPath, write: Callable[[Path], object]) -> Path:
    """Run `write(staging)` on an empty directory beside `out`, then install it as `out`.

    The staging name keeps `out`'s suffix (coremltools insists on `.mlpackage`); a failure
    removes it and leaves any previous `out` untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=f".tmp{out.suffix}", dir=out.parent))
    try:
        write(staging)
        install_dir(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def sha256_file(path: StrPath, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so a large model never sits in memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()

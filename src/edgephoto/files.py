"""File-mode rule shared by every atomic writer (a leaf: imports nothing from edgephoto).

Atomic writes go through `tempfile.mkstemp` / `mkdtemp`, which create 0600 files and 0700
directories; without these every output would be private to its writer whatever the umask says.
"""

from __future__ import annotations

import os


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


def give_umask_mode(fd_or_path: int | str | os.PathLike[str]) -> None:
    """chmod a freshly written temp file (by descriptor or path) to `umask_file_mode()`."""
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, umask_file_mode())
    else:
        os.chmod(fd_or_path, umask_file_mode())

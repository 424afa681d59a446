"""The append-only journal beside a batch run's outputs: one line per photo once it is done.

A line is appended (and fsynced) only after every output of that photo, its <stem>.json last,
is installed by an atomic rename, so a photo with a line is whole on disk and a photo without
one is simply done again. A photo is known by its path, size and mtime plus the job (steps,
options, backend): change the photo or the steps and it runs again. A run killed mid-line
leaves a torn last line, which is dropped on the next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

JOURNAL_NAME = ".edgephoto-journal.jsonl"

# files.temp_file names: ".<final name>.<mkstemp's 8 random chars>.tmp[<suffix>]"
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def job_id(steps: Sequence[str], options: Mapping[str, Any], backend: str | None, device: str) -> str:
    """What makes two runs the same job: the steps, their options, the engine and device."""
    text = json.dumps({"steps": list(steps), "options": options, "backend": backend, "device": device},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def photo_key(path: Path) -> dict[str, Any]:
    """The photo as the journal knows it: resolved path, size and mtime (ns)."""
    info = path.stat()
    return {"input": str(path.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _key_tuple(entry: Mapping[str, Any]) -> tuple[str, int, int, str]:
    return (str(entry["input"]), int(entry["size"]), int(entry["mtime_ns"]), str(entry["job"]))


class Journal:
    """Read once at start (`done`), appended to by one writer (the driver) as photos finish."""

    def __init__(self, out_dir: Path, job: str) -> None:
        self.path = out_dir / JOURNAL_NAME
        self.job = job
        self.entries: dict[tuple[str, int, int, str], dict[str, Any]] = {}
        self.torn = 0
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good = raw.rfind(b"\n") + 1  # a kill mid-append leaves a last line without its newline
        if good < len(raw):
            self.torn += 1
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())
        for line in raw[:good].splitlines():
            try:
                entry = json.loads(line)
                self.entries[_key_tuple(entry)] = entry
            except (ValueError, KeyError, TypeError):
                self.torn += 1  # not ours, or damaged: that photo is done again

    def done(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The journal line of a photo already done by this job, else None."""
        return self.entries.get(_key_tuple({**key, "job": self.job}))

    def record(self, key: Mapping[str, Any], stem: str, outputs: Sequence[str], seconds: float,
               worker: Mapping[str, Any] | None = None) -> None:
        """Append one photo's line and fsync it: from here on the photo counts as done."""
        entry = {**key, "job": self.job, "stem": stem, "outputs": sorted(outputs),
                 "seconds": round(seconds, 4), "at": round(time.time(), 3), "worker": worker or {}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries[_key_tuple(entry)] = entry

    def stems(self) -> set[str]:
        return {str(entry["stem"]) for entry in self.entries.values()}


def remove_temp_files(out_dir: Path) -> list[Path]:
    """Delete what a killed run left half-written: the atomic writers' temp files in `out_dir`."""
    removed = []
    if out_dir.is_dir():
        for path in out_dir.iterdir():
            if path.is_file() and _TEMP.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed

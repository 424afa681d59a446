"""Shared CLI output helpers: JSON to stdout, tables and progress to stderr/stdout via rich."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import click

# Where emit_json writes while json_stdout_only() holds stdout for the JSON document alone.
_json_stream: list[TextIO] = []


def emit_json(data: Any) -> None:
    stream = _json_stream[-1] if _json_stream else sys.stdout
    stream.write(json.dumps(data, indent=2, default=str) + "\n")
    stream.flush()


@contextmanager
def json_stdout_only() -> Iterator[None]:
    """Keep stdout for the one JSON document: everything else that would reach it goes to stderr.

    Dependencies print on stdout (NNCF's INFO log lines and progress bar, onnx2tf's banner, C++
    code writing to fd 1), so `--json` output would not parse. The file descriptor is pointed at
    stderr, Python's sys.stdout too, and logging handlers bound to the old stdout object follow;
    emit_json writes to the original stdout.
    """
    real = sys.stdout
    real.flush()
    try:
        fd: int | None = real.fileno()
        err_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stdout (tests, embedding)
        fd = None
    saved_fd = None
    json_out: TextIO = real
    if fd is not None:
        saved_fd = os.dup(fd)
        os.dup2(err_fd, fd)
        json_out = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8")
    else:
        sys.stdout = sys.stderr
    handlers = [
        h
        for h in _stream_handlers()
        if getattr(h, "stream", None) is real and isinstance(h, logging.StreamHandler)
    ]
    for handler in handlers:
        handler.setStream(sys.stderr)
    _json_stream.append(json_out)
    try:
        yield
    finally:
        _json_stream.pop()
        for handler in handlers:
            handler.setStream(real)
        sys.stdout.flush()
        if saved_fd is not None and fd is not None:
            json_out.close()
            os.dup2(saved_fd, fd)
            os.close(saved_fd)
        else:
            sys.stdout = real


def _stream_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    return [h for lg in loggers for h in lg.handlers]


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[str(cell) for cell in row])
    # a pipe or CI log gets a wide table rather than one squeezed into 80 columns
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@contextmanager
def progress_display(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr showing the latest step; yields the callback library code calls."""
    if not enabled or not sys.stderr.isatty():
        yield lambda message: click.echo(f"… {message}", err=True) if enabled else None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("working…") as status:
        yield lambda message: status.update(message)

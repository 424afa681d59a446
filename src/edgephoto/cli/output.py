"""Shared CLI output helpers: JSON to stdout, tables and progress to stderr/stdout via rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


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

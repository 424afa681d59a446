"""`edgephoto zoo`: list the model zoo."""

from __future__ import annotations

import click

from edgephoto.cli.output import emit_json, print_table
from edgephoto.zoo import all_models


@click.group("zoo")
def command() -> None:
    """The model zoo: pinned, licensed, parity-checked models."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_restricted", is_flag=True, default=True, show_default=True, hidden=True)
def list_models(as_json: bool, include_restricted: bool) -> None:
    """List zoo models: name, task, licence, size, sources, cached or not."""
    from edgephoto.zoo.weights import is_cached

    rows = []
    for spec in all_models(include_restricted=True):
        sources = sorted({s.kind for f in spec.files for s in f.sources})
        rows.append(
            {
                "name": spec.name,
                "task": spec.task,
                "licence": spec.licence,
                "opt_in": not spec.permissive,
                "size_bytes": spec.size_bytes,
                "sources": sources,
                "cached": is_cached(spec),
                "description": spec.description,
            }
        )
    if as_json:
        emit_json(rows)
        return
    print_table(
        "edgephoto zoo",
        ["name", "task", "licence", "size", "sources", "cached"],
        [
            [
                r["name"],
                r["task"],
                r["licence"] + (" (opt-in)" if r["opt_in"] else ""),
                f"{r['size_bytes'] / 1e6:.1f} MB",
                ",".join(r["sources"]),
                "yes" if r["cached"] else "no",
            ]
            for r in rows
        ],
    )

"""`edgephoto zoo`: list the model zoo, show one entry in full, fetch pinned weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.zoo import all_models, get_model
from edgephoto.zoo.spec import ModelSpec, TensorSpec


@click.group("zoo")
def command() -> None:
    """The model zoo: pinned, licensed, parity-checked models."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_restricted", is_flag=True, default=True, show_default=True, hidden=True)
def list_models(as_json: bool, include_restricted: bool) -> None:
    """List zoo models: name, task, licence, size, sources, cached or not."""
    from edgephoto.zoo.weights import is_cached

    rows: list[dict[str, Any]] = []
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


@command.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(name: str, as_json: bool) -> None:
    """Everything about one model: tensors, normalisation, output meaning, tiling, licence, sources."""
    from edgephoto.zoo.weights import is_cached

    spec = get_model(name)
    data = spec.to_dict() | {
        "permissive": spec.permissive,
        "size_bytes": spec.size_bytes,
        "cached": is_cached(spec),
    }
    if as_json:
        emit_json(data)
        return
    for line in _describe(spec, data["cached"]):
        click.echo(line)


def _tensor_line(t: TensorSpec) -> str:
    shape = "x".join("?" if d is None else str(d) for d in t.shape)
    line = f"    {t.name}: {t.dtype} [{shape}] {t.layout}"
    if t.normalization is not None:
        n = t.normalization
        line += f", {n.color} (pixel - {list(n.mean)}) / {list(n.std)}"
    return line + (f" -- {t.meaning}" if t.meaning else "")


def _describe(spec: ModelSpec, cached: bool) -> list[str]:
    tile = spec.tile
    tiling = (
        f"tiles of {tile.tile} px, overlap {tile.overlap} px, receptive field {tile.receptive_field} px"
        if tile.mode == "tile"
        else f"whole photo resized to {tile.tile} px"
    )
    licence = spec.licence + ("" if spec.permissive else f" (opt-in: --accept-licence {spec.licence})")
    lines = [
        f"{spec.name}: {spec.description}",
        f"  task: {spec.task}   format: {spec.source_format}   scale: x{spec.scale}",
        f"  licence: {licence}",
        f"  upstream: {spec.upstream}",
        f"  tiling: {tiling}",
        "  inputs:",
        *[_tensor_line(t) for t in spec.inputs],
        "  outputs:",
        *[_tensor_line(t) for t in spec.outputs],
        f"  files ({spec.size_bytes / 1e6:.1f} MB, {'cached' if cached else 'not cached'}):",
    ]
    for f in spec.files:
        lines.append(f"    {f.path}  {f.size} bytes  sha256 {f.sha256}")
        lines.extend(f"      <- {s.describe()}" for s in f.sources)
    if spec.extra:
        lines.append(f"  extra: {spec.extra}")
    return lines


@command.command("fetch")
@click.argument("name")
@click.option(
    "--weights-dir",
    "weights_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Look here for the files before downloading (repeatable; default $EDGEPHOTO_WEIGHTS_PATH).",
)
@click.option(
    "--accept-licence",
    "accepted",
    multiple=True,
    metavar="LICENCE",
    help="Accept a non-permissive licence (e.g. AGPL-3.0, GPL-3.0) for opt-in models.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def fetch_command(
    name: str, weights_dirs: tuple[Path, ...], accepted: tuple[str, ...], as_json: bool
) -> None:
    """Fetch and verify a model's pinned weights into the cache (NAME or 'all').

    'all' fetches every permissive model plus opt-in ones whose licence is accepted.
    """
    from edgephoto.zoo.weights import fetch

    if name == "all":
        specs = [m for m in all_models(include_restricted=True) if m.permissive or m.licence in accepted]
        skipped = [m for m in all_models(include_restricted=True) if m not in specs]
    else:
        specs, skipped = [get_model(name)], []
    local_dirs = list(weights_dirs) or None
    results: list[dict[str, Any]] = []
    with progress_display(not as_json) as progress:
        for spec in specs:
            root = fetch(spec, accept_licence=accepted, progress=progress, local_dirs=local_dirs)
            results.append({"name": spec.name, "root": str(root), "files": [f.path for f in spec.files]})
    if as_json:
        emit_json({"fetched": results, "skipped": [m.name for m in skipped]})
        return
    for r in results:
        click.echo(f"{r['name']}: {len(r['files'])} file(s) verified in {r['root']}")
    for m in skipped:
        click.echo(f"{m.name}: skipped, licence {m.licence} needs --accept-licence {m.licence}")

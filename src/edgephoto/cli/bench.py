"""`edgephoto bench`: latency, cold start, peak memory and size of artifacts, measured with
interleaved runs on this machine; results as JSON, rendered to Markdown/HTML reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.errors import InputFileError, InvalidOptionError


@click.command("bench")
@click.argument("artifact_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--backend", "-b", default=None, help="Backend for every artifact (default: per target).")
@click.option("--device", "-d", default="auto", show_default=True, help="auto, cpu, gpu or npu.")
@click.option("--threads", type=int, default=None, help="Engine threads (default: the engine's own).")
@click.option("--warmup", type=int, default=5, show_default=True, help="Untimed runs after loading.")
@click.option("--runs", type=int, default=50, show_default=True, help="Timed runs per artifact.")
@click.option("--input", "input_mode", type=click.Choice(["real", "random"]), default="real",
              show_default=True, help="Real photos (pre-processed per manifest) or noise.")
@click.option("--photos", type=click.Path(path_type=Path), default=None,
              help="Directory of photos for --input real (default: the built-in photos).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=None,
              help="Write the results JSON here.")
@click.option("--report", "reports", multiple=True, type=click.Path(path_type=Path),
              help="Write a report (.md or .html); may be given more than once.")
@click.option("--render", "render_path", type=click.Path(path_type=Path), default=None,
              help="Re-render --report from an existing results JSON without measuring.")
def command(artifact_dirs: tuple[Path, ...], backend: str | None, device: str, threads: int | None,
            warmup: int, runs: int, input_mode: str, photos: Path | None, as_json: bool,
            out_path: Path | None, reports: tuple[Path, ...], render_path: Path | None) -> None:
    """Benchmark the artifacts in ARTIFACT_DIR... (made by `edgephoto convert`/`quantize`).

    Each artifact is loaded cold in its own process; timed runs are interleaved round-robin
    across all artifacts given. For the same model, ratios are against the first one given.
    """
    from edgephoto.bench.report import REPORT_SUFFIXES, read_results, render_markdown, write_report
    from edgephoto.bench.runner import BenchSettings, benchmark

    for report in reports:  # refuse a bad report name before minutes of measuring
        if report.suffix.lower() not in (*REPORT_SUFFIXES, ".htm"):
            raise InvalidOptionError(f"--report must end in {' or '.join(REPORT_SUFFIXES)}, got '{report}'")
    if render_path is not None:
        if artifact_dirs:
            raise InvalidOptionError("--render re-draws saved results: give no ARTIFACT_DIR with it")
        data = read_results(render_path)
    else:
        if not artifact_dirs:
            raise InvalidOptionError("give at least one ARTIFACT_DIR (or --render results.json)")
        for path in artifact_dirs:
            if not path.exists():
                raise InputFileError(path, "no such artifact directory")
        settings = BenchSettings(backend=backend, device=device, threads=threads, warmup=warmup,
                                 runs=runs, input=input_mode,
                                 photos=str(photos) if photos is not None else None)
        with progress_display(not as_json) as progress:
            data = benchmark(list(artifact_dirs), settings, progress=progress)
    if out_path is not None:
        _write_json(out_path, data)
    for report in reports:
        write_report(data, report)
    if as_json:
        emit_json(data)
    elif render_path is not None and not reports:
        click.echo(render_markdown(data))
    else:
        _print(data)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from edgephoto.errors import OutputError
    from edgephoto.manifest import write_json_atomic

    try:
        write_json_atomic(path, data)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the results ({exc.strerror or exc})") from exc


def _print(data: dict[str, Any]) -> None:
    from edgephoto.bench.report import COLUMNS, rows

    keep = ("artifact", "backend / device", "cold start ms", "median ms", "p90 ms", "stdev ms",
            "peak RSS MB", "size MB", "vs first of model")
    index = [COLUMNS.index(c) for c in keep]
    print_table("edgephoto bench", keep, [[row[i] for i in index] for row in rows(data)])

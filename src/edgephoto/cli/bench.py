"""`edgephoto bench`: latency, cold start, peak memory, size and work (FLOPs, fraction of this
machine's peak) of artifacts, measured with interleaved runs on this machine; results as JSON,
rendered to Markdown/HTML reports. `edgephoto bench compare A.json B.json ...` merges runs made
on several devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.errors import InputFileError, InvalidOptionError


class _BenchGroup(click.Group):
    """`bench [OPTIONS] ARTIFACT_DIR...` runs the `run` subcommand: the one word `compare` (or
    `run`) first picks a subcommand, anything else is the benchmark's own arguments."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("bench", cls=_BenchGroup)
def command() -> None:
    """Benchmark artifacts (`bench ARTIFACT_DIR...` or `bench --model NAME`), or merge results
    of several devices (`bench compare A.json B.json ...`)."""


def _report_options(function: Any) -> Any:
    for option in reversed([
        click.option("--json", "as_json", is_flag=True, help="Print the results as JSON."),
        click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=None,
                     help="Write the results JSON here."),
        click.option("--report", "reports", multiple=True, type=click.Path(path_type=Path),
                     help="Write a report (.md or .html); may be given more than once."),
    ]):
        function = option(function)
    return function


def _check_reports(reports: tuple[Path, ...]) -> None:
    from edgephoto.bench.report import REPORT_SUFFIXES

    for report in reports:  # refuse a bad report name before minutes of measuring
        if report.suffix.lower() not in (*REPORT_SUFFIXES, ".htm"):
            raise InvalidOptionError(f"--report must end in {' or '.join(REPORT_SUFFIXES)}, got '{report}'")


def _finish(data: dict[str, Any], out_path: Path | None, reports: tuple[Path, ...], as_json: bool,
            markdown: bool) -> None:
    from edgephoto.bench.report import render_markdown, write_report

    if out_path is not None:
        _write_json(out_path, data)
    for report in reports:
        write_report(data, report)
    if as_json:
        emit_json(data)
    elif markdown and not reports:
        click.echo(render_markdown(data))
    else:
        _print(data)


@command.command("compare")
@click.argument("results", nargs=-1, type=click.Path(path_type=Path))
@_report_options
def compare_command(results: tuple[Path, ...], as_json: bool, out_path: Path | None,
                    reports: tuple[Path, ...]) -> None:
    """Merge RESULTS.json files of `edgephoto bench` runs (one per device) into one table per
    model, each result labelled with its device and compared against the first file."""
    from edgephoto.bench.compare import merge_files

    _check_reports(reports)
    if len(results) < 2:
        raise InvalidOptionError("bench compare needs at least two results files (A.json B.json ...)")
    _finish(merge_files(list(results)), out_path, reports, as_json, markdown=True)


@command.command("run")
@click.argument("artifact_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--model", "-m", "models", multiple=True,
              help="A zoo model to bench: its artifacts are built first (as `quantize MODEL` does).")
@click.option("--target", "-t", "targets", multiple=True,
              help="With --model: the target(s) to build and bench (default: onnx).")
@click.option("--quantize", "-q", "precisions", multiple=True,
              help="With --model: also bench these precisions (quantized from the fp32 artifact).")
@click.option("--backend", "-b", default=None, help="Backend for every artifact (default: per target).")
@click.option("--device", "-d", default="auto", show_default=True, help="auto, cpu, gpu or npu.")
@click.option("--threads", type=int, default=None, help="Engine threads (default: the engine's own).")
@click.option("--warmup", type=int, default=5, show_default=True, help="Untimed runs after loading.")
@click.option("--runs", type=int, default=50, show_default=True, help="Timed runs per artifact.")
@click.option("--input", "input_mode", type=click.Choice(["real", "random"]), default="real",
              show_default=True, help="Real photos (pre-processed per manifest) or noise.")
@click.option("--photos", type=click.Path(path_type=Path), default=None,
              help="Directory of photos for --input real (default: the built-in photos).")
@click.option("--no-peak", "no_peak", is_flag=True,
              help="Skip measuring this machine's fp32/int8 peak (about a second).")
@click.option("--peers", "with_peers", is_flag=True,
              help="Also measure, interleaved, the tools people use instead (OpenCV, MediaPipe, TensorFlow, UpscalerJS).")
@click.option("--peer", "peer_names", multiple=True, help="Only this peer (implies --peers); may repeat.")
@click.option("--task", default=None,
              help="Whole-call mode: time photo -> result of this task (segmentation, upscale, depth) "
                   "on --photos through the runtime, per stage.")
@click.option("--limit", type=int, default=None, help="Whole-call mode: use the first N photos.")
@click.option("--option", "call_options", multiple=True, metavar="KEY=V,...",
              help="Whole-call mode: the task's own options as one more contender, e.g. --option zoom=false "
                   "(segmentation's single pass) beside the default; may repeat.")
@_report_options
@click.option("--render", "render_path", type=click.Path(path_type=Path), default=None,
              help="Re-render --report from an existing results JSON without measuring.")
def run_command(artifact_dirs: tuple[Path, ...], models: tuple[str, ...], targets: tuple[str, ...],
                precisions: tuple[str, ...], backend: str | None, device: str, threads: int | None,
                warmup: int, runs: int, input_mode: str, photos: Path | None, no_peak: bool,
                with_peers: bool, peer_names: tuple[str, ...], task: str | None, limit: int | None,
                call_options: tuple[str, ...], as_json: bool, out_path: Path | None, reports: tuple[Path, ...],
                render_path: Path | None) -> None:
    """Benchmark the artifacts in ARTIFACT_DIR... (made by `edgephoto convert`/`quantize`) and
    those of each --model (built in the cache when missing).

    Each artifact is loaded cold in its own process; timed runs are interleaved round-robin
    across all artifacts given. For the same model, ratios are against the first one given.
    With --task, each model (default: the task's zoo default) is timed photo in, result out
    (--runs rounds over the photos). --peers adds the peer tools' rows and ratios.
    """
    from edgephoto.bench.report import read_results
    from edgephoto.bench.runner import BenchSettings, benchmark

    _check_reports(reports)
    if (targets or precisions) and not models:
        raise InvalidOptionError("--target and --quantize go with --model NAME")
    peers = list(peer_names) if peer_names or with_peers else None
    if peers:
        from edgephoto.bench.peers import PEERS

        for name in peers:
            PEERS.get(name)  # unknown names: the nearest suggested, before anything starts
    if call_options and task is None:
        raise InvalidOptionError("--option is a task option for whole-call mode: give --task too")
    if task is not None and render_path is None:
        options = [{}, *(_task_options(text) for text in call_options)]  # the default always runs
        data = _calls(task, artifact_dirs, models, photos, limit, peers, as_json,
                      BenchSettings(backend=backend, device=device, threads=threads, warmup=warmup, runs=runs),
                      options)
        _finish(data, out_path, reports, as_json, markdown=False)
        return
    if render_path is not None:
        if artifact_dirs or models:
            raise InvalidOptionError("--render re-draws saved results: give no ARTIFACT_DIR or --model with it")
        data = read_results(render_path)
    else:
        if not artifact_dirs and not models:
            raise InvalidOptionError("give at least one ARTIFACT_DIR or --model NAME (or --render results.json)")
        for path in artifact_dirs:
            if not path.exists():
                raise InputFileError(path, "no such artifact directory")
        settings = BenchSettings(backend=backend, device=device, threads=threads, warmup=warmup,
                                 runs=runs, input=input_mode,
                                 photos=str(photos) if photos is not None else None, peak=not no_peak)
        settings.check()  # before any model is built
        with progress_display(not as_json) as progress:
            built = _build(models, targets, precisions, progress) if models else []
            data = benchmark([*artifact_dirs, *built], settings, progress=progress, peers=peers)
    _finish(data, out_path, reports, as_json, markdown=render_path is not None)


def _build(models: tuple[str, ...], targets: tuple[str, ...], precisions: tuple[str, ...],
           progress: Any) -> list[Path]:
    """Each model's fp32 artifact per target (found or converted in the cache by zoo_artifact),
    then each precision quantized from it beside it, as `edgephoto quantize MODEL` does; an
    intact one already there is reused."""
    from edgephoto.api import zoo_artifact
    from edgephoto.convert.targets import TARGETS
    from edgephoto.errors import EdgePhotoError
    from edgephoto.manifest import read_manifest, verify
    from edgephoto.quantize.directory import quantize_directory
    from edgephoto.runtime.backends import backend_for_target

    chosen = [TARGETS.get(t) for t in targets or ("onnx",)]  # unknown names: nearest suggested
    for target in chosen:
        for precision in precisions:
            if precision == "fp32" or precision not in target.precisions:
                raise InvalidOptionError(f"--quantize {precision}: {target.name} quantizes to "
                                         f"{', '.join(p for p in target.precisions if p != 'fp32')}")
    out: list[Path] = []
    for model in models:
        for target in chosen:
            fp32 = zoo_artifact(model, backend_for_target(target.name), progress=progress)
            out.append(fp32)
            for precision in precisions:
                existing = fp32.parent / f"{target.name}-{precision}"
                try:
                    verify(existing, read_manifest(existing))
                    out.append(existing)
                    continue
                except EdgePhotoError:
                    pass  # none there yet (or not intact): quantize it
                final, _ = quantize_directory(fp32, precision, progress=progress)
                out.append(final)
    return out


def _task_options(text: str) -> dict[str, Any]:
    """'zoom=false,fit=letterbox' -> {"zoom": False, "fit": "letterbox"}: true/false, numbers, else text."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidOptionError(f"--option takes KEY=VALUE pairs (e.g. zoom=false); got '{part}'")
        word = value.strip()
        if word.lower() in ("true", "false"):
            options[key.strip()] = word.lower() == "true"
            continue
        try:
            options[key.strip()] = int(word)
        except ValueError:
            try:
                options[key.strip()] = float(word)
            except ValueError:
                options[key.strip()] = word
    if not options:
        raise InvalidOptionError("--option needs at least one KEY=VALUE (e.g. zoom=false)")
    return options


def _check_task_options(task: str, options: list[dict[str, Any]]) -> None:
    """Option names the task's run function takes, checked before anything is built or timed."""
    import inspect

    from edgephoto.errors import did_you_mean
    from edgephoto.runtime.tasks import TASKS as RUNTIME_TASKS

    run = RUNTIME_TASKS.get(task).run
    accepted = [name for name, p in inspect.signature(run).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("progress", "sink")]  # callables
    for given in options:
        for key in given:
            if key not in accepted:
                raise InvalidOptionError(f"--option {key}: {task} takes {', '.join(accepted) or 'no options'}."
                                         + did_you_mean(key, accepted))


def _calls(task: str, artifact_dirs: tuple[Path, ...], models: tuple[str, ...], photos: Path | None,
           limit: int | None, peers: list[str] | None, as_json: bool, settings: Any,
           options: list[dict[str, Any]]) -> dict[str, Any]:
    """Whole-call mode: the models (or the task's default zoo model) on the photos, per stage."""
    from edgephoto.bench.whole_call import benchmark_calls, photo_list
    from edgephoto.runtime.image_io import sample_path
    from edgephoto.tasks import TASKS

    default = TASKS.get(task).default_model
    _check_task_options(task, options)
    chosen = [str(p) for p in artifact_dirs] + list(models) or ([default] if default else [])
    if not chosen:
        raise InvalidOptionError(f"--task {task}: give --model NAME or an ARTIFACT_DIR (no default zoo model)")
    settings.check()
    with progress_display(not as_json) as progress:
        return benchmark_calls(task, photo_list(photos or sample_path().parent, limit), chosen, settings,
                               backends=[settings.backend], peers=peers, progress=progress, options=options)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from edgephoto.errors import OutputError
    from edgephoto.manifest import write_json_atomic

    try:
        write_json_atomic(path, data)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the results ({exc.strerror or exc})") from exc


def _print(data: dict[str, Any]) -> None:
    from edgephoto.bench.report import COLUMNS, WORK_COLUMNS, rows, work_rows

    keep = ("artifact", "backend / device", "cold start ms", "median ms", "p90 ms", "stdev ms",
            "peak RSS MB", "size MB", "vs first of model")
    index = [COLUMNS.index(c) for c in keep]
    work = {row[0]: row for row in work_rows(data)}  # artifact -> its work row
    extra = ("GFLOP / inference", "achieved", "of peak", "of peak (CPU time)")
    picks = [WORK_COLUMNS.index(c) for c in extra] if work else []
    columns = (*keep, *extra) if work else keep
    body = [[row[i] for i in index] + [work[row[0]][k] if row[0] in work else "-" for k in picks]
            for row in rows(data)]
    print_table("edgephoto bench", columns, body)
    from edgephoto.bench.report import peer_lines, stage_rows

    for line in peer_lines(data):
        click.echo(line)
    for row in stage_rows(data):
        click.echo(f"stages of {row[0]}: {row[3]}")

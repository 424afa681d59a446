"""`edgephoto run`: the photo pipeline on your photos (or the built-in sample).

Model steps read artifacts from --artifacts DIR (made by `edgephoto convert`). A model step
whose artifact is missing gets one built into the cache by `build_missing_artifact`: the only
place `run` touches the converter, so the runtime itself never imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from edgephoto.cli.output import emit_json, print_table, progress_display
from edgephoto.errors import EdgePhotoError, InputFileError, InvalidOptionError
from edgephoto.tasks import default_models

# What `edgephoto run --out DIR` does with no --steps: every photo step and every effect the
# permissive zoo models support (matting falls back to the refined segmentation mask).
DEFAULT_STEPS = ("exif", "denoise", "wb", "tone", "depth", "segment", "remove-bg", "bokeh", "faces", "upscale2")


def build_missing_artifact(role: str, backend: str | None, cache: Path, progress: Any,
                           model: str | None = None) -> Path | None:
    """Convert `model` (default: the role's zoo model, the task table's) into `cache` once; its dir.

    Imports edgephoto.convert, so it runs only when an artifact is really missing.
    """
    from edgephoto.api import zoo_artifact

    model = model or default_models().get(role)
    if model is None:
        return None
    return zoo_artifact(model, backend, artifacts=cache, progress=progress,
                        purpose=f"building the missing {role} artifact; or pass --artifacts DIR made by `edgephoto convert`")


def make_resolver(artifacts_dir: Path | None, backend: str | None, build: bool, progress: Any,
                  models: dict[str, str] | None = None) -> Any:
    """role -> artifact dir: from --artifacts first, else (with build) converted into the cache.

    With no --backend (auto), a role's artifact is the one for the fastest engine measured for
    its model here (runtime.auto.auto_backend) among those in --artifacts; without one
    there, the fastest whose artifact is in the cache or can be built into it. `models`
    (role -> zoo model, from --model) fills those roles with that model instead of the default.
    """
    chosen = dict(models or {})
    if backend is None:
        return _auto_resolver(artifacts_dir, build, progress, chosen)
    from edgephoto.api import artifact_cache, built_artifact
    from edgephoto.runtime.backends import BACKENDS
    from edgephoto.runtime.pipeline import find_artifacts

    found = find_artifacts(artifacts_dir, backend) if artifacts_dir is not None else {}
    cache = artifact_cache()
    cached = find_artifacts(cache, backend) if cache.is_dir() else {}
    target = BACKENDS.get(backend).target or "onnx"
    for role, model in chosen.items():  # the named model's own artifact, never another one of the role
        found.pop(role, None)
        cached.pop(role, None)
        for root in (artifacts_dir, cache):
            path = built_artifact(root, model, target) if root is not None else None
            if path is not None and role not in found:
                found[role] = path

    def resolver(role: str) -> Path | None:
        if role in found:
            return found[role]
        if role in cached:
            return cached[role]
        if not build:
            return None
        built = build_missing_artifact(role, backend, cache, progress, chosen.get(role))
        if built is not None:
            found[role] = built
        return built

    return resolver


def own_artifacts(root: Path, like: dict[str, Any]) -> dict[str, Path]:
    """backend -> the artifact under `root` in that backend's own target, of the same model and
    precision as the manifest `like` (another model filling the role is not a choice of engine)."""
    from edgephoto.manifest import MANIFEST_NAME, read_manifest
    from edgephoto.runtime.backends import BACKENDS

    manifests = {}
    for path in sorted(root.glob(f"*/*/{MANIFEST_NAME}")) + sorted(root.glob(f"*/{MANIFEST_NAME}")):
        try:
            manifests[path.parent] = read_manifest(path.parent)
        except EdgePhotoError:  # a corrupt one is no choice (find_artifacts skips it too)
            continue
    mine: dict[str, Path] = {}
    for name, info in BACKENDS:
        for path, manifest in manifests.items():
            if info.target and manifest.get("target") == info.target and all(
                    manifest.get(key) == like.get(key) for key in ("model", "precision")):
                mine.setdefault(name, path)
    return mine


def _auto_resolver(artifacts_dir: Path | None, build: bool, progress: Any, chosen: dict[str, str]) -> Any:
    from edgephoto.api import artifact_cache, auto_zoo_artifact
    from edgephoto.errors import MissingExtraError
    from edgephoto.manifest import read_manifest
    from edgephoto.runtime.auto import auto_backend
    from edgephoto.runtime.pipeline import find_artifacts

    given = find_artifacts(artifacts_dir) if artifacts_dir is not None else {}
    picked: dict[str, Path | None] = {}

    def resolver(role: str) -> Path | None:
        if role in picked:
            return picked[role]
        model = chosen.get(role)
        if artifacts_dir is not None and (model or role in given):
            # the user's artifacts (with --model, that model's only): the fastest of them
            like = {"model": model, "precision": "fp32"} if model else read_manifest(given[role])
            mine = own_artifacts(artifacts_dir, like)
            if mine or not model:
                choice = auto_backend(str(like.get("model")), str(like.get("precision", "fp32")),
                                      usable=lambda name: name in mine)
                picked[role] = mine.get(choice.backend) or given.get(role) or next(iter(mine.values()))
                return picked[role]
        model = model or default_models().get(role)
        if model is None:
            return None
        try:
            path, _, _ = auto_zoo_artifact(
                model, artifacts=artifact_cache(), progress=progress, build=build,
                purpose=f"building the missing {role} artifact; or pass --artifacts DIR made by `edgephoto convert`")
        except (MissingExtraError, InputFileError):
            if build:
                raise
            path = None  # --no-build and nothing cached: the step says what is missing
        picked[role] = path
        return path

    return resolver


def _upscale_options(order: list[str], scale: str | None, model: str | None) -> dict[str, dict[str, Any]]:
    """--scale/--model as the upscale step's options, checked before any photo runs. They belong
    to that step alone: given without it they are refused (naming the fix), not silently added."""
    if scale is None and model is None:
        return {}
    if "upscale" not in order:
        raise InvalidOptionError("--scale and --model are the upscale step's options: add it to --steps "
                                 "(e.g. --steps upscale --scale 4)")
    from edgephoto.runtime.scale_chain import chain_models, parse_scale

    chain_models(model)  # another task's model, or opt-in weights: refused here
    options: dict[str, Any] = {"scale": parse_scale(scale)} if scale is not None else {}
    return {"upscale": {**options, **({"model": model} if model else {})}}


def _memory_options(order: list[str], megabytes: int | None) -> dict[str, dict[str, Any]]:
    """--memory-budget MB as the upscale steps' budget_bytes (memory per engine call of an
    open-H/W upscaler: larger means fewer, larger tiles); refused without an upscale step."""
    if megabytes is None:
        return {}
    if megabytes < 16:
        raise InvalidOptionError(f"--memory-budget is in MB per engine call, at least 16; got {megabytes}")
    steps = [name for name in ("upscale", "upscale2") if name in order]
    if not steps:
        raise InvalidOptionError("--memory-budget is the upscale steps' option: add upscale or upscale2 to --steps")
    return {name: {"budget_bytes": megabytes << 20} for name in steps}


def _segment_options(order: list[str], zoom: bool | None) -> dict[str, dict[str, Any]]:
    """--zoom/--no-zoom as the segment step's option; refused (naming the fix) when no step
    that runs a segmentation is in the plan, so the switch is never silently ignored."""
    if zoom is None:
        return {}
    if "segment" not in order:
        raise InvalidOptionError("--zoom/--no-zoom is the segment step's option: add it to --steps "
                                 "(or a step that needs it, e.g. --steps bokeh)")
    return {"segment": {"zoom": zoom}}


def _chosen_models(model: str | None) -> dict[str, str]:
    """role -> model for the resolver: --model fills the role of its own scale."""
    if model is None:
        return {}
    from edgephoto.runtime.scale_chain import chain_models
    from edgephoto.tasks import role_of

    return {role_of("upscale", s): name for s, name in chain_models(model).items()}


def _background(value: str | None) -> Any:
    if value is None:
        return None
    if value.startswith("#") and len(value) == 7:
        return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))
    if "," in value and not Path(value).exists():
        parts = [int(p) for p in value.split(",")]
        if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
            raise InvalidOptionError(f"--background colour must be R,G,B in 0..255, got '{value}'")
        return tuple(parts)
    return Path(value)


def _retouch_options(value: str | None) -> dict[str, float] | None:
    """--retouch 'strength=0.5,teeth=0' -> {"strength": 0.5, "teeth": 0.0}, names checked here."""
    if value is None:
        return None
    from edgephoto.runtime.retouch import DEFAULTS

    valid = (*DEFAULTS, "min_presence")
    options: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, sep, number = part.partition("=")
        if not sep or key.strip() not in valid:
            raise InvalidOptionError(f"--retouch takes KEY=VALUE pairs with KEY one of {', '.join(valid)}; got '{part}'")
        try:
            options[key.strip()] = float(number)
        except ValueError:
            raise InvalidOptionError(f"--retouch {key.strip()} must be a number, got '{number}'") from None
    return options


@click.command("run")
@click.argument("photos", nargs=-1, type=click.Path(path_type=Path))
@click.option("--steps", "-s", default=",".join(DEFAULT_STEPS), show_default=True,
              help="Comma-separated steps: exif,denoise,wb,tone,depth,segment,matte,faces,retouch,"
                   "upscale2,upscale,bokeh,remove-bg,replace-bg,relight (dependencies are added); "
                   "upscale takes --scale N and --model NAME.")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Output directory (never an input).")
@click.option("--backend", "-b", help="Backend for model steps (default: auto, the fastest engine measured "
                                       "for each model on this CPU that is installed; the summary says why).")
@click.option("--device", "-d", default="auto", show_default=True, help="auto, cpu, gpu or npu.")
@click.option("--artifacts", "artifacts_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Directory of artifacts from `edgephoto convert`.")
@click.option("--no-build", is_flag=True, help="Fail instead of converting a missing artifact.")
@click.option("--background", help="replace-bg: an image path, '#rrggbb' or 'R,G,B'.")
@click.option("--retouch", "retouch_options", metavar="KEY=V,...",
              help="retouch: strength, skin, texture, teeth, eyes (0 turns one off), denoise "
                   "(background, needs segment; default 0), min_presence; e.g. 'strength=0.5,teeth=0'.")
@click.option("--keep-going", is_flag=True, help="Record a failing photo and carry on.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-photo summaries as JSON.")
@click.option("--workers", "-j", type=int, help="Worker processes (default: one per core, fewer for "
                                               "a handful of photos); engine threads = cores // workers.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the photos run: processes on this machine, or a Ray cluster (edgephoto[ray]).")
@click.option("--address", help="--executor ray: the cluster to join (default: start a local one).")
@click.option("--scale", help="upscale step: the factor, any number >= 1 (2, 3, 4, 6, 1.5, ...; default 2); "
                              "the output is exactly round(W*N) x round(H*N).")
@click.option("--model", "upscale_model", help="upscale step: the zoo upscaler to run (default: one fsrcnn-x2 "
                                               "pass, the best measured quality per time, then LANCZOS).")
@click.option("--memory-budget", "memory_mb", type=int, metavar="MB",
              help="upscale steps: memory per engine call of an open-size upscaler (default 256); "
                   "larger runs fewer, larger tiles (realesrgan-x4plus needs 8.4 kB per input px).")
@click.option("--zoom/--no-zoom", default=None,
              help="segment step: look again at each small person on a crop around them (default on; "
                   "--no-zoom runs one pass on the whole photo).")
def command(photos: tuple[Path, ...], steps: str, out_dir: Path, backend: str | None, device: str,
            artifacts_dir: Path | None, no_build: bool, background: str | None, retouch_options: str | None,
            keep_going: bool, as_json: bool, workers: int | None, executor: str, address: str | None,
            scale: str | None, upscale_model: str | None, memory_mb: int | None, zoom: bool | None) -> None:
    """Run the photo pipeline on PHOTO... (or on the built-in astronaut photo)."""
    from edgephoto.runtime.image_io import PHOTO_SUFFIXES, load_sample, photos_in
    from edgephoto.runtime.pipeline import plan, run_pipeline

    order = plan([s for s in steps.split(",") if s.strip()])  # unknown step: nearest suggested
    if backend is not None:
        from edgephoto.runtime.backends import BACKENDS

        BACKENDS.get(backend)
    inputs: list[Any] = [load_sample("astronaut")]
    if photos:
        inputs, skipped = photos_in(photos)
        if skipped:
            listed = ", ".join(str(p) for p in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
            click.echo(f"note: skipped {len(skipped)} file(s) that are not photos: {listed}", err=True)
        if not inputs:
            raise InputFileError(photos[0], "holds no photos (" + ", ".join(PHOTO_SUFFIXES) + ")")
    options: dict[str, dict[str, Any]] = {}
    if background is not None:
        options["replace-bg"] = {"background": _background(background)}
    retouch = _retouch_options(retouch_options)
    if retouch is not None:
        options["retouch"] = retouch
    for name, more in [*_upscale_options(order, scale, upscale_model).items(),
                       *_memory_options(order, memory_mb).items()]:
        options[name] = {**options.get(name, {}), **more}
    options.update(_segment_options(order, zoom))
    chosen = _chosen_models(upscale_model)
    if not photos and (workers is not None or executor != "local" or address is not None):
        raise InvalidOptionError("--workers, --executor and --address run a folder or photos: name them")
    with progress_display(not as_json or sys.stderr.isatty()) as progress:
        resolver = make_resolver(artifacts_dir, backend, not no_build, progress, chosen)
        if photos:  # a library: journalled and resumable, on workers (edgephoto.batch)
            from edgephoto.batch.run import SUMMARY_NAME, run_batch

            summaries, report = run_batch(
                inputs, order, out_dir, artifacts=resolver, lookup=make_resolver(artifacts_dir, backend, False, progress, chosen),
                backend=backend, device=device, options=options, keep_going=keep_going,
                workers=workers, executor=executor, address=address, progress=progress)
            if report["skipped"] == report["photos"]:
                click.echo(f"nothing to do: all {report['photos']} photos are done (journal {report['journal']})",
                           err=True)
            click.echo(f"done {report['done']}, skipped {report['skipped']} (already done), failed "
                       f"{report['failed']}: {report['photos_per_s']} photos/s on {report['workers']} "
                       f"worker(s) -> {out_dir / SUMMARY_NAME}", err=True)
        else:
            summaries = run_pipeline(inputs, order, out_dir, artifacts=resolver, backend=backend,
                                     device=device, progress=progress, options=options,
                                     keep_going=keep_going)
    if as_json:
        emit_json(summaries)
    else:
        rows = []
        for s in summaries:
            models = {m.get("backend") + "/" + str(m.get("device")) for m in s.get("models", {}).values()}
            rows.append([Path(s["input"]).name, "ok" if s["ok"] else f"FAILED: {s.get('error')}",
                         f"{s['total_s']:.2f}s", ", ".join(sorted(models)) or "-",
                         ", ".join(Path(p).name for p in s.get("outputs", {}).values())])
        print_table(f"edgephoto run ({', '.join(order)}) -> {out_dir}",
                    ["photo", "status", "time", "backend/device", "outputs"], rows)
    failed = [s for s in summaries if not s["ok"]]
    if failed:
        first = failed[0].get("error_type")
        codes = {cls.__name__: cls.exit_code for cls in _error_classes()}
        raise SystemExit(codes.get(first or "", 1))


def _error_classes() -> list[type[EdgePhotoError]]:
    seen, todo = [], [EdgePhotoError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen

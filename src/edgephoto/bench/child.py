"""The benchmark's child process: one artifact, loaded cold, timed one run per request.

Run as `python -m edgephoto.bench.child ARTIFACT SETTINGS_JSON` by the runner's workers. It
imports nothing of the runner, so the module that `-m` runs is not already imported under its
package name.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgephoto import errors
from edgephoto import manifest as manifest_io
from edgephoto.bench.worker import peak_rss_mb as _peak_rss_mb
from edgephoto.errors import EdgePhotoError, InvalidOptionError

# ---------------------------------------------------------------- inputs


def _image_input(manifest: dict[str, Any]) -> tuple[Any, tuple[int, int]]:
    """The manifest's first input as a TensorSpec and its (height, width); dynamic sizes take
    the tile size, as the runtime feeds them."""
    from edgephoto.zoo.spec import Normalization, TensorSpec

    entry = manifest["inputs"][0]
    norm = entry.get("normalization")
    layout = entry.get("layout", "NHWC")
    shape = tuple(None if d is None or d < 0 else int(d) for d in entry["shape"])
    if len(shape) != 4:
        raise InvalidOptionError(f"{manifest.get('model')}: input '{entry['name']}' is not an image "
                                 f"tensor (shape {list(shape)}); use --input random")
    h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
    tile = int((manifest.get("tile") or {}).get("tile") or 128)
    tensor = TensorSpec(
        name=str(entry["name"]), shape=shape, dtype=str(entry.get("dtype", "float32")), layout=layout,
        normalization=Normalization(tuple(norm["mean"]), tuple(norm["std"]), norm.get("color", "RGB"))
        if norm else None,
    )
    return tensor, (h or tile, w or tile)


def _pixels(mode: str, photos: str | None, hw: tuple[int, int], count: int) -> list[np.ndarray]:
    """`count` RGB uint8 images of size hw: real photos resized (cycled), or uniform noise."""
    if mode == "random":
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(count)]
    from PIL import Image

    from edgephoto.runtime.image_io import photos_in, read_photo, sample_path

    directory = Path(photos) if photos else sample_path().parent  # the built-in sample photos
    paths = photos_in([directory])[0][:count]
    if not paths:
        raise errors.InputFileError(directory, "no photos (.jpg, .png, ...) to benchmark with")
    out = []
    for path in paths:
        rgb = read_photo(path).composited()
        image = Image.fromarray(rgb).resize((hw[1], hw[0]), Image.Resampling.BICUBIC)
        out.append(np.asarray(image.convert("RGB")))
    return out


def prepare_feeds(backend: Any, manifest: dict[str, Any], mode: str, photos: str | None,
                  count: int = 4) -> list[dict[str, np.ndarray]]:
    """Feeds for the engine: photos (or noise) pre-processed by the manifest's normalisation at
    the model's input size; any further engine input gets zeros of its own shape and dtype."""
    from edgephoto.runtime.tasks.common import model_input

    tensor, hw = _image_input(manifest)
    engine = backend.inputs()
    image_name = next((t.name for t in engine if t.name == tensor.name), engine[0].name)
    feeds = []
    for pixels in _pixels(mode, photos, hw, count):
        feed = {image_name: model_input(pixels, tensor)}
        for t in engine:
            if t.name != image_name:
                feed[t.name] = np.zeros([d or 1 for d in t.shape], np.dtype(t.dtype))
        feeds.append(feed)
    return feeds


# ---------------------------------------------------------------- the child process


def _child_main(artifact: str, settings: dict[str, Any], reply: Callable[[str, Any], None],
                commands: Any) -> None:
    """Body of one artifact's process: load, warm up, then time one run per 'run' line."""
    from edgephoto.runtime.artifact import default_backend, load_artifact
    from edgephoto.runtime.backends import BACKENDS

    base_rss = _peak_rss_mb()
    manifest = manifest_io.read_manifest(Path(artifact))
    name = settings["backend"] or default_backend(manifest)
    start = time.perf_counter()
    try:
        importlib.import_module(BACKENDS.get(name).engine_module)
    except ImportError:
        pass  # the backend raises MissingExtraError itself, naming the extra
    import_ms = (time.perf_counter() - start) * 1e3
    options = {"threads": settings["threads"]} if settings["threads"] else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        backend, manifest = load_artifact(artifact, backend=name, device=settings["device"],
                                          verify=False, **options)
        load_ms = (time.perf_counter() - start) * 1e3
    feeds = prepare_feeds(backend, manifest, settings["input"], settings["photos"])
    start = time.perf_counter()
    backend.run(feeds[0])
    first_ms = (time.perf_counter() - start) * 1e3
    for k in range(settings["warmup"]):
        backend.run(feeds[k % len(feeds)])
    reply("ready", {
        "backend": backend.describe(),
        "warnings": [str(w.message) for w in caught],
        "base_rss_mb": base_rss,
        "load": {"import_ms": import_ms, "load_ms": load_ms, "first_run_ms": first_ms,
                 "cold_start_ms": import_ms + load_ms + first_ms},
        "feed": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds[0].items()},
    })
    done = 0
    for line in commands:
        if line.strip() != "run":
            break
        feed = feeds[done % len(feeds)]
        cpu, start = time.process_time(), time.perf_counter()
        backend.run(feed)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        reply("ms", [wall * 1e3, cpu * 1e3])
        done += 1
    backend.close()
    reply("done", {"peak_rss_mb": _peak_rss_mb()})


def child(artifact: str, settings_json: str) -> None:
    """Entry of `python -m edgephoto.bench.child ARTIFACT SETTINGS_JSON` (started by the runner's _Worker).

    Replies are JSON lines on the original stdout; fd 1 is pointed at stderr first, so an
    engine printing to stdout cannot corrupt the protocol.
    """
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def reply(kind: str, payload: Any) -> None:
        out.write(json.dumps([kind, payload], default=str) + "\n")

    try:
        _child_main(artifact, json.loads(settings_json), reply, sys.stdin)
    except EdgePhotoError as exc:
        reply("error", [type(exc).__name__, str(exc)])
    except Exception as exc:  # an engine's own failure: reported to the parent, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reply("error", ["EdgePhotoError", f"{artifact}: {type(exc).__name__}: {first}"])


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

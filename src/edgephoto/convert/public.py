"""What the packages beside convert (quantize) call instead of reaching into its modules.

The conversion context they pass along, a target's table entry with its precision checked,
finishing a converter's .tflite bytes as the tflite target finishes its own artifacts, and
rebuilding a model in another format through the graph. Edges and finishers can then move
between graph.py and targets/ without breaking quantize.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgephoto.convert.graph import ConvertContext

if TYPE_CHECKING:
    from edgephoto.convert.targets import TargetInfo

__all__ = ["ConvertContext", "finish_tflite_bytes", "rebuild_as", "target_info"]


def target_info(name: str, precision: str | None = None) -> TargetInfo:
    """The target's table entry; with `precision`, InvalidOptionError unless it can do it."""
    from edgephoto.convert.targets import TARGETS, check_precision

    info = TARGETS.get(name)
    if precision is not None:
        check_precision(info, precision)
    return info


def finish_tflite_bytes(flatbuffer: bytes, ctx: ConvertContext, name: str) -> Path:
    """Write `flatbuffer` beside the result and finish it like every tflite artifact: spec I/O
    names, ctx.options["metadata"] embedded, atomic write to ctx.workdir/<name>.tflite."""
    from edgephoto.convert.targets.tflite import finish_tflite

    raw = Path(ctx.workdir) / f"{name}.raw.tflite"
    raw.write_bytes(flatbuffer)
    return finish_tflite(raw, ctx, name)


def rebuild_as(model_file: Path, node: str, ctx: ConvertContext) -> Path:
    """The model in `model_file` (of ctx.spec.source_format) converted to format `node`."""
    from edgephoto.convert.graph import convert_path

    ctx.workdir.mkdir(parents=True, exist_ok=True)
    return convert_path(model_file, ctx.spec.source_format, node, ctx)

"""Upscaling by any factor: which model passes to chain, and the exact-size resample after them.

Pure planning (numbers and names in, a Chain out) so the rule is tested without any model; the
pipeline's `upscale` step (runtime/steps.py) runs each pass through the tiled upscale task.

The rule: passes of the largest model scale that still fits the remaining factor (at least one
pass, at most `max_passes`: one by default), run smallest scale first; then one LANCZOS resample
to exactly round(W*N) x round(H*N) (up for the rest of the factor, down when the one pass
overshoots, as for N < 2).

Why one fsrcnn-x2 pass by default (Set5 PSNR-Y dB, papers' protocol, onnxruntime 1 thread,
measured for this step: benchmarks/results/upscale_chains.md):

    factor  LANCZOS alone  best other model chain   two x2 passes + LANCZOS   one x2 pass + LANCZOS (rule)
    x2      34.32          -                        -                         34.88
    x3      30.83          fsrcnn-x3 30.60          31.46 (then down)         31.46
    x4      28.81          fsrcnn-x4 28.41          29.32                     29.34
    x5      27.33          x2+x3 27.70              27.81                     27.79
    x6      26.23          x2+x3 26.57              26.68                     26.66
    x8      24.64          x2+x4 24.96              25.015 (three: 25.00)     25.00

The x3/x4 FSRCNN re-trainings are no better than a plain resample at their own factor, so a
LANCZOS of the x2 model's output beats them. A second x2 pass runs on four times the pixels of
the first (4x its work: the chain costs 5x one pass) and buys at most 0.02 dB (x4: -0.02), so
one pass is the best quality per time; more passes are the caller's choice (`max_passes`, the
step's `passes` option). When passes are chained, smallest scale first: x2 then x3 beat x3 then
x2 by 0.54 dB at x6, x2 then x4 beat x4 then x2 by 0.56 dB at x8. ESRGAN x4 (Set5 x4: slim
28.60, thick 29.95, shared/data/README.md) costs about 10x (slim) and 280x (thick) fsrcnn-x2's
CPU time per input pixel (benchmarks/results/side_by_side.md: 92 and 2571 ms per 128-px tile,
fsrcnn-x2 18 ms per Set5 image of about twice those pixels), and slim is below the rule at x4:
both are opt-in (--model).

Real-ESRGAN (--model realesr-animevideov3-x2/x3/x4, realesrgan-x4plus; Set5 PSNR-Y, SSIM-Y and
metrics.sharpness, the HR's 7.23: benchmarks/results/upscale_chains_realesrgan.md) is GAN-trained:
below the rule in PSNR-Y and SSIM-Y at every factor, but sharper. At x6 the rule gives 26.66 dB,
0.750, sharpness 4.38 (2.4 ms per image); animevideov3-x4 + LANCZOS 25.96, 0.748, 5.46 (33 ms);
x4plus + LANCZOS 24.72, 0.729, 6.58 (963 ms). Two Real-ESRGAN passes lose more (x6 x2 then x3:
23.81 dB, 0.717; x4 two x2 passes 25.28 vs one 28.12) for about 5x one pass's time, so with
--model too the chain is one pass + LANCZOS, and the default stays fsrcnn-x2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgephoto.errors import InvalidOptionError

# scale -> the permissive zoo model the chain uses by default (the table above says why only x2)
MODEL_PER_SCALE: dict[int, str] = {2: "fsrcnn-x2"}
RESAMPLE = "lanczos"  # Pillow's filter for the final exact-size step


@dataclass(frozen=True)
class Pass:
    model: str
    scale: int
    size: tuple[int, int]  # (width, height) after this pass


@dataclass(frozen=True)
class Chain:
    factor: float
    passes: tuple[Pass, ...]
    size: tuple[int, int]  # (width, height) of the result: round(W*N), round(H*N)
    resample: str | None  # the filter taking the last pass's output to `size`; None if exact

    def describe(self) -> dict[str, Any]:
        """The chain as the step's summary records it."""
        before = self.passes[-1].size if self.passes else None
        return {
            "scale": self.factor,
            "chain": [{"model": p.model, "scale": p.scale, "size": list(p.size)} for p in self.passes],
            "resample": None if self.resample is None else
            {"filter": self.resample, "from": list(before or self.size), "to": list(self.size)},
            "size": list(self.size),
        }


def parse_scale(value: Any) -> float:
    """--scale as a finite number >= 1 (ints stay exact: 3 -> 3.0)."""
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = math.nan
    if not math.isfinite(factor) or factor < 1:
        raise InvalidOptionError(f"--scale must be a number >= 1 (2, 3, 4, 6, 1.5, ...), got '{value}'")
    return factor


def scale_label(factor: float) -> str:
    """'6' for 6.0, '1.5' for 1.5: the output's name is x{label}.png."""
    return str(int(factor)) if factor.is_integer() else f"{factor:g}"


def chain_models(model: str | None) -> dict[int, str]:
    """scale -> model for the chain: the default table, or only `model` (a zoo upscaler, any
    scale) so every pass is the model asked for. Another task's model, or weights that are not
    permissive, are refused here, before any photo runs."""
    if model is None:
        return dict(MODEL_PER_SCALE)
    from edgephoto.zoo import get_model

    spec = get_model(model)  # unknown names raise with the nearest suggested
    if spec.task != "upscale":
        raise InvalidOptionError(f"--model {model} is a {spec.task} model; the upscale step needs an "
                                 "upscale model (edgephoto zoo lists them)")
    if not spec.permissive:
        raise InvalidOptionError(f"--model {model}: its weights are {spec.licence}, opt-in only; convert it "
                                 "with --accept-licence and pass --artifacts DIR")
    return {spec.scale: spec.name}


def parse_passes(value: Any) -> int | None:
    """The most model passes a chain may have: an int >= 1, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() or int(value) < 1:
        raise InvalidOptionError(f"the upscale step's passes must be a whole number >= 1 or None, got '{value}'")
    return int(value)


def plan_chain(factor: float, width: int, height: int, models: Mapping[int, str] = MODEL_PER_SCALE,
               *, max_passes: int | None = 1) -> Chain:
    """The passes (scale -> model from `models`) and the resample reaching round(W*N) x round(H*N)."""
    factor = parse_scale(factor)
    max_passes = parse_passes(max_passes)
    if not models:
        raise InvalidOptionError("the upscale chain needs at least one model")
    target = (max(round(width * factor), 1), max(round(height * factor), 1))
    scales: list[int] = []
    remaining = factor
    while max_passes is None or len(scales) < max_passes:
        fitting = [s for s in models if s <= remaining + 1e-9]
        if not fitting:
            break
        scales.append(max(fitting))
        remaining /= scales[-1]
    if not scales and factor > 1:  # N below every model scale: one pass, then resample down
        scales.append(min(models))
    passes, w, h = [], width, height
    for s in sorted(scales):
        w, h = w * s, h * s
        passes.append(Pass(models[s], s, (w, h)))
    return Chain(factor, tuple(passes), target, None if (w, h) == target else RESAMPLE)

"""Inline SVG plots for the HTML report: latency distributions, speed vs quality, size vs latency.

Drawn here in plain SVG (no script, no assets from the network), so a report is one file that
opens anywhere. Every artifact is one element with class "mark" (a box, or a dot), its label
and numbers in a <title> tooltip; axes are linear from zero with 1/2/5 steps, as in the bar
chart, so distances on the page are ratios of the numbers.
"""

from __future__ import annotations

import html
import math
from typing import Any

from edgephoto.bench import stats

WIDTH, LEFT, RIGHT, TOP = 760, 260, 30, 28
COLOURS = ("#4a7fb5", "#d9822b", "#3a9a5b", "#b5484a", "#7a5bb5", "#8c6d31", "#c25ba0", "#5b9bb5")


def _axis(top_value: float) -> tuple[float, float]:
    step = stats.nice_step(top_value or 1.0)
    return step, (math.ceil((top_value or 1.0) / step) * step) or step


def _head(width: int, height: int, title: str, kind: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" data-plot="{kind}">',
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']


def _five(result: dict[str, Any]) -> tuple[float, float, float, float, float]:
    """min, Q1, median, Q3, max: from the samples when the JSON keeps them, else the summary
    (Q1/Q3 then taken as median -/+ IQR/2, the best the summary allows)."""
    samples = result.get("samples_ms") or []
    if samples:
        return (min(samples), stats.percentile(samples, 25), stats.median(samples),
                stats.percentile(samples, 75), max(samples))
    lat = result["latency_ms"]
    half = float(lat.get("iqr") or 0.0) / 2
    return lat["min"], lat["median"] - half, lat["median"], lat["median"] + half, lat["max"]


def box_plot(results: list[dict[str, Any]], title: str) -> str:
    """One horizontal box per artifact: whiskers min..max, box Q1..Q3, bar at the median."""
    bar, gap = 18, 8
    plot = WIDTH - LEFT - RIGHT
    fives = [_five(r) for r in results]
    step, axis_max = _axis(max(f[4] for f in fives))
    base = TOP + len(results) * (bar + gap)
    out = _head(WIDTH, base + 30, title, "distribution")

    def x(v: float) -> float:
        return LEFT + plot * v / axis_max

    for t in range(int(round(axis_max / step)) + 1):
        out.append(f'<line x1="{x(t * step):.1f}" y1="{TOP - 4}" x2="{x(t * step):.1f}" y2="{base}" stroke="#ddd"/>')
        out.append(f'<text x="{x(t * step):.1f}" y="{base + 14}" font-size="11" text-anchor="middle">{t * step:g}</text>')
    out.append(f'<text x="{LEFT + plot / 2:.1f}" y="{base + 27}" font-size="11" text-anchor="middle">'
               'ms per run (whiskers min..max, box quartiles, bar median)</text>')
    for k, (r, (low, q1, mid, q3, high)) in enumerate(zip(results, fives, strict=True)):
        y = TOP + k * (bar + gap)
        label = html.escape(r["label"])
        out += [f'<text x="{LEFT - 6}" y="{y + bar / 2 + 4:.1f}" font-size="12" text-anchor="end">{label}</text>',
                f'<g class="mark"><title>{label}: min {low:.3f}, Q1 {q1:.3f}, median {mid:.3f}, Q3 {q3:.3f}, '
                f'max {high:.3f} ms</title>',
                f'<line x1="{x(low):.1f}" y1="{y + bar / 2}" x2="{x(high):.1f}" y2="{y + bar / 2}" stroke="#222"/>',
                f'<rect x="{x(q1):.1f}" y="{y}" width="{max(x(q3) - x(q1), 1):.1f}" height="{bar}" '
                f'fill="{COLOURS[k % len(COLOURS)]}" fill-opacity="0.6" stroke="#222"/>',
                f'<line x1="{x(mid):.1f}" y1="{y}" x2="{x(mid):.1f}" y2="{y + bar}" stroke="#000" stroke-width="2"/>',
                "</g>"]
    out.append("</svg>")
    return "\n".join(out)


def scatter(points: list[tuple[str, float, float]], title: str, x_name: str, y_name: str, kind: str) -> str:
    """Dots at (x, y), each labelled; both axes linear from zero."""
    width, height, left, bottom = 560, 320, 60, 40
    plot_w, plot_h = width - left - RIGHT, height - TOP - bottom
    x_step, x_max = _axis(max(p[1] for p in points))
    y_step, y_max = _axis(max(p[2] for p in points))
    out = _head(width, height, title, kind)
    out[1] = out[1].replace(f'x="{LEFT}"', f'x="{left}"')

    def x(v: float) -> float:
        return left + plot_w * v / x_max

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    for t in range(int(round(x_max / x_step)) + 1):
        v = t * x_step
        out += [f'<line x1="{x(v):.1f}" y1="{TOP}" x2="{x(v):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>',
                f'<text x="{x(v):.1f}" y="{TOP + plot_h + 14}" font-size="11" text-anchor="middle">{v:g}</text>']
    for t in range(int(round(y_max / y_step)) + 1):
        v = t * y_step
        out += [f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + plot_w}" y2="{y(v):.1f}" stroke="#eee"/>',
                f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:g}</text>']
    out += [f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" font-size="11" text-anchor="middle">'
            f'{html.escape(x_name)}</text>',
            f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{html.escape(y_name)}</text>']
    for k, (label, px, py) in enumerate(points):
        name = html.escape(label)
        out += [f'<circle class="mark" cx="{x(px):.1f}" cy="{y(py):.1f}" r="5" fill="{COLOURS[k % len(COLOURS)]}">'
                f'<title>{name}: {px:.4g}, {py:.4g}</title></circle>',
                f'<text x="{x(px) + 7:.1f}" y="{y(py) - 6:.1f}" font-size="10">{name}</text>']
    out.append("</svg>")
    return "\n".join(out)


def model_plots(results: list[dict[str, Any]]) -> list[str]:
    """The three plots for one model's results (speed vs quality only where parity is known)."""
    if not results:
        return []
    model = str(results[0]["model"])
    plots = [box_plot(results, f"{model}: latency distribution")]
    quality = _quality_points(results)
    if quality:
        plots.append(scatter(quality[0], f"{model}: speed vs quality", "median ms", quality[1], "quality"))
    plots.append(scatter([(r["label"], r["size_bytes"] / 1e6, r["latency_ms"]["median"]) for r in results],
                         f"{model}: size vs latency", "size MB", "median ms", "size"))
    return plots


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _quality_points(results: list[dict[str, Any]]) -> tuple[list[tuple[str, float, float]], str] | None:
    """(points, y-axis name). With quantized artifacts: the task metric's drop against the float
    model (a float copy that passed parity sits at 0), the trade-off a precision buys. Without:
    the parity metric itself. None when nothing has either."""
    q = [r.get("quality") or {} for r in results]
    if any(_number(x.get("accuracy_drop")) for x in q):
        first = next(x for x in q if _number(x.get("accuracy_drop")))
        points = [(r["label"], r["latency_ms"]["median"],
                   max(float(x["accuracy_drop"]), 0.0) if _number(x.get("accuracy_drop")) else 0.0)
                  for r, x in zip(results, q, strict=True)
                  if _number(x.get("accuracy_drop")) or x.get("parity_value") is not None]
        unit = f" ({first['accuracy_unit']})" if first.get("accuracy_unit") else ""
        return points, f"{first.get('accuracy_metric') or 'metric'} drop{unit}, float = 0"
    # an exact fp32 copy has PSNR inf: nothing to place on an axis
    points = [(r["label"], r["latency_ms"]["median"], float(x["parity_value"]))
              for r, x in zip(results, q, strict=True) if _number(x.get("parity_value"))]
    if not points:
        return None
    metric = next(x.get("parity_metric") for x in q if _number(x.get("parity_value"))) or "parity"
    return points, f"parity {metric} (worst output)"

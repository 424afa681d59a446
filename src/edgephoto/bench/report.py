"""Render benchmark results (the JSON from runner.benchmark) as Markdown or self-contained HTML.

The JSON is the result; these are views of it, so `edgephoto bench --render results.json`
re-draws a report without measuring again. The HTML has no external assets: a table and one
inline SVG bar chart per model (median latency, whisker to p90), drawn here in a few lines.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from edgephoto.bench.stats import nice_step as _nice_step
from edgephoto.errors import InputFileError, InvalidOptionError

REPORT_SUFFIXES = (".md", ".html")
RESULT_KEYS = ("label", "artifact", "model", "target", "precision", "size_bytes", "backend",
               "load", "latency_ms", "throughput_per_s", "peak_rss_mb", "quality", "vs_baseline")
LATENCY_KEYS = ("n", "min", "median", "mean", "p90", "p99", "max", "stdev")


def validate(data: Any, source: object = "results") -> dict[str, Any]:
    """The results dict if it has the bench schema's keys, else InputFileError naming the gap."""
    from edgephoto.bench.runner import SCHEMA

    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputFileError(source, f"not edgephoto bench results (schema {found!r}, expected {SCHEMA!r})")
    for key in ("settings", "machine", "results"):
        if key not in data:
            raise InputFileError(source, f"bench results without '{key}'")
    for k, result in enumerate(data["results"]):
        missing = [key for key in RESULT_KEYS if key not in result]
        missing += [f"latency_ms.{key}" for key in LATENCY_KEYS if key not in result.get("latency_ms", {})]
        if missing:
            raise InputFileError(source, f"result {k} lacks {', '.join(missing)}")
    return data


def read_results(path: Path) -> dict[str, Any]:
    try:
        return validate(json.loads(Path(path).read_text()), path)
    except FileNotFoundError:
        raise InputFileError(path, "no such results file") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not JSON ({exc.msg}, line {exc.lineno})") from None


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _device(result: dict[str, Any]) -> str:
    b = result["backend"]
    text = f"{b.get('backend', '?')} {b.get('device', '?')}"
    if b.get("accelerator"):
        text += f" ({b['accelerator']})"
    if b.get("requested_device") not in (None, "auto", b.get("device")):
        text += f", asked {b['requested_device']}: fell back"
    if b.get("precision_hint"):
        text += f", {b['precision_hint']}"
    return text


def _quality(result: dict[str, Any]) -> str:
    q = result.get("quality") or {}
    parts = []
    if q.get("parity_metric"):
        value = q.get("parity_value")
        parts.append(f"parity {q['parity_metric']} {'-' if value is None else f'{value:.4g}'}")
    if q.get("accuracy_metric"):
        parts.append(f"{q['accuracy_metric']} drop {_num(q.get('accuracy_drop'), 3)} {q.get('accuracy_unit', '')}".strip())
    return "; ".join(parts) or "-"


def _versus(result: dict[str, Any]) -> str:
    vs = result.get("vs_baseline")
    if not vs:
        return "baseline" if vs is None else "-"
    speedup = vs.get("speedup_median")
    if not speedup:
        return "-"
    pace = f"{speedup:.2f}x faster" if speedup >= 1 else f"{1 / speedup:.2f}x slower"
    return f"{pace}, size {_num(vs.get('size_ratio'))}x"


COLUMNS = ("artifact", "backend / device", "threads", "cold start ms", "median ms", "p90 ms",
           "p99 ms", "min ms", "max ms", "stdev ms", "CPU ms (median)", "runs/s", "peak RSS MB",
           "size MB", "vs first of model", "quality (manifest)")


def rows(data: dict[str, Any]) -> list[list[str]]:
    """One row of display strings per result, in COLUMNS order (shared by every format)."""
    out = []
    for r in data["results"]:
        lat = r["latency_ms"]
        out.append([
            r["label"], _device(r), _num(r["backend"].get("threads")), _num(r["load"].get("cold_start_ms"), 1),
            _num(lat["median"], 3), _num(lat["p90"], 3), _num(lat["p99"], 3), _num(lat["min"], 3),
            _num(lat["max"], 3), _num(lat["stdev"], 3), _num((r.get("cpu_ms") or {}).get("median"), 3),
            _num(r["throughput_per_s"], 1),
            _num(r["peak_rss_mb"], 0), _num(r["size_bytes"] / 1e6, 2), _versus(r), _quality(r),
        ])
    return out


WORK_COLUMNS = ("artifact", "GMAC / inference", "GFLOP / inference", "achieved", "machine peak",
                "of peak", "of peak (CPU time)", "counted on")


def _percent(fraction: float | None) -> str:
    return f"{100 * fraction:.1f} %" if fraction is not None else "-"


def work_rows(data: dict[str, Any]) -> list[list[str]]:
    """Work per inference and the rate achieved at the median, for results that have it."""
    out = []
    for r in data["results"]:
        w = r.get("work")
        if not w:
            continue
        unit = w.get("unit", "GFLOP/s")
        peak = f"{_num(w.get('peak'), 1)} {unit} ({w.get('peak_kind', '?')})" if w.get("peak") else "-"
        out.append([r["label"], _num(w["macs"] / 1e9, 3), _num(w["flops"] / 1e9, 3),
                    f"{_num(w.get('achieved'), 1)} {unit}", peak, _percent(w.get("fraction_of_peak")),
                    _percent(w.get("fraction_of_peak_cpu")),
                    ("itself" if w.get("counted_on_self") else Path(str(w.get("counted_on", ""))).name or "-")
                    + f" at {w.get('size')}px"])
    return out


def peak_line(data: dict[str, Any]) -> str:
    peak = data["machine"].get("peak")
    if not peak:
        return ""
    int8 = (f"; int8 {_num(peak.get('int8_gops'), 1)} GOP/s, {_num(peak.get('int8_gops_cpu'), 1)} on CPU time "
            f"({peak.get('int8_kernel')})") if peak.get("int8_gops") else ""
    return (f"Machine peak in this run, {peak.get('threads')} thread(s): fp32 {_num(peak.get('fp32_gflops'), 1)} "
            f"GFLOP/s, {_num(peak.get('fp32_gflops_cpu'), 1)} on CPU time ({peak.get('fp32_kernel')}"
            f"{'; ' + peak['blas'] if peak.get('blas') else ''}){int8}.")


def reference_rows(data: dict[str, Any]) -> list[list[str]]:
    """Published/other-tool figures beside the fastest artifact of the same model measured here."""
    out = []
    for ref in data.get("references") or []:
        mine = [r for r in data["results"] if r["model"] == ref.get("model")]
        best = min(mine, key=lambda r: r["latency_ms"]["median"]) if mine else None
        ours = best["latency_ms"]["median"] if best else None
        ratio = ref["median_ms"] / ours if ours else None
        cpu = (best.get("cpu_ms") or {}).get("median") if best else None
        out.append([str(ref.get("model")), str(ref.get("what")), _num(ref.get("median_ms"), 1),
                    _num(ref.get("cpu_ms"), 1), best["label"] if best else "-", _num(ours, 2), _num(cpu, 2),
                    f"{_num(ratio)}x" if ratio else "-", str(ref.get("source", ""))])
    return out


REFERENCE_COLUMNS = ("model", "reference", "reference ms", "reference CPU ms", "fastest here", "median ms",
                     "CPU ms (median)", "reference / ours", "source")


PEER_COLUMNS = ("ours", "peer", "peer median ms", "our median ms", "speedup vs peer", "CPU ms ours / peer")
STAGE_COLUMNS = ("contender", "median ms", "tiles (engine calls)", "stages: median ms each")


def peer_lines(data: dict[str, Any]) -> list[str]:
    """Which peers were measured, and for those not, why (with the install command)."""
    return [f"{p['model']}: {p['message']}" for p in data.get("peers") or []]


def peer_rows(data: dict[str, Any]) -> list[list[str]]:
    """Each of our results against each peer of its model measured in the same run."""
    by_label = {r["label"]: r for r in data["results"]}
    out = []
    for r in data["results"]:
        for label, vs in (r.get("vs_peers") or {}).items():
            peer = by_label.get(label)
            if peer is None:
                continue
            cpu_ours, cpu_peer = (r.get("cpu_ms") or {}).get("median"), (peer.get("cpu_ms") or {}).get("median")
            out.append([r["label"], label, _num(peer["latency_ms"]["median"], 3), _num(r["latency_ms"]["median"], 3),
                        f"{_num(vs.get('speedup_median'))}x", f"{_num(cpu_ours, 2)} / {_num(cpu_peer, 2)}"])
    return out


def stage_rows(data: dict[str, Any]) -> list[list[str]]:
    """Whole-call results: the median time of each stage of the call."""
    return [[r["label"], _num(r["latency_ms"]["median"], 3), _num(r.get("tiles"), 0),
             ", ".join(f"{k} {_num(v, 2)}" for k, v in r["stages_ms"].items())]
            for r in data["results"] if r.get("stages_ms")]


def _settings_line(data: dict[str, Any]) -> str:
    s = data["settings"]
    load = (data["machine"].get("load_average") or {})
    cpu = data["machine"].get("cpu", {})
    text = (f"{cpu.get('model', '?')} ({cpu.get('usable_cores', cpu.get('cores', '?'))} cores usable; "
            f"flags {', '.join(cpu.get('flags', [])) or '-'}). Threads {s.get('threads') or 'engine default'}, "
            f"device {s.get('device')}, {s.get('warmup')} warm-up + {s.get('runs')} timed runs each, "
            f"{s.get('schedule', 'interleaved')}, input {s.get('input')}.")
    if load.get("before"):
        text += (f" Load average before/after: {', '.join(_num(v) for v in load['before'])} / "
                 f"{', '.join(_num(v) for v in load.get('after') or [])}.")
    return text


def _engines(data: dict[str, Any]) -> str:
    engines = data["machine"].get("engines", {})
    return ", ".join(f"{name} ({e['engine']} {e['version']})" if e.get("engine") and e["engine"] != name
                     else f"{name} {e['version']}" for name, e in engines.items() if e.get("version")) or "-"


def _md_table(columns: tuple[str, ...], body: list[list[str]]) -> str:
    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(columns), line(["---"] * len(columns)), *(line(r) for r in body)])


def tables(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One (title, data) per table: the whole run, or one per model for merged devices."""
    if not data.get("devices"):
        return [("", data)]
    models = list(dict.fromkeys(r["model"] for r in data["results"]))
    return [(str(m), {**data, "results": [r for r in data["results"] if r["model"] == m]}) for m in models]


def render_markdown(data: dict[str, Any]) -> str:
    data = validate(data)
    parts = [f"# edgephoto bench ({data.get('created', '')})", ""]
    if data.get("devices"):
        parts += ["Devices merged (ratios against the first file):", "",
                  *(f"- {d['label']}: {d['file']} ({d['summary']})" for d in data["devices"]), ""]
    else:
        parts += [_settings_line(data), "", f"Engines: {_engines(data)}.", ""]
    for title, part in tables(data):
        parts += [*([f"## {title}", ""] if title else []), _md_table(COLUMNS, rows(part)), ""]
    if any(r.get("work") for r in data["results"]):
        parts += ["## Work per inference", "", *([peak_line(data), ""] if peak_line(data) else []),
                  _md_table(WORK_COLUMNS, work_rows(data)), ""]
    if data.get("peers"):
        parts += ["## Peers (measured in this run, interleaved)", "", *(f"- {line}" for line in peer_lines(data)), ""]
        if peer_rows(data):
            parts += [_md_table(PEER_COLUMNS, peer_rows(data)), ""]
    if stage_rows(data):
        parts += ["## Stages of the whole call", "", _md_table(STAGE_COLUMNS, stage_rows(data)), ""]
    if data.get("references"):
        parts += ["## Against other tools", "", _md_table(REFERENCE_COLUMNS, reference_rows(data)), ""]
    warned = [(r["label"], w) for r in data["results"] for w in r.get("warnings", [])]
    if warned:
        parts += ["## Warnings", "", *(f"- {label}: {w}" for label, w in warned), ""]
    if data.get("notes"):
        parts += ["## Notes", "", *(f"- {n}" for n in data["notes"]), ""]
    return "\n".join(parts)


def svg_chart(results: list[dict[str, Any]], title: str) -> str:
    """Horizontal bars of median latency with a whisker from median to p90, linear axis from 0."""
    bar, gap, left, right, top = 18, 8, 260, 30, 28
    width = 760
    plot = width - left - right
    top_value = max(max(r["latency_ms"]["p90"], r["latency_ms"]["median"]) for r in results) or 1.0
    step = _nice_step(top_value)
    axis_max = math.ceil(top_value / step) * step
    height = top + len(results) * (bar + gap) + 30

    def x(value: float) -> float:
        return left + plot * value / axis_max

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    ticks = int(round(axis_max / step))
    base = top + len(results) * (bar + gap)
    for t in range(ticks + 1):
        value = t * step
        out.append(f'<line x1="{x(value):.1f}" y1="{top - 4}" x2="{x(value):.1f}" y2="{base}" stroke="#ddd"/>')
        out.append(f'<text x="{x(value):.1f}" y="{base + 14}" font-size="11" text-anchor="middle">'
                   f'{value:g}</text>')
    out.append(f'<text x="{left + plot / 2:.1f}" y="{base + 27}" font-size="11" text-anchor="middle">'
               'ms (bar: median, whisker: p90)</text>')
    for k, r in enumerate(results):
        y = top + k * (bar + gap)
        lat = r["latency_ms"]
        mid = y + bar / 2
        out.append(f'<text x="{left - 6}" y="{mid + 4:.1f}" font-size="12" text-anchor="end">'
                   f'{html.escape(r["label"])}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(lat["median"]) - left:.1f}" height="{bar}" '
                   f'fill="#4a7fb5"><title>{html.escape(r["label"])}: median {lat["median"]:.3f} ms, '
                   f'p90 {lat["p90"]:.3f} ms</title></rect>')
        out.append(f'<line x1="{x(lat["median"]):.1f}" y1="{mid}" x2="{x(lat["p90"]):.1f}" y2="{mid}" '
                   'stroke="#222" stroke-width="1.5"/>')
        out.append(f'<line x1="{x(lat["p90"]):.1f}" y1="{y + 4}" x2="{x(lat["p90"]):.1f}" '
                   f'y2="{y + bar - 4}" stroke="#222" stroke-width="1.5"/>')
        out.append(f'<text x="{x(max(lat["p90"], lat["median"])) + 4:.1f}" y="{mid + 4:.1f}" '
                   f'font-size="11">{lat["median"]:.2f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _html_table(columns: tuple[str, ...], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    lines = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
         "td:first-child,td:nth-child(2),th{text-align:left}th{background:#f3f3f3}")


def render_html(data: dict[str, Any]) -> str:
    from edgephoto.bench.plots import model_plots

    data = validate(data)
    charts = []
    models = list(dict.fromkeys(r["model"] for r in data["results"]))
    for model in models:
        charts.append(svg_chart([r for r in data["results"] if r["model"] == model], str(model)))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>edgephoto bench {html.escape(str(data.get('created', '')))}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>edgephoto bench</h1><p>{html.escape(str(data.get('created', '')))}</p>"]
    if data.get("devices"):
        parts += ["<p>Devices merged (ratios against the first file):</p><ul>",
                  *(f"<li>{html.escape(d['label'])}: {html.escape(d['file'])} ({html.escape(d['summary'])})</li>"
                    for d in data["devices"]), "</ul>"]
    else:
        parts += [f"<p>{html.escape(_settings_line(data))}</p>", f"<p>Engines: {html.escape(_engines(data))}.</p>"]
    for title, part in tables(data):
        parts += [*([f"<h2>{html.escape(title)}</h2>"] if title else []), _html_table(COLUMNS, rows(part))]
    if any(r.get("work") for r in data["results"]):
        parts += ["<h2>Work per inference</h2>", f"<p>{html.escape(peak_line(data))}</p>",
                  _html_table(WORK_COLUMNS, work_rows(data))]
    parts += ["<h2>Median latency</h2>", *(f"<div>{c}</div>" for c in charts)]
    for model in models:
        parts += [f"<h2>{html.escape(str(model))}: distributions, speed vs quality, size vs latency</h2>",
                  *(f"<div>{svg}</div>" for svg in model_plots([r for r in data["results"] if r["model"] == model]))]
    if data.get("peers"):
        parts += ["<h2>Peers (measured in this run, interleaved)</h2><ul>",
                  *(f"<li>{html.escape(line)}</li>" for line in peer_lines(data)), "</ul>",
                  _html_table(PEER_COLUMNS, peer_rows(data))]
    if stage_rows(data):
        parts += ["<h2>Stages of the whole call</h2>", _html_table(STAGE_COLUMNS, stage_rows(data))]
    if data.get("references"):
        parts += ["<h2>Against other tools</h2>", _html_table(REFERENCE_COLUMNS, reference_rows(data))]
    warned = [(r["label"], w) for r in data["results"] for w in r.get("warnings", [])]
    if warned:
        parts += ["<h2>Warnings</h2><ul>",
                  *(f"<li>{html.escape(label)}: {html.escape(w)}</li>" for label, w in warned), "</ul>"]
    if data.get("notes"):
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{html.escape(n)}</li>" for n in data["notes"]), "</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(data: dict[str, Any], suffix: str) -> str:
    """The report text for a file suffix (.md or .html)."""
    if suffix == ".md":
        return render_markdown(data)
    if suffix in (".html", ".htm"):
        return render_html(data)
    raise InvalidOptionError(f"report must end in {' or '.join(REPORT_SUFFIXES)}, got '{suffix or '(none)'}'")


def write_report(data: dict[str, Any], path: Path) -> Path:
    """Render by suffix and write atomically."""
    from edgephoto.runtime.image_io import write_bytes_atomic

    text = render(data, Path(path).suffix.lower())
    return write_bytes_atomic(Path(path), text.encode("utf-8"))  # OutputError when unwritable

"""Why ESRGAN int8 loses dB on OpenVINO: NNCF options, one at a time, on the guard's held-out crops.

    nice -n 10 python benchmarks/esrgan_openvino_ranges.py esrgan-thick-x4 base,minmax,noof+nocat 24 \
        [--artifacts DIR]

Each variant quantizes the fp32 IR (DIR/<model>/openvino-fp32, from `edgephoto convert`) with
nncf.quantize on the same calibration crops (the built-in photos, `subset` crops, as the
quantizer makes them) and scores it as the accuracy guard does (PSNR against the HR crops of
the held-out photo, float IR vs int8 IR through the openvino backend, f32 hint). Variants
(joined with +): base = what edgephoto did before (MIXED preset, edge layers float, fast bias
correction, NNCF's default ranges: MEAN_MINMAX for per-tensor activations); minmax = global
min/max activation ranges; noof = overflow fix off; nocat = Concat ops left float; noadd = Add
and Multiply left float; bc = full bias correction; int8edges = edge layers int8 too.
Rows are appended to benchmarks/results/esrgan_openvino_ranges.json (+ .md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "esrgan_openvino_ranges.json"


def variant(name: str) -> tuple[dict[str, Any], dict[str, Any], bool, list[str]]:
    import nncf
    from nncf.quantization.advanced_parameters import OverflowFix
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    kw: dict[str, Any] = {"preset": nncf.QuantizationPreset.MIXED, "fast_bias_correction": True}
    adv: dict[str, Any] = {}
    edges, types = True, []
    for part in name.split("+"):
        if part == "minmax":
            adv["activations_range_estimator_params"] = RangeEstimatorParametersSet.MINMAX
        elif part == "noof":
            adv["overflow_fix"] = OverflowFix.DISABLE
        elif part == "nocat":
            types.append("Concat")
        elif part == "noadd":
            types += ["Add", "Multiply"]
        elif part == "bc":
            kw["fast_bias_correction"] = False
        elif part == "int8edges":
            edges = False
        elif part != "base":
            raise SystemExit(f"unknown variant part {part!r}")
    return kw, adv, edges, types


def run(model_name: str, names: list[str], subset: int, artifacts: Path) -> list[dict[str, Any]]:
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    from edgephoto.quantize import accuracy, edge_layers
    from edgephoto.quantize.calibration import calibration_dataset
    from edgephoto.quantize.openvino import CONV_OPS, PASSIVE_OPS
    from edgephoto.zoo import get_model

    spec = get_model(model_name)
    src = artifacts / model_name / "openvino-fp32" / f"{model_name}.xml"
    cal = calibration_dataset(spec, subset_size=subset)
    run_f, close_f = accuracy.open_runner("openvino", src, spec)
    floats = {id(s.feed): run_f(s.feed) for s in cal.holdout}
    close_f()
    rows = []
    for name in names:
        kw, adv, edges, types = variant(name)
        model = ov.Core().read_model(str(src))
        ops = [(op.get_friendly_name(), op.get_type_name()) for op in model.get_ordered_ops()]
        base = edge_layers(ops, CONV_OPS, PASSIVE_OPS) if edges else []
        in_name = model.inputs[0].get_any_name()
        dataset = nncf.Dataset(cal.calibration, lambda f, key=in_name: {key: next(iter(f.values()))})
        ignored = nncf.IgnoredScope(names=base, types=types, validate=False) if base or types else None
        started = time.time()
        quantized = nncf.quantize(model, dataset, subset_size=len(cal.calibration), ignored_scope=ignored,
                                  advanced_parameters=AdvancedQuantizationParameters(**adv) if adv else None, **kw)
        took = time.time() - started
        out = artifacts / "ranges" / f"{model_name}.{name}.xml"
        out.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(quantized, str(out), compress_to_fp16=False)
        run_q, close_q = accuracy.open_runner("openvino", out, spec)
        numbers = accuracy.measure(spec, lambda f: floats[id(f)], run_q, cal.holdout)
        close_q()
        rows.append({"model": model_name, "variant": name, "subset": len(cal.calibration),
                     "holdout": len(cal.holdout), "quantize_s": round(took, 1),
                     **{k: numbers[k] for k in ("drop", "psnr_float", "psnr_quant", "psnr_vs_float")}})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["# ESRGAN int8 on OpenVINO: NNCF options vs the guard's drop", "",
             "Drop = float IR PSNR minus int8 IR PSNR against the held-out HR crops (the accuracy guard's "
             "measure), same calibration crops for every variant. See the script's docstring for the variants.", "",
             "| model | variant | calibration crops | held-out crops | drop dB | int8 vs float PSNR dB | quantize s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['variant']} | {r['subset']} | {r.get('holdout', 12)} | {r['drop']:.3f} | "
              f"{r['psnr_vs_float']:.2f} | {r['quantize_s']:.0f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("variants")
    parser.add_argument("subset", type=int, nargs="?", default=24)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/edgephoto-esrgan-int8"))
    args = parser.parse_args()
    from edgephoto.manifest import write_json_atomic

    old = json.loads(RESULTS.read_text())["rows"] if RESULTS.is_file() else []
    for name in args.variants.split(","):
        old += run(args.model, [name], args.subset, args.artifacts)
        write_json_atomic(RESULTS, {"rows": old})
        RESULTS.with_suffix(".md").write_text(markdown(old))


if __name__ == "__main__":
    main()

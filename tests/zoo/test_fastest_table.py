"""The measured fastest-engine table shipped with the zoo: schema, provenance, CPU classes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edgephoto.errors import InputFileError
from edgephoto.runtime.backends import BACKENDS
from edgephoto.runtime.devices import cpu_facts
from edgephoto.tasks import default_models
from edgephoto.zoo import MODELS
from edgephoto.zoo.fastest import CPU_CLASSES, TABLE_PATH, cpu_class, load_table, parse_table

REPO = Path(__file__).resolve().parents[2]


def shipped() -> dict[str, Any]:
    return json.loads(TABLE_PATH.read_text())


def test_the_shipped_table_follows_the_schema_and_names_real_models_and_engines() -> None:
    table = load_table(backends=tuple(BACKENDS.names()))
    assert table.default_order and set(table.default_order) <= set(BACKENDS.names())
    assert table.rankings, "the benchmark wrote no ranking"
    for (model, precision, klass), ranking in table.rankings.items():
        assert model in MODELS and klass in CPU_CLASSES and precision == "fp32"
        times = [m.median_ms for m in ranking.engines]
        assert times == sorted(times) and all(t > 0 for t in times)


def test_every_default_zoo_model_is_ranked_and_the_numbers_are_the_benchmarks() -> None:
    """The table is what benchmarks/fastest_engine.py measured: each ranking has the medians of the
    results file it cites (a later run of some models, e.g. at other input sizes, cites its own)."""
    table = load_table()
    ranked = {(m, k) for m, _, k in table.rankings}
    results = {}
    for (model, precision, klass), ranking in table.rankings.items():
        path = REPO / ranking.results
        assert path.is_file() and (REPO / ranking.benchmark).is_file()
        data = results.setdefault(path, json.loads(path.read_text()))
        assert data["machine"]["cpu_class"] == klass and ranking.date == data["date"]
        row = next(r for r in data["rows"] if (r["model"], r["precision"]) == (model, precision))
        assert [(m.backend, m.median_ms) for m in ranking.engines] == [
            (e["backend"], e["median_ms"]) for e in row["engines"]]
    for data in results.values():
        klass = data["machine"]["cpu_class"]
        for model in default_models().values():
            assert (model, klass) in ranked, f"{model} not measured on {klass}"


@pytest.mark.parametrize(("change", "problem"), [
    (lambda t: t.update(schema=2), "schema 1"),
    (lambda t: t.update(default_order=[]), "default_order"),
    (lambda t: t.update(default_order=["onnxruntim"]), "unknown backend 'onnxruntim'"),
    (lambda t: first(t)["engines"].reverse(), "fastest first"),
    (lambda t: first(t)["engines"][0].update(backend="tensorrt"), "unknown backend 'tensorrt'"),
    (lambda t: first(t)["engines"][0].update(median_ms=-1), "positive number"),
    (lambda t: first(t)["engines"][0].update(median_ms=True), "positive number"),
    (lambda t: first(t).pop("date"), "'date'"),
    (lambda t: first(t).update(engines=[]), "non-empty list"),
    (lambda t: first(t)["engines"].append(dict(first(t)["engines"][-1])), "listed twice"),
    (lambda t: next(iter(t["models"].values()))["fp32"].update({"x86_64-sse2": {}}), "unknown cpu class"),
])
def test_a_table_off_the_schema_is_refused_with_the_problem_named(change: Any, problem: str, tmp_path: Path) -> None:
    table = copy.deepcopy(shipped())
    change(table)
    path = tmp_path / "fastest_engines.json"
    path.write_text(json.dumps(table))
    with pytest.raises(InputFileError, match=problem.replace("(", r"\(")):
        load_table(path, backends=tuple(BACKENDS.names()))


def first(table: dict[str, Any]) -> dict[str, Any]:
    return next(iter(next(iter(table["models"].values()))["fp32"].values()))  # type: ignore[no-any-return]


def test_not_json_and_missing_files_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(InputFileError, match="not JSON"):
        load_table(tmp_path / "t.json")
    with pytest.raises(InputFileError, match="unreadable"):
        load_table(tmp_path / "absent.json")
    with pytest.raises(InputFileError, match="schema"):
        parse_table([], tmp_path / "t.json")


CPUINFO = {
    "x86_64-avx2": "model name\t: Intel(R) Core(TM) i7-6700\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n",
    "x86_64-avx512": "model name\t: Intel(R) Xeon(R) Gold 6130\nflags\t\t: sse4_2 avx avx2 fma avx512f avx512bw avx512vl\n",
    "x86_64-avx512_vnni": "model name\t: AMD EPYC\nflags\t\t: avx2 fma avx512f avx512bw avx512_vnni avx512_bf16\n",
    "aarch64": "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n",
    "aarch64-dotprod": "processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp lrcpc\n",
}


@pytest.mark.parametrize("expected", sorted(CPUINFO))
def test_cpu_class_from_real_cpuinfo_text(expected: str, tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(CPUINFO[expected])
    facts = cpu_facts(tmp_path / "cpuinfo")
    facts["arch"] = expected.split("-")[0]  # the arch comes from platform, not the file
    assert cpu_class(facts) == expected


def test_this_machine_has_a_known_cpu_class() -> None:
    assert cpu_class(cpu_facts()) in CPU_CLASSES

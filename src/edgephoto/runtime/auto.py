"""backend="auto" for a zoo model: the fastest engine measured for it on this CPU class
(zoo/fastest_engines.json, written by benchmarks/fastest_engine.py) that is installed here and
has an artifact or can get one, with the reason in words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgephoto.errors import MissingExtraError
from edgephoto.runtime.backends import BACKENDS, engine_missing

if TYPE_CHECKING:
    from edgephoto.zoo.fastest import FastestTable, Ranking


@dataclass(frozen=True)
class AutoChoice:
    """The engine backend="auto" runs, and why (recorded in TaskModel and run summaries)."""

    backend: str
    reason: str
    basis: str = ""  # the reason without the engines passed over (what the table says of this one)


def _speed(ranking: Ranking, backend: str) -> str:
    """"0.52x of onnxruntime's time": against the engine that used to be the default, else the slowest."""
    names = [m.backend for m in ranking.engines]
    baseline = "onnxruntime" if "onnxruntime" in names and backend != "onnxruntime" else names[-1]
    ratio = ranking.ratio(backend, baseline)
    if ratio is None or baseline == backend:
        return "the only one measured" if len(names) == 1 else f"slowest of {len(names)} measured"
    return f"{ratio:.2f}x of {baseline}'s time"


def auto_backend(
    model: str,
    precision: str = "fp32",
    *,
    usable: Callable[[str], bool] = lambda _: True,
    table: FastestTable | None = None,
    cpu: dict[str, Any] | None = None,
) -> AutoChoice:
    """The fastest engine for `model` at `precision` on this CPU class that is installed and for
    which `usable(backend)` (an artifact exists or can be built) holds.

    The table's ranking for this CPU class comes first; a model or class nobody measured takes
    the table's default_order. Engines the table does not list follow in registration order.
    Raises MissingExtraError when no engine with an artifact format is installed at all.
    """
    from edgephoto.runtime.devices import cpu_facts
    from edgephoto.zoo.fastest import cpu_class, load_table

    table = table or load_table(backends=tuple(BACKENDS.names()))
    klass = cpu_class(cpu if cpu is not None else cpu_facts())
    ranking = table.ranking(model, precision, klass)
    measured = [m.backend for m in ranking.engines] if ranking else []
    order = list(dict.fromkeys([*(measured or table.default_order),
                                *(n for n, info in BACKENDS if info.target)]))
    installed = [n for n in order if BACKENDS.get(n).target and engine_missing(n) is None]
    if not installed:
        raise MissingExtraError("onnxruntime", "onnx", "running a model: no inference engine is installed")
    passed: list[str] = []
    for name in order:
        why = engine_missing(name)
        if why is None and not usable(name):
            why = f"{name}: no {model} artifact for it and none can be built"
        if why is not None:
            passed.append(why)
            continue
        if len(installed) == 1:
            return AutoChoice(name, f"{name}: only engine installed", "only engine installed")
        skipped = f"; {'; '.join(passed)}" if passed else ""
        if ranking is not None and name in measured:
            first = "fastest" if name == measured[0] else "fastest usable"
            basis = (f"{first} measured for {model} {precision} on {klass} "
                     f"({ranking.results}, {ranking.date}: {_speed(ranking, name)})")
            return AutoChoice(name, f"{name}: {basis}{skipped}", basis)
        basis = (f"none of the engines measured for {model} {precision} on {klass} is usable"
                 if ranking is not None else f"no measurement for {model} {precision} on {klass}")
        basis += f"; first usable in the default order {' > '.join(table.default_order)}"
        return AutoChoice(name, f"{name}: {basis}{skipped}", basis)
    raise MissingExtraError(installed[0], BACKENDS.get(installed[0]).extra,
                            f"{model}: " + "; ".join(passed))

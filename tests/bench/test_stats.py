"""bench.stats: exact percentiles and summaries, and the interleaved run order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgephoto.bench import stats
from edgephoto.errors import InvalidOptionError


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose: sorted 1, 2, 3, 4
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 4.0
    assert stats.percentile(values, 50) == 2.5  # rank 1.5
    assert stats.percentile(values, 90) == pytest.approx(3.7)  # rank 2.7 -> 3 + 0.7
    assert stats.percentile(values, 25) == 1.75  # rank 0.75
    assert stats.percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [0, 1, 10, 25, 50, 62.5, 90, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = list(np.random.default_rng(3).lognormal(1.0, 0.5, 37))
    assert stats.percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)


def test_summary_of_known_samples() -> None:
    values = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 100.0]
    s = stats.summarize(values)
    assert s["n"] == 10 and s["min"] == 10.0 and s["max"] == 100.0
    assert s["median"] == 14.5
    assert s["mean"] == 22.6
    assert s["p90"] == pytest.approx(26.2)  # rank 8.1: 18 + 0.1 * 82
    assert s["p99"] == pytest.approx(92.62)  # rank 8.91: 18 + 0.91 * 82
    assert s["stdev"] == pytest.approx(float(np.std(values, ddof=1)), rel=1e-12)
    assert s["mad"] == 2.5  # |v - 14.5| sorted: .5 .5 1.5 1.5 2.5 2.5 3.5 3.5 4.5 85.5
    assert s["iqr"] == pytest.approx(16.75 - 12.25)
    assert s["outliers"] == 1  # 100 > Q3 + 3 IQR = 30.25; nothing else is


def test_single_run_and_empty() -> None:
    s = stats.summarize([5.0])
    assert s["stdev"] == 0.0 and s["p99"] == 5.0 and s["mad"] == 0.0
    with pytest.raises(InvalidOptionError):
        stats.summarize([])
    with pytest.raises(InvalidOptionError):
        stats.percentile([1.0], 101)


def test_interleaved_schedule_rotates_the_start() -> None:
    assert stats.interleaved_schedule(3, 2) == [0, 1, 2, 1, 2, 0]
    assert stats.interleaved_schedule(3, 4) == [0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2]
    assert stats.interleaved_schedule(1, 3) == [0, 0, 0]
    assert stats.interleaved_schedule(2, 3) == [0, 1, 1, 0, 0, 1]


@pytest.mark.parametrize(("count", "runs"), [(1, 1), (2, 5), (4, 7), (5, 50)])
def test_schedule_is_fair(count: int, runs: int) -> None:
    order = stats.interleaved_schedule(count, runs)
    assert len(order) == count * runs
    assert all(order.count(k) == runs for k in range(count))
    for r in range(runs):  # each round holds every artifact once
        assert sorted(order[r * count : (r + 1) * count]) == list(range(count))
    firsts = [order[r * count] for r in range(runs)]  # who runs first after each round's start
    assert max(firsts.count(k) for k in range(count)) - min(firsts.count(k) for k in range(count)) <= 1


def test_schedule_refuses_nonsense() -> None:
    with pytest.raises(InvalidOptionError, match="--runs"):
        stats.interleaved_schedule(2, 0)
    with pytest.raises(InvalidOptionError):
        stats.interleaved_schedule(0, 3)


def test_ratio() -> None:
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(3.0, 0.0) is None
    assert math.isclose(stats.ratio(1.0, 3.0) or 0, 1 / 3)

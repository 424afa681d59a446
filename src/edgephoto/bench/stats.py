"""Benchmark statistics: percentiles, a robust summary, and the interleaved run schedule.

Pure Python (no numpy) so every number is exact and easy to test. Latency distributions are
skewed (a shared machine adds long right tails), so the summary leads with the median and adds
the median absolute deviation and IQR next to the mean and standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from edgephoto.errors import InvalidOptionError


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks.

    Same definition as numpy's default ('linear', Hyndman & Fan type 7): rank = q/100 * (n-1).
    """
    if not values:
        raise InvalidOptionError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise InvalidOptionError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def median(values: Sequence[float]) -> float:
    return percentile(values, 50.0)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise InvalidOptionError("mean of no values")
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0.0 for a single value."""
    if len(values) < 2:
        return 0.0
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation from the median (unscaled)."""
    centre = median(values)
    return median([abs(v - centre) for v in values])


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """n, min, median, mean, p90, p99, max, stdev, mad, iqr and the count of slow outliers.

    Outliers are runs above Q3 + 3 IQR: far-out values by Tukey's rule, typically another
    process taking the core. They are counted, never dropped: the percentiles already show them.
    """
    if not values:
        raise InvalidOptionError("no timed runs to summarize")
    q1, q3 = percentile(values, 25.0), percentile(values, 75.0)
    fence = q3 + 3.0 * (q3 - q1)
    return {
        "n": len(values),
        "min": min(values),
        "median": median(values),
        "mean": mean(values),
        "p90": percentile(values, 90.0),
        "p99": percentile(values, 99.0),
        "max": max(values),
        "stdev": stdev(values),
        "mad": mad(values),
        "iqr": q3 - q1,
        "outliers": sum(1 for v in values if v > fence),
    }


def interleaved_schedule(count: int, runs: int) -> list[int]:
    """Order of timed runs over `count` artifacts, `runs` each: round-robin, rotating the start.

    Round r runs artifacts r % count, r % count + 1, ... so noise from the rest of the machine
    lands on every artifact alike, and no artifact always runs first (right after a pause) or
    right after the same neighbour. count=3, runs=2 -> [0, 1, 2, 1, 2, 0].
    """
    if count < 1:
        raise InvalidOptionError(f"need at least one artifact to schedule, got {count}")
    if runs < 1:
        raise InvalidOptionError(f"--runs must be at least 1, got {runs}")
    return [(r + k) % count for r in range(runs) for k in range(count)]


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when the baseline is zero or either is unmeasured (a browser
    run has no RSS or CPU time: nothing meaningful to compare)."""
    return value / baseline if value is not None and baseline else None


def nice_step(span: float) -> float:
    """A 1/2/5 x 10^k tick step giving about five ticks over `span` (the reports' axes)."""
    raw = span / 5 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def versus(result: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The vs_baseline entry of `result` against `base` (the same keys as a single run's)."""
    lat, blat = result["latency_ms"], base["latency_ms"]
    return {
        "baseline": base["label"],
        "speedup_median": ratio(blat["median"], lat["median"]),
        "median_ratio": ratio(lat["median"], blat["median"]),
        "p90_ratio": ratio(lat["p90"], blat["p90"]),
        "size_ratio": ratio(result["size_bytes"], base["size_bytes"]),
        "peak_rss_ratio": ratio(result["peak_rss_mb"], base["peak_rss_mb"]),
        "cold_start_ratio": ratio(result["load"]["cold_start_ms"], base["load"]["cold_start_ms"]),
    }

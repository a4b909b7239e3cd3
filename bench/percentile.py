"""``percentile``: the one definition the benches report p50/p95/p99 with."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``: the nearest rank, no interpolation;
    a list of one value is its own every percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

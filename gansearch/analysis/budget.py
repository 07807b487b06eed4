"""Sensitivity to the search budget, as in "Are GANs Created Equal?" (Lucic et al. 2018): the best
metric reached after n trials, over random orderings of the trials a study ran.

The bootstrap draws orderings; `expected_best` is its closed form (order statistics), which the tests
hold the bootstrap mean to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _oriented(values: Sequence[float], mode: str) -> np.ndarray:
    """Values as a minimisation problem (max mode is negated), non-finite ones dropped."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be min or max, got {mode!r}")
    v = np.asarray([float(x) for x in values if x is not None and math.isfinite(float(x))], dtype=np.float64)
    return v if mode == "min" else -v


def expected_best(values: Sequence[float], n: int, mode: str = "min") -> float:
    """E[best of the first n of N values in a uniformly random order]
    = sum_i v_(i) * C(N-i, n-1) / C(N, n) over the ascending order statistics v_(1..N) (min mode)."""
    v = np.sort(_oriented(values, mode))
    big_n = v.size
    if not 1 <= n <= big_n:
        raise ValueError(f"n must be in [1, {big_n}], got {n}")
    weights = np.array([math.comb(big_n - i, n - 1) for i in range(1, big_n + 1)], dtype=np.float64)
    weights /= math.comb(big_n, n)
    e = float(weights @ v)
    return e if mode == "min" else -e


def bootstrap_best(values: Sequence[float], mode: str = "min", permutations: int = 1000, seed: int = 0,
                   band: tuple[float, float] = (5.0, 95.0)) -> dict[str, list[float]]:
    """Best value after n = 1..N trials over `permutations` random orderings: mean and a percentile band.
    Returns lists keyed n, mean, lo, hi, expected (the closed form at each n)."""
    v = _oriented(values, mode)
    big_n = v.size
    if big_n == 0:
        return {"n": [], "mean": [], "lo": [], "hi": [], "expected": []}
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((permutations, big_n)), axis=1)
    running = np.minimum.accumulate(v[order], axis=1)
    sign = 1.0 if mode == "min" else -1.0
    mean = sign * running.mean(axis=0)
    lo_hi = sign * np.percentile(running, band, axis=0)
    lo, hi = (lo_hi[0], lo_hi[1]) if mode == "min" else (lo_hi[1], lo_hi[0])
    return {"n": list(range(1, big_n + 1)), "mean": mean.tolist(), "lo": lo.tolist(), "hi": hi.tolist(),
            "expected": [expected_best(v if mode == "min" else -v, n, mode) for n in range(1, big_n + 1)]}


def budget_section(values: dict[str, float | None], mode: str, permutations: int = 1000, seed: int = 0,
                   closed_form: bool = True) -> dict[str, Any]:
    """The report's budget section for one metric: trial key -> value (None: no value). `closed_form`:
    the trials were i.i.d. full-budget draws, the assumption of `expected_best`; else it is left out."""
    finite = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    curve = bootstrap_best(list(finite.values()), mode, permutations, seed)
    if not closed_form:
        curve["expected"] = []
    return {"mode": mode, "permutations": permutations, "band_percentiles": [5, 95],
            "trials_used": len(finite), "trials_without_value": sorted(set(values) - set(finite)), **curve}

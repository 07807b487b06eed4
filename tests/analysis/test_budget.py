"""The budget curve ("Are GANs Created Equal?"): the bootstrap over trial orderings against the closed
form over order statistics, and the closed form against brute-force enumeration of subsets."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from gansearch.analysis.budget import bootstrap_best, budget_section, expected_best


def brute_force(values: list[float], n: int, best=min) -> float:
    """Mean over every n-subset of its best value: what a uniformly random ordering's first n give."""
    subsets = list(itertools.combinations(values, n))
    return sum(best(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("mode,best", [("min", min), ("max", max)])
def test_closed_form_matches_enumeration(mode: str, best) -> None:
    values = [3.0, -1.5, 7.25, 0.5, 2.0, 11.0, 4.0]
    for n in range(1, len(values) + 1):
        assert expected_best(values, n, mode) == pytest.approx(brute_force(values, n, best), rel=1e-12)


def test_bootstrap_mean_converges_to_closed_form() -> None:
    rng = np.random.default_rng(3)
    values = list(rng.lognormal(3.0, 1.0, size=15))
    curve = bootstrap_best(values, "min", permutations=20000, seed=1)
    spread = max(values) - min(values)
    for n, mean, exp in zip(curve["n"], curve["mean"], curve["expected"]):
        assert exp == pytest.approx(expected_best(values, n, "min"))
        assert abs(mean - exp) < 0.01 * spread, (n, mean, exp)
    # n = N: every ordering has seen every trial, so the band collapses onto the exact minimum.
    assert curve["lo"][-1] == curve["hi"][-1] == min(values)
    assert curve["mean"][-1] == pytest.approx(min(values), rel=1e-12)
    assert expected_best(values, len(values)) == pytest.approx(min(values), rel=1e-12)
    # n = 1: the mean of the values; the curve never gets worse with more trials.
    assert curve["expected"][0] == pytest.approx(float(np.mean(values)))
    assert all(a >= b - 1e-12 for a, b in zip(curve["mean"], curve["mean"][1:]))
    assert all(lo <= hi for lo, hi in zip(curve["lo"], curve["hi"]))  # (a skewed mean may leave the band)


def test_max_mode_band_and_exact_end() -> None:
    values = [0.1, 0.9, 0.4, 0.7, 0.2, 0.3]
    curve = bootstrap_best(values, "max", permutations=4000, seed=0)
    assert curve["mean"][-1] == pytest.approx(0.9, rel=1e-12) and curve["hi"][-1] == curve["lo"][-1] == 0.9
    assert all(lo <= hi for lo, hi in zip(curve["lo"], curve["hi"]))  # (a skewed mean may leave the band)
    assert abs(curve["mean"][2] - expected_best(values, 3, "max")) < 0.02


def test_section_drops_trials_without_value_and_says_so() -> None:
    sec = budget_section({"a": 3.0, "b": None, "c": float("nan"), "d": 1.0}, "min", permutations=100)
    assert sec["trials_used"] == 2 and sec["trials_without_value"] == ["b", "c"]
    assert sec["n"] == [1, 2] and sec["mean"][-1] == 1.0 and math.isclose(sec["expected"][0], 2.0)
    with pytest.raises(ValueError):
        expected_best([1.0, 2.0], 3)

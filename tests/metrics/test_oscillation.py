"""Loss oscillation, D collapse and divergence on series with known answers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from gansearch.metrics.oscillation import (
    ALPHA,
    d_collapse,
    diverged,
    fisher_g_pvalue,
    loss_summary,
    oscillation,
)

KEYS = {"amplitude", "rel_amplitude", "period", "period_p", "slope"}


def sine_with_trend(n: int, period: float, amplitude: float, slope: float, phase: float = 0.3) -> np.ndarray:
    t = np.arange(n)
    return 1.5 + slope * t + amplitude * np.sin(2 * np.pi * t / period + phase)


def exact_pvalue(g: Fraction, m: int) -> float:
    """Fisher's P(G >= g) in exact rational arithmetic: no cancellation to worry about."""
    total = Fraction(0)
    j = 1
    while j <= m and j * g < 1:
        total += (-1) ** (j - 1) * math.comb(m, j) * (1 - j * g) ** (m - 1)
        j += 1
    return float(total)


@pytest.mark.parametrize(("n", "period"), [(1000, 37.3), (500, 10.0), (300, 60.0), (2000, 7.5)])
def test_sine_with_trend(n: int, period: float) -> None:
    out = oscillation(sine_with_trend(n, period, amplitude=0.4, slope=-2e-3))
    assert out["period"] == pytest.approx(period, rel=0.05)
    assert out["period_p"] < 1e-12
    assert out["amplitude"] == pytest.approx(0.4 / math.sqrt(2), rel=0.05)
    # a partial cycle leaks into the least-squares slope by at most ~12 A P / (2 pi n^2)
    assert out["slope"] == pytest.approx(-2e-3, abs=2 * 0.4 * period / n**2)


def test_whole_cycles_give_exact_slope() -> None:
    t = np.arange(1000)
    y = 0.5 - 3e-3 * t + np.cos(2 * np.pi * t / 50)  # 20 whole cycles
    assert oscillation(y)["slope"] == pytest.approx(-3e-3, rel=5e-3)


def test_noisy_sine_period() -> None:
    rng = np.random.default_rng(0)
    y = sine_with_trend(800, 25.0, amplitude=1.0, slope=0.0) + 0.3 * rng.standard_normal(800)
    assert oscillation(y)["period"] == pytest.approx(25.0, rel=0.05)


@pytest.mark.parametrize("period", [25.0, 7.3, 60.0])
def test_sine_in_equal_noise_is_found(period: float) -> None:
    # amplitude / noise std = 1 over 200 steps, 20 fixed noise draws. 7.3 steps (27.4 cycles) falls
    # between Fourier frequencies and loses up to ~40% of its peak power to the grid, so its p-value
    # is occasionally above 1e-6 (seed 18 here: ~1e-5); it is always far below ALPHA.
    t = np.arange(200)
    ps = []
    for seed in range(20):
        noise = np.random.default_rng(seed).standard_normal(200)
        out = oscillation(1.39 + np.sin(2 * np.pi * t / period + 0.3) + noise)
        assert out["period"] == pytest.approx(period, rel=0.05), seed
        assert out["period_p"] < 1e-3, seed
        ps.append(out["period_p"])
    assert sum(p < 1e-6 for p in ps) >= 19
    assert float(np.median(ps)) < 1e-6


@pytest.mark.parametrize("n", [200, 1000])
def test_white_noise_has_no_period(n: int) -> None:
    # a 1% test: these 20 draws (checked) all stay below significance
    for seed in range(20):
        out = oscillation(1.39 + 0.1 * np.random.default_rng(seed).standard_normal(n))
        assert math.isnan(out["period"]), seed
        assert out["period_p"] >= ALPHA
        assert out["amplitude"] == pytest.approx(0.1, rel=0.15)


def test_white_noise_false_positive_rate() -> None:
    # the linear detrend and the finite window must not inflate the nominal 1% (measured: 1.0%)
    hits = 0
    for seed in range(500):
        y = 2.0 - 1e-3 * np.arange(200) + np.random.default_rng(1000 + seed).standard_normal(200)
        hits += not math.isnan(oscillation(y)["period"])
    assert hits / 500 < 0.03


def test_pvalue_matches_monte_carlo() -> None:
    # m = 50 ordinates: white noise of n = 101 points; g at its simulated 95th / 99th percentiles
    x = np.random.default_rng(12345).standard_normal((20000, 101))
    power = np.abs(np.fft.rfft(x, axis=1)[:, 1:51]) ** 2
    g = power.max(axis=1) / power.sum(axis=1)
    assert fisher_g_pvalue(float(np.quantile(g, 0.95)), 50) == pytest.approx(0.05, abs=0.01)  # 0.0487
    assert fisher_g_pvalue(float(np.quantile(g, 0.99)), 50) == pytest.approx(0.01, abs=0.003)  # 0.0085


def test_pvalue_closed_forms() -> None:
    assert fisher_g_pvalue(0.75, 2) == pytest.approx(2 * 0.25)  # m = 2, g >= 1/2: 2 (1 - g)
    assert fisher_g_pvalue(0.4, 3) == pytest.approx(3 * 0.6**2 - 3 * 0.2**2)
    assert fisher_g_pvalue(1.0, 1) == 1.0  # one ordinate: g is always 1
    assert fisher_g_pvalue(1.0, 10) == 0.0
    assert fisher_g_pvalue(0.1, 10) == 1.0  # g = 1/m: all power spread evenly
    assert math.isnan(fisher_g_pvalue(float("nan"), 10))
    assert math.isnan(fisher_g_pvalue(0.5, 0))


@pytest.mark.parametrize("m", [10, 50, 200])
def test_pvalue_matches_exact_arithmetic(m: int) -> None:
    # from p ~ 1 (where the alternating sum cancels) down to p ~ 1e-10
    for q in np.linspace(0.3, 6.0, 12):
        g = Fraction(round(q * math.log(m) / m * 1e7), 10**7)
        exact = exact_pvalue(g, m)
        assert fisher_g_pvalue(float(g), m) == pytest.approx(exact, rel=1e-9, abs=1e-9), float(g)


@pytest.mark.parametrize("m", [1000, 5000])
def test_pvalue_large_m_is_stable(m: int) -> None:
    gs = np.linspace(1.0 / m, 30.0 / m, 400)
    ps = np.array([fisher_g_pvalue(float(g), m) for g in gs])
    assert np.all(np.isfinite(ps)) and np.all((ps >= 0) & (ps <= 1))
    assert np.all(np.diff(ps) <= 1e-12)  # a survival function: non-increasing in g
    x = m * (1 - gs) ** (m - 1)  # first term: the Bonferroni upper bound, tight when small
    assert np.all(ps <= np.minimum(1.0, x) + 1e-12)
    small = x < 1e-3
    assert np.allclose(ps[small], x[small], rtol=1e-3)
    assert ps[0] == 1.0 and ps[-1] < 1e-8


@pytest.mark.parametrize("scale", [0.1, 1.0, 100.0])
def test_rel_amplitude_is_scale_free(scale: float) -> None:
    y = 1.39 + 0.2 * np.random.default_rng(3).standard_normal(300)
    ref = oscillation(y)["rel_amplitude"]
    out = oscillation(scale * y)
    assert out["rel_amplitude"] == pytest.approx(ref, rel=1e-9)
    assert out["amplitude"] == pytest.approx(scale * oscillation(y)["amplitude"], rel=1e-9)
    assert ref == pytest.approx(0.2 / 1.39, rel=0.15)


def test_rel_amplitude_of_negative_level() -> None:
    # a WGAN critic loss sits below 0: relative to |level|, still positive
    y = -2.0 + 0.3 * np.random.default_rng(4).standard_normal(200)
    rel = oscillation(y)["rel_amplitude"]
    assert math.isfinite(rel) and rel > 0
    assert rel == pytest.approx(0.3 / 2.0, rel=0.15)


def test_rel_amplitude_without_level_is_nan() -> None:
    assert math.isnan(oscillation(np.zeros(50))["rel_amplitude"])
    # zero mean |y| is impossible otherwise; a tiny level is "no level"
    assert math.isnan(oscillation(np.full(50, 1e-13))["rel_amplitude"])


def test_pure_trend_is_exact() -> None:
    out = oscillation(3.0 - 0.01 * np.arange(100))
    assert out["slope"] == pytest.approx(-0.01, rel=1e-9)
    assert out["amplitude"] == 0.0 and out["rel_amplitude"] == 0.0
    assert math.isnan(out["period"]) and math.isnan(out["period_p"])


def test_constant_series_has_no_amplitude_or_period() -> None:
    out = oscillation(np.full(50, 0.693))
    assert out["amplitude"] == 0.0 and out["slope"] == pytest.approx(0.0, abs=1e-12)
    assert out["rel_amplitude"] == 0.0
    assert math.isnan(out["period"]) and math.isnan(out["period_p"])


def test_short_and_non_finite_series() -> None:
    one = oscillation([1.0])
    assert set(one) == KEYS
    assert one["amplitude"] == 0.0 and one["slope"] == 0.0
    assert all(math.isnan(one[k]) for k in ("rel_amplitude", "period", "period_p"))
    for short in ([1.0, 2.0], [1.0, 3.0, 2.0]):  # fewer than 4 points: nothing to test
        out = oscillation(short)
        assert math.isnan(out["period"]) and math.isnan(out["period_p"])
    for bad in ([1.0, float("nan"), 2.0], [1.0, float("inf")] * 4, []):
        out = oscillation(bad)
        assert set(out) == KEYS and all(math.isnan(v) for v in out.values())


def test_d_collapse() -> None:
    assert d_collapse([0.5, 0.01, 0.02, 0.03], threshold=0.05, evals=3)
    assert not d_collapse([0.01, 0.02, 0.5, 0.03], threshold=0.05, evals=3)
    assert not d_collapse([0.01, 0.02], threshold=0.05, evals=3)  # too few evals yet
    assert not d_collapse([0.01, float("nan"), 0.01], threshold=0.05, evals=3)


def test_diverged() -> None:
    assert not diverged([0.1, 2.0, -3.0])
    assert diverged([0.1, float("inf")])
    assert diverged(np.array([float("nan")]))


def test_loss_summary_keys_and_values() -> None:
    g = sine_with_trend(400, 20.0, 0.2, 0.0)
    d = np.full(400, 0.01)
    out = loss_summary(g, d, d_history=[0.01, 0.01, 0.01], threshold=0.05, evals=3)
    assert set(out) == {f"{p}_{k}" for p in ("g", "d") for k in KEYS} | {"d_collapse"}
    assert out["g_period"] == pytest.approx(20.0, rel=0.05)
    assert out["g_period_p"] < ALPHA
    assert out["g_rel_amplitude"] == pytest.approx(0.2 / math.sqrt(2) / 1.5, rel=0.05)
    assert out["d_amplitude"] == 0.0 and out["d_rel_amplitude"] == 0.0
    assert math.isnan(out["d_period"]) and math.isnan(out["d_period_p"])
    assert out["d_collapse"] == 1.0
    assert loss_summary(g, d, [0.5], 0.05, 3)["d_collapse"] == 0.0
    assert all(isinstance(v, float) for v in out.values())

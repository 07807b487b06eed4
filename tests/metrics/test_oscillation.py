"""Loss oscillation, D collapse and divergence on series with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gansearch.metrics.oscillation import d_collapse, diverged, loss_summary, oscillation


def sine_with_trend(n: int, period: float, amplitude: float, slope: float, phase: float = 0.3) -> np.ndarray:
    t = np.arange(n)
    return 1.5 + slope * t + amplitude * np.sin(2 * np.pi * t / period + phase)


@pytest.mark.parametrize(("n", "period"), [(1000, 37.3), (500, 10.0), (300, 60.0), (2000, 7.5)])
def test_sine_with_trend(n: int, period: float) -> None:
    out = oscillation(sine_with_trend(n, period, amplitude=0.4, slope=-2e-3))
    assert out["period"] == pytest.approx(period, rel=0.05)
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


def test_pure_trend_is_exact() -> None:
    out = oscillation(3.0 - 0.01 * np.arange(100))
    assert out["slope"] == pytest.approx(-0.01, rel=1e-9)
    assert out["amplitude"] == 0.0
    assert math.isnan(out["period"])


def test_constant_series_has_no_amplitude_or_period() -> None:
    out = oscillation(np.full(50, 0.693))
    assert out["amplitude"] == 0.0 and out["slope"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(out["period"])


def test_short_and_non_finite_series() -> None:
    assert oscillation([1.0]) == {"amplitude": 0.0, "period": pytest.approx(math.nan, nan_ok=True), "slope": 0.0}
    assert all(math.isnan(v) for v in oscillation([1.0, float("nan"), 2.0]).values())
    assert all(math.isnan(v) for v in oscillation([]).values())


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
    assert set(out) == {"g_amplitude", "g_period", "g_slope", "d_amplitude", "d_period", "d_slope", "d_collapse"}
    assert out["g_period"] == pytest.approx(20.0, rel=0.05)
    assert out["d_amplitude"] == 0.0
    assert out["d_collapse"] == 1.0
    assert loss_summary(g, d, [0.5], 0.05, 3)["d_collapse"] == 0.0
    assert all(isinstance(v, float) for v in out.values())

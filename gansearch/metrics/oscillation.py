"""Loss-curve health: healthy GAN losses oscillate around a level; collapse and divergence do not.

Computed from a window of per-step losses: the linear trend (slope), what is left around it (amplitude)
and how fast it swings (period). A discriminator whose loss sits near 0 eval after eval has won and
gives the generator no gradient (d_collapse); a non-finite value means the run diverged.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from gansearch.metrics.frechet import ArrayLike, as_float64

# A detrended std at or below this (relative to the series' scale) counts as flat: no period.
_FLAT_RTOL = 1e-12
_PAD_FACTOR = 8  # zero-padding of the FFT, so the peak lands between coarse bins accurately


def oscillation(series: ArrayLike) -> dict[str, float]:
    """{"amplitude", "period", "slope"} of a loss window.

    - slope: least-squares trend per step;
    - amplitude: std of the series after removing that trend (a sine of amplitude A gives A/√2);
    - period: dominant period in steps, from the peak of the FFT of the detrended, Hann-windowed,
      zero-padded series, refined by parabolic interpolation. NaN when there is no oscillation to
      measure (flat series, fewer than 4 points): undefined, and NaN-aware reductions skip it.
    Any non-finite value makes all three NaN (see `diverged`).
    """
    y = as_float64(series).ravel()
    n = y.shape[0]
    nan = float("nan")
    if n == 0 or not np.all(np.isfinite(y)):
        return {"amplitude": nan, "period": nan, "slope": nan}
    if n == 1:
        return {"amplitude": 0.0, "period": nan, "slope": 0.0}
    t = np.arange(n, dtype=np.float64)
    slope, intercept = np.polyfit(t, y, 1)
    resid = y - (slope * t + intercept)
    amplitude = float(resid.std())
    flat = amplitude <= _FLAT_RTOL * max(1.0, float(np.abs(y).max()))
    period = nan if flat or n < 4 else _dominant_period(resid)
    return {"amplitude": 0.0 if flat else amplitude, "period": period, "slope": float(slope)}


def _dominant_period(resid: np.ndarray) -> float:
    n = resid.shape[0]
    size = 1 << int(math.ceil(math.log2(n * _PAD_FACTOR)))
    mag = np.abs(np.fft.rfft(resid * np.hanning(n), n=size))
    k = int(np.argmax(mag[1:])) + 1  # skip DC
    shift = 0.0
    if 1 <= k < mag.shape[0] - 1:
        a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
        denom = a - 2 * b + c
        if denom < 0:
            shift = 0.5 * (a - c) / denom
    freq = (k + shift) / size  # cycles per step
    return float(1.0 / freq) if freq > 0 else float("inf")


def d_collapse(d_loss_per_eval: Sequence[float], threshold: float, evals: int) -> bool:
    """True when D's loss was below `threshold` at each of the last `evals` evaluations in a row.

    Fewer than `evals` evaluations so far is not collapse; NaN is never "below".
    """
    if evals < 1 or len(d_loss_per_eval) < evals:
        return False
    return all(float(v) < threshold for v in list(d_loss_per_eval)[-evals:])


def diverged(values: ArrayLike | Sequence[float]) -> bool:
    """True when any value is NaN or ±inf."""
    return not bool(np.all(np.isfinite(as_float64(values))))


def loss_summary(
    g_losses: ArrayLike,
    d_losses: ArrayLike,
    d_history: Sequence[float],
    threshold: float,
    evals: int,
) -> dict[str, float]:
    """Oscillation of G's and D's loss windows plus d_collapse over the per-eval D history.

    Keys: g_amplitude, g_period, g_slope, d_amplitude, d_period, d_slope, d_collapse (1.0 / 0.0, a
    float so the dict logs as metrics unchanged).
    """
    out: dict[str, float] = {}
    for prefix, series in (("g", g_losses), ("d", d_losses)):
        for key, value in oscillation(series).items():
            out[f"{prefix}_{key}"] = value
    out["d_collapse"] = 1.0 if d_collapse(d_history, threshold, evals) else 0.0
    return out

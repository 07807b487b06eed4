"""Fréchet distance between Gaussians fitted to features (the maths of FID), in float64.

Why the symmetric form: pytorch-fid computes tr(sqrtm(S1 S2)) with scipy's `sqrtm` on a non-symmetric
product, which is slow (34 s at 2048-d on our CPUs) and returns complex parts that are then dropped.
Here tr(sqrt(S1^½ S2 S1^½)) has the same value (S1^½ S2 S1^½ is similar to S1 S2), is symmetric PSD, and
needs only `eigh`: about 10x faster and real by construction.

LAPACK runs single-threaded here: on a busy CPU (parallel trials, other processes), multi-threaded
OpenBLAS `eigh` stalls (measured at load 7 on 2 cores, 512-d: 0.09 s on 1 thread vs 4-10 s on 2). What
one thread costs on an idle many-core machine is not measured yet; `LAPACK_THREADS` is the knob.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Union

import numpy as np
import torch

try:  # ships with scikit-learn, a project dependency
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

from gansearch.errors import GansearchError

ArrayLike = Union[np.ndarray, torch.Tensor]
LAPACK_THREADS = 1
_controller: "ThreadpoolController | None" = None


class MetricError(GansearchError):
    """A metric's input breaks a rule (too few samples, shape mismatch); message: rule, then value."""


def as_float64(x: ArrayLike) -> np.ndarray:
    """numpy float64 copy of a tensor or array; metrics accumulate in float64 to stay comparable."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def gaussian_stats(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and unbiased covariance (F, F) of (N, F) features, as pytorch-fid computes them.

    Refuses N < F: the covariance would be singular and FID then depends on the sample count more than
    on the generator.
    """
    x = as_float64(features)
    if x.ndim != 2:
        raise MetricError(f"features must be a 2-D (N, F) array, got shape {tuple(x.shape)}")
    n, f = x.shape
    if n < 2:
        raise MetricError(f"Gaussian stats need at least 2 samples, got {n}")
    if n < f:
        raise MetricError(f"FID needs at least as many samples as feature dims ({f}), got {n}")
    if not np.all(np.isfinite(x)):
        raise MetricError(f"features must be finite, got {int((~np.isfinite(x)).sum())} non-finite values")
    mu = x.mean(axis=0)
    sigma = np.cov(x, rowvar=False, ddof=1).reshape(f, f)
    return mu, sigma


def sqrtm_psd(sigma: ArrayLike) -> np.ndarray:
    """Symmetric square root of a PSD matrix via `eigh`; tiny negative eigenvalues (round-off) clip to 0.

    Exposed so a caller comparing many fakes with one real set can compute the real root once.
    """
    s = _square(as_float64(sigma), "sigma")
    s = (s + s.T) / 2.0
    with _lapack_threads():
        w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: ArrayLike,
    sigma1: ArrayLike,
    mu2: ArrayLike,
    sigma2: ArrayLike,
    *,
    sqrt_sigma1: np.ndarray | None = None,
) -> float:
    """d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr(sqrt(S1^½ S2 S1^½)), float64, always >= 0.

    `sqrt_sigma1` may carry a precomputed `sqrtm_psd(sigma1)` (the real set's, cached by Evaluator).
    """
    m1, m2 = as_float64(mu1).ravel(), as_float64(mu2).ravel()
    s1, s2 = _square(as_float64(sigma1), "sigma1"), _square(as_float64(sigma2), "sigma2")
    f = m1.shape[0]
    if m2.shape[0] != f or s1.shape[0] != f or s2.shape[0] != f:
        raise MetricError(
            "mu1, sigma1, mu2, sigma2 must share one feature dim, "
            f"got {m1.shape[0]}, {s1.shape[0]}, {m2.shape[0]}, {s2.shape[0]}"
        )
    for name, a in (("mu1", m1), ("sigma1", s1), ("mu2", m2), ("sigma2", s2)):
        if not np.all(np.isfinite(a)):
            raise MetricError(f"{name} must be finite, got {int((~np.isfinite(a)).sum())} non-finite values")
    root1 = sqrtm_psd(s1) if sqrt_sigma1 is None else _square(as_float64(sqrt_sigma1), "sqrt_sigma1")
    middle = root1 @ s2 @ root1
    middle = (middle + middle.T) / 2.0
    with _lapack_threads():
        eigenvalues = np.linalg.eigvalsh(middle)
    tr_covmean = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    diff = m1 - m2
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(d, 0.0)


def _lapack_threads() -> AbstractContextManager:
    """Every size: under load multi-threaded eigh stalls even at 64-d (median 1 ms, spikes to 200 ms)."""
    global _controller
    if ThreadpoolController is None:
        return nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()  # scans loaded libraries once (~ms)
    return _controller.limit(limits=LAPACK_THREADS, user_api="blas")


def _square(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise MetricError(f"{name} must be a square (F, F) matrix, got shape {tuple(a.shape)}")
    return a

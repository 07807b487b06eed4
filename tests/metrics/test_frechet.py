"""Fréchet distance against pytorch-fid's scipy formula and Gaussian closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gansearch.errors import GansearchError
from gansearch.metrics.frechet import MetricError, frechet_distance, gaussian_stats, sqrtm_psd


def scipy_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's calculate_frechet_distance (non-symmetric sqrtm, real part, eps retry).

    pytorch-fid passes `disp=False`, deprecated in SciPy 1.17; the value is the same without it.
    """
    diff = mu1 - mu2
    covmean = np.atleast_2d(scipy.linalg.sqrtm(sigma1.dot(sigma2)))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.standard_normal((dim, 2 * dim))
    return a @ a.T / (2 * dim) + 0.1 * np.eye(dim)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("dim", [1, 2, 8, 64, 200])
def test_matches_scipy_sqrtm_formula(dim: int) -> None:
    rng = np.random.default_rng(dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
    assert rel(frechet_distance(mu1, s1, mu2, s2), scipy_frechet(mu1, s1, mu2, s2)) < 1e-6


def test_matches_scipy_on_sample_stats() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 32)), rng.standard_normal((300, 32)) * 1.5 + 0.3
    (m1, s1), (m2, s2) = gaussian_stats(a), gaussian_stats(b)
    assert rel(frechet_distance(m1, s1, m2, s2), scipy_frechet(m1, s1, m2, s2)) < 1e-6


@pytest.mark.parametrize("dim", [1, 5, 50])
def test_diagonal_closed_form(dim: int) -> None:
    rng = np.random.default_rng(10 + dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    a, b = rng.uniform(0.1, 3.0, dim), rng.uniform(0.1, 3.0, dim)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert rel(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected) < 1e-6


def test_commuting_covariances_closed_form() -> None:
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    a, b = rng.uniform(0.1, 3.0, 20), rng.uniform(0.1, 3.0, 20)
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    mu = rng.standard_normal(20)
    expected = float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert rel(frechet_distance(mu, s1, mu, s2), expected) < 1e-6


@pytest.mark.parametrize("c", [0.0, 0.5, 2.0])
def test_scaled_covariance_closed_form(c: float) -> None:
    s1 = random_spd(np.random.default_rng(4), 30)
    mu = np.zeros(30)
    expected = float(np.trace(s1) * (1 - c) ** 2)
    assert rel(frechet_distance(mu, s1, mu, c**2 * s1), expected) < 1e-6


def test_identical_stats_give_zero() -> None:
    rng = np.random.default_rng(5)
    mu, s = gaussian_stats(rng.standard_normal((500, 64)))
    d = frechet_distance(mu, s, mu, s)
    assert 0.0 <= d < 1e-9


def test_symmetric_in_its_arguments() -> None:
    rng = np.random.default_rng(6)
    mu1, mu2 = rng.standard_normal(40), rng.standard_normal(40)
    s1, s2 = random_spd(rng, 40), random_spd(rng, 40)
    assert rel(frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)) < 1e-9


def test_singular_covariances_stay_real_and_nonnegative() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((100, 10))
    x[:, 5:] = 0.0  # dead feature units: rank-5 covariances
    mu, s = gaussian_stats(x)
    assert frechet_distance(mu, s, mu, s) >= 0.0
    assert isinstance(frechet_distance(mu, s, mu + 1, s), float)


def test_precomputed_root_gives_same_value() -> None:
    rng = np.random.default_rng(8)
    s1, s2 = random_spd(rng, 16), random_spd(rng, 16)
    mu = np.zeros(16)
    assert frechet_distance(mu, s1, mu, s2, sqrt_sigma1=sqrtm_psd(s1)) == pytest.approx(
        frechet_distance(mu, s1, mu, s2), rel=1e-12
    )
    root = sqrtm_psd(s1)
    assert np.allclose(root @ root, s1)


def test_gaussian_stats_match_numpy_and_accept_tensors() -> None:
    x = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    mu, sigma = gaussian_stats(x)
    assert mu.dtype == np.float64 and sigma.shape == (8, 8)
    np.testing.assert_allclose(mu, x.double().mean(0).numpy())
    np.testing.assert_allclose(sigma, np.cov(x.double().numpy(), rowvar=False))


def test_refuses_fewer_samples_than_dims() -> None:
    with pytest.raises(MetricError, match=r"at least as many samples as feature dims \(64\), got 50"):
        gaussian_stats(np.zeros((50, 64)))
    with pytest.raises(GansearchError, match="at least 2 samples, got 1"):
        gaussian_stats(np.zeros((1, 1)))


def test_refuses_bad_shapes_and_non_finite() -> None:
    with pytest.raises(MetricError, match="2-D"):
        gaussian_stats(np.zeros(10))
    with pytest.raises(MetricError, match="one feature dim"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(MetricError, match="finite"):
        frechet_distance(np.zeros(3), np.eye(3), np.full(3, np.nan), np.eye(3))

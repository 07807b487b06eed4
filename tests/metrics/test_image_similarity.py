"""The net-free image measures: closed forms, scipy's 1-D Wasserstein distance, and their invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gansearch.metrics.image_similarity import (
    colour_swd,
    edge_correlation,
    gaussian_pyramid,
    patch_swd,
    patches,
    projections,
    sliced_wasserstein,
    ssim,
    wasserstein_1d,
)


def _image(seed: int, size: int = 24) -> torch.Tensor:
    """A smooth random image with edges: blurred noise plus a bright square placed by the seed, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, size + 4, size + 4, generator=g), 5, stride=1)
    o = 6 * (seed % 2)
    x[..., 4 + o:12 + o, 12 - o:20 - o] += 0.5
    return x.clamp(0, 1)


def test_sliced_wasserstein_of_a_cloud_with_itself_is_zero() -> None:
    a = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(a, a) == 0.0
    assert sliced_wasserstein(a, a[torch.randperm(300)]) == 0.0  # a distribution, not an ordered list


@pytest.mark.parametrize("shift", [0.25, -1.5, 3.0])
def test_a_1d_shift_is_its_magnitude(shift: float) -> None:
    a = torch.randn(200, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert sliced_wasserstein(a, a + shift) == pytest.approx(abs(shift), rel=1e-12)


def test_a_shift_in_d_dims_is_its_magnitude_times_mean_abs_projection() -> None:
    """For a unit direction uniform on S^(d-1), E|theta . t| = |t| Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2));
    the shifted cloud's projection is shifted by exactly theta . t."""
    d, t = 3, torch.tensor([0.6, -0.8, 1.2], dtype=torch.float64)
    a = torch.randn(100, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = float(t.norm()) * math.gamma(d / 2) / (math.sqrt(math.pi) * math.gamma((d + 1) / 2))
    assert sliced_wasserstein(a, a + t, num_projections=4096) == pytest.approx(expected, rel=0.03)


def test_wasserstein_1d_matches_scipy_for_unequal_sizes() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(37, 4)), rng.gamma(2.0, size=(53, 4))
    ours = wasserstein_1d(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    theirs = [scipy.stats.wasserstein_distance(a[:, j], b[:, j]) for j in range(4)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # the sliced distance is the mean of those on the projections
    theta = projections(4, 16).numpy()
    pa, pb = a @ theta, b @ theta
    mean = np.mean([scipy.stats.wasserstein_distance(pa[:, j], pb[:, j]) for j in range(16)])
    ours = sliced_wasserstein(torch.from_numpy(a), torch.from_numpy(b), num_projections=16)
    assert ours == pytest.approx(mean, rel=1e-12)


def test_sliced_wasserstein_is_deterministic_and_subsamples_alike() -> None:
    a = torch.rand(5000, 3, generator=torch.Generator().manual_seed(4))
    b = torch.rand(5000, 3, generator=torch.Generator().manual_seed(5)) ** 2
    assert sliced_wasserstein(a, b) == sliced_wasserstein(a, b)
    full, sub = sliced_wasserstein(a, b, max_points=5000), sliced_wasserstein(a, b, max_points=2000)
    assert sub == pytest.approx(full, rel=0.15) and sub != full
    assert sliced_wasserstein(a, a.clone(), max_points=2000) == 0.0  # equal clouds, equal subsets
    assert projections(3).norm(dim=0).sub(1).abs().max() < 1e-12


def test_ssim_and_edge_correlation_closed_forms() -> None:
    x, y = _image(0), _image(1)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    assert edge_correlation(x, x) == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, y) == pytest.approx(ssim(y, x), abs=1e-12) and ssim(x, y) < 0.9
    # a positive affine change of the luminance scales the gradients: the same edges, correlation 1
    assert edge_correlation(x, 0.5 * x + 0.2) == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, 0.5 * x + 0.2) < 0.99  # SSIM sees the contrast and brightness change
    assert edge_correlation(x, y) < 0.9
    assert edge_correlation(x, torch.full_like(x, 0.5)) == 0.0  # no edges: undefined, reported as 0


def test_colour_swd_sees_colours_not_places() -> None:
    x = _image(0)
    rolled = torch.roll(x, shifts=(7, 11), dims=(2, 3))  # the same pixels elsewhere
    assert colour_swd(x, rolled) == pytest.approx(0.0, abs=1e-15)
    assert colour_swd(x, (x + 0.1).clamp(0, 1)) > 0.02
    doubled = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")  # each pixel 4 times
    assert colour_swd(x, doubled) == pytest.approx(0.0, abs=1e-15)


def test_patch_swd_sees_structure_not_a_uniform_colour_shift() -> None:
    x, y = _image(0), _image(1)
    assert patch_swd(x, x) == 0.0
    assert patch_swd(x.double(), x.double() + 0.1) == pytest.approx(0.0, abs=1e-12)  # patches are mean-centred
    assert patch_swd(x, y) > 1e-3
    assert [tuple(p.shape) for p in gaussian_pyramid(x)] == [(1, 3, 24, 24), (1, 3, 12, 12), (1, 3, 6, 6)]
    assert patches(x).shape == (22 * 22, 27)
    assert patches(x).view(-1, 3, 9).mean(2).abs().max() < 1e-12

"""KID against torchmetrics' KernelInceptionDistance on the same features, and its basic behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torchmetrics.image.kid import KernelInceptionDistance

from gansearch.metrics.kid import MetricError, kid, mmd2_unbiased, polynomial_kernel


def feats(n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g) * scale + shift


def torchmetrics_kid(real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int) -> tuple[float, float]:
    """torchmetrics fed our features through an identity feature module (no Inception weights here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features in buffer"
        metric = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=subsets, subset_size=subset_size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    mean, std = metric.compute()
    return float(mean), float(std)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_matches_torchmetrics_full_set(shift: float) -> None:
    real, fake = feats(200, 16, 0), feats(200, 16, 1, shift=shift)
    ours = kid(real, fake, subset_size=200, subsets=1)
    theirs = torchmetrics_kid(real, fake, subsets=1, subset_size=200)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-4, abs=1e-5)
    assert ours[1] == 0.0 and theirs[1] == 0.0


def test_matches_torchmetrics_on_same_random_subsets() -> None:
    # torchmetrics draws randperm(n_real) then randperm(n_fake) per subset from the global generator,
    # as we do from the generator we're given: with one seed both see the same subsets.
    real, fake = feats(300, 32, 2), feats(250, 32, 3, shift=0.3, scale=1.2)
    torch.manual_seed(1234)
    theirs = torchmetrics_kid(real, fake, subsets=20, subset_size=100)
    torch.manual_seed(1234)
    ours = kid(real, fake, subset_size=100, subsets=20, generator=torch.default_generator)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-4)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-3)


def test_same_distribution_near_zero_shifted_clearly_positive() -> None:
    real = feats(1000, 16, 4)
    same = kid(real, feats(1000, 16, 5), subset_size=300, subsets=10)
    shifted = kid(real, feats(1000, 16, 6, shift=0.5), subset_size=300, subsets=10)
    assert abs(same[0]) < 3 * same[1] + 1e-3
    assert shifted[0] > 10 * max(abs(same[0]), same[1])
    assert shifted[0] > 0.05


def test_repeatable_with_seed() -> None:
    real, fake = feats(100, 4, 7), feats(100, 4, 8)
    assert kid(real, fake, 50, 5, seed=3) == kid(real, fake, 50, 5, seed=3)
    assert kid(real, fake, 50, 5, seed=3) != kid(real, fake, 50, 5, seed=4)


def test_unbiased_estimator_by_hand() -> None:
    x, y = feats(6, 3, 9).double(), feats(6, 3, 10).double()
    m = 6
    kxx, kyy, kxy = (polynomial_kernel(a, b) for a, b in ((x, x), (y, y), (x, y)))
    off = ~torch.eye(m, dtype=torch.bool)
    expected = kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()
    assert mmd2_unbiased(x, y) == pytest.approx(float(expected), rel=1e-12)
    # the cubic kernel itself
    assert float(polynomial_kernel(x[:1], y[:1])) == pytest.approx(float((x[0] @ y[0] / 3 + 1) ** 3))


def test_accepts_numpy() -> None:
    rng = np.random.default_rng(0)
    mean, std = kid(rng.standard_normal((50, 4)), rng.standard_normal((60, 4)), subset_size=50, subsets=3)
    assert np.isfinite(mean) and std >= 0


def test_refusals() -> None:
    real, fake = feats(50, 4, 0), feats(40, 4, 1)
    with pytest.raises(MetricError, match=r"at most the smaller sample count \(40\), got 45"):
        kid(real, fake, subset_size=45)
    with pytest.raises(MetricError, match="one feature dim"):
        kid(real, feats(40, 5, 1), subset_size=10)
    with pytest.raises(MetricError, match="at least 1 subset, got 0"):
        kid(real, fake, subset_size=10, subsets=0)
    with pytest.raises(MetricError, match="finite"):
        kid(real, fake * float("nan"), subset_size=10)


def test_one_kernel_for_all_subsets_equals_one_subset_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluator's path (all subsets from one kernel) against the three kernels per subset it replaced."""
    import gansearch.metrics.kid as kid_mod

    real, fake = feats(700, 64, 7), feats(500, 64, 8, shift=0.2, scale=1.1)
    fast = kid(real, fake, subset_size=400, subsets=50, seed=3)
    monkeypatch.setattr(kid_mod, "ONE_KERNEL_MAX", 0)
    slow = kid(real, fake, subset_size=400, subsets=50, seed=3)
    assert fast[0] == pytest.approx(slow[0], rel=1e-10) and fast[1] == pytest.approx(slow[1], rel=1e-8)

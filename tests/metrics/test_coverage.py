"""Class and mode coverage against closed forms on hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gansearch.metrics.coverage import MetricError, class_coverage, kl_divergence, mode_metrics


def one_hot_logits(classes: list[int], num_classes: int = 10) -> np.ndarray:
    logits = np.zeros((len(classes), num_classes))
    logits[np.arange(len(classes)), classes] = 5.0
    return logits


def ring8(radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * 2 * math.pi / 8
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def sample_modes(modes: torch.Tensor, which: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return modes[which] + std * torch.randn(which.shape[0], modes.shape[1], generator=g, dtype=torch.float64)


def test_uniform_classes_cover_all_with_zero_kl() -> None:
    out = class_coverage(one_hot_logits(list(range(10)) * 50), np.full(10, 100.0))
    assert out["classes_covered"] == 10
    assert out["class_kl"] == pytest.approx(0.0, abs=1e-12)


def test_one_class_gives_log_num_classes() -> None:
    out = class_coverage(one_hot_logits([3] * 200), np.full(10, 0.1))
    assert out["classes_covered"] == 1
    assert out["class_kl"] == pytest.approx(math.log(10), rel=1e-9)


def test_class_kl_two_of_four_closed_form() -> None:
    # generated: half class 0, half class 1; real: 0.1, 0.2, 0.3, 0.4
    out = class_coverage(one_hot_logits([0, 1] * 50, 4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert out["class_kl"] == pytest.approx(0.5 * math.log(0.5 / 0.1) + 0.5 * math.log(0.5 / 0.2))
    assert out["classes_covered"] == 2


def test_class_covered_threshold() -> None:
    # 10 classes, default threshold 0.2/10 = 2%: class 9 gets 1% -> not covered
    classes = [9] * 10 + [c for c in range(9) for _ in range(110)]
    assert class_coverage(one_hot_logits(classes), np.ones(10))["classes_covered"] == 9
    assert class_coverage(one_hot_logits(classes), np.ones(10), min_fraction=0.01)["classes_covered"] == 10


def test_class_coverage_refusals() -> None:
    with pytest.raises(MetricError, match=r"one entry per logit column \(10\), got 9"):
        class_coverage(one_hot_logits([0, 1]), np.ones(9))


def test_kl_divergence_conventions() -> None:
    assert kl_divergence([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert math.isfinite(kl_divergence([0.5, 0.5], [1, 0]))  # q floored at eps


def test_exact_mixture_samples_cover_all_modes() -> None:
    modes, std = ring8(), 0.02
    which = torch.arange(2500) % 8
    out = mode_metrics(sample_modes(modes, which, std, 0), modes, std)
    assert out["modes_covered"] == 8
    assert out["hq_fraction"] > 0.95
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-3)


def test_random_mixture_samples_small_kl() -> None:
    modes, std = ring8(), 0.05
    which = torch.randint(0, 8, (5000,), generator=torch.Generator().manual_seed(1))
    out = mode_metrics(sample_modes(modes, which, std, 2), modes, std)
    assert out["modes_covered"] == 8 and out["hq_fraction"] > 0.95
    assert out["reverse_kl"] < 0.01


def test_two_of_eight_modes_gives_log4() -> None:
    modes, std = ring8(), 0.02
    which = torch.tensor([0, 5]).repeat(1000)
    out = mode_metrics(sample_modes(modes, which, std, 3), modes, std)
    assert out["modes_covered"] == 2
    assert out["reverse_kl"] == pytest.approx(math.log(4), rel=1e-9)


def test_far_points_are_not_high_quality() -> None:
    modes, std = ring8(), 0.02
    out = mode_metrics(torch.full((500, 2), 10.0), modes, std)
    assert out["hq_fraction"] == 0.0
    assert out["modes_covered"] == 0
    assert out["reverse_kl"] == math.inf


def test_mode_threshold_scales_with_n() -> None:
    # 2500 samples: gansearch's strict rule needs 20 hq samples in a mode, 19 is "lost"; the papers' rule
    # (VEEGAN, PacGAN's code) counts it from one
    modes, std = ring8(), 0.02
    which = torch.cat([torch.zeros(2481, dtype=torch.long), torch.ones(19, dtype=torch.long)])
    out = mode_metrics(sample_modes(modes, which, std, 4), modes, std)
    assert out["modes_covered"] == 1 and out["modes_covered_paper"] == 2
    which[-20] = 1
    assert mode_metrics(sample_modes(modes, which, std, 4), modes, std)["modes_covered"] == 2


def test_paper_rule_counts_one_high_quality_sample() -> None:
    # one hq sample in each of 3 further modes, one far sample near a 7th mode's direction but outside 3 std:
    # the papers' count is 2 + 3, the strict count 2
    modes, std = ring8(), 0.02
    which = torch.cat([torch.zeros(1248, dtype=torch.long), torch.ones(1248, dtype=torch.long), torch.tensor([2, 3, 4])])
    x = torch.cat([sample_modes(modes, which, std, 5), modes[6:7] * 1.0 + 4 * std])
    out = mode_metrics(x, modes, std)
    assert out["modes_covered_paper"] == 5 and out["modes_covered"] == 2
    assert out["modes_covered"] <= out["modes_covered_paper"]


def test_mode_metrics_refusals() -> None:
    with pytest.raises(MetricError, match="mode std must be > 0, got 0"):
        mode_metrics(torch.zeros(4, 2), ring8(), 0.0)
    with pytest.raises(MetricError, match="share one dim"):
        mode_metrics(torch.zeros(4, 3), ring8(), 0.1)

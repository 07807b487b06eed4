"""Evaluator on small stand-ins for our FeatureNet protocol and dataset objects (test fixtures)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import gansearch.metrics.evaluate as evaluate_mod
from gansearch.metrics.evaluate import Evaluator, class_reference
from gansearch.metrics.frechet import MetricError


class ProjectionNet:
    """Our FeatureNet protocol: a fixed random projection for features, nearest template for logits."""

    name = "test-projection"
    space = "classifier"
    weights_hash = "sha256:test"

    def __init__(self, in_dim: int, num_features: int, templates: torch.Tensor | None = None) -> None:
        self.num_features = num_features
        self.num_classes = None if templates is None else templates.shape[0]
        self.accuracy = None
        self.templates = templates
        self.proj = torch.randn(in_dim, num_features, generator=torch.Generator().manual_seed(0))
        self.calls = 0

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.calls += 1  # one forward pass
        flat = images.reshape(images.shape[0], -1)
        logits = None if self.templates is None else -torch.cdist(flat, self.templates)
        return torch.tanh(flat @ self.proj), logits

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor | None:
        return self.features_and_logits(images)[1]


class IdentityNet:
    name = "identity"
    space = "points"
    weights_hash = "none"
    num_features = 2
    num_classes = None
    accuracy = None

    def features_and_logits(self, points: torch.Tensor) -> tuple[torch.Tensor, None]:
        return points.float(), None


def image_dataset(n: int = 2000) -> SimpleNamespace:
    g = torch.Generator().manual_seed(1)
    templates = torch.rand(10, 64, generator=g) * 2 - 1
    labels = torch.arange(n) % 10
    train = (templates[labels] + 0.2 * torch.randn(n, 64, generator=g)).clamp(-1, 1).reshape(n, 1, 8, 8)
    return SimpleNamespace(kind="image", train=train, train_labels=labels, num_classes=10, modes=None,
                           mode_std=None, templates=templates)


def ring8_dataset(n: int = 2000, std: float = 0.02) -> SimpleNamespace:
    angles = torch.arange(8) * 2 * math.pi / 8
    modes = torch.stack([2 * torch.cos(angles), 2 * torch.sin(angles)], dim=1)
    g = torch.Generator().manual_seed(2)
    train = modes[torch.arange(n) % 8] + std * torch.randn(n, 2, generator=g)
    return SimpleNamespace(kind="points", train=train, train_labels=None, num_classes=None, modes=modes,
                           mode_std=std)


def slicer(data: torch.Tensor):
    """sample_fn replaying `data` in order, batch by batch."""
    pos = 0

    def sample(n: int) -> torch.Tensor:
        nonlocal pos
        out = data[pos : pos + n]
        pos += n
        return out

    return sample


@pytest.fixture
def images() -> tuple[SimpleNamespace, ProjectionNet, Evaluator]:
    ds = image_dataset()
    net = ProjectionNet(64, 16, ds.templates)
    real = net.features(ds.train[:1000])
    ev = Evaluator(ds, net, real, num_samples=1000, kid_subset_size=250, kid=True, seed=0,
                   kid_subsets=8, batch_size=300, class_reference=class_reference(net, ds.train[1000:]))
    return ds, net, ev


def test_real_vs_itself_near_zero_and_noise_large(images) -> None:
    ds, _, ev = images
    same = ev(slicer(ds.train[:1000]))
    assert set(same) == {"fd_classifier", "kd_classifier", "kd_classifier_std", "classes_covered", "class_kl"}
    assert 0.0 <= same["fd_classifier"] < 1e-8  # identical sets; KID is not ~0 here: shared rows bias it negative
    assert same["classes_covered"] == 10.0
    assert same["class_kl"] < 1e-2
    g = torch.Generator().manual_seed(9)
    noise = ev(lambda n: torch.rand(n, 1, 8, 8, generator=g) * 2 - 1)
    held_out = ev(slicer(ds.train[1000:2000]))  # same distribution, other rows
    assert abs(held_out["kd_classifier"]) < 4 * held_out["kd_classifier_std"] + 1e-3
    assert noise["fd_classifier"] > 100 * held_out["fd_classifier"] and noise["fd_classifier"] > 0.5
    assert noise["kd_classifier"] > 10 * abs(held_out["kd_classifier"]) and noise["kd_classifier"] > 5 * noise["kd_classifier_std"]


def test_class_kl_compares_predictions_with_predictions() -> None:
    """Real held-out images scored as if generated give class_kl = 0: the reference is the classifier's own
    predicted histogram on them, not the true labels (a misclassifying net would give a floor > 0)."""
    ds = image_dataset()
    confused = ds.templates.clone()
    confused[9] = confused[0]  # this net reads every 9 as a 0: 10% of real images misclassified
    net = ProjectionNet(64, 16, confused)
    assert float((net.logits(ds.train).argmax(1) != ds.train_labels).float().mean()) >= 0.1
    ev = Evaluator(ds, net, net.features(ds.train[:1000]), num_samples=1000, kid_subset_size=100, kid=False, seed=0,
                   class_reference=class_reference(net, ds.train[1000:]))
    assert ev(slicer(ds.train[1000:]))["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert ev(slicer(ds.train[:1000]))["class_kl"] < 1e-3  # other real images: ~0 too
    # what main computed: the predicted histogram against the true labels, a floor of ~0.06 here
    true_hist = torch.bincount(ds.train_labels, minlength=10).double().numpy()
    old = Evaluator(ds, net, net.features(ds.train[:1000]), num_samples=1000, kid_subset_size=100, kid=False, seed=0,
                    class_reference=true_hist)
    assert old(slicer(ds.train[1000:]))["class_kl"] > 0.05


def test_collapsed_generator_loses_classes(images) -> None:
    ds, _, ev = images
    one_class = ds.train[torch.arange(0, 2000, 10)].repeat(5, 1, 1, 1)  # class 0 only
    out = ev(slicer(one_class))
    assert out["classes_covered"] == 1.0
    # KL(one class || reference) = -log(reference share of class 0)
    ref = ev._class_hist / ev._class_hist.sum()
    assert out["class_kl"] == pytest.approx(-math.log(ref[0]), rel=1e-6)


def test_non_finite_samples_are_recorded_not_raised(images) -> None:
    _, _, ev = images
    out = ev(lambda n: torch.full((n, 1, 8, 8), float("nan")))
    assert out["fd_classifier"] == math.inf and out["kd_classifier"] == math.inf and math.isnan(out["kd_classifier_std"])
    assert out["classes_covered"] == 0.0 and out["class_kl"] == math.inf


def test_real_stats_computed_once_and_batches_bounded(monkeypatch) -> None:
    ds = image_dataset()
    net = ProjectionNet(64, 16, ds.templates)
    real = net.features(ds.train[:1000])
    roots: list[int] = []
    real_root = evaluate_mod.sqrtm_psd

    def counting_root(sigma):
        roots.append(1)
        return real_root(sigma)

    monkeypatch.setattr(evaluate_mod, "sqrtm_psd", counting_root)
    ev = Evaluator(ds, net, real, num_samples=1000, kid_subset_size=100, kid=False, seed=0, batch_size=256)
    sizes: list[int] = []
    sample = slicer(ds.train)

    def recording(n: int) -> torch.Tensor:
        sizes.append(n)
        return sample(n)

    net.calls = 0
    first = ev(recording)
    ev(slicer(ds.train))
    assert len(roots) == 1
    assert sizes == [256, 256, 256, 232] and net.calls == 8  # one forward pass per batch, not two
    assert "kd_classifier" not in first


def test_ring8_exact_samples_cover_eight_modes() -> None:
    ds = ring8_dataset()
    real = ds.train[:1000]
    ev = Evaluator(ds, IdentityNet(), real, num_samples=1000, kid_subset_size=500, kid=True, seed=0, kid_subsets=5)
    out = ev(slicer(ds.train[1000:]))
    assert out["modes_covered"] == 8.0 and out["hq_fraction"] > 0.95 and out["reverse_kl"] < 0.01
    assert out["mode_score"] == out["modes_covered"] + out["hq_fraction"]
    assert out["fd_points"] < 0.01
    collapsed = ev(lambda n: ds.modes[torch.zeros(n, dtype=torch.long)] + 0.01 * torch.randn(n, 2))
    assert collapsed["modes_covered"] == 1.0 and collapsed["reverse_kl"] == pytest.approx(math.log(8))
    failed = ev(lambda n: torch.full((n, 2), float("inf")))
    assert failed["modes_covered"] == 0.0 and failed["hq_fraction"] == 0.0 and failed["fd_points"] == math.inf
    assert failed["mode_score"] == 0.0


def test_provenance(images) -> None:
    _, _, ev = images
    assert ev.provenance == {"eval.feature_net": "test-projection", "eval.feature_net_hash": "sha256:test",
                             "eval.num_samples": 1000}


def test_refusals() -> None:
    ds = image_dataset()
    net = ProjectionNet(64, 16)
    real = net.features(ds.train[:100])
    with pytest.raises(MetricError, match=r"at least the feature dims \(16\) and 2, got 10"):
        Evaluator(ds, net, real, num_samples=10, kid_subset_size=5, kid=True, seed=0)
    with pytest.raises(MetricError, match=r"kid_subset_size must lie in \[2, min\(num_samples, real samples\)\] = \[2, 100\], got 500"):
        Evaluator(ds, net, real, num_samples=200, kid_subset_size=500, kid=True, seed=0)
    ev = Evaluator(ds, net, real, num_samples=20, kid_subset_size=5, kid=False, seed=0)
    assert set(ev(slicer(ds.train))) == {"fd_classifier"}  # net without classes: no class keys

"""Evaluator: what the trainer calls at each evaluation. Draws samples, returns a flat dict of metrics.

It knows nothing of GAN classes: it gets a `sample_fn(n) -> Tensor` (images in [-1, 1] NCHW, or (N, 2)
points) and hands samples to the feature net unchanged (the feature net owns any conversion, as it did
for the real images behind `real_feats`). Everything about the real data — Gaussian stats, the root of
its covariance, its class histogram — is computed once here, not per evaluation.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from gansearch.metrics.coverage import class_coverage, mode_metrics
from gansearch.metrics.frechet import MetricError, frechet_distance, gaussian_stats, sqrtm_psd
from gansearch.metrics.kid import kid as kid_score

SampleFn = Callable[[int], torch.Tensor]


class Evaluator:
    """FID (+ KID, class and mode coverage where they apply) of a generator against cached real stats.

    Keys of a call: fid; kid, kid_std when `kid`; classes_covered, class_kl when the feature net has
    classes and the dataset has train labels; modes_covered, hq_fraction, reverse_kl when the dataset has
    known modes. Values are floats (counts too). Non-finite samples give the worst values (fid/kid/KLs inf,
    counts and hq_fraction 0, kid_std NaN) so a diverged generator is still recorded.
    """

    def __init__(
        self,
        dataset: Any,
        feature_net: Any,
        real_feats: torch.Tensor,
        num_samples: int,
        kid_subset_size: int,
        kid: bool,
        seed: int,
        *,
        kid_subsets: int = 100,
        batch_size: int = 500,
    ) -> None:
        real = torch.as_tensor(real_feats).detach().cpu()
        if real.ndim != 2:
            raise MetricError(f"real_feats must be a 2-D (N, F) tensor, got shape {tuple(real.shape)}")
        num_features = real.shape[1]
        if num_samples < max(2, num_features):
            raise MetricError(
                f"num_samples must be at least the feature dims ({num_features}) and 2, got {num_samples}"
            )
        if kid and not 2 <= kid_subset_size <= min(num_samples, real.shape[0]):
            raise MetricError(
                "kid_subset_size must lie in [2, min(num_samples, real samples)] "
                f"= [2, {min(num_samples, real.shape[0])}], got {kid_subset_size}"
            )
        if batch_size < 1:
            raise MetricError(f"batch_size must be >= 1, got {batch_size}")
        self.feature_net = feature_net
        self.num_samples = int(num_samples)
        self.kid_subset_size = int(kid_subset_size)
        self.kid = bool(kid)
        self.kid_subsets = int(kid_subsets)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self._real_feats = real
        self._mu, self._sigma = gaussian_stats(real)
        self._sqrt_sigma = sqrtm_psd(self._sigma)
        self._class_hist = _real_class_hist(dataset, feature_net)
        modes = getattr(dataset, "modes", None)
        self._modes = None if modes is None else torch.as_tensor(modes, dtype=torch.float64)
        self._mode_std = getattr(dataset, "mode_std", None)
        if self._modes is not None and not (self._mode_std and self._mode_std > 0):
            raise MetricError(f"dataset.mode_std must be > 0 when dataset.modes is set, got {self._mode_std}")

    @property
    def provenance(self) -> dict[str, str | int]:
        """What an FID number depends on beyond the generator: log it next to the metric."""
        return {
            "fid_feature_net": self.feature_net.name,
            "fid_weights_hash": self.feature_net.weights_hash,
            "fid_num_samples": self.num_samples,
        }

    @torch.no_grad()
    def __call__(self, sample_fn: SampleFn) -> dict[str, float]:
        feats, logits, points = [], [], []
        drawn = 0
        while drawn < self.num_samples:
            batch = sample_fn(min(self.batch_size, self.num_samples - drawn)).detach()
            if batch.shape[0] == 0:
                raise MetricError(f"sample_fn must return at least one sample per call, got shape {tuple(batch.shape)}")
            drawn += batch.shape[0]
            if not bool(torch.isfinite(batch).all()):
                return self.worst_case()
            feats.append(self.feature_net.features(batch).detach().cpu())
            if self._class_hist is not None:
                logits.append(self.feature_net.logits(batch).detach().cpu())
            if self._modes is not None:
                points.append(batch.cpu().reshape(batch.shape[0], -1))
        fake = torch.cat(feats)[: self.num_samples]
        if fake.shape[1] != self._real_feats.shape[1]:
            raise MetricError(
                f"feature net must give as many features as real_feats ({self._real_feats.shape[1]}), got {fake.shape[1]}"
            )
        if not bool(torch.isfinite(fake).all()) or any(not bool(torch.isfinite(l).all()) for l in logits):
            return self.worst_case()
        mu, sigma = gaussian_stats(fake)
        out = {"fid": frechet_distance(self._mu, self._sigma, mu, sigma, sqrt_sigma1=self._sqrt_sigma)}
        if self.kid:
            mean, std = kid_score(
                self._real_feats, fake, self.kid_subset_size, self.kid_subsets, seed=self.seed
            )
            out.update(kid=mean, kid_std=std)
        if self._class_hist is not None:
            cov = class_coverage(torch.cat(logits)[: self.num_samples], self._class_hist)
            out.update({k: float(v) for k, v in cov.items()})
        if self._modes is not None:
            modes = mode_metrics(torch.cat(points)[: self.num_samples], self._modes, float(self._mode_std))
            out.update({k: float(v) for k, v in modes.items()})
        return out

    def worst_case(self) -> dict[str, float]:
        """The worst value of every key this evaluator reports."""
        inf, nan = math.inf, math.nan
        out = {"fid": inf}
        if self.kid:
            out.update(kid=inf, kid_std=nan)
        if self._class_hist is not None:
            out.update(classes_covered=0.0, class_kl=inf)
        if self._modes is not None:
            out.update(modes_covered=0.0, hq_fraction=0.0, reverse_kl=inf)
        return out


def _real_class_hist(dataset: Any, feature_net: Any) -> np.ndarray | None:
    """Counts of real train labels per class, or None when classes don't apply."""
    num_classes = getattr(feature_net, "num_classes", None)
    labels = getattr(dataset, "train_labels", None)
    if not num_classes or labels is None:
        return None
    labels = torch.as_tensor(labels).detach().cpu().long().ravel()
    if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise MetricError(
            f"train labels must lie in [0, {num_classes - 1}] (the feature net's classes), "
            f"got range [{int(labels.min()) if labels.numel() else None}, {int(labels.max()) if labels.numel() else None}]"
        )
    return np.bincount(labels.numpy(), minlength=num_classes).astype(np.float64)

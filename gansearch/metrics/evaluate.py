"""Evaluator: what the trainer calls at each evaluation. Draws samples, returns a flat dict of metrics.

It knows nothing of GAN classes: it gets a `sample_fn(n) -> Tensor` (images in [-1, 1] NCHW, or (N, 2)
points) that returns the NEXT n samples of one evaluation each time it is called, so an evaluation scores
`num_samples` distinct samples (the trainer draws them from `num_samples` distinct latents). Samples go
to the feature net unchanged (the feature net owns any conversion, as it did for the real images behind
`real_feats`), features and class logits in one forward pass. Everything about the real data — Gaussian
stats, the root of its covariance, the reference class histogram — is computed once here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from gansearch.config.metrics import DISTANCES
from gansearch.metrics.coverage import class_coverage, mode_metrics
from gansearch.metrics.frechet import MetricError, frechet_distance, gaussian_stats, sqrtm_psd
from gansearch.metrics.kid import kid as kid_score

SampleFn = Callable[[int], torch.Tensor]


class Evaluator:
    """Fréchet distance (+ kernel distance, class and mode coverage where they apply) of a generator
    against cached real stats, named after the feature net's space (gansearch.config.metrics.DISTANCES).

    Keys of a call, with (fd, kd) = DISTANCES[feature_net.space]: fd; kd, kd_std when `kid`;
    classes_covered, class_kl when `class_reference` is given (the feature net's predicted-class histogram
    on held-out real images); modes_covered, hq_fraction, reverse_kl, mode_score when the dataset has known
    modes. Values are floats (counts too). Non-finite samples give the worst values (distances and KLs inf,
    counts and shares 0, kd_std NaN) so a diverged generator is still recorded.
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
        class_reference: np.ndarray | None = None,
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
        self.fd_key, self.kd_key = DISTANCES[feature_net.space]
        self.num_samples = int(num_samples)
        self.kid_subset_size = int(kid_subset_size)
        self.kid = bool(kid)
        self.kid_subsets = int(kid_subsets)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self._real_feats = real
        self._mu, self._sigma = gaussian_stats(real)
        self._sqrt_sigma = sqrtm_psd(self._sigma)
        self._class_hist = None if class_reference is None else np.asarray(class_reference, dtype=np.float64)
        if self._class_hist is not None and feature_net.num_classes != self._class_hist.shape[0]:
            raise MetricError(f"class_reference must have one entry per class of the feature net "
                              f"({feature_net.num_classes}), got {self._class_hist.shape[0]}")
        modes = getattr(dataset, "modes", None)
        self._modes = None if modes is None else torch.as_tensor(modes, dtype=torch.float64)
        self._mode_std = getattr(dataset, "mode_std", None)
        if self._modes is not None and not (self._mode_std and self._mode_std > 0):
            raise MetricError(f"dataset.mode_std must be > 0 when dataset.modes is set, got {self._mode_std}")

    @property
    def provenance(self) -> dict[str, str | int]:
        """What a distance depends on beyond the generator: log it next to the metric."""
        from gansearch.config import metrics as names

        return {
            names.FEATURE_NET: self.feature_net.name,
            names.FEATURE_NET_HASH: self.feature_net.weights_hash,
            names.NUM_SAMPLES: self.num_samples,
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
            f, lg = self.feature_net.features_and_logits(batch)
            feats.append(f.detach().cpu())
            if self._class_hist is not None:
                logits.append(lg.detach().cpu())
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
        out = {self.fd_key: frechet_distance(self._mu, self._sigma, mu, sigma, sqrt_sigma1=self._sqrt_sigma)}
        if self.kid:
            mean, std = kid_score(
                self._real_feats, fake, self.kid_subset_size, self.kid_subsets, seed=self.seed
            )
            out.update({self.kd_key: mean, self.kd_key + "_std": std})
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
        out = {self.fd_key: inf}
        if self.kid:
            out.update({self.kd_key: inf, self.kd_key + "_std": nan})
        if self._class_hist is not None:
            out.update(classes_covered=0.0, class_kl=inf)
        if self._modes is not None:
            out.update(modes_covered=0.0, modes_covered_paper=0.0, hq_fraction=0.0, reverse_kl=inf, mode_score=0.0)
        return out


def class_reference(feature_net: Any, heldout: torch.Tensor | None) -> np.ndarray | None:
    """The classifier's own predicted-class histogram on held-out real images: what class_kl compares a
    generator's predicted histogram with, so the classifier's mistakes are on both sides (real images
    scored as if generated give ~0). None when the net has no classes or there are no held-out images."""
    if not getattr(feature_net, "num_classes", None) or heldout is None or heldout.shape[0] == 0:
        return None
    logits = feature_net.logits(heldout)
    return np.bincount(logits.argmax(1).numpy(), minlength=feature_net.num_classes).astype(np.float64)

"""The FeatureNet interface: what the Fréchet and kernel distances need from a network, and nothing more.

It exists so the distances, the evaluator and the scaled nets (`scaled.py`) depend on one small contract
(features (N, F) float32 on CPU, optional class logits, provenance as name + weights_hash, and the feature
`space` that names the metrics: see gansearch.config.metrics) rather than on the networks behind it
(`classifier.py`, `inception.py`). The identity for 2D points lives here too: it is the contract with
no network at all.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn as nn


def sha16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def weights_hash_of(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (16 hex) of the safetensors bytes of a state dict: the same bytes the cache file holds."""
    from safetensors.torch import save

    return sha16(save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}))


class FeatureNet:
    """What the distances need from a network: features (N, F) float32 on CPU, optional class logits,
    provenance, and the feature space that names its metrics."""

    name: str
    space: str  # a key of gansearch.config.metrics.DISTANCES
    weights_hash: str
    num_features: int
    num_classes: int | None = None
    accuracy: float | None = None  # on held-out real images (classifiers only)
    batch_size: int = 512

    def __init__(self, module: nn.Module | None, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.module = None if module is None else module.to(self.device).eval()

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, F) features and (N, num_classes) logits (None without classes) from ONE forward pass,
        float32 on CPU; images are [-1, 1] NCHW (or (N, 2) points) on any device."""
        feats, logits = [], []
        with torch.no_grad():
            for chunk in images.split(self.batch_size):
                f, lg = self._forward(chunk.to(self.device, torch.float32))
                feats.append(f.float().cpu())
                if lg is not None and self.num_classes is not None:
                    logits.append(lg.float().cpu())
        f_all = torch.cat(feats) if feats else torch.empty(0, self.num_features)
        if self.num_classes is None:
            return f_all, None
        return f_all, torch.cat(logits) if logits else torch.empty(0, self.num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor | None:
        """(N, num_classes) class logits for class coverage; None when the net has no classes."""
        return self.features_and_logits(images)[1]


class PointsNet(FeatureNet):
    """Identity features for 2D points: FID on coordinates is the Fréchet distance of the mixtures."""

    name = "points-2d"
    space = "points"
    weights_hash = sha16(b"points-2d identity")
    num_features = 2

    def __init__(self) -> None:
        super().__init__(None)

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return images.reshape(images.shape[0], -1), None

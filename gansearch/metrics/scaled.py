"""A feature net that sees images at a lower resolution: how MSG-GAN's lower scales are scored.

An image at resolution r (a generator's scale-r output, or a real image average-pooled to r) is shown
to the feature net upsampled by nearest neighbour to the data's resolution S, the size the net was
built for. Real and generated images take the same path, so the distance at scale r compares the two
distributions as they look at r: FD/KD "at r px", a gansearch measure (MSG-GAN's paper reports FID at
the final scale only), named `<distance>_<r>px`.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F

from gansearch.metrics.feature_net import FeatureNet


def scale_key(metric: str, r: int) -> str:
    return f"{metric}_{r}px"


class ScaledNet(FeatureNet):
    """`base` on images brought to resolution r first (average pooling from any larger size), then
    upsampled to `image_size`. Its weights hash differs from the base's, so real features cache apart."""

    def __init__(self, base: FeatureNet, r: int, image_size: int) -> None:
        self.base, self.r, self.image_size = base, int(r), int(image_size)
        self.device, self.module = base.device, base.module
        self.name = f"{base.name}@{r}px"
        self.space, self.num_features = base.space, base.num_features
        self.num_classes, self.accuracy, self.batch_size = None, None, base.batch_size  # scored by distances only
        self.weights_hash = hashlib.sha256(f"{base.weights_hash}|scale-{r}-of-{image_size}".encode()).hexdigest()[:16]

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        side = images.shape[-1]
        if side != self.r:
            if side < self.r or side % self.r:
                raise ValueError(f"ScaledNet({self.r} px) needs images of {self.r} px or a multiple, got {side}")
            images = F.avg_pool2d(images, side // self.r)
        if self.r != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="nearest")
        feats, _ = self.base._forward(images)
        return feats, None

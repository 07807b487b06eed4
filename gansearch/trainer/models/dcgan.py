"""DCGAN generator and discriminator (Radford et al. 2016) for 16, 32, 64 and 128 px.

At 64 px with width 64 and z_dim 100 the layers are exactly those of pytorch/examples' dcgan, so the
throughput benchmark compares like with like. D returns logits; the sigmoid lives in the loss.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _num_upsamples(image_size: int) -> int:
    n = int(math.log2(image_size)) - 2
    if image_size not in (16, 32, 64, 128) or 2 ** (n + 2) != image_size:
        raise ValueError(f"DCGAN image_size must be 16, 32, 64 or 128, got {image_size}")
    return n


class Generator(nn.Module):
    """z (N, z_dim) -> image (N, C, S, S) in [-1, 1] via transposed convolutions doubling 4 -> S."""

    def __init__(self, z_dim: int, channels: int, image_size: int, width: int = 64, depth: int = 0) -> None:
        super().__init__()
        n = _num_upsamples(image_size)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        for _ in range(depth):  # extra layers at full width before the output, as in dcgan.torch
            layers += [nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.z_dim, 1, 1))


NORMS = ("batch", "layer", "none")


class SourceBatchNorm2d(nn.BatchNorm2d):
    """DCGAN's batch norm, which can normalise a batch made of `sources` equal parts (D's real and fake
    halves in one call) with each part's own statistics, exactly as if D were called on each part in turn:
    the same kernel per part, the running statistics updated part after part. So D's real and fake passes
    can be one batched call (one convolution per layer instead of two) with DCGAN's maths unchanged."""

    sources: int = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sources == 1 or not self.training:  # eval mode normalises with the running statistics
            return super().forward(x)
        return torch.cat([super(SourceBatchNorm2d, self).forward(part) for part in x.chunk(self.sources)])


def _norm(kind: str, channels: int) -> nn.Module:
    """batch: DCGAN's; layer: per-sample statistics over (C, H, W) with a per-channel affine (GroupNorm
    with one group), which Gulrajani et al. (2017, §4) recommend for a WGAN-GP critic; none."""
    if kind == "batch":
        return SourceBatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"D normalization must be one of {', '.join(NORMS)}, got {kind!r}")


class Discriminator(nn.Module):
    """image -> one logit per image; strided convolutions halving S -> 4, then a 4x4 conv."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        width: int = 64,
        depth: int = 0,
        spectral: bool = False,
        norm_kind: str = "batch",
    ) -> None:
        super().__init__()
        n = _num_upsamples(image_size)
        sn = spectral_norm if spectral else (lambda m: m)

        def norm(c: int) -> nn.Module:
            return _norm(norm_kind, c)

        ch = width
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, ch, 4, 2, 1, bias=False)), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(depth):
            layers += [sn(nn.Conv2d(ch, ch, 3, 1, 1, bias=False)), norm(ch), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(n - 1):
            layers += [sn(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False)), norm(ch * 2), nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        layers += [sn(nn.Conv2d(ch, 1, 4, 1, 0, bias=False))]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def dcgan_init(m: nn.Module) -> None:
    """N(0, 0.02) convolutions and N(1, 0.02) batch-norm scales, as in the DCGAN paper."""
    name = type(m).__name__
    if "Conv" in name and hasattr(m, "weight"):
        w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
        nn.init.normal_(w, 0.0, 0.02)
    elif "BatchNorm" in name or "GroupNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)

"""What MSG-GAN and progressive growing share: DCGAN's trunk seen one resolution at a time.

Resolutions run 4, 8, ..., S. At resolution r both networks carry `channels_at(width, S, r)` feature maps,
DCGAN's rule (width at S/2, doubling as r halves), so at equal widths the three models compare like with
like. Images at a resolution below S are average-pooled from S: MSG-GAN's real pyramid (Karnewar & Wang
2020, §3) and ProGAN's real images at a low resolution (Karras et al. 2018, §A.1) alike.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def resolutions(image_size: int) -> list[int]:
    """4, 8, ..., image_size (a power of two from 8 up)."""
    n = int(math.log2(image_size))
    if image_size < 8 or 2**n != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return [2**k for k in range(2, n + 1)]


def channels_at(width: int, image_size: int, r: int) -> int:
    return max(1, width * image_size // (2 * r))


def downsample(x: Tensor, r: int) -> Tensor:
    """x at resolution r by average pooling (exact box filter for a power-of-two factor)."""
    return x if x.shape[-1] == r else F.avg_pool2d(x, x.shape[-1] // r)


def upsample(x: Tensor, r: int) -> Tensor:
    """x at resolution r by nearest neighbour: what a low-resolution image looks like shown at r."""
    return x if x.shape[-1] == r else F.interpolate(x, size=(r, r), mode="nearest")


def pyramid(x: Tensor, sizes: list[int]) -> list[Tensor]:
    return [downsample(x, r) for r in sizes]


class ScaleTrunk(nn.Module):
    """G's trunk: z -> 4x4 features, then one DCGAN up-block per doubling; a 1x1 convolution + tanh per
    resolution turns the features there into an image ("toRGB")."""

    def __init__(self, z_dim: int, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        self.z_dim, self.image_size = z_dim, image_size
        self.sizes = resolutions(image_size)

        def ch(r: int) -> int:
            return channels_at(width, image_size, r)

        self.head = nn.Sequential(nn.ConvTranspose2d(z_dim, ch(4), 4, 1, 0, bias=False), nn.BatchNorm2d(ch(4)),
                                  nn.ReLU(True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(ch(r // 2), ch(r), 4, 2, 1, bias=False), nn.BatchNorm2d(ch(r)), nn.ReLU(True))
            for r in self.sizes[1:])
        self.to_rgb = nn.ModuleList(nn.Sequential(nn.Conv2d(ch(r), channels, 1), nn.Tanh()) for r in self.sizes)

    def start(self, z: Tensor) -> Tensor:
        return self.head(z.reshape(z.shape[0], self.z_dim, 1, 1))


def d_blocks(image_size: int, width: int, extra_in: int, wrap: Callable[[nn.Module], nn.Module],
             norm: Callable[[int], nn.Module]) -> nn.ModuleList:
    """D's down-blocks, blocks[i] taking resolution sizes[i+1] to sizes[i] (index = the level it reaches);
    `extra_in` input channels are added at every level below S (MSG-GAN's concatenated image)."""
    sizes = resolutions(image_size)

    def ch(r: int) -> int:
        return channels_at(width, image_size, r)

    return nn.ModuleList(
        nn.Sequential(wrap(nn.Conv2d(ch(r) + (extra_in if r < image_size else 0), ch(r // 2), 4, 2, 1, bias=False)),
                      norm(ch(r // 2)), nn.LeakyReLU(0.2, inplace=True))
        for r in sizes[1:])


def lerp(old: Tensor, new: Tensor, alpha: float) -> Tensor:
    """(1 - alpha) old + alpha new, exactly `old` at alpha 0 and `new` at 1."""
    if alpha <= 0.0:
        return old
    if alpha >= 1.0:
        return new
    return torch.lerp(old, new, alpha)

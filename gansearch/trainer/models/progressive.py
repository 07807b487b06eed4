"""Progressive growing (Karras et al., ICLR 2018): G and D train at 4x4 first, then each next resolution
is faded in, its new layers blended with the upsampled (in D: downsampled) output of the resolution
before, the blend weight alpha rising linearly from 0 to 1.

The schedule is a pure function of the trainer step (`growth`): `steps_per_resolution` steps per
resolution, the first `fade_in` share of each spent fading in. So a run resumed mid-fade continues bit
for bit. G keeps its level and alpha in a buffer too, so a checkpoint or export says how far it grew.
Below S, G's images are shown (and scored) upsampled to S by nearest neighbour (`scales`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gansearch.trainer.models.dcgan import _norm
from gansearch.trainer.models.scales import (ScaleTrunk, channels_at, d_blocks, downsample, lerp, resolutions,
                                             upsample)


def growth(step: int, levels: int, steps_per_resolution: int, fade_in: float) -> tuple[int, float]:
    """(level, alpha) at a trainer step: level k trains resolution 4 * 2**k; alpha blends it in."""
    level = min(step // steps_per_resolution, levels - 1)
    if level == 0:
        return 0, 1.0
    fade = fade_in * steps_per_resolution
    into = step - level * steps_per_resolution
    return level, 1.0 if into >= fade else into / fade


class _Grows(nn.Module):
    level: int
    alpha: float

    def _init_growth(self, levels: int) -> None:
        self.level, self.alpha = levels - 1, 1.0  # full size unless a schedule says otherwise
        self.register_buffer("growth", torch.tensor([self.level, self.alpha], dtype=torch.float64))
        self.register_load_state_dict_post_hook(lambda module, _keys: module._read_growth())

    def grow(self, level: int, alpha: float) -> None:
        self.level, self.alpha = int(level), float(alpha)
        self.growth.copy_(torch.tensor([self.level, self.alpha], dtype=torch.float64))

    def _read_growth(self) -> None:
        self.level, self.alpha = int(self.growth[0]), float(self.growth[1])


class ProgressiveGenerator(ScaleTrunk, _Grows):
    """z -> image at the current level's resolution."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_growth(len(self.sizes))

    def forward(self, z: Tensor) -> Tensor:
        h = self.start(z)
        for block in self.blocks[: max(self.level - 1, 0)]:
            h = block(h)
        if self.level == 0:
            return self.to_rgb[0](h)
        new = self.to_rgb[self.level](self.blocks[self.level - 1](h))
        if self.alpha >= 1.0:
            return new
        old = upsample(self.to_rgb[self.level - 1](h), new.shape[-1])
        return lerp(old, new, self.alpha)

    def scales(self, out: Tensor) -> list[Tensor]:
        return [upsample(out, self.image_size)]


class ProgressiveDiscriminator(_Grows):
    """image at the current level's resolution -> one logit per sample."""

    def __init__(self, channels: int, image_size: int, width: int = 64, spectral: bool = False,
                 norm_kind: str = "batch") -> None:
        super().__init__()
        self.sizes = resolutions(image_size)
        wrap = spectral_norm if spectral else (lambda m: m)
        self.from_rgb = nn.ModuleList(
            nn.Sequential(wrap(nn.Conv2d(channels, channels_at(width, image_size, r), 1)), nn.LeakyReLU(0.2, inplace=True))
            for r in self.sizes)
        self.blocks = d_blocks(image_size, width, 0, wrap, lambda c: _norm(norm_kind, c))
        self.final = wrap(nn.Conv2d(channels_at(width, image_size, 4), 1, 4, 1, 0, bias=False))
        self._init_growth(len(self.sizes))

    def forward(self, x: Tensor) -> Tensor:
        k = self.level
        h = self.from_rgb[k](x)
        if k > 0:
            h = self.blocks[k - 1](h)
            if self.alpha < 1.0:
                h = lerp(self.from_rgb[k - 1](downsample(x, self.sizes[k - 1])), h, self.alpha)
            for block in reversed(self.blocks[: k - 1]):
                h = block(h)
        return self.final(h).view(-1)

    def real_input(self, x: Tensor) -> Tensor:
        """Real images at the current resolution, faded in like G's (ProGAN §A.1)."""
        k, r = self.level, self.sizes[self.level]
        x = downsample(x, r)
        if k == 0 or self.alpha >= 1.0:
            return x
        return lerp(upsample(downsample(x, self.sizes[k - 1]), r), x, self.alpha)

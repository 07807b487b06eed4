"""MSG-GAN (Karnewar & Wang, CVPR 2020): G emits an image at every resolution, and one D reads them all,
each concatenated to D's features at its own resolution (their phi_simple), so D's gradient reaches
every scale of G at once instead of flowing back through all of G's layers from the last one.

G is DCGAN's trunk with a toRGB at each resolution; D is DCGAN's D with the image of each resolution
joining it there. Real images enter as their average-pooled pyramid (`real_input`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gansearch.trainer.models.dcgan import _norm
from gansearch.trainer.models.scales import ScaleTrunk, channels_at, d_blocks, pyramid, resolutions


class MSGGenerator(ScaleTrunk):
    """z -> [image at 4, 8, ..., S], low to high resolution."""

    def forward(self, z: Tensor) -> list[Tensor]:
        h = self.start(z)
        out = [self.to_rgb[0](h)]
        for block, rgb in zip(self.blocks, self.to_rgb[1:]):
            h = block(h)
            out.append(rgb(h))
        return out

    def scales(self, out: list[Tensor]) -> list[Tensor]:
        return out


class MSGDiscriminator(nn.Module):
    """[image at 4, ..., S] -> one logit per sample."""

    def __init__(self, channels: int, image_size: int, width: int = 64, spectral: bool = False,
                 norm_kind: str = "batch") -> None:
        super().__init__()
        self.sizes = resolutions(image_size)
        wrap = spectral_norm if spectral else (lambda m: m)
        top = channels_at(width, image_size, image_size)
        self.from_rgb = nn.Sequential(wrap(nn.Conv2d(channels, top, 1)), nn.LeakyReLU(0.2, inplace=True))
        self.blocks = d_blocks(image_size, width, channels, wrap, lambda c: _norm(norm_kind, c))
        self.final = wrap(nn.Conv2d(channels_at(width, image_size, 4) + channels, 1, 4, 1, 0, bias=False))

    def forward(self, images: list[Tensor]) -> Tensor:
        h = self.blocks[-1](self.from_rgb(images[-1]))
        for block, x in zip(reversed(self.blocks[:-1]), reversed(images[1:-1])):
            h = block(torch.cat([h, x], dim=1))  # phi_simple: the scale's image joins D's features there
        return self.final(torch.cat([h, images[0]], dim=1)).view(-1)

    def real_input(self, x: Tensor) -> list[Tensor]:
        return pyramid(x, self.sizes)

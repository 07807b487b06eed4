"""SNGAN's ResNet G and D for square images of 8 px and up (32 px: the CIFAR-10 networks of Miyato et al.
2018, appendix B.4, Table 4), as a gansearch model plug-in: `model.name: gansearch_sngan.resnet:sngan`.

G: z -> linear to 4x4 -> one up-sampling residual block per doubling -> BN, ReLU, 3x3 conv, tanh.
D: an "optimized" first block and down-sampling blocks to 8x8, then `d_blocks` residual blocks at that
size (SNGAN uses 2), ReLU, global sum pooling, linear; every conv and linear layer spectrally normalised.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as sn


class GBlock(nn.Module):
    """BN, ReLU, 2x nearest up-sampling, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: up-sample, 1x1 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.b1, self.b2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.c1, self.c2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        up = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        h = self.c1(nn.functional.interpolate(torch.relu(self.b1(x)), scale_factor=2, mode="nearest"))
        return self.c2(torch.relu(self.b2(h))) + self.sc(up)


class DBlock(nn.Module):
    """ReLU, 3x3 conv, ReLU, 3x3 conv (, 2x2 average pooling); shortcut: 1x1 conv (, pooling). The first
    block of D ("optimized") starts with the conv, not a ReLU of the raw image."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.c1, self.c2 = sn(nn.Conv2d(cin, cout, 3, 1, 1)), sn(nn.Conv2d(cout, cout, 3, 1, 1))
        self.sc = sn(nn.Conv2d(cin, cout, 1)) if (cin != cout or down) else None
        self.down, self.first = down, first

    def forward(self, x: Tensor) -> Tensor:
        h = self.c1(x if self.first else torch.relu(x))
        h = self.c2(torch.relu(h))
        s = x
        if self.first:  # pool, then 1x1 conv (Miyato et al.'s optimized block)
            s = self.sc(nn.functional.avg_pool2d(x, 2)) if self.sc is not None else x
            return nn.functional.avg_pool2d(h, 2) + s
        if self.sc is not None:
            s = self.sc(s)
        if self.down:
            h, s = nn.functional.avg_pool2d(h, 2), nn.functional.avg_pool2d(s, 2)
        return h + s


class Generator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(z_dim, 4 * 4 * width)
        self.blocks = nn.Sequential(*[GBlock(width, width) for _ in range(int(math.log2(size // 4)))])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.blocks(self.fc(z).view(-1, self.width, 4, 4)))


class Discriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int, d_blocks: int) -> None:
        super().__init__()
        downs = int(math.log2(size // 8))  # to 8x8, the size SNGAN's last blocks work at
        blocks = [DBlock(channels, width, down=True, first=True)] + [DBlock(width, width, down=True) for _ in range(downs - 1)]
        self.blocks = nn.Sequential(*blocks, *[DBlock(width, width, down=False) for _ in range(d_blocks)])
        self.fc = sn(nn.Linear(width, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.fc(h)


def sngan(shape: tuple[int, ...], z_dim: int = 128, g_width: int = 256, d_width: int = 128,
          d_blocks: int = 2) -> tuple[nn.Module, nn.Module]:
    """(G, D) for images of `shape` (C, S, S), S a power of two >= 8. `d_blocks`: D's residual blocks at
    8x8 after the down-sampling ones (2 in SNGAN)."""
    c, s, w = shape
    if s != w or s < 8 or s & (s - 1):
        raise ValueError(f"needs square images of a power-of-two size >= 8, got {s}x{w}")
    if d_blocks < 0:
        raise ValueError(f"d_blocks must be >= 0, got {d_blocks}")
    return Generator(z_dim, c, s, g_width), Discriminator(c, s, d_width, d_blocks)

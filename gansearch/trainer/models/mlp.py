"""MLP G and D for the 2D mixtures (ring8, grid25), sized like the Unrolled GAN / PacGAN experiments."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _mlp(n_in: int, n_out: int, width: int, layers: int, act: type[nn.Module], sn: bool = False) -> nn.Sequential:
    wrap = spectral_norm if sn else (lambda m: m)
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [wrap(nn.Linear(d, width)), act()]
        d = width
    mods.append(wrap(nn.Linear(d, n_out)))
    return nn.Sequential(*mods)


class PointGenerator(nn.Module):
    def __init__(self, z_dim: int, width: int = 128, depth: int = 0) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.main = _mlp(z_dim, 2, width, 3 + depth, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class PointDiscriminator(nn.Module):
    def __init__(self, width: int = 128, depth: int = 0, spectral: bool = False) -> None:
        super().__init__()
        self.main = _mlp(2, 1, width, 3 + depth, lambda: nn.LeakyReLU(0.2), sn=spectral)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)

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


class Maxout(nn.Module):
    """A linear layer whose every output is the max of `pieces` affine pieces (Goodfellow et al. 2013)."""

    def __init__(self, n_in: int, n_out: int, pieces: int) -> None:
        super().__init__()
        self.n_out, self.pieces = n_out, pieces
        self.linear = nn.Linear(n_in, n_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.n_out, self.pieces).amax(dim=2)


class PacGANPointGenerator(nn.Module):
    """PacGAN's 2D-mixture generator: 4 hidden layers of `width` (400 there), each linear without bias,
    batch norm, ReLU; a linear output with a bias (fjxmlzn/PacGAN, synthetic_data_experiments/*GAN&PacGAN:
    gen_hidden_size 400, Rectifier, use_bias False except the last layer's)."""

    def __init__(self, z_dim: int, width: int = 400) -> None:
        super().__init__()
        self.z_dim = z_dim
        mods: list[nn.Module] = []
        d = z_dim
        for _ in range(4):
            mods += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            d = width
        mods.append(nn.Linear(d, 2))
        self.main = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class PacGANPointDiscriminator(nn.Module):
    """PacGAN's unpacked 2D-mixture discriminator: 3 maxout layers of `width` units (200 there) with 5
    pieces, then a linear output (disc_hidden_size 200, disc_maxout_pieces 5, discriminator_h1..h3). No
    normalization, so it is also a valid WGAN-GP critic."""

    def __init__(self, width: int = 200, pieces: int = 5) -> None:
        super().__init__()
        self.main = nn.Sequential(Maxout(2, width, pieces), Maxout(width, width, pieces), Maxout(width, width, pieces),
                                  nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def pacgan_init(m: nn.Module) -> None:
    """PacGAN's initialisation: weights N(0, 0.02), biases 0 (weights_init_std 0.02, biases_init 0);
    batch norm keeps its scale 1 and shift 0."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)

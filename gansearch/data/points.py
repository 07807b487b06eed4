"""The 2D Gaussian mixtures of Unrolled GAN / VEEGAN / PacGAN, where mode collapse can be counted.

ring8: 8 modes evenly on a circle of radius 2, std 0.02. grid25: 25 modes on {-4,-2,0,2,4}^2, std 0.05.
Points stay in these raw coordinates (not squashed into [-1, 1]) so mode distances match the papers.
"""

from __future__ import annotations

import math

import torch

from gansearch.config.schema import DataConfig
from gansearch.data.dataset import Dataset, cap_indices, fingerprint, mixture_sample

TRAIN_POINTS = 20_000
TRAIN_SEED = 0


def ring8_modes(radius: float = 2.0) -> torch.Tensor:
    """(8, 2) centres at angles 2*pi*k/8."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_modes(spacing: float = 2.0) -> torch.Tensor:
    """(25, 2) centres on the 5x5 grid {-2,-1,0,1,2} * spacing."""
    axis = torch.arange(-2, 3, dtype=torch.float32) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


MIXTURES: dict[str, tuple[torch.Tensor, float]] = {
    "ring8": (ring8_modes(), 0.02),
    "grid25": (grid25_modes(), 0.05),
}


def load_points(cfg: DataConfig, device: torch.device) -> Dataset:
    """A fixed 20k-point training sample (seed 0); `sample()` draws fresh points from the mixture."""
    modes, std = MIXTURES[cfg.name]
    train = mixture_sample(modes, std, TRAIN_POINTS, torch.Generator().manual_seed(TRAIN_SEED))
    keep = cap_indices(train.shape[0], cfg.max_samples)
    if keep is not None:
        train = train[keep]
    fp = fingerprint(cfg.name, modes=modes.tolist(), std=std, n=TRAIN_POINTS, seed=TRAIN_SEED,
                     max_samples=cfg.max_samples)
    return Dataset(name=cfg.name, kind="points", shape=(2,), train=train.to(device), train_labels=None,
                   test=None, test_labels=None, num_classes=None, fingerprint=fp,
                   modes=modes.to(device), mode_std=std)

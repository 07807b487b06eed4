"""The losses of neural style transfer (Gatys et al. 2016) as pure functions of activations.

Each is made scale-free, relative to its target: a loss of 1 is as far from the target as all-zero
activations are, whatever the net's activation scale (a random VGG's differs from a trained one's), so
the searched weights mean the same with either net. The measured distances (gansearch.style.measure) are
the same functions on another net.
"""

from __future__ import annotations

from typing import Mapping

import torch

EPS = 1e-12


def gram(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (B, C, H, W) activations: (B, C, C) = F F^T / (C H W), F the (B, C, HW) flattening."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def relative_sq_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target||^2 / ||target||^2 over all elements (the denominator floored at 1e-12)."""
    return (x - target).pow(2).sum() / target.pow(2).sum().clamp_min(EPS)


def content_loss(feats: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the target layers of the relative squared error of the activations."""
    return torch.stack([relative_sq_error(feats[k], t) for k, t in targets.items()]).mean()


def style_loss(feats: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the target layers of the relative squared error of the Gram matrices."""
    return torch.stack([relative_sq_error(gram(feats[k]), g) for k, g in target_grams.items()]).mean()


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertical neighbours plus that of horizontal ones."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()

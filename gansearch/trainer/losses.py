"""Adversarial losses as pure functions of D's logits (LOSSES name table).

`d_loss(real_logits, fake_logits, real_target)` is what D minimises, `g_loss(fake_logits)` what G
minimises. `real_target` < 1 is one-sided label smoothing (for hinge it is the real margin; WGAN ignores
it). The WGAN-GP gradient penalty is a separate term, `gradient_penalty`, added by the loop; the D loss a
run records is the adversarial term alone, so it means the same with and without the penalty.

`d_floor(real_target)` is the least D's loss can be, reached when D separates real from fake perfectly:
what `d_collapse` measures the loss against. A WGAN critic's loss has no floor (None): collapse, in the
sense of a loss pinned at its minimum, is not defined for it and is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gansearch.errors import ConfigError


def ns_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Goodfellow et al. 2014: -log D(x) - log(1 - D(G(z))), targets real_target / 0."""
    return F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


def ns_g(fake: Tensor) -> Tensor:
    """The non-saturating G loss: -log D(G(z)) rather than log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def hinge_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Lim & Ye 2017 / SNGAN: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(real_target - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: Tensor) -> Tensor:
    return -fake.mean()


def wgan_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Arjovsky et al. 2017: the critic maximises E[D(x)] - E[D(G(z))]."""
    return fake.mean() - real.mean()


def wgan_g(fake: Tensor) -> Tensor:
    return -fake.mean()


def lsgan_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Mao et al. 2017 (a=0, b=1): 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * (fake**2).mean()


def lsgan_g(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def gradient_penalty(d: Callable[[Any], Tensor], real: Any, fake: Any, generator: torch.Generator) -> Tensor:
    """Gulrajani et al. 2017: E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates of real and fake.

    For an MSG-GAN, real and fake are lists of scales: one eps per sample for all of them, and the norm is
    that of the gradient with respect to all of D's inputs together."""
    scales = isinstance(real, (list, tuple))
    reals, fakes = (list(real), list(fake)) if scales else ([real], [fake])
    eps = torch.rand(reals[0].shape[0], device=reals[0].device, dtype=reals[0].dtype, generator=generator)
    x_hat = []
    for r, f in zip(reals, fakes):
        e = eps.view((-1,) + (1,) * (r.dim() - 1))
        x_hat.append((e * r + (1 - e) * f).requires_grad_(True))
    grads = torch.autograd.grad(d(x_hat if scales else x_hat[0]).sum(), x_hat, create_graph=True)
    return ((torch.cat([g.flatten(1) for g in grads], dim=1).norm(2, dim=1) - 1.0) ** 2).mean()


def binary_entropy(t: float) -> float:
    """H(t) in nats: the least BCE against target t (reached at sigmoid(logit) = t); 0 at t = 0 or 1."""
    return 0.0 if t <= 0.0 or t >= 1.0 else -(t * math.log(t) + (1.0 - t) * math.log(1.0 - t))


def _zero(real_target: float) -> float:
    return 0.0


# The loss's value where D cannot tell real from fake (its output halfway between the fake and real
# targets), (G's, D's): the level that loss-oscillation's rel_amplitude divides by, so that it is a share
# of the same point for every loss. None where that value is 0 (hinge's G, WGAN's critic and G): a
# difference of means has no level to be relative to. Label smoothing leaves BCE's chance level at 2 ln 2.
def _ns_chance(real_target: float) -> tuple[float | None, float | None]:
    return math.log(2.0), 2.0 * math.log(2.0)


def _hinge_chance(real_target: float) -> tuple[float | None, float | None]:
    return None, real_target + 1.0


def _wgan_chance(real_target: float) -> tuple[float | None, float | None]:
    return None, None


def _lsgan_chance(real_target: float) -> tuple[float | None, float | None]:
    mid = real_target / 2.0
    return 0.5 * (mid - 1.0) ** 2, 0.5 * (mid - real_target) ** 2 + 0.5 * mid**2


@dataclass(frozen=True)
class Loss:
    d_loss: Callable[..., Tensor]
    g_loss: Callable[[Tensor], Tensor]
    d_floor: Callable[[float], float] | None  # None: unbounded below (WGAN)
    chance: Callable[[float], tuple[float | None, float | None]]  # (G, D) at D's undecided output
    gradient_penalty: bool = False


LOSSES: dict[str, Loss] = {
    "non_saturating": Loss(ns_d, ns_g, binary_entropy, _ns_chance),  # real term >= H(real_target), fake >= 0
    "hinge": Loss(hinge_d, hinge_g, _zero, _hinge_chance),
    "wgan_gp": Loss(wgan_d, wgan_g, None, _wgan_chance, gradient_penalty=True),
    "lsgan": Loss(lsgan_d, lsgan_g, _zero, _lsgan_chance),
}


def get_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise ConfigError("space.loss", "must be one of " + ", ".join(LOSSES), name)
    return LOSSES[name]

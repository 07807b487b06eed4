"""One training iteration, as in the paper: D on real=1 / fake=0, then G through a frozen D.

Losses stay on the device: the iteration returns tensors, and nothing here reads a value back to the
host unless the balance strategy needs D's loss to decide (skip_d). The D loss returned (recorded, and
read by skip_d) is the adversarial term only, whether D trained this iteration or was skipped: the
gradient penalty is part of what D minimises, not of how well it separates real from fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from gansearch.trainer.balance import Balance
from gansearch.trainer.losses import Loss, gradient_penalty


@dataclass
class Step:
    g: nn.Module
    d: nn.Module
    critic: nn.Module  # D's eager module, for the gradient penalty: a compiled D can't double-backward
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: Loss
    balance: Balance
    gp_weight: float
    sample_real: Callable[[int], Tensor]
    sample_z: Callable[[int], Tensor]
    noise_gen: torch.Generator
    batch_size: int
    autocast: Callable[[], torch.autocast]
    d_has_batchnorm: bool

    def __call__(self, step: int, last_d_loss: float | None) -> tuple[Tensor, Tensor]:
        bal, n = self.balance, self.batch_size
        sigma = bal.noise_std(step)
        fake = None
        loss_d = None
        for _ in range(bal.d_steps):
            real = self.sample_real(n)
            with self.autocast():
                fake = self.g(self.sample_z(n))
            if not bal.train_d(last_d_loss):
                continue
            # (1) D step: maximise log D(x) + log(1 - D(G(z))), G's output detached.
            with self.autocast():
                real_logits, fake_logits = self._discriminate(self._noisy(real, sigma), self._noisy(fake.detach(), sigma))
                loss_d = self.loss.d_loss(real_logits.float(), fake_logits.float(), bal.real_target)
            total = loss_d
            if self.loss.gradient_penalty:
                total = loss_d + self.gp_weight * gradient_penalty(self.critic, real, fake.detach().to(real.dtype), self.noise_gen)
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
            self.opt_d.step()
        if bal.d_steps > 1 or fake is None:
            with self.autocast():
                fake = self.g(self.sample_z(n))
        # (2) G step through a frozen D: no gradients for D's weights are computed at all.
        self.d.requires_grad_(False)
        with self.autocast():
            loss_g = self.loss.g_loss(self.d(self._noisy(fake, sigma)).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.d.requires_grad_(True)
        if loss_d is None:  # D skipped this iteration: record its loss on the current batch, no update
            with torch.no_grad(), self.autocast():
                real_logits, fake_logits = self._discriminate(self._noisy(real, sigma), self._noisy(fake.detach(), sigma))
                loss_d = self.loss.d_loss(real_logits.float(), fake_logits.float(), bal.real_target)
        return loss_d.detach(), loss_g.detach()

    def _discriminate(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        if self.d_has_batchnorm:  # separate batches, as in DCGAN: batch-norm statistics stay per-source
            return self.d(real), self.d(fake)
        both = self.d(torch.cat([real, fake]))
        return both[: real.shape[0]], both[real.shape[0] :]

    def _noisy(self, x: Tensor, sigma: float) -> Tensor:
        if sigma <= 0.0:
            return x
        return x + sigma * torch.randn(x.shape, generator=self.noise_gen, device=x.device, dtype=x.dtype)

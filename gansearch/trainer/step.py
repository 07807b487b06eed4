"""One training iteration, as in the paper: D on real=1 / fake=0, then G through a frozen D.

Losses stay on the device: the iteration returns tensors, and nothing here reads a value back to the
host unless the balance strategy needs D's loss to decide (skip_d). The D loss returned (recorded, and
read by skip_d) is the adversarial term only, whether D trained this iteration or was skipped: the
gradient penalty is part of what D minimises, not of how well it separates real from fake.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gansearch.trainer.balance import Balance
from gansearch.trainer.losses import Loss, gradient_penalty
from gansearch.trainer.models.dcgan import SourceBatchNorm2d


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

    def __post_init__(self) -> None:
        norms = [m for m in self.critic.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self._source_norms = norms if all(isinstance(m, SourceBatchNorm2d) for m in norms) else []

    def __call__(self, step: int, last_d_loss: float | None) -> tuple[Tensor, Tensor]:
        bal, n = self.balance, self.batch_size
        sigma = bal.noise_std(step)
        fake = None
        loss_d = None
        # with several D steps, G is run again for its own step below: these fakes are only used detached
        graph = torch.no_grad if bal.d_steps > 1 else contextlib.nullcontext
        for _ in range(bal.d_steps):
            real = self.sample_real(n)
            with graph(), self.autocast():
                fake = self.g(self.sample_z(n))
            if not bal.train_d(last_d_loss):
                continue
            # (1) D step: maximise log D(x) + log(1 - D(G(z))), G's output detached.
            with self.autocast():
                real_logits, fake_logits = self._discriminate(self._noisy(real, sigma), self._noisy(_detach(fake), sigma))
                loss_d = self.loss.d_loss(real_logits.float(), fake_logits.float(), bal.real_target)
            total = loss_d
            if self.loss.gradient_penalty:
                fake_like_real = _each(lambda f, r: f.detach().to(r.dtype), fake, real)
                total = loss_d + self.gp_weight * gradient_penalty(self.critic, real, fake_like_real, self.noise_gen)
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
                real_logits, fake_logits = self._discriminate(self._noisy(real, sigma), self._noisy(_detach(fake), sigma))
                loss_d = self.loss.d_loss(real_logits.float(), fake_logits.float(), bal.real_target)
        return loss_d.detach(), loss_g.detach()

    def _discriminate(self, real: Any, fake: Any) -> tuple[Tensor, Tensor]:
        """D on both batches in one call. Batch-norm statistics stay per-source, as in DCGAN's two calls
        (SourceBatchNorm2d); any other batch norm takes the two calls."""
        if self.d_has_batchnorm and not self._source_norms:
            return self.d(real), self.d(fake)
        for m in self._source_norms:
            m.sources = 2
        try:
            both = self.d(_each(lambda r, f: torch.cat([r, f]), real, fake))
        finally:
            for m in self._source_norms:
                m.sources = 1
        n = both.shape[0] // 2  # as many real as fake samples
        return both[:n], both[n:]

    def _noisy(self, x: Any, sigma: float) -> Any:
        if sigma <= 0.0:
            return x
        return _each(lambda t: t + sigma * torch.randn(t.shape, generator=self.noise_gen, device=t.device, dtype=t.dtype), x)


def _each(fn: Callable[..., Tensor], x: Any, *others: Any) -> Any:
    """fn on a tensor, or on each scale of a list of them (zipped with `others`, alike in structure)."""
    if isinstance(x, (list, tuple)):
        return [fn(*parts) for parts in zip(x, *others)]
    return fn(x, *others)


def _detach(x: Any) -> Any:
    return _each(lambda t: t.detach(), x)

"""G's exponential moving average (Yazıcı et al. 2019, "The Unusual Effectiveness of Averaging in GAN
Training"; ProGAN, StyleGAN and BigGAN evaluate and ship it): after every G step,
p_ema = d * p_ema + (1 - d) * p, for every parameter of G, from G's initial weights on.

The average is a second G of the same architecture, in eval mode and without gradients. Its buffers
(batch-norm running statistics, a growing G's level) are G's own, copied after each step: they are
statistics of G's activations or a schedule, not weights to average. The update is two fused foreach calls
(a lerp over the parameters, a copy of the buffers), never a loop over tensors in Python.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorEMA:
    def __init__(self, g: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.model = copy.deepcopy(g).eval().requires_grad_(False)  # of the eager G: before any torch.compile
        self._params = (list(self.model.parameters()), list(g.parameters()))
        self._buffers = (list(self.model.buffers()), list(g.buffers()))

    @torch.no_grad()
    def update(self) -> None:
        """One step of the average, after G's optimizer step: p_ema += (1 - d) * (p - p_ema)."""
        torch._foreach_lerp_(self._params[0], self._params[1], 1.0 - self.decay)
        if self._buffers[0]:
            torch._foreach_copy_(self._buffers[0], self._buffers[1])

"""What a run needs besides the models: the device, the data, and an evaluator built once per run.

Real-data features are cached on disk by `metrics.features`, so a second run (or a second trial of a
search) only loads them; the evaluator turns them into statistics once, not at every evaluation.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from gansearch.config import SpaceFile
from gansearch.config import metrics as names
from gansearch.data import load_dataset
from gansearch.errors import ConfigError
from gansearch.metrics.evaluate import Evaluator, class_reference
from gansearch.metrics.features import LOW_ACCURACY, feature_net_for, heldout_images, real_features
from gansearch.metrics.scaled import ScaledNet, scale_key


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else CPU; an unavailable explicit device is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device", "must be available on this machine (no CUDA device found)", name)
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device", "must be available on this machine (no MPS device found)", name)
    return dev


def peak_memory_mib(device: torch.device) -> float | None:
    """The most GPU memory this process's tensors held since the run started (None off CUDA)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def reset_peak_memory(device: torch.device) -> None:
    """A reused Ray worker runs trial after trial: each run's peak starts from zero."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def check_kid_subset(kid: bool, subset: int, num_samples: int, num_real: int) -> None:
    """A KID subset draws from both the generated and the real features: a small image folder can't fill the
    space file's subset size. Said as the field to change, before any trial (the driver builds this setup
    first), instead of the metric's own error from inside every trial."""
    if kid and subset > min(num_samples, num_real):
        raise ConfigError("eval.kid_subset_size",
                          f"must be at most eval.num_samples ({num_samples}) and the real images scored "
                          f"({num_real}; or set eval.kid: false)", subset)


class EvalSetup:
    def __init__(self, cfg: SpaceFile, device: torch.device) -> None:
        self.cfg = cfg
        self.dataset = load_dataset(cfg.data, device)
        ev = cfg.eval
        self.net = feature_net_for(self.dataset, ev.feature_net, ev.inception_weights, device=device)
        heldout = heldout_images(self.dataset)[0] if self.net.num_classes else None
        real = real_features(self.net, self.dataset)
        check_kid_subset(ev.kid, ev.kid_subset_size, ev.num_samples, len(real))
        self.evaluator = Evaluator(
            self.dataset,
            self.net,
            real,
            num_samples=ev.num_samples,
            kid_subset_size=ev.kid_subset_size,
            kid=ev.kid,
            seed=cfg.train.seed,
            class_reference=class_reference(self.net, heldout),
        )
        self.scale_evaluators: dict[int, Evaluator] = {}
        self.provenance: dict[str, Any] = dict(self.evaluator.provenance)
        if self.net.accuracy is not None:
            self.provenance[names.FEATURE_NET_ACCURACY] = round(float(self.net.accuracy), 5)
        if self.warning:
            self.provenance[names.FEATURE_NET_WARNING] = self.warning

    @property
    def warning(self) -> str | None:
        """A plain sentence when the feature net is too weak for its distances to mean much, else None."""
        acc = self.net.accuracy
        if acc is None or acc >= LOW_ACCURACY:
            return None
        return (f"the feature net {self.net.name} classifies only {acc:.1%} of held-out real images correctly "
                f"(< {LOW_ACCURACY:.0%}): its distances mean little; give Inception weights (eval.inception_weights)")

    def evaluate(self, sample_fn: Callable[[int], torch.Tensor]) -> dict[str, float]:
        return self.evaluator(sample_fn)

    def score_scales(self, scales: tuple[int, ...]) -> None:
        """Also score these lower resolutions, which the generator emits too (MSG-GAN): each by its own
        evaluator, in the same feature net seen at that resolution (metrics.scaled). The headline stays at
        the data's size."""
        ev, size = self.cfg.eval, self.cfg.data.image_size
        for r in scales:
            net = ScaledNet(self.net, r, size)
            self.scale_evaluators[r] = Evaluator(self.dataset, net, real_features(net, self.dataset), num_samples=ev.num_samples,
                                                 kid_subset_size=ev.kid_subset_size, kid=ev.kid, seed=self.cfg.train.seed)

    def evaluate_scales(self, streams: dict[int, Callable[[int], torch.Tensor]]) -> dict[str, float]:
        """`<distance>_<r>px` for each lower scale (streams: resolution -> its sample_fn)."""
        return {scale_key(k, r): v for r, evaluator in self.scale_evaluators.items()
                for k, v in evaluator(streams[r]).items()}

    def worst_case(self) -> dict[str, float]:
        """What a diverged run scores, so a search ranks it last instead of crashing."""
        out = self.evaluator.worst_case()
        for r, evaluator in self.scale_evaluators.items():
            out.update({scale_key(k, r): v for k, v in evaluator.worst_case().items()})
        return out

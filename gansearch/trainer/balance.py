"""Balance strategies (BALANCE name table): the classic remedies for a D that wins too fast.

A strategy never touches the models. It answers four questions the loop asks: which learning rates,
how many D steps per G step, which target for real images, how much instance noise at this step, and
whether to run this D step at all.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from gansearch.errors import ConfigError


class Balance:
    """`none`: one D step per G step, lr_g and lr_d as given, hard labels, no noise."""

    name = "none"
    d_steps = 1
    real_target = 1.0
    reads_d_loss = False  # True only where the host must read D's loss (one sync per step)

    def __init__(self, params: Mapping[str, Any], total_steps: int) -> None:
        self.params = params
        self.total_steps = total_steps

    def learning_rates(self) -> tuple[float, float]:
        return float(self.params["lr_g"]), float(self.params["lr_d"])

    def noise_std(self, step: int) -> float:
        return 0.0

    def train_d(self, last_d_loss: float | None) -> bool:
        return True


class TTUR(Balance):
    """Heusel et al. 2017: separate time scales; D's learning rate is ttur_ratio times G's."""

    name = "ttur"

    def learning_rates(self) -> tuple[float, float]:
        lr_g = float(self.params["lr_g"])
        return lr_g, lr_g * float(self.params["ttur_ratio"])


class NCritic(Balance):
    """WGAN's schedule: n_critic D steps, each on fresh batches, per G step."""

    name = "n_critic"

    def __init__(self, params: Mapping[str, Any], total_steps: int) -> None:
        super().__init__(params, total_steps)
        self.d_steps = int(params["n_critic"])


class SkipD(Balance):
    """Skip D's update while its last loss is below d_threshold, so G can catch up."""

    name = "skip_d"
    reads_d_loss = True

    def train_d(self, last_d_loss: float | None) -> bool:
        return last_d_loss is None or last_d_loss >= float(self.params["d_threshold"])


class LabelSmoothing(Balance):
    """Salimans et al. 2016: one-sided smoothing, real target 1 - smoothing, fake target stays 0."""

    name = "label_smoothing"

    def __init__(self, params: Mapping[str, Any], total_steps: int) -> None:
        super().__init__(params, total_steps)
        self.real_target = 1.0 - float(params["smoothing"])


class InstanceNoise(Balance):
    """Sønderby et al. 2016: Gaussian noise on D's real and fake inputs, annealed linearly to 0."""

    name = "instance_noise"

    def noise_std(self, step: int) -> float:
        horizon = int(self.params["noise_anneal_steps"]) or self.total_steps
        return float(self.params["noise_std"]) * max(0.0, 1.0 - step / horizon)


BALANCE: dict[str, Callable[[Mapping[str, Any], int], Balance]] = {
    cls.name: cls for cls in (Balance, TTUR, NCritic, SkipD, LabelSmoothing, InstanceNoise)
}


def get_balance(params: Mapping[str, Any], total_steps: int) -> Balance:
    name = params["balance"]
    if name not in BALANCE:
        raise ConfigError("space.balance", "must be one of " + ", ".join(BALANCE), name)
    return BALANCE[name](params, total_steps)

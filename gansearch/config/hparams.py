"""The trainer's searchable hyperparameters: one name each, used verbatim in YAML, code, Optuna and MLflow.

Each entry says what values are legal and which balance strategy or loss it belongs to, so `when:`
conditions can be checked and a parameter that never applies can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gansearch.config.names import BALANCE, LOSSES, MODELS


@dataclass(frozen=True)
class HParam:
    kind: str  # "float" | "int" | "choice" | "bool" | "str" | "any"
    default: Any
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive unless high_open
    high_open: bool = False
    low_open: bool = False
    choices: tuple[str, ...] = ()
    used_when: tuple[str, str] | None = None  # (param, value) under which the parameter matters
    doc: str = ""

    def rule(self) -> str:
        if self.kind == "choice":
            return "must be one of " + ", ".join(map(str, self.choices))
        if self.kind == "bool":
            return "must be true or false"
        if self.kind == "str":
            return "must be a string"
        if self.kind == "any":
            return "may be any value"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.low is None and self.high is None:
            return f"must be {noun}"
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        hi_v = "inf" if self.high is None else f"{self.high:g}"
        lo_v = "-inf" if self.low is None else f"{self.low:g}"
        return f"must be {noun} in {lo}{lo_v}, {hi_v}{hi}"

    def check(self, value: Any) -> bool:
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str":
            return isinstance(value, str)
        if self.kind == "any":  # a plug-in's parameter without a default: the plug-in judges it
            return True
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            return False
        if value != value or value in (float("inf"), float("-inf")):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True


HPARAMS: dict[str, HParam] = {
    # auto: the model section's name; searched, it makes the architecture one more categorical parameter
    "model": HParam("choice", "auto", choices=MODELS, doc="G/D architecture (model.name when auto)"),
    "steps_per_resolution": HParam(
        "int", 500, 1, 1e9, used_when=("model", "progressive"), doc="trainer steps per resolution while growing"
    ),
    "fade_in": HParam(
        "float", 0.5, 0.0, 1.0, used_when=("model", "progressive"), doc="share of a resolution's steps fading it in"
    ),
    "lr_g": HParam("float", 2e-4, 0.0, 1.0, low_open=True, doc="Adam learning rate of G"),
    "lr_d": HParam("float", 2e-4, 0.0, 1.0, low_open=True, doc="Adam learning rate of D (unless ttur)"),
    "beta1": HParam("float", 0.5, 0.0, 1.0, high_open=True, doc="Adam beta1 for G and D"),
    "beta2": HParam("float", 0.999, 0.0, 1.0, high_open=True, doc="Adam beta2 for G and D"),
    "weight_decay": HParam("float", 0.0, 0.0, 1.0, doc="L2 weight decay for G and D"),
    "loss": HParam("choice", "non_saturating", choices=LOSSES, doc="adversarial loss"),
    "gp_weight": HParam("float", 10.0, 0.0, 1e4, used_when=("loss", "wgan_gp"), doc="gradient penalty"),
    "balance": HParam("choice", "none", choices=BALANCE, doc="G/D balance strategy"),
    "ttur_ratio": HParam(
        "float", 4.0, 0.0, 1e3, low_open=True, used_when=("balance", "ttur"), doc="lr_d = ttur_ratio * lr_g"
    ),
    "n_critic": HParam("int", 5, 1, 100, used_when=("balance", "n_critic"), doc="D steps per G step"),
    "d_threshold": HParam(
        "float", 0.3, 0.0, 1e3, used_when=("balance", "skip_d"), doc="skip D steps while D loss < this"
    ),
    "smoothing": HParam(
        "float", 0.1, 0.0, 0.5, used_when=("balance", "label_smoothing"), doc="real target = 1 - smoothing"
    ),
    "noise_std": HParam(
        "float", 0.1, 0.0, 10.0, used_when=("balance", "instance_noise"), doc="instance noise std at step 0"
    ),
    "noise_anneal_steps": HParam(
        "int", 0, 0, 1e9, used_when=("balance", "instance_noise"), doc="steps to anneal noise to 0 (0: all)"
    ),
    # Yazıcı et al. 2019: evaluations, grids, checkpoints' exports and `gansearch sample` use the average when on
    "ema_decay": HParam("float", 0.0, 0.0, 1.0, high_open=True, doc="G's exponential moving average decay (0: off)"),
}


def defaults() -> dict[str, Any]:
    """Every hyperparameter at its default, the values a space file doesn't mention."""
    return {name: p.default for name, p in HPARAMS.items()}

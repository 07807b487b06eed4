"""Every scalar field of the space file's `model` and `train` sections as a hyperparameter, by its dotted
name (`model.g_width`, `train.batch_size`): searched, sampled, logged and shown like `lr_g`, with `when`
conditions and importance. A trial's value replaces the section's field before anything is built.

The budget stays in trainer steps (optimizer updates): with `train.batch_size` searched, a trial at batch
128 has seen twice the images of one at 64 by the same step, and ASHA, the budget curves and "at step"
compare equal numbers of updates.
"""

from __future__ import annotations

import typing
from typing import Any, Mapping

from pydantic import BaseModel

from gansearch.config.hparams import HParam
from gansearch.config.schema import ModelConfig, SpaceFile, TrainConfig

SECTIONS: dict[str, type[BaseModel]] = {"model": ModelConfig, "train": TrainConfig}
# fields a search must not vary, and why (one line each)
FIXED: dict[str, str] = {
    "model.name": "search `model` (a categorical of architectures) instead",
    "train.device": "each trial trains on the device Ray granted it",
    "train.seed": "reruns draw fresh seeds; search.seed seeds the sampler",
    "train.steps": "it is the budget every trial is compared at",
    "train.threads": "it follows search.resources_per_trial.cpu",
}


def _hparam(name: str, field: Any, default: Any) -> HParam | None:
    ann = field.annotation
    if typing.get_origin(ann) is typing.Literal:
        return HParam("choice", default, choices=tuple(typing.get_args(ann)), doc=f"the space file's {name}")
    if ann is bool:
        return HParam("bool", default, doc=f"the space file's {name}")
    if ann in (int, float):
        low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        return HParam("int" if ann is int else "float", default, low, high, doc=f"the space file's {name}")
    return None  # strings (model.name, train.device) and optional fields


def field_hparams(cfg: SpaceFile) -> dict[str, HParam]:
    """`section.field` -> HParam for each searchable field, its default the space file's own value."""
    out: dict[str, HParam] = {}
    for section, model in SECTIONS.items():
        values = getattr(cfg, section)
        for field, info in model.model_fields.items():
            name = f"{section}.{field}"
            hp = None if name in FIXED else _hparam(name, info, getattr(values, field))
            if hp is not None:
                out[name] = hp
    return out


def is_field(name: str) -> bool:
    section, dot, field = name.partition(".")
    return bool(dot) and section in SECTIONS and field in SECTIONS[section].model_fields


def with_fields(cfg: SpaceFile, params: Mapping[str, Any]) -> SpaceFile:
    """`cfg` with every `section.field` of a trial's params put in its section (the rest untouched)."""
    updates: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if is_field(name):
            section, _, field = name.partition(".")
            updates.setdefault(section, {})[field] = value
    if not updates:
        return cfg
    return cfg.model_copy(update={s: getattr(cfg, s).model_copy(update=u) for s, u in updates.items()})

"""Checkpoints that carry their own config and load without unpickling code.

Everything in a checkpoint is a tensor, a number, a string, or a list/dict of those, so
`torch.load(weights_only=True)` reads it; a write goes to a temporary file in the same folder and is
renamed over the old one, so a crash mid-write never leaves a torn checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

import gansearch
from gansearch.config import layout
from gansearch.errors import ConfigError
from gansearch.files import atomic_open

FORMAT = 1
FILENAME = layout.CHECKPOINT
# What may differ when a run folder is trained again: everything else in the space file makes the
# continuation another experiment (other data, model, seed, batch, precision, or other metrics).
RESUMABLE_CHANGES = {"train": ("steps", "checkpoint_every", "device", "compile", "threads"),
                     "eval": ("every", "grid")}
IGNORED_SECTIONS = ("name", "description", "space", "search")  # params are compared separately


def save(path: Path, state: dict[str, Any]) -> None:
    state = {"format": FORMAT, "gansearch_version": gansearch.__version__, **state}
    with atomic_open(path) as f:
        torch.save(state, f)


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a gansearch checkpoint of format {FORMAT}")
    return state


def config_of(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (space-file dict, active params) a checkpoint was trained with."""
    return json.loads(state["config"]), json.loads(state["params"])


def data_shape_of(state: dict[str, Any]) -> tuple[int, ...] | None:
    """The data shape G was built for ((C, S, S) images, (2,) points), as the trainer recorded it; None in a
    checkpoint written before it did (and in a style-transfer one)."""
    shape = state.get("data_shape")
    return None if shape is None else tuple(int(s) for s in shape)


def check_same_run(path: Path, saved: dict[str, Any], params: dict[str, Any], current: dict[str, Any],
                   current_params: dict[str, Any]) -> None:
    """Refuse to resume `path` under another configuration: one line naming the first field that differs."""
    if params != current_params:
        raise ConfigError("--out", f"must be a new folder or hold a run of the same hyperparameters ({path} was "
                          f"trained with {params}); use another --out", current_params)
    for section, value in current.items():
        if section in IGNORED_SECTIONS:
            continue
        before = saved.get(section)
        if not isinstance(value, dict):
            continue
        for field, now in value.items():
            if field in RESUMABLE_CHANGES.get(section, ()):
                continue
            was = (before or {}).get(field)
            if was != now:
                raise ConfigError("--out", f"must be a new folder or hold a run of the same {section}.{field} "
                                  f"({path} was trained with {was!r}); use another --out", now)

"""Checkpoints that carry their own config and load without unpickling code.

Everything in a checkpoint is a tensor, a number, a string, or a list/dict of those, so
`torch.load(weights_only=True)` reads it; a write goes to a temporary file in the same folder and is
renamed over the old one, so a crash mid-write never leaves a torn checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

import gansearch
from gansearch.errors import ConfigError

FORMAT = 1
FILENAME = "checkpoint.pt"
# What may differ when a run folder is trained again: everything else in the space file makes the
# continuation another experiment (other data, model, seed, batch, precision, or other metrics).
RESUMABLE_CHANGES = {"train": ("steps", "checkpoint_every", "device", "compile", "threads"),
                     "eval": ("every", "grid")}
IGNORED_SECTIONS = ("name", "description", "space", "search")  # params are compared separately


def save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "gansearch_version": gansearch.__version__, **state}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a gansearch checkpoint of format {FORMAT}")
    return state


def config_of(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (space-file dict, active params) a checkpoint was trained with."""
    return json.loads(state["config"]), json.loads(state["params"])


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

"""Trials the study fixes before the sampler draws: Optuna's enqueued (partial) trials.

`search.stratify: [model, loss]` cycles through every combination of those categoricals' choices, so
each (model, loss) cell gets the same number of trials, give or take one, and a per-model share is not
confounded by which losses the sampler happened to draw for it. Each enqueued trial fixes only those
names; the sampler draws the rest. The mark (ENQUEUED_ATTR, an Optuna user attribute) says which trials
came from here rather than from the sampler.
"""

from __future__ import annotations

import itertools
from typing import Any

from gansearch.config import Dist, SpaceFile
from gansearch.errors import ConfigError

ENQUEUED_ATTR = "gansearch_enqueued"  # Optuna user attribute: why the trial's fixed values were fixed


def stratify_errors(cfg: SpaceFile) -> list[ConfigError]:
    """Each stratify name must be an unconditional categorical of the space (a `when` could switch it off
    for a cell, and a continuous range has no cells); PBT draws its population without Optuna's queue."""
    errs: list[ConfigError] = []
    names = cfg.search.stratify
    for i, name in enumerate(names):
        entry = cfg.space.get(name)
        if not (isinstance(entry, Dist) and entry.type == "categorical" and not entry.when):
            errs.append(ConfigError(f"search.stratify[{i}]", "must name a categorical of space without `when`",
                                    name))
    if len(set(names)) != len(names):
        errs.append(ConfigError("search.stratify", "must not repeat a name", names))
    if names and cfg.search.scheduler in ("pbt", "pb2"):
        errs.append(ConfigError("search.stratify", f"must be empty with search.scheduler: {cfg.search.scheduler} "
                                "(the population is drawn once, not from Optuna's queue)", names))
    return errs


def cells(cfg: SpaceFile) -> list[dict[str, Any]]:
    """Every combination of the stratify names' choices, in the space's order of choices."""
    names = cfg.search.stratify
    if not names:
        return []
    choices = [list(cfg.space[n].choices) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*choices)]


def planned(cfg: SpaceFile, num_trials: int) -> list[tuple[dict[str, Any], str]]:
    """(fixed params, mark) for the study's first trials, in order: the cells, cycled to num_trials."""
    grid = cells(cfg)
    if not grid:
        return []
    return [(grid[i % len(grid)], "stratum") for i in range(num_trials)]


def enqueue(study: Any, cfg: SpaceFile, num_trials: int) -> int:
    """Put the planned trials in Optuna's queue, once: a study that already has trials (a --resume, or a
    queue left by a crash) keeps the queue it has. Returns how many were enqueued."""
    if study.get_trials(deepcopy=False):
        return 0
    todo = planned(cfg, num_trials)
    for params, mark in todo:
        study.enqueue_trial(params, user_attrs={ENQUEUED_ATTR: mark}, skip_if_exists=False)
    return len(todo)

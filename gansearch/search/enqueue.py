"""Trials the study fixes before the sampler draws: Optuna's enqueued (partial) trials, and where every
trial's values came from.

`search.defaults_first` (off by default; docs/benchmarks.md says why) makes the space's defaults trial 0, so
a search is never worse than the hand-set configuration it starts from and the report can say whether the
sampler beat it.

`search.stratify: [model, loss]` cycles through every combination of those categoricals' choices, so
each (model, loss) cell gets the same number of trials, give or take one, and a per-model share is not
confounded by which losses the sampler happened to draw for it. Each enqueued trial fixes only those
names; the sampler draws the rest. The mark (ENQUEUED_ATTR, an Optuna user attribute) says which trials
came from here rather than from the sampler.

Each trial's origin (ORIGIN_ATTR in Optuna, the `gansearch.origin` tag in MLflow, `origin` in the summary)
is one of ORIGINS: `defaults`, `stratum` (stratify fixed some names, the sampler drew the rest), `startup`
(the sampler's independent draws before its model has enough finished trials: TPE and GP's
n_startup_trials, CMA-ES's, NSGA-II's first generation), `model` (drawn from the sampler's model) or
`random` (random and QMC samplers, which have no model).
"""

from __future__ import annotations

import itertools
from typing import Any

from gansearch.config import Dist, SpaceFile, fixed_params
from gansearch.errors import ConfigError

ENQUEUED_ATTR = "gansearch_enqueued"  # Optuna user attribute: why the trial's fixed values were fixed
ORIGIN_ATTR = "gansearch_origin"  # Optuna user attribute: where the trial's values came from (ORIGINS)
ORIGINS = ("defaults", "stratum", "startup", "model", "random")


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


def defaults(cfg: SpaceFile) -> dict[str, Any]:
    """The space's defaults, as Optuna params: every active searched name (constants are no params)."""
    return {k: v for k, v in fixed_params(cfg.space).items() if isinstance(cfg.space[k], Dist)}


def planned(cfg: SpaceFile, num_trials: int) -> list[tuple[dict[str, Any], str]]:
    """(fixed params, mark) for the study's first trials, in order: the defaults (search.defaults_first),
    then the stratify cells cycled to num_trials. The defaults stand for their own cell in the first
    cycle, so every cell still gets the same number of trials, give or take one."""
    grid = cells(cfg)
    first = defaults(cfg) if cfg.search.defaults_first and num_trials > 0 else None
    if first is not None and grid:
        own = {n: first[n] for n in cfg.search.stratify}
        grid = [own] + [c for c in grid if c != own]
    out: list[tuple[dict[str, Any], str]] = []
    if grid:
        out = [(grid[i % len(grid)], "stratum") for i in range(num_trials)]
    if first is not None:
        out[:1] = [(first, "defaults")]
    return out


def sampler_origin(study: Any, trial: Any) -> str:
    """`startup`, `model` or `random` for a trial the sampler drew: whether the sampler, at the moment it
    drew this trial, had finished trials enough to use its model (each sampler's own count, its own states)."""
    import optuna
    from optuna.trial import TrialState

    from gansearch.search.private_api import sampler_counts_pruned, sampler_startup

    sampler = study.sampler
    if isinstance(sampler, (optuna.samplers.RandomSampler, optuna.samplers.QMCSampler)):
        return "random"
    if isinstance(sampler, optuna.samplers.NSGAIISampler):
        return "startup" if trial.number < sampler_startup(sampler) else "model"
    states = (TrialState.COMPLETE, TrialState.PRUNED) if isinstance(sampler, optuna.samplers.TPESampler) \
        or sampler_counts_pruned(sampler) else (TrialState.COMPLETE,)
    done = len(study.get_trials(deepcopy=False, states=states))
    return "startup" if done < sampler_startup(sampler) else "model"


def origin(trial: Any) -> str:
    """Where an Optuna trial's values come from (ORIGINS), fixed the first time it is asked: a trial that
    --resume re-enqueues carries its first origin in ORIGIN_ATTR."""
    kept = trial.user_attrs.get(ORIGIN_ATTR) or trial.user_attrs.get(ENQUEUED_ATTR)
    return str(kept) if kept else sampler_origin(trial.study, trial)


def enqueue(study: Any, cfg: SpaceFile, num_trials: int) -> int:
    """Put the planned trials in Optuna's queue, once: a study that already has trials (a --resume, or a
    queue left by a crash) keeps the queue it has. Returns how many were enqueued."""
    if study.get_trials(deepcopy=False):
        return 0
    todo = planned(cfg, num_trials)
    for params, mark in todo:
        study.enqueue_trial(params, user_attrs={ENQUEUED_ATTR: mark}, skip_if_exists=False)
    return len(todo)

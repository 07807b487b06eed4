"""SCHEDULERS: name -> factory of a Ray Tune trial scheduler. Time is the trainer's `step`."""

from __future__ import annotations

from typing import Any, Callable

from gansearch.config import SpaceFile

POPULATION_SCHEDULERS = ("pbt", "pb2")  # the population schedulers: gansearch.search.population runs them, not a searcher


def grace_period(cfg: SpaceFile) -> int:
    """search.asha.grace_period, else the first evaluation."""
    return cfg.search.asha.grace_period or cfg.eval.every


def _asha(cfg: SpaceFile, metric: str, mode: str) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="step", metric=metric, mode=mode, max_t=cfg.train.steps,
                         grace_period=grace_period(cfg), reduction_factor=cfg.search.asha.reduction_factor)


def _hyperband(cfg: SpaceFile, metric: str, mode: str) -> Any:
    """Asynchronous HyperBand: ASHA over several brackets (Li et al. 2020). Tune's synchronous
    HyperBandScheduler pauses trials until a bracket fills; behind a concurrency limit smaller than the
    bracket (search.max_concurrent, or the CPUs) the bracket never fills and the study hangs (measured:
    4 trials, 2 at a time, no trial started for 15 minutes). This one never pauses a trial."""
    from ray.tune.schedulers import AsyncHyperBandScheduler

    return AsyncHyperBandScheduler(time_attr="step", metric=metric, mode=mode, max_t=cfg.train.steps,
                                   grace_period=grace_period(cfg), reduction_factor=cfg.search.asha.reduction_factor,
                                   brackets=3)


def _pbt(cfg: SpaceFile, metric: str, mode: str) -> Any:
    """PBT's and PB2's schedulers need the population and the Optuna study: gansearch.search.pbt.fit builds it."""
    raise TypeError(f"search.scheduler {cfg.search.scheduler} is run by gansearch.search.pbt.fit, not from this table")


def _none(cfg: SpaceFile, metric: str, mode: str) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


SCHEDULERS: dict[str, Callable[[SpaceFile, str, str], Any]] = {
    "asha": _asha, "hyperband": _hyperband, "pbt": _pbt, "pb2": _pbt, "none": _none,
}

"""Pass 2 of validation for `gansearch run`: every search name resolves, before Ray starts.

The SAMPLERS and SCHEDULERS tables map each name to a factory; factories import optuna/ray lazily,
so checking a plan stays cheap.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

from gansearch.config import SpaceFile
from gansearch.config.metrics import known_metrics, objectives
from gansearch.errors import ConfigError, ConfigErrors
from gansearch.search.devices import device_errors
from gansearch.search.enqueue import stratify_errors
from gansearch.search.schedulers import POPULATION_SCHEDULERS, SCHEDULERS


def _tpe(seed: int, n_obj: int, n_trials: int) -> Any:
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, n_trials // 3)),
                                      multivariate=True, group=True, constant_liar=True)


def _random(seed: int, n_obj: int, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _qmc(seed: int, n_obj: int, n_trials: int) -> Any:
    import optuna

    # scrambled: an unscrambled Sobol sequence ignores the seed (every study would draw the same points)
    return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)


def _cmaes(seed: int, n_obj: int, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _gp(seed: int, n_obj: int, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _nsga2(seed: int, n_obj: int, n_trials: int) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed)


SAMPLERS: dict[str, Callable[[int, int, int], Any]] = {
    "tpe": _tpe, "random": _random, "qmc": _qmc, "cmaes": _cmaes, "gp": _gp, "nsga2": _nsga2,
}
SINGLE_OBJECTIVE_ONLY = ("cmaes",)
NEEDS_PACKAGE = {"cmaes": "cmaes"}


CONTINUOUS = ("uniform", "loguniform")  # what PBT may multiply by 0.8/1.2 and keep inside the range


def pbt_errors(cfg: SpaceFile, n_objectives: int) -> list[ConfigError]:
    """PBT's rules: a `search.pbt` section; only continuous hyperparameters mutate; a perturbation lands
    on an evaluation (PBT compares members by their last evaluated value) before the last step."""
    from gansearch.config import Dist

    s, errs, sched = cfg.search, [], cfg.search.scheduler
    if s.pbt is None:
        return [ConfigError("search.pbt", f"must be set with search.scheduler: {sched} (perturbation_interval, mutate)",
                            None, show_value=False)]
    for i, name in enumerate(s.pbt.mutate):
        entry = cfg.space.get(name)
        if not isinstance(entry, Dist) or entry.type not in CONTINUOUS or entry.step is not None:
            kind = "not in space" if name not in cfg.space else ("a constant" if not isinstance(entry, Dist) else
                                                                 f"{entry.type}" + (" with step" if entry.step else ""))
            errs.append(ConfigError(f"search.pbt.mutate[{i}]", "must name a continuous hyperparameter of space "
                                    f"(uniform or loguniform, no step; {name} is {kind})", name))
        elif sched == "pb2" and entry.when:
            # PB2's GP models every member on every mutated name: a member without it has no value to model
            errs.append(ConfigError(f"search.pbt.mutate[{i}]", "must name a hyperparameter every member has with pb2 "
                                    f"(no `when`; {name} has when {entry.when})", name))
    if sched == "pb2" and "resample_probability" in s.pbt.model_fields_set:
        errs.append(ConfigError("search.pbt.resample_probability", "must be unset with pb2 (its GP bandit picks "
                                "every new value)", s.pbt.resample_probability))
    if len(set(s.pbt.mutate)) != len(s.pbt.mutate):
        errs.append(ConfigError("search.pbt.mutate", "must not repeat a name", s.pbt.mutate))
    every, interval = cfg.eval.every, s.pbt.perturbation_interval
    if interval % every or interval >= cfg.train.steps:
        errs.append(ConfigError("search.pbt.perturbation_interval", f"must be a multiple of eval.every ({every}) "
                                f"below train.steps ({cfg.train.steps})", interval))
    if s.num_trials < 2:
        errs.append(ConfigError("search.num_trials", f"must be >= 2 with {sched} (the population's size)", s.num_trials))
    if s.max_concurrent is not None and s.max_concurrent < s.num_trials:
        errs.append(ConfigError("search.max_concurrent", f"must be unset or >= num_trials ({s.num_trials}) with {sched} "
                                "(synchronous PBT waits for every member at each perturbation: a member past the "
                                "limit would never start; resources_per_trial sets how many train at once)",
                                s.max_concurrent))
    if n_objectives > 1:
        errs.append(ConfigError("search.scheduler", f"must not be {sched} with several objectives (PBT ranks the "
                                "population by one metric)", s.scheduler))
    if s.rerun_top_k is not None:
        errs.append(ConfigError("search.rerun_top_k", f"must be unset with search.scheduler: {sched} (a member's result "
                                "comes from a schedule and weights copied from other members: fresh seeds can't "
                                "repeat it)", s.rerun_top_k.model_dump()))
    return errs


@dataclass(frozen=True)
class Plan:
    objectives: tuple[tuple[str, str], ...]  # (metric, mode); the first drives the scheduler
    num_trials: int

    @property
    def metric(self) -> str:
        return self.objectives[0][0]

    @property
    def mode(self) -> str:
        return self.objectives[0][1]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1


def make_plan(cfg: SpaceFile, num_trials: int | None = None) -> Plan:
    """Check the `search` section against the tables; raise ConfigErrors (one line each) if wrong."""

    s = cfg.search
    errs: list[ConfigError] = []
    metrics = known_metrics(cfg)
    if s.sampler not in SAMPLERS:
        errs.append(ConfigError("search.sampler", "must be one of " + ", ".join(SAMPLERS), s.sampler))
    if s.scheduler not in SCHEDULERS:
        errs.append(ConfigError("search.scheduler", "must be one of " + ", ".join(SCHEDULERS), s.scheduler))
    given = objectives(cfg)
    where = "search.objectives" if s.objectives else "search.metric"
    for i, (m, _) in enumerate(given):
        if m not in metrics:
            path = f"{where}[{i}].metric" if s.objectives else where
            runs = cfg.data.name if cfg.task == "gan" else cfg.task
            errs.append(ConfigError(path, f"must be a metric of {runs} runs with these eval settings ("
                                    + ", ".join(metrics) + ")", m))
    if len({m for m, _ in given}) != len(given):
        errs.append(ConfigError("search.objectives", "must not repeat a metric", [m for m, _ in given]))
    if len(given) > 1 and s.sampler in SINGLE_OBJECTIVE_ONLY:
        errs.append(ConfigError("search.sampler", "must support several objectives (tpe, random, qmc, gp, nsga2)", s.sampler))
    if len(given) > 1 and s.scheduler in ("asha", "hyperband"):
        # ASHA would stop trials by the first objective alone, and Optuna's multi-objective samplers don't
        # learn from pruned trials: the other objectives would never be searched for.
        errs.append(ConfigError("search.scheduler", "must be none with several objectives (early stopping "
                                "ranks by the first objective only)", s.scheduler))
    pkg = NEEDS_PACKAGE.get(s.sampler)
    if pkg and importlib.util.find_spec(pkg) is None:
        errs.append(ConfigError("search.sampler", f"needs the Python package {pkg} (pip install {pkg})", s.sampler))
    if s.scheduler in POPULATION_SCHEDULERS and cfg.task != "gan":
        errs.append(ConfigError("search.scheduler", f"must not be {s.scheduler} for task {cfg.task} (population "
                                "training copies GAN weights between members)", s.scheduler))
    elif s.scheduler in POPULATION_SCHEDULERS:
        errs.extend(pbt_errors(cfg, len(given)))
    elif s.pbt is not None:
        errs.append(ConfigError("search.pbt", "must be set only with search.scheduler: pbt or pb2", s.scheduler))
    errs.extend(device_errors(cfg))
    errs.extend(stratify_errors(cfg))
    # search.asha may stay in a file whose scheduler is none: digits.yaml keeps the rungs measured for it
    # (bench/rank_correlation.py), so `--set search.scheduler=asha` uses those, not the first evaluation;
    # checked only where a scheduler uses it (a short `--set train.steps` run without one is fine)
    uses = s.scheduler in ("asha", "hyperband")
    if uses and s.asha.grace_period is not None and not cfg.eval.every <= s.asha.grace_period < cfg.train.steps:
        errs.append(ConfigError("search.asha.grace_period", f"must be >= eval.every ({cfg.eval.every}) and < "
                                f"train.steps ({cfg.train.steps}): a cut needs an evaluation before the end",
                                s.asha.grace_period))
    if cfg.eval.every > cfg.train.steps:
        errs.append(ConfigError("eval.every", f"must be <= train.steps ({cfg.train.steps}) for a search", cfg.eval.every))
    n = num_trials if num_trials is not None else s.num_trials
    if n < 1:
        errs.append(ConfigError("--num-trials", "must be >= 1", n))
    if errs:
        raise ConfigErrors(errs)
    return Plan(tuple(given), n)

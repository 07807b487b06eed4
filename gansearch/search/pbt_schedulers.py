"""The schedulers of `search.scheduler: pbt` and `pb2`: Ray's synchronous PBT and PB2 under the study's rules.

Kept apart from gansearch.search.population (the driver) and gansearch.search.member (what every trial
imports) because PB2 pulls in scikit-learn's GP.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Any

from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler
from ray.tune.schedulers.pb2 import PB2

from gansearch.config import Dist, SpaceFile
from gansearch.search.space import META_KEYS, TRIAL_KEY

log = logging.getLogger(__name__)
FACTORS = (0.8, 1.2)


def explore(donor: dict[str, Any], own: dict[str, Any], cfg: SpaceFile, rng: random.Random) -> tuple[dict[str, Any], dict[str, str]]:
    """The donor's hyperparameters, each name of `mutate` it has perturbed; the member keeps its own key."""
    p = cfg.search.pbt
    assert p is not None
    new = donor_config(donor, own)
    ops: dict[str, str] = {}
    for name in p.mutate:
        if name not in new:
            continue  # a conditional parameter the donor's configuration does not use
        d = cfg.space[name]
        assert isinstance(d, Dist) and d.low is not None and d.high is not None
        lo, hi = float(d.low), float(d.high)
        if rng.random() < p.resample_probability:
            to, back = sampled_scale(d)
            u = rng.random()
            new[name] = back(to(lo) + u * (to(hi) - to(lo)))
            ops[name] = "resample"
        else:
            f = rng.choice(FACTORS)
            new[name] = min(hi, max(lo, float(donor[name]) * f))
            ops[name] = f"* {f}"
    return new, ops


def donor_config(donor: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """What an exploiting member continues with: the donor's configuration under its own trial key."""
    return {**{k: v for k, v in donor.items() if k not in META_KEYS}, **{k: v for k, v in own.items() if k in META_KEYS}}


def changes(own: dict[str, Any], donor: dict[str, Any], new: dict[str, Any], cfg: SpaceFile) -> str:
    """What an exploit put in force: each mutated name from the donor's value, then every other name whose
    value differs from the member's own before (copied with the donor's configuration)."""
    assert cfg.search.pbt is not None
    mutate = cfg.search.pbt.mutate
    out = [f"{n} {donor[n]:.3g}->{new[n]:.3g}" for n in mutate if n in donor]
    out += [f"{n} {_fmt(own.get(n))}->{_fmt(new.get(n))} (copied)" for n in cfg.space
            if n not in mutate and own.get(n) != new.get(n)]
    return " ".join(out)


def _fmt(v: Any) -> str:
    return "unset" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)


def sampled_scale(d: Dist) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """(to, from) the scale a name is sampled on: log for loguniform (or log: true), linear otherwise."""
    if d.type == "loguniform" or d.log:
        return math.log, math.exp
    return float, float


class OptunaMembers:
    """Tells the study's Optuna trials what their initial configurations did (see the module's docstring)."""

    def __init__(self, study: Any, storage: Any, members: list[dict[str, Any]], metric: str, max_step: int) -> None:
        import optuna

        self.study, self.metric, self.max_step = study, metric, max_step
        trials = {t.number: t for t in study.get_trials(deepcopy=False)}
        study_id = storage.get_study_id_from_name(study.study_name)
        self.open = {m["key"]: optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, m["number"]))
                     for m in members if trials[m["number"]].state == optuna.trial.TrialState.RUNNING}

    def report(self, key: str, result: dict[str, Any]) -> None:
        value = result.get(self.metric)
        if key in self.open and value is not None and math.isfinite(value) and not result.get("diverged"):
            try:
                self.open[key].report(float(value), int(result["step"]))
            except Exception as e:  # noqa: BLE001 - a step reported before a resume
                log.debug("intermediate value not kept: %s", e)

    def tell(self, key: str, result: dict[str, Any] | None, error: bool = False, exploited: bool = False) -> None:
        import optuna

        trial = self.open.pop(key, None)
        if trial is None:
            return
        state, value = optuna.trial.TrialState.PRUNED, None
        if error or not result or result.get("diverged") or result.get(self.metric) is None:
            state = optuna.trial.TrialState.FAIL
        elif not exploited and int(result.get("step", 0)) >= self.max_step:
            state, value = optuna.trial.TrialState.COMPLETE, float(result[self.metric])
        try:
            self.study.tell(trial, value, state=state)
        except Exception as e:  # noqa: BLE001
            log.warning("optuna tell failed for %s: %s", key, e)


class _StudyRules:
    """The study's rules on top of Ray's synchronous PBT or PB2: the member keeps its key, the donor is drawn
    from search.seed, no perturbation at the last step or of a diverged member, Optuna told at each exploit,
    a resumed population perturbs on the same multiples of the interval as before the crash (its donor and
    mutation streams start again from the seed: a resumed study is not the uninterrupted one)."""

    _cfg: SpaceFile
    _trial_state: dict[Any, Any]
    _perturbation_interval: float

    def _study_setup(self, cfg: SpaceFile, optuna_members: OptunaMembers, start_steps: dict[str, int]) -> None:
        for name in ("ray.tune.schedulers.pbt", "ray.tune.schedulers.pb2"):
            logging.getLogger(name).setLevel(logging.WARNING)  # we say what changed, they can't
        self._cfg, self._optuna, self._max_step = cfg, optuna_members, cfg.train.steps
        self._rng = random.Random(cfg.search.seed)  # the mutations
        self._donors = random.Random(f"donors-{cfg.search.seed}")  # the donor choice, a stream of its own
        self._start = start_steps
        assert cfg.search.pbt is not None
        interval = cfg.search.pbt.perturbation_interval
        self._next_perturbation_sync = min((interval * (s // interval + 1) for s in start_steps.values()), default=interval)

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_add(tune_controller, trial)  # type: ignore[misc]
        start = self._start.get(str(trial.config[TRIAL_KEY]), 0)
        interval = self._perturbation_interval
        state = self._trial_state[trial]
        state.last_perturbation_time = interval * (start // interval)
        state.last_train_time = start

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        self._optuna.report(str(trial.config[TRIAL_KEY]), result)
        if result.get("diverged") or int(result.get("step", 0)) >= self._max_step:
            return TrialScheduler.CONTINUE  # it ends now: nothing to copy into it, nothing to wait for
        return super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self._optuna.tell(str(trial.config[TRIAL_KEY]), result or trial.last_result)
        super().on_trial_complete(tune_controller, trial, result)  # type: ignore[misc]

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._optuna.tell(str(trial.config[TRIAL_KEY]), None, error=True)
        super().on_trial_error(tune_controller, trial)  # type: ignore[misc]

    def _checkpoint_or_exploit(self, trial: Any, tune_controller: Any, upper_quantile: list[Any],
                               lower_quantile: list[Any]) -> None:
        """Ray picks a lower-quantile member's donor with the unseeded global `random`: pick it here from the
        study's seed instead (same seed, same donors), and hand Ray that one as the only candidate."""
        if trial in lower_quantile and trial not in upper_quantile and upper_quantile:
            upper_quantile = [self._donors.choice(upper_quantile)]
        super()._checkpoint_or_exploit(trial, tune_controller, upper_quantile, lower_quantile)  # type: ignore[misc]

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        key, step = str(trial.config[TRIAL_KEY]), self._trial_state[trial].last_train_time
        self._optuna.tell(key, self._trial_state[trial].last_result, exploited=True)
        own, donor = dict(trial.config), trial_to_clone.config
        super()._exploit(tune_controller, trial, trial_to_clone)  # type: ignore[misc]
        print(f"pbt: {key} continues from {donor[TRIAL_KEY]}'s checkpoint at step {step}: "
              f"{changes(own, donor, trial.config, self._cfg)}", flush=True)


class StudyPBT(_StudyRules, PopulationBasedTraining):
    """`pbt`: Ray's synchronous PBT; mutations x0.8/x1.2 or a resample, inside the range, seeded."""

    def __init__(self, cfg: SpaceFile, metric: str, mode: str, optuna_members: OptunaMembers,
                 start_steps: dict[str, int]) -> None:
        p = cfg.search.pbt
        assert p is not None
        PopulationBasedTraining.__init__(
            self, time_attr="step", metric=metric, mode=mode, perturbation_interval=p.perturbation_interval,
            quantile_fraction=p.quantile_fraction, resample_probability=p.resample_probability,
            hyperparam_mutations={}, custom_explore_fn=lambda c: c, log_config=False, synch=True)
        self._study_setup(cfg, optuna_members, start_steps)

    def _get_new_config(self, trial: Any, trial_to_clone: Any) -> tuple[dict[str, Any], dict[str, str]]:
        return explore(trial_to_clone.config, trial.config, self._cfg, self._rng)


class StudyPB2(_StudyRules, PB2):
    """`pb2` (Parker-Holder et al. 2020): Ray's PB2, whose GP bandit (time-varying kernel, UCB) models the
    change in the metric per step against the time, the metric before and the mutated names, and picks
    the new values inside the range. Two departures, both so it sees the space as it is sampled: a
    loguniform name is modelled on its log, and the member keeps its own key. PB2 has no data at the first
    perturbation (a change needs two evaluations of one member), so there it copies the donor's values."""

    def __init__(self, cfg: SpaceFile, metric: str, mode: str, optuna_members: OptunaMembers,
                 start_steps: dict[str, int]) -> None:
        import numpy as np

        p = cfg.search.pbt
        assert p is not None
        self._dists = {n: cfg.space[n] for n in p.mutate}
        bounds = {}
        for n, d in self._dists.items():
            assert isinstance(d, Dist) and d.low is not None and d.high is not None
            to, _ = sampled_scale(d)
            bounds[n] = [to(float(d.low)), to(float(d.high))]
        np.random.seed(cfg.search.seed)  # PB2's acquisition optimiser starts from numpy's global random draws
        PB2.__init__(self, time_attr="step", metric=metric, mode=mode, perturbation_interval=p.perturbation_interval,
                     hyperparam_bounds=bounds, quantile_fraction=p.quantile_fraction, log_config=False, synch=True)
        self._study_setup(cfg, optuna_members, start_steps)

    def _gp_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, **{n: sampled_scale(d)[0](float(config[n])) for n, d in self._dists.items()}}  # type: ignore[arg-type]

    def _save_trial_state(self, state: Any, time: int, result: dict[str, Any], trial: Any) -> Any:
        import pandas as pd

        score = PopulationBasedTraining._save_trial_state(self, state, time, result, trial)
        if score is None or not math.isfinite(score):
            return score  # a member with no finite value has nothing for the GP (PBT ranks it out anyway)
        row = {"Trial": str(trial), "Time": result[self._time_attr],
               **{n: v for n, v in self._gp_config(trial.config).items() if n in self._dists}, "Reward": score}
        self.data = pd.concat([self.data, pd.DataFrame([row])]).reset_index(drop=True)
        return score

    def _get_new_config(self, trial: Any, trial_to_clone: Any) -> tuple[dict[str, Any], dict[str, str]]:
        class _Seen:  # PB2's explore reads the donor's config: hand it the GP's scale
            def __init__(self, t: Any, config: dict[str, Any]) -> None:
                self._t, self.config = t, config

            def __str__(self) -> str:
                return str(self._t)

        gp_new, _ = PB2._get_new_config(self, trial, _Seen(trial_to_clone, self._gp_config(trial_to_clone.config)))
        new = donor_config(trial_to_clone.config, trial.config)
        for n, d in self._dists.items():
            assert isinstance(d, Dist) and d.low is not None and d.high is not None
            value = sampled_scale(d)[1](float(gp_new[n]))
            new[n] = min(float(d.high), max(float(d.low), value))
        return new, {n: "pb2" for n in self._dists}

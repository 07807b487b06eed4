"""Ray's OptunaSearch, told the truth about trials the scheduler cut short.

Ray hands a trial stopped by ASHA/Hyperband to Optuna as COMPLETE with its last (half-trained) value,
so the sampler would learn that a 1/9-budget FID is a final FID. Here each evaluation is reported to
Optuna as an intermediate value at its trainer `step`, and a trial that ends before `train.steps`
(and did not diverge) is told as PRUNED: Optuna's TPE then ranks it by the step it reached and its
last intermediate value, below every complete trial.

A diverged trial is told FAIL, as Optuna itself treats an objective that returns NaN: a stand-in value
(±1e30) would dominate the GP sampler's standardisation and fANOVA's variance, so every importance would
explain divergence only. Its MLflow status stays `diverged`, and the report counts it as such. Trials
that raised are FAIL too.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ray.tune.search.optuna import OptunaSearch

from gansearch.search.private_api import searcher_study, searcher_trial

log = logging.getLogger(__name__)


def make_searcher(cfg: Any, plan: Any, storage: Any, study_name: str, seed: int) -> StudySearch:
    """The study's searcher: the space as one define-by-run function, `search.sampler` (plan.SAMPLERS)
    seeded with `seed`, the study in `storage` under `study_name`."""
    from gansearch.search.plan import SAMPLERS
    from gansearch.search.space import define_by_run

    metrics = [m for m, _ in plan.objectives]
    modes = [m for _, m in plan.objectives]
    return StudySearch(
        space=define_by_run(cfg.space),
        metric=metrics if plan.multi else plan.metric, mode=modes if plan.multi else plan.mode,
        sampler=SAMPLERS[cfg.search.sampler](seed, len(metrics), plan.num_trials),
        study_name=study_name, storage=storage, max_step=cfg.train.steps,
    )


class StudySearch(OptunaSearch):
    def __init__(self, *args: Any, max_step: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_step = max_step
        self._told: set[str] = set()  # trials whose end Optuna was told
        self._last: dict[str, dict] = {}  # each trial's last result

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._last[trial_id] = result
        if isinstance(self.metric, list) or trial_id in self._told:
            return  # Optuna keeps no intermediate values for several objectives
        value = result.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        ot_trial = searcher_trial(self, trial_id)
        if ot_trial is None:
            return
        try:
            ot_trial.report(float(value), int(result.get("step", 0)))
        except Exception as e:  # a step reported twice after a resume
            log.debug("intermediate value not kept: %s", e)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        import optuna

        ot_trial = searcher_trial(self, trial_id)
        if trial_id in self._told or ot_trial is None:
            return
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        # Tune completes a trial that HyperBand paused and later ran to its end with no result: its last one is it
        result = result or self._last.pop(trial_id, None)
        state, values = optuna.trial.TrialState.COMPLETE, None
        if error or not result or result.get("diverged") or any(result.get(m) is None for m in metrics):
            state = optuna.trial.TrialState.FAIL
        elif result.get("step", 0) >= self._max_step:
            values = [float(result[m]) for m in metrics]
        else:
            state = optuna.trial.TrialState.PRUNED
        try:
            searcher_study(self).tell(ot_trial, values if values is None or len(values) > 1 else values[0], state=state)
        except Exception as e:
            log.warning("optuna tell failed for %s: %s", trial_id, e)
        self._told.add(trial_id)

    # The study's state lives in the Optuna journal of the study folder (and --resume reads it there);
    # Tune's searcher snapshot would pickle the define-by-run closure and the storage, so it keeps a note.
    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as f:
            f.write("gansearch: the searcher's state is the Optuna journal in the study folder\n")

    def restore(self, checkpoint_path: str) -> None:
        return None

"""Ray's OptunaSearch, told the truth about trials the scheduler cut short.

Ray hands a trial stopped by ASHA/Hyperband to Optuna as COMPLETE with its last (half-trained) value,
so the sampler would learn that a 1/9-budget FID is a final FID. Here each evaluation is reported to
Optuna as an intermediate value at its trainer `step`, and a trial that ends before `train.steps`
(and did not diverge) is told as PRUNED: Optuna's TPE then ranks it by the step it reached and its
last intermediate value, below every complete trial. Diverged trials are COMPLETE with the worst value
(they are a real, bad outcome); trials that raised are FAIL.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ray.tune.search.optuna import OptunaSearch

log = logging.getLogger(__name__)


class StudySearch(OptunaSearch):
    def __init__(self, *args: Any, max_step: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_step = max_step

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if isinstance(self.metric, list) or trial_id in self._completed_trials:
            return  # Optuna keeps no intermediate values for several objectives
        value = result.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        try:
            self._ot_trials[trial_id].report(float(value), int(result.get("step", 0)))
        except Exception as e:  # a step reported twice after a resume
            log.debug("intermediate value not kept: %s", e)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        import optuna

        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        ot_trial = self._ot_trials[trial_id]
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        state, values = optuna.trial.TrialState.COMPLETE, None
        if error or not result or any(result.get(m) is None for m in metrics):
            state = optuna.trial.TrialState.FAIL
        elif result.get("diverged") or result.get("step", 0) >= self._max_step:
            values = [float(result[m]) for m in metrics]
        else:
            state = optuna.trial.TrialState.PRUNED
        try:
            self._ot_study.tell(ot_trial, values if values is None or len(values) > 1 else values[0], state=state)
        except Exception as e:
            log.warning("optuna tell failed for %s: %s", trial_id, e)
        self._completed_trials.add(trial_id)

    # The study's state lives in the Optuna journal of the study folder (and --resume reads it there);
    # Tune's searcher snapshot would pickle the define-by-run closure and the storage, so it keeps a note.
    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as f:
            f.write("gansearch: the searcher's state is the Optuna journal in the study folder\n")

    def restore(self, checkpoint_path: str) -> None:
        return None

"""Driver side of a study: a live progress line and each trial's final status in MLflow."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from gansearch.config import layout
from gansearch.config.metrics import rank_key
from gansearch.search.metrics_export import StudyMetrics
from gansearch.search.space import TRIAL_KEY
from gansearch.tracking.runs import close_trial_run

CLOSE_WAIT_S = 10.0


def final_status(last: dict[str, Any] | None, max_step: int, error: bool) -> str:
    if error:
        return "failed"
    if not last:
        return "stopped-early"
    if last.get("diverged"):
        return "diverged"
    return "completed" if last.get("step", 0) >= max_step else "stopped-early"


class StudyCallback(Callback):
    """Counts trials by status, keeps the best trial so far, prints a table line, closes MLflow child runs,
    and exports the counts and the best value as Prometheus gauges (`study` labels them; default: the
    experiment id). A trial's value is its latest evaluation, as in the summary and for Optuna: a trial
    that was once better and then got worse no longer holds "best"."""

    def __init__(self, *, total: int, done_before: int, max_step: int, metric: str, mode: str,
                 tracking_uri: str, experiment_id: str, parent_run_id: str,
                 every_s: float = 10.0, study: str | None = None, study_dir: str | None = None) -> None:
        self.total, self.max_step, self.metric, self.mode = total, max_step, metric, mode
        self.uri, self.exp, self.parent = tracking_uri, experiment_id, parent_run_id
        self.every_s = every_s  # no stream kept: Tune pickles its callbacks
        self.counts = {"completed": 0, "stopped-early": 0, "diverged": 0, "failed": 0}
        self.done_before = done_before
        self.best: tuple[float, str] | None = None
        self.values: dict[str, float] = {}  # each trial's latest value, by key
        self.t0 = time.monotonic()
        self.last_print = 0.0
        self.running: set[str] = set()
        self.statuses: dict[str, str] = {}
        self.metrics = StudyMetrics(study or experiment_id, metric)
        self.study_dir = study_dir  # trials/<key>/ holds each trial's buffer of calls a down server missed

    def _update_best(self) -> None:
        self.best = min(((v, k) for k, v in self.values.items()), key=lambda vk: rank_key(*vk, self.mode), default=None)
        if self.best is not None:
            self.metrics.best(self.best[0])

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.trial_id)
        self.metrics.trials(self.counts, len(self.running))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        v = result.get(self.metric)
        if v is not None:
            self.values[str(trial.config.get(TRIAL_KEY))] = float(v)
            self._update_best()
        if time.monotonic() - self.last_print >= self.every_s:
            self.print_line()

    def _finish(self, trial: Any, error: bool) -> None:
        self.running.discard(trial.trial_id)
        status = final_status(trial.last_result, self.max_step, error)
        self.counts[status] += 1
        key = str(trial.config.get(TRIAL_KEY))
        self.statuses[key] = status
        if status in ("failed", "diverged") and self.values.pop(key, None) is not None:
            self._update_best()  # no value, as in the summary
        self.metrics.trials(self.counts, len(self.running))
        try:
            # A short wait: this runs inside Tune's event loop. A server still down gets the close
            # buffered in the trial's folder, replayed at the end of the study or by --resume.
            trial_dir = Path(self.study_dir) / layout.TRIALS / key if self.study_dir else None
            close_trial_run(self.uri, self.exp, self.parent, key, status, trial_dir=trial_dir,
                            timeout_s=CLOSE_WAIT_S if trial_dir else None)
        except Exception as e:  # the study goes on; the run keeps status "running"
            print(f"warning: could not close the MLflow run of {key}: {e}", file=sys.stdout)
        if error:  # trials run with log_to_driver=False: say where Tune wrote the exception
            where = getattr(trial, "error_file", None) or getattr(trial, "local_path", None) or "the study's tune/ folder"
            print(f"{key} failed: traceback in {where}", file=sys.stdout, flush=True)
        self.print_line()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, error=True)

    def print_line(self) -> None:
        self.last_print = time.monotonic()
        done = sum(self.counts.values())
        elapsed = time.monotonic() - self.t0
        left = self.total - self.done_before - done
        eta = f"{elapsed / done * left:5.0f}s" if done else "    ?"
        best = f"{self.best[0]:.4g} ({self.best[1]})" if self.best else "-"
        c = self.counts
        print(
            f"[{elapsed:6.0f}s] trials {self.done_before + done}/{self.total} | running {len(self.running)} "
            f"completed {c['completed']} stopped {c['stopped-early']} diverged {c['diverged']} "
            f"failed {c['failed']} | best {self.metric} {best} | ETA {eta}",
            file=sys.stdout, flush=True,
        )

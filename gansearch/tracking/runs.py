"""Talking to the tracking store: one parent run per study, one nested child run per trial.

Everything goes through `MlflowClient` (no fluent global state, so reused Ray actors can't leak a run)
and metrics go in one `log_batch` per evaluation: a call per metric costs ~44 ms over HTTP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

from gansearch.tracking import conventions as cv

_MAX_BATCH = 1000  # MLflow's limit of metrics per log_batch (params: 100)


def client(uri: str):  # -> MlflowClient
    cv.disable_telemetry()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def ensure_experiment(uri: str, name: str, artifact_location: str | None) -> str:
    c = client(uri)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return c.create_experiment(name, artifact_location=artifact_location,
                                   tags={"mlflow.experimentKind": "custom_model_development"})
    except Exception:  # created concurrently
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _params(values: Mapping[str, Any]) -> list:
    from mlflow.entities import Param

    return [Param(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in values.items()]


def _tags(values: Mapping[str, Any]) -> list:
    from mlflow.entities import RunTag

    return [RunTag(k, str(v)) for k, v in values.items()]


def log_batch(c: Any, run_id: str, metrics: Mapping[str, float] = {}, step: int = 0,
              params: Mapping[str, Any] = {}, tags: Mapping[str, Any] = {}) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    ms = [Metric(k, float(v), now, int(step)) for k, v in metrics.items()]
    ps = _params(params)
    ts = _tags(tags)
    for i in range(0, max(len(ms), 1), _MAX_BATCH):
        chunk = ms[i : i + _MAX_BATCH]
        c.log_batch(run_id, metrics=chunk, params=ps[:100] if i == 0 else [], tags=ts if i == 0 else [])
    for i in range(100, len(ps), 100):
        c.log_batch(run_id, params=ps[i : i + 100])


# ---- the study's parent run ------------------------------------------------------------------------
def start_study_run(uri: str, experiment_id: str, study: str, settings: Mapping[str, Any],
                    space_file: Path | None, run_id: str | None = None) -> str:
    """Create the parent run (or reopen `run_id` on --resume) and record the space file and settings."""
    c = client(uri)
    if run_id is not None:
        c.update_run(run_id, status="RUNNING")
        return run_id
    run = c.create_run(experiment_id, run_name=study, tags={cv.TAG_KIND: "study", cv.TAG_STUDY: study})
    log_batch(c, run.info.run_id, params=settings)
    if space_file is not None:
        c.log_artifact(run.info.run_id, str(space_file))
    return run.info.run_id


def finish_study_run(uri: str, run_id: str, summary: Mapping[str, Any], best: Mapping[str, Any] | None) -> None:
    c = client(uri)
    metrics = {k: cv.finite(float(v)) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    tags = {f"best.{k}": v for k, v in (best or {}).items() if not isinstance(v, (dict, list))}
    log_batch(c, run_id, metrics=metrics, tags=tags)
    c.log_dict(run_id, {"summary": dict(summary), "best": dict(best or {})}, "summary.json")
    c.set_terminated(run_id, "FINISHED")


# ---- one trial's child run -------------------------------------------------------------------------
def find_trial_run(c: Any, experiment_id: str, parent_id: str, key: str) -> str | None:
    runs = c.search_runs(
        [experiment_id],
        filter_string=f"tags.`{cv.TAG_PARENT}` = '{parent_id}' and tags.`{cv.TAG_TRIAL_KEY}` = '{key}'",
        max_results=2,
    )
    return runs[0].info.run_id if runs else None


class TrialRun:
    """A trial's child run, created once and re-attached (same run) when the trial resumes."""

    def __init__(self, uri: str, experiment_id: str, parent_id: str, key: str, params: Mapping[str, Any]) -> None:
        self.c = client(uri)
        self.key = key
        self.best: float | None = None
        found = find_trial_run(self.c, experiment_id, parent_id, key)
        self.resumed = found is not None
        if found is None:
            tags = {cv.TAG_PARENT: parent_id, cv.TAG_KIND: "trial", cv.TAG_TRIAL_KEY: key,
                    cv.TAG_STATUS: "running", **cv.trial_tags(params)}
            run = self.c.create_run(experiment_id, run_name=cv.trial_run_name(key), tags=tags)
            self.run_id = run.info.run_id
            log_batch(self.c, self.run_id, params=params)
            self.last_step = -1
        else:
            self.run_id = found
            self.c.update_run(found, status="RUNNING")
            hist = self.c.get_metric_history(found, "diverged")  # every record carries `diverged`
            self.last_step = max((m.step for m in hist), default=-1)

    def log_eval(self, record: Mapping[str, Any], run_dir: Path) -> bool:
        """Metrics of one evaluation (one batch) and its sample grid; False if this step was logged already."""
        step = int(record["step"])
        if step <= self.last_step:
            return False  # redone after a resume: logged before the interruption
        tags = cv.record_tags(record) if self.last_step < 0 else {}
        log_batch(self.c, self.run_id, metrics=cv.record_metrics(record), step=step, tags=tags)
        grid = record.get("grid")
        if grid and (run_dir / grid).exists():
            self.c.log_artifact(self.run_id, str(run_dir / grid), "samples")
        self.last_step = step
        return True

    def log_checkpoint_if_best(self, value: float, mode: str, checkpoint: Path | None) -> None:
        better = self.best is None or (value < self.best if mode == "min" else value > self.best)
        if better:
            self.best = value
            if checkpoint is not None and checkpoint.exists():
                self.c.log_artifact(self.run_id, str(checkpoint), "best_checkpoint")

    def set_status(self, status: str) -> None:
        self.c.set_tag(self.run_id, cv.TAG_STATUS, status)


def close_trial_run(uri: str, experiment_id: str, parent_id: str, key: str, status: str,
                    worst: Mapping[str, float] | None = None) -> str | None:
    """Driver side: final status tag (and worst-case metrics for failures); end the run."""
    c = client(uri)
    run_id = find_trial_run(c, experiment_id, parent_id, key)
    if run_id is None:
        return None
    if worst:
        log_batch(c, run_id, metrics=worst, step=0)
    c.set_tag(run_id, cv.TAG_STATUS, status)
    c.set_terminated(run_id, "FAILED" if status == "failed" else "KILLED" if status == "interrupted" else "FINISHED")
    return run_id


def close_if_left_open(uri: str, experiment_id: str, parent_id: str, key: str, outcome: str) -> str | None:
    """--resume: close a finished trial's run that a crash left open (between telling the sampler and
    closing the run). `outcome` is the sampler's verdict: complete, pruned or fail. Returns the status set."""
    c = client(uri)
    run_id = find_trial_run(c, experiment_id, parent_id, key)
    if run_id is None or c.get_run(run_id).data.tags.get(cv.TAG_STATUS) != "running":
        return None
    if outcome == "pruned":
        status = "stopped-early"
    elif outcome == "fail":
        status = "failed"
    else:
        hist = c.get_metric_history(run_id, "diverged")
        status = "diverged" if hist and max(hist, key=lambda m: m.step).value else "completed"
    close_trial_run(uri, experiment_id, parent_id, key, status)
    return status

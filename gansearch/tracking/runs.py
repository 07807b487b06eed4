"""Talking to the tracking store: one parent run per study, one nested child run per trial.

Everything goes through `MlflowClient` (no fluent global state, so reused Ray actors can't leak a run)
and metrics go in one `log_batch` per evaluation: a call per metric costs ~44 ms over HTTP. A trial's
calls go through a `CallBuffer` in its folder, so a tracking server that is down doesn't stop training.
Just over 300 lines: the study's parent run and a trial's child run share the batching, retry and
close rules, which a split would write twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from gansearch.config import layout
from gansearch.config.metrics import BEST_SUFFIX
from gansearch.tracking import conventions as cv
from gansearch.tracking.buffer import (
    BUFFER,
    OPS,
    CallBuffer,
    send_batch,
    short_http_retries,
    unreachable,
)

T = TypeVar("T")
WAIT_ENV = "GANSEARCH_TRACKING_WAIT_S"  # how long a trial start / run close waits for a down server
WAIT_S = 120.0


def client(uri: str):  # -> MlflowClient
    cv.disable_telemetry()
    if uri.startswith(("http://", "https://")):
        short_http_retries()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def wait_s() -> float:
    return float(os.environ.get(WAIT_ENV, WAIT_S))


def with_retries(fn: Callable[[], T], timeout_s: float) -> T:
    """`fn()`, retried with backoff (1, 2, 4 .. 15 s) while the server is unreachable, for up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    wait = 1.0
    while True:
        try:
            return fn()
        except Exception as e:
            left = deadline - time.monotonic()
            if not unreachable(e) or left <= 0:
                raise
        time.sleep(min(wait, left))
        wait = min(wait * 2, 15.0)


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


def ensure_study_experiment(uri: str, name: str | None, study_dir: Path, artifact_location: str | None) -> tuple[str, str]:
    """(name, id) of a new study's experiment. `name` (--experiment) is taken as given; the default,
    `gansearch:<folder name>`, is made unique per study folder: if it already belongs to another folder
    (two `studies/digits` on one server), a short hash of this folder's path is appended."""
    if name is not None:
        return name, ensure_experiment(uri, name, artifact_location)
    folder = str(Path(study_dir).resolve())
    name = cv.experiment_name(study_dir)
    exp = client(uri).get_experiment_by_name(name)
    if exp is not None and exp.tags.get(cv.TAG_STUDY_DIR) != folder:
        name = f"{name}-{hashlib.sha1(folder.encode()).hexdigest()[:8]}"
    exp_id = ensure_experiment(uri, name, artifact_location)
    client(uri).set_experiment_tag(exp_id, cv.TAG_STUDY_DIR, folder)
    return name, exp_id


def batch_args(run_id: str, metrics: Mapping[str, float] = {}, step: int = 0, params: Mapping[str, Any] = {},
               tags: Mapping[str, Any] = {}) -> dict[str, Any]:
    """A log_batch as plain JSON (what the buffer keeps); the timestamp is fixed now, so a replay is the same row."""
    now = int(time.time() * 1000)
    return {"run_id": run_id,
            "metrics": [[k, float(v), now, int(step)] for k, v in metrics.items()],
            "params": [[k, json.dumps(v) if isinstance(v, (dict, list)) else str(v)] for k, v in params.items()],
            "tags": [[k, str(v)] for k, v in tags.items()]}


def log_batch(c: Any, run_id: str, metrics: Mapping[str, float] = {}, step: int = 0,
              params: Mapping[str, Any] = {}, tags: Mapping[str, Any] = {}) -> None:
    a = batch_args(run_id, metrics, step, params, tags)
    send_batch(c, run_id, a["metrics"], a["params"], a["tags"])


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
    """A trial's child run, created once and re-attached (same run) when the trial resumes.

    With `trial_dir`, every call after the start goes through the trial's CallBuffer: a down server
    costs the trial nothing but a file. The start itself (find or create the run) needs the server: it
    is retried for up to `wait_s()` (GANSEARCH_TRACKING_WAIT_S, 120 s), then raises, so Tune's
    `max_failures` restarts the trial later from its checkpoint.
    """

    def __init__(self, uri: str, experiment_id: str, parent_id: str, key: str, params: Mapping[str, Any],
                 trial_dir: Path | None = None, task: str = "gan") -> None:
        self.task = task  # the space file's `task`: which tags describe the trial (conventions.trial_tags)
        self.c = client(uri)
        self.key = key
        self.best: float | None = None
        self.buffer = CallBuffer(trial_dir, self.c, close_ops(experiment_id, parent_id)) if trial_dir else None
        with_retries(lambda: self._attach(experiment_id, parent_id, params), wait_s())

    def _attach(self, experiment_id: str, parent_id: str, params: Mapping[str, Any]) -> None:
        if self.buffer is not None and not self.buffer.flush(force=True):
            raise ConnectionError("the tracking server is unreachable")  # what is pending goes first
        found = find_trial_run(self.c, experiment_id, parent_id, self.key)
        self.resumed = found is not None
        if found is None:
            tags = {cv.TAG_PARENT: parent_id, cv.TAG_KIND: "trial", cv.TAG_TRIAL_KEY: self.key,
                    cv.TAG_STATUS: "running", **cv.trial_tags(params, self.task)}
            run = self.c.create_run(experiment_id, run_name=cv.trial_run_name(self.key), tags=tags)
            self.run_id = run.info.run_id
            self.last_step = -1
            self._call("log_batch", **batch_args(self.run_id, params=params))
        else:
            self.run_id = found
            self.c.update_run(found, status="RUNNING")
            # a run closed before the crash but never told to the sampler runs again: it is running, and a
            # second crash must leave it for --resume to close (close_if_left_open)
            self.c.set_tag(found, cv.TAG_STATUS, "running")
            hist = self.c.get_metric_history(found, "diverged")  # every record carries `diverged`
            self.last_step = max((m.step for m in hist), default=-1)

    def _call(self, op: str, **args: Any) -> None:
        if self.buffer is not None:
            self.buffer.call(op, **args)
        else:
            OPS[op](self.c, args)

    def log_eval(self, record: Mapping[str, Any], run_dir: Path) -> bool:
        """Metrics of one evaluation (one batch) and its sample grid; False if this step was logged already."""
        step = int(record["step"])
        if step <= self.last_step:
            return False  # redone after a resume: logged before the interruption
        tags = cv.record_tags(record) if self.last_step < 0 else {}
        self._call("log_batch", **batch_args(self.run_id, cv.record_metrics(record), step, tags=tags))
        for grid in [record.get("grid"), *record.get("scale_grids", [])]:  # scale_grids: MSG-GAN's lower scales
            if grid and (run_dir / grid).exists():
                self._call("log_artifact", run_id=self.run_id, path=str(run_dir / grid), artifact_path=layout.SAMPLES)
        self.last_step = step
        return True

    def restore_best(self, metric: str, mode: str) -> None:
        """A resumed run's value so far of a `<m>_best` metric, so an evaluation after the resume that does
        not improve it keeps the checkpoint where it was reached (best effort: with the server down, the
        next evaluation uploads again)."""
        try:
            hist = [m.value for m in self.c.get_metric_history(self.run_id, metric) if m.step <= self.last_step]
        except Exception:  # noqa: BLE001 - unreachable; see above
            return
        finite = [v for v in hist if abs(v) < cv.WORST]
        if finite:
            self.best = min(finite) if mode == "min" else max(finite)

    def log_value_checkpoint(self, metric: str, value: float, mode: str, checkpoint: Path | None) -> None:
        """Keep `checkpoint/checkpoint.pt` at the step the trial's value comes from (config.metrics.
        trial_value): every evaluation for a per-evaluation metric, an improvement for a `<m>_best` one."""
        if metric.endswith(BEST_SUFFIX):
            if self.best is not None and not (value < self.best if mode == "min" else value > self.best):
                return
            self.best = value
        if checkpoint is not None and checkpoint.exists():
            self._call("log_artifact", run_id=self.run_id, path=str(checkpoint), artifact_path="checkpoint")

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._call("log_batch", **batch_args(self.run_id, metrics, step))

    def set_status(self, status: str) -> None:
        self.set_tag(cv.TAG_STATUS, status)

    def set_tag(self, key: str, value: str) -> None:
        self._call("set_tag", run_id=self.run_id, key=key, value=value)

    def log_points(self, key: str, points: list[tuple[int, float]]) -> int:
        """Points of one metric at the steps it has no point at yet, so a resumed trial logs each once
        (a point whose history can't be read is logged: the server was reachable a moment ago)."""
        try:
            have = {m.step for m in self.c.get_metric_history(self.run_id, key)}
        except Exception:  # noqa: BLE001
            have = set()
        new = [(step, value) for step, value in points if step not in have]
        for step, value in new:
            self._call("log_batch", **batch_args(self.run_id, {key: value}, step))
        return len(new)

    def flush(self, timeout_s: float = 0.0) -> bool:
        """The trial ends: replay what is pending (retrying up to `timeout_s`); True when nothing is left."""
        return self.buffer is None or self.buffer.flush_until(timeout_s)


def _terminal(status: str) -> str:
    return "FAILED" if status == "failed" else "KILLED" if status == "interrupted" else "FINISHED"


def _close(c: Any, experiment_id: str, parent_id: str, key: str, status: str) -> str | None:
    run_id = find_trial_run(c, experiment_id, parent_id, key)
    if run_id is None:
        return None
    c.set_tag(run_id, cv.TAG_STATUS, status)
    c.set_terminated(run_id, _terminal(status))
    return run_id


def close_ops(experiment_id: str, parent_id: str) -> dict[str, Any]:
    """The buffer's `close` op: a run closed while the server was down is found by its key when replayed."""
    return {"close": lambda c, a: _close(c, experiment_id, parent_id, a["key"], a["status"])}


def close_trial_run(uri: str, experiment_id: str, parent_id: str, key: str, status: str,
                    trial_dir: Path | None = None, timeout_s: float | None = None) -> str | None:
    """Driver side: final status tag, end the run (a failed run gets no stand-in metric: its status says it).

    The trial's pending calls go first (its folder's buffer, with `trial_dir`); a down server is retried
    with backoff for up to `timeout_s` (default `wait_s()`). If it stays down, the close itself is kept in
    the trial's buffer (returns None) and `flush_study` (on --resume) replays it; without `trial_dir`
    it raises, and --resume closes the run that was left open."""
    c = client(uri)
    timeout_s = wait_s() if timeout_s is None else timeout_s
    if trial_dir is None:
        return with_retries(lambda: _close(c, experiment_id, parent_id, key, status), timeout_s)
    buf = CallBuffer(trial_dir, c, close_ops(experiment_id, parent_id))
    if buf.flush_until(timeout_s):
        try:
            return _close(c, experiment_id, parent_id, key, status)
        except Exception as e:
            if not unreachable(e):
                raise
    buf.call("close", key=key, status=status)
    return None


def flush_study(study_dir: Path, uri: str, experiment_id: str, parent_id: str, timeout_s: float = 0.0) -> dict[str, int]:
    """Replay every trial's buffer (--resume, or the end of a study); returns {key: calls still pending}."""
    c = client(uri)
    left: dict[str, int] = {}
    for f in sorted(Path(study_dir).glob("trials/*/" + BUFFER)):
        buf = CallBuffer(f.parent, c, close_ops(experiment_id, parent_id))
        buf.flush_until(timeout_s)
        left[f.parent.name] = buf.pending()
    return left


def close_if_left_open(uri: str, experiment_id: str, parent_id: str, key: str, outcome: str) -> str | None:
    """--resume: close a finished trial's run that a crash left open (between telling the sampler and
    closing the run). `outcome` is the sampler's verdict: complete, pruned or fail. Returns the status set.

    A run still RUNNING whose tag is already final was killed after that tag was set (the driver's close
    sets it, then ends the run; a trial that raised sets `failed` itself): it keeps that status, and ends."""
    c = client(uri)
    run_id = find_trial_run(c, experiment_id, parent_id, key)
    if run_id is None:
        return None
    run = c.get_run(run_id)
    tag = run.data.tags.get(cv.TAG_STATUS)
    if tag != "running":
        if run.info.status != "RUNNING" or tag not in cv.STATUSES:
            return None
        status = tag
    elif outcome == "pruned":
        status = "stopped-early"
    else:  # a diverged trial is FAIL in Optuna: the run's own record tells it from a trial that raised
        hist = c.get_metric_history(run_id, "diverged")
        if hist and max(hist, key=lambda m: m.step).value:
            status = "diverged"
        else:
            status = "failed" if outcome == "fail" else "completed"
    close_trial_run(uri, experiment_id, parent_id, key, status, timeout_s=0)
    return status

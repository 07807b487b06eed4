"""Reading a finished study back from MLflow: its trial runs, a trial's checkpoint and its metrics.

The export needs what MLflow recorded, not what happens to sit in the study folder: a study whose
trials ran on other nodes (or against an `mlflow server`) has its checkpoints only in the store.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gansearch.config import layout
from gansearch.config.metrics import PROVENANCE
from gansearch.tracking import conventions as cv
from gansearch.tracking.runs import client

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT = f"{CHECKPOINT_DIR}/checkpoint.pt"  # what TrialRun.log_value_checkpoint logs


@dataclass(frozen=True)
class TrialRunInfo:
    """One trial's child run, as the export needs it."""

    key: str
    run_id: str
    status: str | None
    tags: dict[str, str] = field(default_factory=dict)


def trial_runs(uri: str, experiment_id: str, parent_run_id: str) -> dict[str, TrialRunInfo]:
    """Every child run of the study's parent run, by its stable trial key."""
    c = client(uri)
    runs = c.search_runs([experiment_id], filter_string=f"tags.`{cv.TAG_PARENT}` = '{parent_run_id}'",
                         max_results=10000)
    out: dict[str, TrialRunInfo] = {}
    for r in runs:
        key = r.data.tags.get(cv.TAG_TRIAL_KEY)
        if key is not None:
            out[key] = TrialRunInfo(key, r.info.run_id, r.data.tags.get(cv.TAG_STATUS), dict(r.data.tags))
    return out


def download_checkpoint(uri: str, run_id: str, dst_dir: Path) -> Path | None:
    """Copy the run's `checkpoint/checkpoint.pt` (the state at the step its value comes from) into
    `dst_dir`; None when the run logged none."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line per file otherwise
    c = client(uri)
    names = {a.path for a in c.list_artifacts(run_id, CHECKPOINT_DIR)}
    if CHECKPOINT not in names:
        return None
    dst_dir.mkdir(parents=True, exist_ok=True)
    local = Path(c.download_artifacts(run_id, CHECKPOINT, str(dst_dir)))
    target = dst_dir / layout.CHECKPOINT
    if local != target:
        shutil.move(str(local), target)
        shutil.rmtree(dst_dir / CHECKPOINT_DIR, ignore_errors=True)
    return target


def metrics_at_step(uri: str, run_id: str, step: int) -> dict[str, Any]:
    """Every metric the run logged at `step` (its evaluation there), plus the distances' provenance tags."""
    c = client(uri)
    run = c.get_run(run_id)
    out: dict[str, Any] = {}
    for name in sorted(run.data.metrics):
        at = [m for m in c.get_metric_history(run_id, name) if m.step == step]
        if at:
            out[name] = max(at, key=lambda m: m.timestamp).value
    for k in PROVENANCE:
        if k in run.data.tags:
            out[k] = _number(run.data.tags[k])
    return out


def _number(text: str) -> Any:
    """Tags are strings; give provenance numbers back their type (eval.num_samples is an int)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text

"""The study folder's layout and its trial keys, named once: the trainer writes a trial folder, the search
a study folder, and the report, the export and the MLflow UI read them back (pure names: no torch).

study folder/                 (`gansearch run --out`)
  study.json  space.json  summary.json  population.json (PBT)  optuna.journal (without --storage)
  mlflow.db  mlartifacts/     the default tracking store and its artifacts
  trials/<key>/               one trial (also what `gansearch train --out` makes)
  tune/run-N/  compile-cache/  report/report.html  report/report.json

trial folder/
  run.json  metrics.jsonl  metrics.json  checkpoint.pt  samples/  pbt.json (PBT member)
  mlflow-buffer.jsonl (calls a down server missed)  worker.pid  tune-checkpoint/  donor-checkpoint.pt
"""

from __future__ import annotations

import re
from pathlib import Path

# ---- the study folder --------------------------------------------------------------------------------
STUDY_JSON = "study.json"  # what --resume and `gansearch ui` need: tracking URI, experiment, storage, ...
SPACE_JSON = "space.json"  # the validated space file (a resumed study must match it)
SUMMARY_JSON = "summary.json"  # the final ranking
POPULATION_JSON = "population.json"  # a PBT/PB2 study's members, in Optuna's order
TRIALS = "trials"
TUNE = "tune"  # Ray Tune's experiment folders, run-N and rerun-N
REPORT = "report"  # report.html and report.json (also the parent run's artifact folder)
REPORT_HTML, REPORT_JSON = "report.html", "report.json"
COMPILE_CACHE = "compile-cache"  # with train.compile: Inductor's caches, shared by the trials
MLFLOW_DB = "mlflow.db"
JOURNAL = "optuna.journal"  # the Optuna study, unless --storage puts it in a database
MLARTIFACTS = "mlartifacts"

# ---- a trial folder ---------------------------------------------------------------------------------
RUN_JSON = "run.json"  # how and where it trained: params, device, precision, placement
METRICS_JSONL = "metrics.jsonl"  # one line per evaluation
METRICS_JSON = "metrics.json"  # the trainer's final summary
CHECKPOINT = "checkpoint.pt"  # the full training state (also the MLflow artifact checkpoint/checkpoint.pt)
SAMPLES = "samples"  # sample grids (also their MLflow artifact folder)
PBT_JSON = "pbt.json"  # a PBT member's schedule and lineage
MLFLOW_BUFFER = "mlflow-buffer.jsonl"
WORKER_PID = "worker.pid"
TUNE_CHECKPOINT = "tune-checkpoint"  # what the trial hands Tune at each report

# ---- trial keys: trial-0007, and its reruns trial-0007-seed1 ... -----------------------------------
RERUN_KEY = re.compile(r"^(?P<of>.+)-seed(?P<seed>\d+)$")


def trial_key(number: int) -> str:
    """A trial's folder and MLflow run name: its first Optuna trial number (stable across --resume)."""
    return f"trial-{number:04d}"


def rerun_key(key: str, seed: int) -> str:
    """A rerun of trial `key`'s configuration with a fresh seed (search.rerun_top_k)."""
    return f"{key}-seed{seed}"


def is_rerun(key: str) -> bool:
    return RERUN_KEY.match(key) is not None


def rerun_of(key: str) -> str | None:
    m = RERUN_KEY.match(key)
    return m.group("of") if m else None


def trials_dir(study_dir: str | Path) -> Path:
    return Path(study_dir) / TRIALS


def trial_dir(study_dir: str | Path, key: str) -> Path:
    return Path(study_dir) / TRIALS / key


def trial_dirs(study_dir: str | Path) -> list[Path]:
    """Every trial folder of a study, by key (reruns too); none for a study that has not started."""
    d = trials_dir(study_dir)
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []

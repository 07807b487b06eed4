"""Test-wide set-up. Its presence puts tests/ on sys.path, so `shared_files` (real-data helpers) imports everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real 4-trial digits study (local Ray, Optuna journal, MLflow sqlite) shared by the report,
    export and browser tests of a session; ~1 min on 2 CPUs. Read it, don't write into it."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "search"))
    from study_helpers import DIGITS, cache_dir

    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from gansearch.config import load
    from gansearch.search.study import run_study

    out = tmp_path_factory.mktemp("tiny-study") / "study"
    run_study(load(DIGITS, []), DIGITS, out, num_trials=4, echo=lambda s: None)
    return out

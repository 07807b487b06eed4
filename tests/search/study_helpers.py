"""Shared by the search tests: a tiny digits study and readers of what it left in MLflow and Optuna."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DIGITS = Path(__file__).resolve().parent / "tiny.yaml"
TINY: list[str] = []
SMALL_SPACE: list[str] = []


def cache_dir() -> str:
    """One feature-classifier cache for all search tests (it trains once, ~15 s)."""
    d = os.environ.get("GANSEARCH_TEST_SEARCH_CACHE") or str(Path(os.environ.get("TMPDIR", "/tmp")) / "gansearch-test-search-cache")
    Path(d).mkdir(parents=True, exist_ok=True)
    return d


def child_runs(uri: str, study_dir: Path) -> tuple[Any, list[Any], Any]:
    from mlflow.tracking import MlflowClient

    meta = json.loads((study_dir / "study.json").read_text())
    c = MlflowClient(tracking_uri=uri)
    parent = c.get_run(meta["parent_run_id"])
    runs = c.search_runs([meta["experiment_id"]], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                         max_results=1000)
    return c, runs, parent


def optuna_trials(study_dir: Path) -> list[Any]:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(study_dir / "optuna.journal")))
    return optuna.load_study(study_name="gansearch", storage=storage).get_trials(deepcopy=False)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]

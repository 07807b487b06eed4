"""The conventions Ray, MLflow and Optuna users bring: MLFLOW_TRACKING_URI is the default tracking store, a
study's experiment is its own (two `tiny` folders on one server make two), and `--storage` puts the Optuna
study in a database, where --resume continues it. Real `mlflow server` on 127.0.0.1, real Optuna RDB
(sqlite), real in-process Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from gansearch.config import load
from gansearch.errors import ConfigError
from study_helpers import DIGITS, child_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    from gansearch.tracking.server import start_server, stop_server, wait_ready

    proc, url = start_server(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "artifacts"),
                             log=tmp_path / "server.log")
    try:
        wait_ready(url, proc, timeout=180)
        yield url
    finally:
        stop_server(proc)  # by process group


def _run(out: Path, num_trials: int, **kw) -> dict:
    from gansearch.search.study import run_study

    cfg = load(DIGITS, ["search.scheduler=none"])
    return run_study(cfg, DIGITS, out, num_trials=num_trials, echo=lambda s: None, **kw)


def test_tracking_uri_from_the_environment_experiments_per_folder_and_an_optuna_database(
        ray_up, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    db = f"sqlite:///{tmp_path / 'optuna.db'}"
    first, second = tmp_path / "a" / "tiny", tmp_path / "b" / "tiny"
    _run(first, 2, storage=db)
    _run(second, 1, storage=db)

    # the runs landed on the server named by MLFLOW_TRACKING_URI, and nothing in the study folders
    metas = [json.loads((d / "study.json").read_text()) for d in (first, second)]
    assert [m["tracking_uri"] for m in metas] == [server, server]
    assert not (first / "mlflow.db").exists() and not (second / "mlflow.db").exists()
    c = MlflowClient(server)
    names = [m["experiment"] for m in metas]
    assert names[0] == "gansearch:tiny" and names[1].startswith("gansearch:tiny-") and names[0] != names[1]
    assert {c.get_experiment(m["experiment_id"]).name for m in metas} == set(names)
    assert [len(child_runs(server, d)[1]) for d in (first, second)] == [2, 1]

    # the Optuna studies are in the database, one per study folder, named as the experiments
    assert not (first / "optuna.journal").exists()
    assert [m["study_name"] for m in metas] == names and [m["storage"] for m in metas] == [db, db]
    assert sorted(s.study_name for s in optuna.get_all_study_summaries(db)) == sorted(names)
    parent = child_runs(server, first)[2]
    assert parent.data.params["optuna.storage"] == db and parent.data.params["optuna.study_name"] == names[0]

    # --resume continues the database's study (the storage is read from study.json) without a duplicate
    summary = _run(first, 3, resume=True)
    trials = optuna.load_study(study_name=names[0], storage=db).get_trials()
    assert len(trials) == 3 and summary["num_trials"] == 3
    _, runs, _ = child_runs(server, first)
    assert sorted(r.data.tags["gansearch.trial_key"] for r in runs) == ["trial-0000", "trial-0001", "trial-0002"]

    # a resume against another storage, or a new study over a name the database holds, is refused
    with pytest.raises(ConfigError) as e:
        _run(first, 3, resume=True, storage=f"sqlite:///{tmp_path / 'other.db'}")
    assert e.value.path == "--storage" and "must be the study's" in e.value.rule
    with pytest.raises(ConfigError) as e:
        _run(tmp_path / "c" / "tiny", 1, storage=db, experiment=names[0])
    assert e.value.path == "--storage" and "already" in e.value.rule

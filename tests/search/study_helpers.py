"""Shared by the search tests: a tiny digits study and readers of what it left in MLflow and Optuna."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIGITS = Path(__file__).resolve().parent / "tiny.yaml"
TINY: list[str] = []
SMALL_SPACE: list[str] = []


# MLflow's basic-auth app: one admin user; the app wants a password of 12 characters or more
AUTH_USER, AUTH_SECRET = "alice", "pw-9f3c1e7a-0d52b4"


def basic_auth_server(tmp: Path, port: int | None = None) -> tuple[Any, str]:
    """A real `mlflow server --app-name basic-auth` on 127.0.0.1 whose only user is AUTH_USER (anonymous
    requests get 401). Its stores live in `tmp`, so a second call with the same port restarts the same server."""
    from gansearch.tracking.server import start_server, wait_ready

    ini = tmp / "basic_auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                   f"database_uri = sqlite:///{tmp / 'auth.db'}\nadmin_username = {AUTH_USER}\n"
                   f"admin_password = {AUTH_SECRET}\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    proc, url = start_server(f"sqlite:///{tmp / 'server.db'}", str(tmp / "artifacts"), port, log=tmp / "server.log",
                             app_name="basic-auth", env={"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                                                         "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key"})
    wait_ready(url, proc, timeout=180)
    return proc, url


def with_password(url: str, password: str = AUTH_SECRET) -> str:
    return url.replace("http://", f"http://{AUTH_USER}:{password}@", 1)


GANSEARCH = str(Path(sys.executable).with_name("gansearch"))


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a `gansearch run` subprocess in a test: the session's feature cache, telemetry
    off, HOME in the test's folder; `extra` on top (e.g. GANSEARCH_FAULT)."""
    return {**os.environ, "GANSEARCH_CACHE_DIR": cache_dir(), "RAY_USAGE_STATS_ENABLED": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(home), **extra}


def wait_for(cond: Callable[[], Any], proc: subprocess.Popen, log: Path, timeout: float = 300) -> Any:
    """Poll `cond` until it returns something truthy (returned); fail with the log's tail if `proc` exits
    first or `timeout` passes (a bound on a hang, never on speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        assert proc.poll() is None, log.read_text()[-4000:]
        time.sleep(0.2)
    raise AssertionError("timed out: " + log.read_text()[-3000:])


def cache_dir() -> str:
    """One feature-classifier cache for the whole run (the classifier trains once, ~15 s): the caller's
    GANSEARCH_CACHE_DIR (`.ci/run` sets one), else a folder under the temp dir."""
    d = os.environ.get("GANSEARCH_CACHE_DIR") or str(Path(os.environ.get("TMPDIR", "/tmp")) / "gansearch-test-search-cache")
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


def assert_trained_with(trial_dir: Path, suggested: dict[str, Any]) -> None:
    """Every name Optuna suggested for this trial reached the trainer's live objects: run.json's
    `effective` (gansearch.trainer.effective: optimizers, loss and balance objects, the batch drawn, the
    plug-in's call) holds the same value."""
    effective = json.loads((trial_dir / "run.json").read_text())["effective"]
    for name, value in suggested.items():
        if name == "lr_d" and suggested.get("balance") == "ttur":
            continue  # a space without `when` on lr_d samples it under ttur, where D's rate is ttur_ratio * lr_g
        assert name in effective, (trial_dir.name, name, sorted(effective))
        got = effective[name]
        if isinstance(value, float) or isinstance(got, float):
            assert float(got) == pytest.approx(float(value), rel=1e-9), (trial_dir.name, name, got, value)
        else:
            assert got == value, (trial_dir.name, name, got, value)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def descendants(pid: int) -> list[int]:
    """PIDs below `pid`, from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def sigkill_study(proc: subprocess.Popen) -> None:
    """SIGKILL a `gansearch run` (a crash), then, by PID, the Ray processes it started: they outlive it."""
    helpers = descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    for pid in helpers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

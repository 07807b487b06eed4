"""Faults during a real study (`gansearch run` in a subprocess, a local Ray): every requested trial ends
finished and recorded, nothing lost, nothing duplicated in MLflow or Optuna.

- a trial's worker process SIGKILLed mid-training resumes from its last checkpoint (search.max_failures);
- the MLflow tracking server stopped mid-search and restarted on its port: trials keep training, their
  calls are buffered in the trial folder and flushed when it is back.
(The driver SIGKILLed is tests/search/test_resume_sigkill.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study_helpers import DIGITS, cache_dir, child_runs, jsonl, optuna_trials

pytestmark = pytest.mark.slow


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GANSEARCH_CACHE_DIR": cache_dir(), "RAY_USAGE_STATS_ENABLED": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(tmp), **extra}


def _start(tmp: Path, out: Path, n: int, steps: int, *extra: str) -> subprocess.Popen:
    gansearch = str(Path(sys.executable).with_name("gansearch"))
    cmd = [gansearch, "run", str(DIGITS), "--out", str(out), "--num-trials", str(n),
           "--set", "search.scheduler=none", "--set", f"train.steps={steps}", *extra]
    log = open(tmp / "run.log", "ab")
    return subprocess.Popen(cmd, env=_env(tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(proc: subprocess.Popen, tmp: Path, timeout: float) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = None
    assert rc == 0, (tmp / "run.log").read_text()[-4000:]


def _poll(cond, proc: subprocess.Popen, tmp: Path, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp / "run.log").read_text()[-4000:]
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out: " + (tmp / "run.log").read_text()[-3000:])


def _steps(path: Path) -> list[int]:
    try:
        return [r["step"] for r in jsonl(path)]
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _check_study(out: Path, n: int, steps: int) -> None:
    """One finished MLflow child run and one COMPLETE Optuna trial per key; every step exactly once."""
    evals = list(range(0, steps + 1, 10))
    uri = json.loads((out / "study.json").read_text())["tracking_uri"]
    c, runs, parent = child_runs(uri, out)
    keys = sorted(r.data.tags["gansearch.trial_key"] for r in runs)
    assert len(keys) == n and len(set(keys)) == n, keys
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        assert r.data.tags["status"] == "completed" and r.info.status == "FINISHED", (key, r.data.tags)
        for metric in ("fid", "d_loss", "diverged"):
            steps = [m.step for m in c.get_metric_history(r.info.run_id, metric)]
            want = evals if metric != "d_loss" else evals[1:]
            assert sorted(steps) == want, (key, metric, steps)
        assert _steps(out / "trials" / key / "metrics.jsonl") == evals
        arts = {a.path for a in c.list_artifacts(r.info.run_id, "samples")}
        assert arts == {f"samples/step_{s}.png" for s in evals}, (key, arts)
    trials = optuna_trials(out)
    assert len(trials) == n and all(t.state.name == "COMPLETE" for t in trials), [t.state for t in trials]
    assert sorted(t.user_attrs["gansearch_key"] for t in trials) == keys
    assert parent.info.status == "FINISHED"
    assert not list(out.glob("trials/*/mlflow-buffer.jsonl"))


def test_killed_worker_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "study"
    proc = _start(tmp_path, out, 2, 60, "--set", "search.max_concurrent=1")
    try:
        def half_way():
            for folder in sorted((out / "trials").glob("*")) if (out / "trials").exists() else []:
                if 10 <= max(_steps(folder / "metrics.jsonl"), default=-1) < 40 and (folder / "worker.pid").exists():
                    return folder
            return None

        folder = _poll(half_way, proc, tmp_path, 240)
        pid = int((folder / "worker.pid").read_text())
        step0 = (folder / "samples" / "step_0.png").stat().st_mtime_ns
        logged = max(_steps(folder / "metrics.jsonl"))
        os.kill(pid, signal.SIGKILL)  # Ray's trial actor, mid-training
        _wait(proc, tmp_path, 300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert int((folder / "worker.pid").read_text()) != pid, "the trial ran again in a new worker"
    # resumed from its checkpoint: step 0 was not evaluated again (its grid is the one from before the kill)
    assert (folder / "samples" / "step_0.png").stat().st_mtime_ns == step0 and logged >= 10
    _check_study(out, 2, 60)


def _both_trained(out: Path) -> dict[str, int] | None:
    """{key: last step} once both trials are past their first evaluation and far from their end."""
    last = {f.parent.name: max(_steps(f), default=-1) for f in out.glob("trials/*/metrics.jsonl")}
    return last if len(last) == 2 and all(10 <= s <= 50 for s in last.values()) else None


def test_tracking_server_restart_mid_search(tmp_path: Path) -> None:
    from gansearch.tracking.server import start_server, stop_server, wait_ready

    store = f"sqlite:///{tmp_path / 'server.db'}"
    server, url = start_server(store, str(tmp_path / "artifacts"), log=tmp_path / "server.log")
    port = int(url.rsplit(":", 1)[1])
    out = tmp_path / "study"
    proc = None
    try:
        wait_ready(url, server, timeout=180)
        proc = _start(tmp_path, out, 2, 100, "--tracking-uri", url, "--set", "search.max_concurrent=2")
        # stop the server once both trials train, and keep it down while they log evaluations
        at_stop = _poll(lambda: _both_trained(out), proc, tmp_path, 240)
        stop_server(server)
        _poll(lambda: list(out.glob("trials/*/mlflow-buffer.jsonl")), proc, tmp_path, 120)
        # the trials keep training while the server is down
        _poll(lambda: any(max(_steps(out / "trials" / k / "metrics.jsonl"), default=-1) > s for k, s in at_stop.items()),
              proc, tmp_path, 120)
        server, url2 = start_server(store, str(tmp_path / "artifacts"), port, log=tmp_path / "server.log")
        assert url2 == url
        wait_ready(url, server, timeout=180)
        _wait(proc, tmp_path, 300)
        assert "could not close" not in (tmp_path / "run.log").read_text()
        _check_study(out, 2, 100)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_server(server)

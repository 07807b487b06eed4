"""Faults during a real study (`gansearch run` in a subprocess, a local Ray): every requested trial ends
finished and recorded, nothing lost, nothing duplicated in MLflow or Optuna.

- a trial's worker process SIGKILLed resumes from its last checkpoint (search.max_failures), losing no step;
- the MLflow tracking server (basic-auth, password in the URI) stopped mid-search and restarted on its
  port: trials keep training, their calls are buffered in the trial folder and flushed when it is back,
  and the password is nowhere in the record.
(The driver SIGKILLed is tests/search/test_resume_sigkill.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from study_helpers import (AUTH_SECRET, AUTH_USER, DIGITS, GANSEARCH, basic_auth_server, child_runs, cli_env,
                           jsonl, optuna_trials, wait_for, with_password)

pytestmark = pytest.mark.slow


def _start(tmp: Path, out: Path, n: int, steps: int, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [GANSEARCH, "run", str(DIGITS), "--out", str(out), "--num-trials", str(n),
           "--set", "search.scheduler=none", "--set", f"train.steps={steps}", *extra]
    log = open(tmp / "run.log", "ab")
    return subprocess.Popen(cmd, env=cli_env(tmp, **(env or {})), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait(proc: subprocess.Popen, tmp: Path, timeout: float) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = None
    assert rc == 0, (tmp / "run.log").read_text()[-4000:]


def _steps(path: Path) -> list[int]:
    try:
        return [r["step"] for r in jsonl(path)]
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _check_study(out: Path, n: int, steps: int, uri: str | None = None) -> None:
    """One finished MLflow child run and one COMPLETE Optuna trial per key; every step exactly once."""
    evals = list(range(0, steps + 1, 10))
    uri = uri or json.loads((out / "study.json").read_text())["tracking_uri"]
    c, runs, parent = child_runs(uri, out)
    keys = sorted(r.data.tags["gansearch.trial_key"] for r in runs)
    assert len(keys) == n and len(set(keys)) == n, keys
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        assert r.data.tags["status"] == "completed" and r.info.status == "FINISHED", (key, r.data.tags)
        for metric in ("fd_classifier", "d_loss", "diverged"):
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


def test_a_killed_worker_resumes_and_a_kill_at_either_side_of_logging_loses_no_step(tmp_path: Path) -> None:
    """Each trial's worker is SIGKILLed at step 10 (fault injection, not a timed kill): trial-0000 right after
    writing its checkpoint, before the evaluation reached MLflow; trial-0001 right after the evaluation's
    MLflow batch, before its checkpoint upload. Tune restarts each in a new worker, from its checkpoint, so
    nothing evaluates step 10 again: it must still be in MLflow exactly once (on main the first kill lost
    it), with one run and one Optuna trial per key."""
    out = tmp_path / "study"
    faults = "kill:after_checkpoint@10:trial-0000,kill:after_log@10:trial-0001"
    proc = _start(tmp_path, out, 2, 30, "--set", "search.max_concurrent=1", env={"GANSEARCH_FAULT": faults})
    _wait(proc, tmp_path, 300)
    for key, point in (("trial-0000", "after_checkpoint"), ("trial-0001", "after_log")):
        folder = out / "trials" / key
        marker = folder / f".fault-kill-{point}-10"
        killed = int(marker.read_text().split("pid ")[1])  # the fault writes the pid it kills
        assert int((folder / "worker.pid").read_text()) != killed, "the trial ran again in a new worker"
        # resumed, not restarted: the step-0 and step-10 grids were written before the kill and never again
        for step in (0, 10):
            assert (folder / "samples" / f"step_{step}.png").stat().st_mtime_ns <= marker.stat().st_mtime_ns
        assert (folder / "samples" / "step_20.png").stat().st_mtime_ns >= marker.stat().st_mtime_ns
    _check_study(out, 2, 30)


def test_a_trial_that_raises_fails_alone_and_the_study_goes_on(tmp_path: Path) -> None:
    """A trial that raises (not a crash of its process, an exception in it) ends FAIL in Optuna and
    `failed` in MLflow with no restart (search.max_failures 0); the other trials finish."""
    out = tmp_path / "study"
    proc = _start(tmp_path, out, 3, 20, "--set", "search.max_failures=0", "--set", "search.max_concurrent=1",
                  env={"GANSEARCH_FAULT": "raise:after_log@10:trial-0001"})
    _wait(proc, tmp_path, 300)
    uri = json.loads((out / "study.json").read_text())["tracking_uri"]
    c, runs, parent = child_runs(uri, out)
    status = {r.data.tags["gansearch.trial_key"]: (r.data.tags["status"], r.info.status) for r in runs}
    assert status == {"trial-0000": ("completed", "FINISHED"), "trial-0001": ("failed", "FAILED"),
                      "trial-0002": ("completed", "FINISHED")}
    states = {t.user_attrs["gansearch_key"]: t.state.name for t in optuna_trials(out)}
    assert states == {"trial-0000": "COMPLETE", "trial-0001": "FAIL", "trial-0002": "COMPLETE"}
    # the failed run's history is what it evaluated (steps 0 and 10), with no stand-in worst value added
    failed = next(r for r in runs if r.data.tags["gansearch.trial_key"] == "trial-0001")
    for metric in ("fd_classifier", "diverged"):
        hist = sorted((m.step, m.value) for m in c.get_metric_history(failed.info.run_id, metric))
        assert [h[0] for h in hist] == [0, 10] and all(v < 1e29 for _, v in hist), (metric, hist)
        recs = jsonl(out / "trials" / "trial-0001" / "metrics.jsonl")
        assert [v for _, v in hist] == pytest.approx([r[metric] for r in recs], rel=1e-6)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials_failed"] == 1 and summary["trials_completed"] == 2
    assert parent.info.status == "FINISHED" and parent.data.tags["best.key"] in ("trial-0000", "trial-0002")
    # the driver says where the traceback is (trials run with log_to_driver=False), and it is there
    line = next(ln for ln in (tmp_path / "run.log").read_text().splitlines() if ln.startswith("trial-0001 failed: "))
    assert "InjectedFault" in Path(line.split("traceback in ", 1)[1]).read_text()


def test_tracking_server_restart_mid_search_with_a_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against MLflow's basic-auth app, with the password in `--tracking-uri`: the server stops while
    trial-0000 is paused right after logging step 20 (fault injection, not a timing window), the trial
    trains on into its call buffer, and the server comes back on its port. Every step of every trial lands
    once, in order, no buffer is left, and the password reached the workers (they logged) but no MLflow
    param or tag, no file of the study folder (the buffer included) and no line the CLI printed."""
    from gansearch.tracking.server import stop_server

    server, url = basic_auth_server(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    out = tmp_path / "study"
    folder = out / "trials" / "trial-0000"
    proc = None
    try:
        proc = _start(tmp_path, out, 2, 100, "--tracking-uri", with_password(url), "--set", "search.max_concurrent=1",
                      env={"GANSEARCH_FAULT": "pause:after_log@20:trial-0000"})
        wait_for(lambda: (folder / ".fault-paused-20").exists(), proc, tmp_path / "run.log", 240)
        stop_server(server)
        (folder / ".fault-release").write_text("")
        # the trial keeps training while the server is down: its calls go to the buffer
        wait_for(lambda: (folder / "mlflow-buffer.jsonl").exists() and max(_steps(folder / "metrics.jsonl")) >= 40,
                 proc, tmp_path / "run.log", 240)
        assert AUTH_SECRET.encode() not in (folder / "mlflow-buffer.jsonl").read_bytes()
        server, url2 = basic_auth_server(tmp_path, port)
        assert url2 == url
        _wait(proc, tmp_path, 300)
        printed = (tmp_path / "run.log").read_text()
        assert "could not close" not in printed and AUTH_SECRET not in printed
        meta = json.loads((out / "study.json").read_text())
        assert meta["tracking_uri"] == with_password(url, "***")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", AUTH_USER)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", AUTH_SECRET)
        _check_study(out, 2, 100, url)
        c, runs, parent = child_runs(url, out)
        for run in [parent, *runs]:
            for k, v in {**run.data.params, **run.data.tags}.items():
                assert AUTH_SECRET not in v, (run.info.run_name, k)
        for f in out.rglob("*"):
            if f.is_file():
                assert AUTH_SECRET.encode() not in f.read_bytes(), f
        assert not (out / "mlflow.db").exists(), "a server study keeps no local store"
        assert any((tmp_path / "artifacts").rglob("step_0.png")), "artifacts went through the server"
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_server(server)

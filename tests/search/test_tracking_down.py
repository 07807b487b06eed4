"""The tracking server down at the two moments the README promises something about, in real processes
(`gansearch run` CLI, a real `mlflow server` stopped and started on its port). Fault injection
(GANSEARCH_FAULT) pauses or kills the trial at a known step, so nothing depends on timing:

- down when the study ends: every trial finishes into its call buffer, `gansearch run` exits 3 with one
  line, and `--resume` replays the buffers and finishes the study;
- down when a trial (re)starts: the trial waits GANSEARCH_TRACKING_WAIT_S, fails, and Tune restarts it;
  once the server is back it resumes from its checkpoint, losing no logged step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from study_helpers import DIGITS, GANSEARCH, child_runs, cli_env, jsonl, optuna_trials, wait_for

pytestmark = pytest.mark.slow


def _cmd(out: Path, url: str, *extra: str) -> list[str]:
    return [GANSEARCH, "run", str(DIGITS), "--out", str(out), "--num-trials", "1", "--tracking-uri", url,
            "--set", "search.scheduler=none", "--set", "train.steps=30", *extra]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return cli_env(tmp, GANSEARCH_TRACKING_WAIT_S="4", **extra)


def _server(tmp: Path, port: int | None = None):
    from gansearch.tracking.server import start_server, wait_ready

    proc, url = start_server(f"sqlite:///{tmp / 'server.db'}", str(tmp / "artifacts"), port, log=tmp / "server.log")
    wait_ready(url, proc, timeout=180)
    return proc, url


def _check_logged_once(out: Path, url: str) -> None:
    c, runs, parent = child_runs(url, out)
    assert len(runs) == 1 and parent.info.status == "FINISHED"
    r = runs[0]
    assert r.data.tags["status"] == "completed" and r.info.status == "FINISHED"
    for metric in ("fd_classifier", "diverged"):
        assert sorted(m.step for m in c.get_metric_history(r.info.run_id, metric)) == [0, 10, 20, 30], metric
    assert {a.path for a in c.list_artifacts(r.info.run_id, "samples")} == {f"samples/step_{s}.png" for s in (0, 10, 20, 30)}
    assert [t.state.name for t in optuna_trials(out)] == ["COMPLETE"]
    assert not list(out.glob("trials/*/mlflow-buffer.jsonl"))


def test_server_down_when_the_study_ends_exits_3_then_resume_finishes(tmp_path: Path) -> None:
    from gansearch.tracking.server import stop_server

    server, url = _server(tmp_path)
    out, log = tmp_path / "study", tmp_path / "run.log"
    folder = out / "trials" / "trial-0000"
    proc = None
    try:
        with open(log, "wb") as f:
            proc = subprocess.Popen(_cmd(out, url), env=_env(tmp_path, GANSEARCH_FAULT="pause:after_log@20"),
                                    stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
            wait_for(lambda: (folder / ".fault-paused-20").exists(), proc, log)
            stop_server(server)  # the trial has logged step 20; steps 30 and the close happen with the server down
            (folder / ".fault-release").write_text("")
            rc = proc.wait(timeout=300)
        text = log.read_text()
        assert rc == 3, text[-3000:]
        last = text.strip().splitlines()[-1]
        assert last.startswith("--tracking-uri: the tracking server is unreachable") and "--resume" in last
        pending = [json.loads(x) for x in (folder / "mlflow-buffer.jsonl").read_text().splitlines()]
        assert pending and pending[-1]["op"] == "close"  # step 30's batch first, then the close, in order
        assert not (out / "summary.json").exists()

        server, url2 = _server(tmp_path, int(url.rsplit(":", 1)[1]))  # same port, same store
        assert url2 == url
        r = subprocess.run(_cmd(out, url, "--resume"), env=_env(tmp_path), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert (out / "summary.json").exists()
        _check_logged_once(out, url)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_server(server)


def test_trial_restarted_while_the_server_is_down_waits_fails_then_resumes(tmp_path: Path) -> None:
    from gansearch.tracking.server import stop_server

    server, url = _server(tmp_path)
    out, log = tmp_path / "study", tmp_path / "run.log"
    folder = out / "trials" / "trial-0000"
    proc = None
    faults = "pause:after_log@10,kill:after_checkpoint@20"
    try:
        with open(log, "wb") as f:
            proc = subprocess.Popen(_cmd(out, url, "--set", "search.max_failures=5"),
                                    env=_env(tmp_path, GANSEARCH_FAULT=faults), stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            wait_for(lambda: (folder / ".fault-paused-10").exists(), proc, log)
            stop_server(server)
            (folder / ".fault-release").write_text("")
            killed = folder / ".fault-kill-after_checkpoint-20"
            wait_for(killed.exists, proc, log)
            first_pid = int((folder / "worker.pid").read_text())
            # Tune restarts the trial: it waits GANSEARCH_TRACKING_WAIT_S for the server, then fails (error.txt)
            wait_for(lambda: list(out.glob("tune/run-0/trial-0000_*/error.txt")), proc, log)
            grids = {s: (folder / "samples" / f"step_{s}.png").stat().st_mtime_ns for s in (0, 10, 20)}
            server, _ = _server(tmp_path, int(url.rsplit(":", 1)[1]))
            rc = proc.wait(timeout=300)
        assert rc == 0, log.read_text()[-3000:]
        assert int((folder / "worker.pid").read_text()) != first_pid
        # resumed from its step-20 checkpoint: nothing before it evaluated again, and step 20 (in the
        # checkpoint, never logged: the kill came first) reached MLflow once
        assert {s: (folder / "samples" / f"step_{s}.png").stat().st_mtime_ns for s in (0, 10, 20)} == grids
        assert [r["step"] for r in jsonl(folder / "metrics.jsonl")] == [0, 10, 20, 30]
        _check_logged_once(out, url)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_server(server)

"""A worker node dies mid-search (SIGKILL of its whole process group, like a machine losing power):
Tune restarts its trial on the head (`search.max_failures`), the trial continues from its checkpoint in
the same MLflow run, and the study still ends with every requested trial, once each in MLflow and Optuna."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ray_nodes import cluster_and_server, study_env
from search.study_helpers import DIGITS, child_runs, jsonl, optuna_trials

pytestmark = pytest.mark.slow
N = 3
STEPS, EVERY = 200, 20  # ~10-20 s per trial on a busy 2-core host: long enough to be killed mid-way
ALL_STEPS = list(range(0, STEPS + 1, EVERY))


def _cmd(out: Path, address: str, url: str) -> list[str]:
    return [str(Path(sys.executable).with_name("gansearch")), "run", str(DIGITS), "--address", address,
            "--tracking-uri", url, "--out", str(out), "--num-trials", str(N),
            "--set", "search.scheduler=none", "--set", "search.max_failures=2",
            "--set", f"train.steps={STEPS}", "--set", f"eval.every={EVERY}", "--set", f"train.checkpoint_every={EVERY}"]


def _victim(url: str, out: Path, ip: str) -> tuple[str, int] | None:
    """A trial running on `ip` with a checkpoint past step 0 and steps left: (key, its last logged step)."""
    if not (out / "study.json").exists():
        return None
    try:
        _, runs, _ = child_runs(url, out)
    except Exception:  # the study's parent run not written yet
        return None
    for r in runs:
        if r.data.tags.get("ray.node_ip") != ip or r.data.tags.get("status") != "running":
            continue
        key = r.data.tags["gansearch.trial_key"]
        f = out / "trials" / key / "metrics.jsonl"
        steps = [x["step"] for x in jsonl(f)] if f.exists() else []
        if steps and 2 * EVERY <= steps[-1] <= STEPS - 3 * EVERY:  # so its checkpoint is at >= EVERY
            return key, steps[-1]
    return None


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killed_node_moves_its_trial_to_the_head(tmp_path: Path) -> None:
    out = tmp_path / "study"
    t_up = time.monotonic()
    with cluster_and_server(tmp_path / "logs") as (cluster, url):
        print(f"2 Ray nodes + mlflow server up: {time.monotonic() - t_up:.1f} s")
        head, node = cluster.nodes
        log = open(tmp_path / "run.log", "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(_cmd(out, cluster.address, url), env=study_env(cluster, tmp_path), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            victim = None
            deadline = time.monotonic() + 240
            while victim is None and proc.poll() is None and time.monotonic() < deadline:
                victim = _victim(url, out, node.ip)
                time.sleep(0.3)
            assert victim is not None, (tmp_path / "run.log").read_text()[-3000:]
            key, logged = victim
            worker = out / "trials" / key / "worker.pid"
            pid = int(worker.read_text()) if worker.exists() else None
            cluster.kill_node(node)
            killed_at = time.time()
            kept = [r["step"] for r in jsonl(out / "trials" / key / "metrics.jsonl")]  # before any restart
            print(f"killed {node.ip} at {time.monotonic() - t0:.1f} s, while {key} was at step {kept[-1]}")
            assert pid is None or not _running(pid), pid  # the trial's worker died with its node
            proc.wait(timeout=400)
            print(f"gansearch run with a node killed: {time.monotonic() - t0:.1f} s")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-4000:]

        c, runs, parent = child_runs(url, out)
        keys = [r.data.tags["gansearch.trial_key"] for r in runs]
        assert len(runs) == N and len(set(keys)) == N, keys  # one child run per trial, none duplicated
        assert parent.info.status == "FINISHED"
        by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
        for k, r in by_key.items():
            assert r.info.status == "FINISHED" and r.data.tags["status"] == "completed", (k, r.data.tags)
            hist = c.get_metric_history(r.info.run_id, "fd_classifier")
            assert sorted(m.step for m in hist) == ALL_STEPS, (k, [m.step for m in hist])  # each step once
            assert [x["step"] for x in jsonl(out / "trials" / k / "metrics.jsonl")] == ALL_STEPS
        trials = optuna_trials(out)
        assert len(trials) == N and all(t.state.name == "COMPLETE" for t in trials), [t.state for t in trials]
        assert sorted(t.user_attrs["gansearch_key"] for t in trials) == sorted(keys)

        for k, r in by_key.items():  # whatever ran after the kill ran on the head
            if r.info.end_time / 1000 > killed_at:
                assert r.data.tags["ray.node_id"] == head.node_id, (k, r.data.tags)
        moved = by_key[key].data.tags
        assert moved["ray.node_ids"].split(",") == [node.node_id, head.node_id], moved  # started on 127.0.0.3, ended on the head
        assert moved["ray.node_id"] == head.node_id and moved["ray.node_ip"] == head.ip
        # It continued from its checkpoint C (the last or the one before the last evaluation written before the
        # kill): evaluations up to C were not redone (their sample grids are older than the kill), every later
        # one was; MLflow kept each point once, the ones before the kill from the first node.
        assert kept[-1] >= logged, (kept, logged)
        grids = {s: (out / "trials" / key / "samples" / f"step_{s}.png").stat().st_mtime for s in ALL_STEPS}
        before = [s for s in ALL_STEPS if grids[s] < killed_at]
        assert before == ALL_STEPS[: len(before)] and before[-1] in (kept[-1], kept[-1] - EVERY), (before, kept)
        assert before[-1] >= EVERY, (before, kept)  # not from 0: step 0 was not evaluated again
        logged_at = {m.step: m.timestamp / 1000 for m in c.get_metric_history(by_key[key].info.run_id, "fd_classifier")}
        assert all(logged_at[s] < killed_at for s in before), (logged_at, killed_at)
        assert all(logged_at[s] > killed_at for s in ALL_STEPS if s > kept[-1]), (logged_at, killed_at)

"""A `gansearch run` SIGKILLed mid-study resumes with --resume to the requested trial count: no MLflow run
duplicated, no trial config duplicated, no finished trial run again, no Optuna trial left RUNNING."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from study_helpers import DIGITS, GANSEARCH, child_runs, cli_env, jsonl, optuna_trials, sigkill_study

pytestmark = pytest.mark.slow
N = 5


def _cmd(out: Path, *extra: str) -> list[str]:
    # scheduler none: every trial runs to the end, so "finished" and "interrupted" are unambiguous
    return [GANSEARCH, "run", str(DIGITS), "--out", str(out), "--num-trials", str(N),
            "--set", "search.scheduler=none", "--set", "train.steps=40", *extra]


def _finished_keys(out: Path) -> set[str]:
    return {p.parent.name for p in (out / "trials").glob("*/metrics.json")}


def test_sigkilled_run_resumes_without_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "study"
    log = open(tmp_path / "first.log", "wb")
    proc = subprocess.Popen(_cmd(out), env=cli_env(tmp_path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        # kill once a trial has finished and another one is half-way (has evaluations, no summary yet)
        while time.monotonic() < deadline and proc.poll() is None:
            started = {p.parent.name for p in (out / "trials").glob("*/metrics.jsonl") if p.stat().st_size}
            done = _finished_keys(out)
            try:
                told = (out / "optuna.journal").exists() and any(t.state.name == "COMPLETE" for t in optuna_trials(out))
            except (KeyError, FileNotFoundError):  # no study folder or study yet
                told = False
            if told and started - done:
                break
            time.sleep(0.3)
        assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        sigkill_study(proc)
    # finished = told to Optuna before the kill; a trial whose trainer ended but was not told yet is resumed
    # (it re-attaches at its last step, trains nothing, and reports its final record)
    done_before = {t.user_attrs["gansearch_key"] for t in optuna_trials(out) if t.state.name == "COMPLETE"}
    interrupted = {p.parent.name for p in (out / "trials").glob("*/metrics.jsonl")} - done_before
    assert done_before and interrupted
    mtimes = {k: (out / "trials" / k / "metrics.json").stat().st_mtime_ns for k in done_before}
    assert any(t.state.name == "RUNNING" for t in optuna_trials(out)), "the crash left Optuna trials RUNNING"
    # what each interrupted trial's checkpoint holds: resuming must continue from it, not start over
    from gansearch.trainer import checkpoint

    before: dict[str, tuple[int, dict[int, int], list[str]]] = {}
    for k in interrupted:
        folder = out / "trials" / k
        if (folder / checkpoint.FILENAME).exists():
            step = int(checkpoint.load(folder / checkpoint.FILENAME)["step"])
            grids = {s: (folder / "samples" / f"step_{s}.png").stat().st_mtime_ns for s in range(0, step + 1, 10)}
            lines = (folder / "metrics.jsonl").read_text().splitlines()[: step // 10 + 1]
            before[k] = (step, grids, lines)
    assert before, "some interrupted trial had a checkpoint"

    second = subprocess.run(_cmd(out, "--resume"), env=cli_env(tmp_path), capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "resuming:" in second.stdout and "gansearch ui" in second.stdout

    meta = json.loads((out / "study.json").read_text())
    uri = meta["tracking_uri"]
    c, runs, parent = child_runs(uri, out)
    keys = [r.data.tags["gansearch.trial_key"] for r in runs]
    assert len(runs) == N and len(set(keys)) == N, keys  # zero duplicated MLflow runs
    configs = [tuple(sorted(r.data.params.items())) for r in runs]
    assert len(set(configs)) == N  # zero duplicated trial configs
    assert done_before and interrupted <= set(keys), "interrupted trials re-attached to their runs"
    for r in runs:
        assert r.data.tags["status"] == "completed" and r.info.status == "FINISHED"
        steps = [m.step for m in c.get_metric_history(r.info.run_id, "fd_classifier")]
        assert sorted(steps) == [0, 10, 20, 30, 40], (r.data.tags["gansearch.trial_key"], steps)  # none twice
    for k in done_before:  # no finished trial ran again
        assert (out / "trials" / k / "metrics.json").stat().st_mtime_ns == mtimes[k]
    trials = optuna_trials(out)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    live = [t for t in trials if not t.user_attrs.get("gansearch_closed_by_resume")]
    assert len(live) == N and all(t.state.name == "COMPLETE" for t in live)
    assert len({t.user_attrs["gansearch_key"] for t in live}) == N
    assert parent.info.status == "FINISHED" and parent.data.tags["best.key"] in keys
    for k in keys:
        recs = jsonl(out / "trials" / k / "metrics.jsonl")
        assert [r["step"] for r in recs] == [0, 10, 20, 30, 40]
    for k, (step, grids, lines) in before.items():  # resumed, not retrained: nothing up to the checkpoint redone
        folder = out / "trials" / k
        assert (folder / "metrics.jsonl").read_text().splitlines()[: step // 10 + 1] == lines, k
        for s_, mtime in grids.items():
            assert (folder / "samples" / f"step_{s_}.png").stat().st_mtime_ns == mtime, (k, s_)

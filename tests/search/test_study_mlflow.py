"""`run_study` end to end with real Ray (in-process, 2 CPUs), real Optuna (journal) and real MLflow (sqlite
store): what lands in MLflow must be what was sampled and measured. (A study against a real `mlflow
server`, its basic-auth app, is tests/search/test_faults.py::test_tracking_server_restart_mid_search_with_a_password.)"""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import pytest
import torch

from gansearch.config import applies, load
from gansearch.search.enqueue import ENQUEUED_ATTR, ORIGIN_ATTR, defaults
from study_helpers import DIGITS, SMALL_SPACE, TINY, assert_trained_with, child_runs, jsonl, optuna_trials

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_local(ray_up):
    """The session's in-process Ray (tests/conftest.py)."""
    yield


def _study(tmp: Path, *extra: str, num_trials: int, tracking_uri: str | None = None):
    from gansearch.search.study import run_study

    cfg = load(DIGITS, TINY + SMALL_SPACE + list(extra))
    out = tmp / "study"
    summary = run_study(cfg, DIGITS, out, num_trials=num_trials, tracking_uri=tracking_uri, echo=lambda s: None)
    return cfg, out, summary


def _check_study(cfg, out: Path, summary: dict, uri: str, metric: str, mode: str, n: int, branches_seen: bool = True) -> None:
    c, runs, parent = child_runs(uri, out)
    assert parent.data.tags["gansearch.kind"] == "study" and parent.info.status == "FINISHED"
    assert parent.data.params["search.mode"] == mode and parent.data.params["num_trials"] == str(n)
    assert len(runs) == n, [r.info.run_name for r in runs]
    keys = [r.data.tags["gansearch.trial_key"] for r in runs]
    assert len(set(keys)) == n
    ot = {t.user_attrs["gansearch_key"]: t for t in optuna_trials(out)}
    best_by_key: dict[str, float] = {}
    branches = {"gp_weight": set(), "ttur_ratio": set()}
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        # params: exactly the sampled values (+ fixed beta1), under the YAML names
        t = ot[key]
        expected = {**t.params, "beta1": 0.5}
        assert set(r.data.params) == set(expected), (key, r.data.params, expected)
        for name, value in expected.items():
            got = r.data.params[name]
            assert (float(got) == value) if isinstance(value, float) else got == str(value)
        # conditional params only where their `when` holds
        for name in branches:
            active = applies(cfg.space[name], expected)
            assert (name in r.data.params) == active
            branches[name].add(active)
        assert r.data.tags["loss"] == expected["loss"] and r.data.tags["strategy"] == expected["balance"]
        # every value Optuna suggested is what the live training objects held (run.json `effective`)
        assert_trained_with(out / "trials" / key, t.params)
        # metric history with steps == the trainer's records
        recs = jsonl(out / "trials" / key / "metrics.jsonl")
        hist = sorted(c.get_metric_history(r.info.run_id, metric), key=lambda m: m.step)
        assert [m.step for m in hist] == [rec["step"] for rec in recs]
        assert [m.value for m in hist] == pytest.approx([rec[metric] for rec in recs], rel=1e-6)
        for name in ("fd_classifier", "kd_classifier", "fd_classifier_best", "d_loss", "g_loss", "classes_covered",
                     "g_amplitude", "diverged"):
            assert c.get_metric_history(r.info.run_id, name), (key, name)
        assert recs[0]["step"] == 0 and all(b["step"] - a["step"] == 10 for a, b in zip(recs, recs[1:]))
        # one sample grid per evaluation, and the checkpoint of the step the trial's value comes from
        grids = {Path(a.path).name for a in c.list_artifacts(r.info.run_id, "samples")}
        assert grids == {f"step_{rec['step']}.png" for rec in recs}
        assert [Path(a.path).name for a in c.list_artifacts(r.info.run_id, "checkpoint")] == ["checkpoint.pt"]
        # status: tag, MLflow run state and Optuna state tell the same story
        status = r.data.tags["status"]
        assert r.info.status == "FINISHED"
        if status == "completed":
            assert recs[-1]["step"] == 30 and t.state.name == "COMPLETE"
            # the trainer's summary is written before the last result reaches the scheduler (ASHA STOPs at max_t)
            final = json.loads((out / "trials" / key / "metrics.json").read_text())
            assert final["status"] == "completed" and final["steps"] == 30 and final["eval_time_s"] > 0
        elif status == "stopped-early":
            assert recs[-1]["step"] < 30 and t.state.name == "PRUNED"
            assert t.intermediate_values, "a pruned trial keeps its intermediate values"
        else:
            assert status == "diverged" and t.state.name == "FAIL", status  # no stand-in number for the sampler
        if status != "diverged":  # a trial's value: its last evaluation, as Optuna was told
            best_by_key[key] = hist[-1].value
            if t.state.name == "COMPLETE":
                assert t.value == pytest.approx(hist[-1].value, rel=1e-9)
    if branches_seen:
        assert branches == {"gp_weight": {True, False}, "ttur_ratio": {True, False}}, "both branches exercised"
    # the reported best trial really is the best in this mode (ties: the lower key)
    sign = 1 if mode == "min" else -1
    true_best = min(best_by_key, key=lambda k: (sign * best_by_key[k], k))
    assert parent.data.tags["best.key"] == true_best
    assert float(parent.data.tags["best.value"]) == pytest.approx(best_by_key[true_best])
    assert summary["trials"][0]["key"] == true_best and summary["mode"] == mode
    # where each trial's values came from: one word in Optuna, MLflow and the summary
    origin = {t["key"]: t["origin"] for t in summary["trials"]}
    assert {r.data.tags["gansearch.trial_key"]: r.data.tags["gansearch.origin"] for r in runs} == origin
    assert {k: t.user_attrs[ORIGIN_ATTR] for k, t in ot.items()} == origin
    assert summary["origins"] == dict(collections.Counter(origin.values()))
    assert summary["best_origin"] == origin[true_best]
    if cfg.search.defaults_first:  # the space's defaults are trial 0, and only trial 0
        assert ot["trial-0000"].params == defaults(cfg) and origin["trial-0000"] == "defaults"
        assert ot["trial-0000"].user_attrs[ENQUEUED_ATTR] == "defaults"
        assert sum(o == "defaults" for o in origin.values()) == 1
    else:
        assert "defaults" not in origin.values() and ot["trial-0000"].params != defaults(cfg)


def test_study_tpe_asha_stops_trials_early(ray_local, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Optuna TPE with ASHA (`scheduler: asha`; the demo runs TPE alone, see test_study_max_mode_tpe). One
    trial at a time, so ASHA's decisions don't hang on which trial reports first."""
    cfg, out, summary = _study(tmp_path, "search.sampler=tpe", "search.seed=5", "search.max_concurrent=1",
                                  "search.defaults_first=true", num_trials=5)
    uri = f"sqlite:///{out / 'mlflow.db'}"
    _check_study(cfg, out, summary, uri, "fd_classifier", "min", 5)
    # one trial at a time: TPE (n_startup_trials 2) drew trial 1 with one finished trial, the rest from its
    # model; the enqueued defaults count toward its start-up like any finished trial
    assert [t["origin"] for t in sorted(summary["trials"], key=lambda t: t["key"])] == \
        ["defaults", "startup", "model", "model", "model"]
    # and the report says so: counts, the best trial's origin, where the defaults ranked
    shown = json.loads((out / "report" / "report.json").read_text())["study"]["origins"]
    assert shown["counts"] == {"defaults": 1, "startup": 1, "model": 3}
    assert shown["best"] == summary["trials"][0]["origin"] and shown["best_key"] == summary["trials"][0]["key"]
    assert shown["defaults_rank"] == 1 + [t["key"] for t in summary["trials"]].index("trial-0000")
    # the progress line's "best" is the summary's best trial and value (its last evaluation), not the
    # best evaluation any trial ever had
    top = summary["trials"][0]
    last_line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("[")][-1]
    assert f"| best fd_classifier {top['value']:.4g} ({top['key']}) |" in last_line, last_line
    assert {t["status"] for t in summary["trials"]} == {"completed", "stopped-early"}, "ASHA stopped some trials"
    # Tune keeps the best and the last checkpoint of each trial, and nothing else
    for trial_dir in (out / "tune").glob("run-0/trial-*"):
        kept = sorted(trial_dir.glob("checkpoint_*"))
        steps = {int(torch.load(c / "checkpoint.pt", weights_only=True)["step"]) for c in kept}
        results = [json.loads(x) for x in (trial_dir / "result.json").read_text().splitlines() if x.strip()]
        best = min(results, key=lambda r: (r["fd_classifier"], r["step"]))["step"]
        assert 1 <= len(kept) <= 2 and {best, results[-1]["step"]} <= steps, (trial_dir.name, steps, best)


def test_study_hyperband_end_to_end(ray_local, tmp_path: Path) -> None:
    """`scheduler: hyperband` end to end behind a concurrency limit: it finishes, it stops a trial early,
    every step reaches MLflow and metrics.jsonl once, and each trial's Optuna state agrees with its status.
    (Tune's synchronous HyperBand, which it used to be, paused trials for a bracket that a limit of 2 never
    filled, and hung; under this limit of 1 it runs every trial to the end: the stop is what tells them apart.)

    Deterministic: one trial at a time, so each decision sees the same earlier trials; and numpy's global
    seed fixed, which AsyncHyperBandScheduler draws each trial's bracket from (with 30 steps and a grace of
    10 only bracket 0 has a rung below max_t; seed 2 puts every trial there). Measured: trials 1-3 are
    stopped at step 10, trial-0002 by 0.48 over the cutoff, so a stop does not hang on a last-digit difference."""
    import numpy as np

    np.random.seed(2)
    cfg, out, summary = _study(tmp_path, "search.sampler=random", "search.scheduler=hyperband", "search.seed=5",
                               "search.max_concurrent=1", num_trials=4)
    _check_study(cfg, out, summary, f"sqlite:///{out / 'mlflow.db'}", "fd_classifier", "min", 4, branches_seen=False)
    # the scheduler stopped at least one trial: fewer evaluations than train.steps allows, at a rung (step 10)
    # where an earlier trial had done better (ASHA keeps only the top third of a rung)
    recs = {t["key"]: jsonl(out / "trials" / t["key"] / "metrics.jsonl") for t in summary["trials"]}
    full = cfg.train.steps // cfg.eval.every + 1
    stopped = {k for k, r in recs.items() if len(r) < full}
    assert stopped, {k: [x["step"] for x in r] for k, r in recs.items()}
    assert all(t["status"] == ("stopped-early" if t["key"] in stopped else "completed") for t in summary["trials"])
    for key in stopped:
        rung = recs[key][-1]["step"]
        assert rung == cfg.eval.every, (key, rung)  # the grace period, the one rung below max_t
        at_rung = {k: next(x["fd_classifier"] for x in r if x["step"] == rung) for k, r in recs.items()}
        # an earlier trial (keys count up in the order trials start, one at a time) did better there
        assert any(at_rung[k] < at_rung[key] for k in sorted(recs) if k < key), (key, at_rung)
    # Tune's own results say the same: each trial's last result is its last evaluation
    last = {r[-1]["config"]["__trial_key"]: r[-1]["step"]
            for r in (jsonl(f / "result.json") for f in (out / "tune").glob("run-0/trial-*"))}
    assert last == {k: r[-1]["step"] for k, r in recs.items()}, last


def test_study_max_mode_tpe(ray_local, tmp_path: Path) -> None:
    # Maximising the distance is silly but makes direction mistakes visible. Trials are ranked by their
    # last evaluation (step 30, after training): continuous values, not step 0's untrained-G tie.
    cfg, out, summary = _study(tmp_path, "search.mode=max", "search.scheduler=none", "search.seed=1",
                               "search.defaults_first=false", num_trials=4)
    _check_study(cfg, out, summary, f"sqlite:///{out / 'mlflow.db'}", "fd_classifier", "max", 4)
    assert all(t["status"] == "completed" for t in summary["trials"])


def test_multi_objective_nsga2(ray_local, tmp_path: Path) -> None:
    """Two objectives (the distance and D's loss-oscillation amplitude): Optuna gets both values per trial."""
    from gansearch.search.study import run_study

    objectives = "search.objectives=[{metric: fd_classifier, mode: min}, {metric: d_amplitude, mode: min}]"
    cfg = load(DIGITS, ["search.sampler=nsga2", "search.scheduler=none", objectives])
    out = tmp_path / "study"
    run_study(cfg, DIGITS, out, num_trials=3, echo=lambda s: None)
    trials = optuna_trials(out)
    assert len(trials) == 3 and all(t.state.name == "COMPLETE" for t in trials)
    c, runs, _ = child_runs(f"sqlite:///{out / 'mlflow.db'}", out)
    by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
    for t in trials:
        assert t.values is not None and len(t.values) == 2 and all(math.isfinite(v) for v in t.values)
        run = by_key[t.user_attrs["gansearch_key"]]
        last_fid = c.get_metric_history(run.info.run_id, "fd_classifier")[-1].value
        last_amp = c.get_metric_history(run.info.run_id, "d_amplitude")[-1].value
        assert t.values[0] == pytest.approx(last_fid, rel=1e-6) and t.values[1] == pytest.approx(last_amp, rel=1e-6)


def test_resume_closes_runs_a_crash_left_open(ray_local, tmp_path: Path) -> None:
    """A kill between telling Optuna and closing the MLflow run leaves a finished trial's run open:
    --resume closes it with the sampler's verdict and runs nothing again."""
    from gansearch.search.study import run_study

    cfg, out, _ = _study(tmp_path, "search.scheduler=none", "search.sampler=random", num_trials=2)
    uri = f"sqlite:///{out / 'mlflow.db'}"
    c, runs, _ = child_runs(uri, out)
    victim = runs[0].info.run_id
    c.set_tag(victim, "status", "running")  # the state such a crash leaves behind
    c.update_run(victim, status="RUNNING")
    run_study(cfg, DIGITS, out, num_trials=2, resume=True, echo=lambda s: None)
    after = c.get_run(victim)
    assert after.data.tags["status"] == "completed" and after.info.status == "FINISHED"
    assert len(child_runs(uri, out)[1]) == 2

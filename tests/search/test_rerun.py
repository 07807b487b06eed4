"""search.rerun_top_k: the best configurations train again with fresh seeds at full budget, nothing of
it reaches Optuna, and the study's answer is the best mean, not the luckiest seed."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest

from gansearch.config import load
from study_helpers import DIGITS, cache_dir, child_runs, jsonl, optuna_trials

pytestmark = pytest.mark.slow


def test_rerun_top_k(ray_up, tmp_path: Path) -> None:
    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    from gansearch.search.study import run_study
    from gansearch.trainer import checkpoint

    # the search stops trials early (ASHA); the reruns must not: they train every configuration to the end
    cfg = load(DIGITS, ["search.rerun_top_k={k: 2, seeds: 2}", "search.scheduler=asha", "search.max_concurrent=1"])
    out = tmp_path / "study"
    summary = run_study(cfg, DIGITS, out, num_trials=3, echo=lambda s: None)

    assert len(optuna_trials(out)) == 3  # reruns are not samples of the space
    assert summary["num_trials"] == 3 and summary["ranking"] == "rerun_mean"
    searched = {t["key"]: t for t in summary["trials"]}
    ranked = sorted((t for t in searched.values() if t["value"] is not None), key=lambda t: (t["value"], t["key"]))
    assert [r["key"] for r in sorted(summary["reruns"], key=lambda r: r["search_value"])] == [t["key"] for t in ranked[:2]]

    uri = json.loads((out / "study.json").read_text())["tracking_uri"]
    c, runs, parent = child_runs(uri, out)
    assert len(runs) == 3 + 4
    by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
    means = []
    for r in summary["reruns"]:
        assert [x["seed"] for x in r["runs"]] == [1, 2]  # train.seed 0 is the search's; these are fresh
        values = []
        for x in r["runs"]:
            run = by_key[x["key"]]
            assert run.data.tags["gansearch.rerun_of"] == r["key"] and run.data.tags["train.seed"] == str(x["seed"])
            assert run.data.tags["status"] == "completed" and run.info.status == "FINISHED"
            assert run.data.params == by_key[r["key"]].data.params  # the same configuration
            folder = out / "trials" / x["key"]
            recs = jsonl(folder / "metrics.jsonl")
            assert recs[-1]["step"] == cfg.train.steps  # full budget
            assert x["value"] == recs[-1]["fd_classifier"]  # a trial's value: its last evaluation
            trained_cfg, _ = checkpoint.config_of(checkpoint.load(folder / checkpoint.FILENAME))
            assert trained_cfg["train"]["seed"] == x["seed"]
            values.append(x["value"])
        assert len(set(values)) == 2  # different seeds, different outcomes
        assert r["mean"] == pytest.approx(statistics.fmean(values)) and r["std"] == pytest.approx(statistics.stdev(values))
        means.append(r["mean"])
    assert means == sorted(means)  # ranked by the mean
    assert parent.data.tags["best.key"] == summary["reruns"][0]["key"]
    assert float(parent.data.tags["best.mean"]) == pytest.approx(means[0])

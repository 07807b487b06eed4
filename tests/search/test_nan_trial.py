"""A trial whose losses turn non-finite inside a real study: recorded as diverged (MLflow tag, the step
it happened at; Optuna FAIL: no stand-in number for the sampler), and the study goes on to finish the others."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gansearch.config import load
from study_helpers import cache_dir, child_runs, jsonl, optuna_trials

pytestmark = pytest.mark.slow
SPACE = Path(__file__).resolve().parent / "nan.yaml"


def test_diverging_trial_is_recorded_and_the_study_goes_on(ray_up, tmp_path: Path) -> None:
    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    from optuna.trial import TrialState

    from gansearch.search.study import run_study

    out = tmp_path / "study"
    summary = run_study(load(SPACE, []), SPACE, out, echo=lambda s: None)
    uri = json.loads((out / "study.json").read_text())["tracking_uri"]
    _, runs, parent = child_runs(uri, out)
    ot = {t.user_attrs["gansearch_key"]: t for t in optuna_trials(out)}
    assert len(runs) == 4 and len(ot) == 4
    seen = set()
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        lr_d = float(r.data.params["lr_d"])
        seen.add(lr_d)
        final = json.loads((out / "trials" / key / "metrics.json").read_text())
        recs = jsonl(out / "trials" / key / "metrics.jsonl")
        if lr_d == 1.0:
            assert r.data.tags["status"] == "diverged" and r.info.status == "FINISHED"
            assert final["status"] == "diverged" and 0 < final["diverged_step"] < 30
            assert recs[-1]["diverged"] == 1 and recs[-1]["step"] == final["diverged_step"]
            assert ot[key].state == TrialState.FAIL and ot[key].values is None
        else:
            assert r.data.tags["status"] == "completed" and final["status"] == "completed"
            assert ot[key].state == TrialState.COMPLETE and ot[key].value < 1e30
            assert recs[-1]["step"] == 30
    assert seen == {1.0, 1e-4}, "the sampler's seed must draw both learning rates"
    n_div = sum(1 for r in runs if r.data.params["lr_d"] == "1.0")
    assert summary["trials_diverged"] == n_div and summary["trials_completed"] == 4 - n_div
    assert parent.data.metrics["trials_diverged"] == n_div
    assert all(t["value"] is None for t in summary["trials"] if t["status"] == "diverged")  # not ranked

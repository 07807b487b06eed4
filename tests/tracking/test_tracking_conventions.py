"""MLflow conventions: what a trainer record becomes, and batched logging into a real sqlite store."""

from __future__ import annotations

import math
from pathlib import Path

from gansearch.tracking import conventions as cv


def test_record_metrics_keep_measurements_only() -> None:
    rec = {"step": 20, "fid": 3.5, "kid": math.inf, "d_loss": 0.7, "diverged": 0.0, "grid": "samples/step_20.png",
           "eval.feature_net": "classifier-digits", "eval.feature_net_hash": "ab" * 8, "eval.num_samples": 256,
           "eval.feature_net_accuracy": 0.97, "classes_covered": 9.0, "g_period": math.nan}
    m = cv.record_metrics(rec)
    # inf is a worst case (logged at the bound); NaN is "not defined" (no significant period): left out
    assert m == {"fid": 3.5, "kid": cv.WORST, "d_loss": 0.7, "diverged": 0.0, "classes_covered": 9.0}
    assert cv.record_tags(rec) == {"eval.feature_net": "classifier-digits", "eval.feature_net_hash": "ab" * 8,
                                   "eval.num_samples": "256", "eval.feature_net_accuracy": "0.97"}
    assert cv.worst_value("max") == -cv.WORST and cv.finite(-math.inf) == -cv.WORST


def test_trial_run_logs_in_batches_and_reattaches_without_duplicates(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from gansearch.tracking.runs import TrialRun, close_trial_run, ensure_experiment, start_study_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp = ensure_experiment(uri, "t", (tmp_path / "art").as_uri())
    parent = start_study_run(uri, exp, "study", {"search.metric": "fid"}, None)
    params = {"lr_g": 1e-3, "loss": "hinge", "balance": "none"}
    run = TrialRun(uri, exp, parent, "trial-0000", params)
    (tmp_path / "samples").mkdir()
    for step in (0, 10):
        (tmp_path / "samples" / f"step_{step}.png").write_bytes(b"png")
        assert run.log_eval({"step": step, "fid": 10.0 - step, "diverged": 0.0, "grid": f"samples/step_{step}.png"}, tmp_path)
    again = TrialRun(uri, exp, parent, "trial-0000", params)  # a resumed trial
    assert again.run_id == run.run_id and again.resumed and again.last_step == 10
    assert not again.log_eval({"step": 10, "fid": 0.0, "diverged": 0.0}, tmp_path)  # redone step: skipped
    assert again.log_eval({"step": 20, "fid": 1.0, "diverged": 0.0}, tmp_path)
    c = MlflowClient(uri)
    assert [m.step for m in c.get_metric_history(run.run_id, "fid")] == [0, 10, 20]
    assert c.get_run(run.run_id).data.params == {"lr_g": "0.001", "loss": "hinge", "balance": "none"}
    assert {Path(a.path).name for a in c.list_artifacts(run.run_id, "samples")} == {"step_0.png", "step_10.png"}
    assert close_trial_run(uri, exp, parent, "trial-0000", "stopped-early") == run.run_id
    r = c.get_run(run.run_id)
    assert r.data.tags["status"] == "stopped-early" and r.info.status == "FINISHED"
    assert r.data.tags["mlflow.parentRunId"] == parent and r.data.tags["strategy"] == "none"

"""summarize(): one value per trial (its last evaluation), ties to the lower key, no value for diverged or
failed trials, and no ranking at all across feature networks. A real (empty) sqlite MLflow store; the
trial folders are written by hand so every number is known."""

from __future__ import annotations

import json
from pathlib import Path

from gansearch.search.plan import Plan
from gansearch.search.summary import summarize


def _trial(study: Path, key: str, values: list[float], net_hash: str = "aaaa", diverged_at: int | None = None) -> None:
    folder = study / "trials" / key
    folder.mkdir(parents=True)
    recs = [{"step": 10 * i, "fd_classifier": v, "diverged": float(diverged_at == 10 * i),
             "eval.feature_net_hash": net_hash} for i, v in enumerate(values)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (folder / "run.json").write_text(json.dumps({"params": {"lr_g": 1e-3}}))


def _summary(study: Path) -> dict:
    from gansearch.tracking.runs import ensure_experiment, start_study_run

    uri = f"sqlite:///{study / 'mlflow.db'}"
    exp = ensure_experiment(uri, "s", (study / "art").as_uri())
    parent = start_study_run(uri, exp, "s", {}, None)
    summary, _ = summarize(study, Plan((("fd_classifier", "min"),), 4), uri, exp, parent)
    return summary


def test_values_are_last_evaluations_and_ties_go_to_the_lower_key(tmp_path: Path) -> None:
    _trial(tmp_path, "trial-0003", [900.0, 100.0, 150.0])  # peaked at 100, ended at 150
    _trial(tmp_path, "trial-0001", [900.0, 150.0])  # tied with trial-0003
    _trial(tmp_path, "trial-0002", [900.0, 50.0, float("inf")], diverged_at=20)
    _trial(tmp_path, "trial-0000", [900.0, 120.0])
    s = _summary(tmp_path)
    assert [(t["key"], t["value"], t["value_step"]) for t in s["trials"]] == [
        ("trial-0000", 120.0, 10), ("trial-0001", 150.0, 10), ("trial-0003", 150.0, 20), ("trial-0002", None, None)]
    assert s["best_value"] == 120.0 and "ranking_refused" not in s


def test_trials_scored_by_different_feature_nets_are_not_ranked(tmp_path: Path) -> None:
    _trial(tmp_path, "trial-0000", [900.0, 120.0], net_hash="aaaa")
    _trial(tmp_path, "trial-0001", [900.0, 100.0], net_hash="bbbb")  # another node's own classifier
    s = _summary(tmp_path)
    assert s["best_value"] is None
    assert s["ranking_refused"].startswith("trials were scored by different feature networks (aaaa: trial-0000; "
                                           "bbbb: trial-0001)")


def test_progress_line_best_is_a_trials_latest_value(capsys) -> None:
    """The live line agrees with the summary: trial-0000 reached 10 once and ended at 50, trial-0001 ended
    at 30, so the best is trial-0001 at 30 (on main it stayed trial-0000 at 10); ties go to the lower key."""
    from types import SimpleNamespace

    from gansearch.search.progress import StudyCallback
    from gansearch.search.space import TRIAL_KEY

    cb = StudyCallback(total=2, done_before=0, max_step=20, metric="fd_classifier", mode="min",
                       tracking_uri="unused", experiment_id="0", parent_run_id="unused", every_s=1e9)
    cb.metrics.enabled = False  # no Ray in this process: the Prometheus gauges are another test's
    t0, t1 = (SimpleNamespace(trial_id=k, config={TRIAL_KEY: k}) for k in ("trial-0000", "trial-0001"))
    for trial, value in ((t0, 40.0), (t0, 10.0), (t1, 30.0), (t0, 50.0)):
        cb.on_trial_result(0, [], trial, {"fd_classifier": value, "step": 10})
    assert cb.best == (30.0, "trial-0001")
    cb.on_trial_result(0, [], t0, {"fd_classifier": 30.0, "step": 20})
    assert cb.best == (30.0, "trial-0000")
    cb.print_line()
    assert "| best fd_classifier 30 (trial-0000) |" in capsys.readouterr().out

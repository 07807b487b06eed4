"""Ranking rules of the export (pure), and a 2D-point generator exported and sampled as a scatter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gansearch.search.export_study import rank_trials
from ring8_export import export_ring8


def _trial(key: str, value: float | None) -> dict:
    return {"key": key, "run_id": f"run-{key}", "status": "completed", "value": value, "value_step": 10}


def test_rank_by_value_skips_non_finite_and_breaks_ties_by_key() -> None:
    summary = {"metric": "fd_classifier", "mode": "min",
               "trials": [_trial("a", 3.0), _trial("b", None), _trial("c", 1.0), _trial("d", float("nan"))]}
    assert [c["key"] for c in rank_trials(summary)] == ["c", "a"]
    summary["mode"] = "max"
    assert [c["key"] for c in rank_trials(summary)] == ["a", "c"]
    tied = {"metric": "fd_classifier", "mode": "min", "trials": [_trial("z", 1.0), _trial("m", 1.0), _trial("b", 1.0)]}
    assert [c["key"] for c in rank_trials(tied)] == ["b", "m", "z"]  # not the order the trials were listed in


def test_reruns_rank_by_mean_first() -> None:
    trials = [_trial("a", 1.0), _trial("b", 2.0), _trial("c", 3.0), _trial("d", 4.0)]
    reruns = [
        {"key": "a", "params": {}, "runs": [], "mean": 9.0, "std": 5.0, "n": 3},  # lucky seed: mean is worse
        {"key": "b", "params": {}, "runs": [], "mean": 2.5, "std": 0.1, "n": 3},
        {"key": "c", "params": {}, "runs": [], "mean": float("inf"), "std": None, "n": 3},
    ]
    ranked = rank_trials({"metric": "fd_classifier", "mode": "min", "trials": trials, "reruns": reruns})
    assert [(c["key"], c["ranked_by"]) for c in ranked] == [
        ("b", "rerun_mean"), ("a", "rerun_mean"), ("c", "value"), ("d", "value")]
    assert ranked[0]["rank_value"] == 2.5 and ranked[0]["rerun"]["n"] == 3


def test_point_generator_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """ring8 (an MLP G for 2D points): the export's scatter equals the trainer's own grid pixel for pixel."""
    from gansearch.cli.main import main

    cfg, rec, export, body = export_ring8(tmp_path, [
        "train.steps=20", "eval.every=20", "train.checkpoint_every=20", "eval.num_samples=256", "eval.kid_subset_size=128",
        "eval.grid=300", "model.g_width=32", "model.d_width=32", "train.batch_size=64"], study="points")
    cfg_json = json.loads((export / "1-t0" / "config.json").read_text())
    assert body["step"] == 20 and cfg_json["model_args"]["data_shape"] == [2]
    assert len(cfg_json["model_args"]["modes"]) == 8
    out = tmp_path / "scatter.png"
    main(["sample", str(export), "-n", "300", "-o", str(out)])
    trainer_grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step_20.png"))
    assert np.array_equal(np.asarray(Image.open(out)), trainer_grid)
    # Red mode rings and black points are both there: a scatter, not an image grid.
    px = trainer_grid.reshape(-1, 3)
    assert ((px[:, 0] > 200) & (px[:, 1] < 60)).any() and (px.sum(axis=1) == 0).any()


def test_a_rerun_that_diverged_is_counted_not_averaged() -> None:
    """summarize_reruns: a diverged seed has no value (the mean is over the seeds that have one, on main it
    averaged in 1e30), and a configuration with any diverged seed ranks below every one whose seeds all
    converged, however good its other seeds; the export keeps that order."""
    from gansearch.search.rerun import rerun_key, summarize_reruns

    top = [{"key": k, "params": {}, "value": v} for k, v in (("a", 1.0), ("b", 2.0), ("c", 3.0))]
    by_key = {rerun_key("a", 1): {"status": "completed", "value": 1.5},
              rerun_key("a", 2): {"status": "diverged", "value": None},
              rerun_key("b", 1): {"status": "completed", "value": 4.0},
              rerun_key("b", 2): {"status": "completed", "value": 6.0},
              rerun_key("c", 1): {"status": "diverged", "value": None},
              rerun_key("c", 2): {"status": "failed", "value": None}}
    table = summarize_reruns(top, [1, 2], by_key, "min")
    assert [(r["key"], r["mean"], r["n"], r["n_diverged"], r["n_failed"]) for r in table] == [
        ("b", 5.0, 2, 0, 0), ("a", 1.5, 1, 1, 0), ("c", None, 0, 1, 1)]
    assert [x["value"] for x in table[1]["runs"]] == [1.5, None]
    ranked = rank_trials({"metric": "fd_classifier", "mode": "min", "reruns": table,
                          "trials": [_trial("a", 1.0), _trial("b", 2.0), _trial("c", 3.0)]})
    assert [(c["key"], c["ranked_by"]) for c in ranked] == [("b", "rerun_mean"), ("a", "rerun_mean"), ("c", "value")]
    assert ranked[1]["rerun"]["n_diverged"] == 1

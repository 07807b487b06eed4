"""The must-show: a style-transfer study of 8 trials end to end through the real CLI (`gansearch run`:
Ray Tune, Optuna's journal, MLflow's sqlite store; then `gansearch export`), on scikit-learn's bundled
photos. The best trial's image, measured by the measuring net (another random VGG-19 than the one it was
optimised against) in the trainer's own records, is closer in style to the style image than the content
image and the noise start are, and closer in content to the content image than the style image is.

Deterministic: random sampler with a seed (each trial's params depend on its number only), one thread
per trial on the CPU. No assertion on wall time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))
from study_helpers import GANSEARCH, cli_env, jsonl  # noqa: E402

SPACE = """
name: style-study-test
task: style_transfer
style: {content: "sklearn:china.jpg", style: "sklearn:flower.jpg", feature_seed: 0, measure_seed: 1, measure_size: 32}
train: {steps: 60, seed: 0, checkpoint_every: 20}
eval: {every: 20}
space:
  content_weight: 1.0
  style_weight: {type: loguniform, low: 0.3, high: 30}
  tv_weight: {type: loguniform, low: 1e-3, high: 1.0}
  content_layers: {type: categorical, choices: [relu4_2, relu3_2, relu2_2]}
  style_layers: {type: categorical, choices: [gatys, low, high]}
  optimizer: {type: categorical, choices: [adam, lbfgs]}
  lr: {type: loguniform, low: 0.02, high: 1.0}
  init: {type: categorical, choices: [noise, content]}
  image_size: 32
search: {metric: transfer_score, mode: min, sampler: random, scheduler: none, num_trials: 8, seed: 0,
         resources_per_trial: {cpu: 1}}
"""


def _cli(args: list[str], tmp: Path, log: str, timeout: float = 900) -> str:
    with (tmp / log).open("w") as f:
        proc = subprocess.run([GANSEARCH, *args], stdout=f, stderr=subprocess.STDOUT, env=cli_env(tmp), timeout=timeout,
                              cwd=tmp)
    out = (tmp / log).read_text()
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.mark.slow
def test_style_study_end_to_end(tmp_path: Path) -> None:
    space = tmp_path / "style.yaml"
    space.write_text(textwrap.dedent(SPACE))
    study = tmp_path / "study"
    out = _cli(["run", str(space), "--out", str(study)], tmp_path, "run.log")
    assert "top trials by transfer_score (min)" in out

    summary = json.loads((study / "summary.json").read_text())
    assert summary["num_trials"] == 8 and summary["metric"] == "transfer_score"
    assert summary["trials_completed"] + summary.get("trials_diverged", 0) == 8
    best = summary["trials"][0]
    assert best["value"] == summary["best_value"] is not None

    # --- the must-show, from the best trial's own records (the trainer's measuring code path) ---------
    recs = jsonl(study / "trials" / best["key"] / "metrics.jsonl")
    rec = next(r for r in recs if r["step"] == best["value_step"])
    assert rec["step"] == 60 and rec["transfer_score"] == pytest.approx(best["value"])
    assert rec["eval.feature_net"] == "vgg19-random-seed1" and rec["style.feature_net"] == "vgg19-random-seed0"
    assert rec["style_distance"] < rec["style_distance_of_content"], rec  # more the style's than the content image
    assert rec["style_distance"] < rec["style_distance_of_noise"], rec  # ... and than the noise start
    assert rec["content_distance"] < rec["content_distance_of_style"], rec  # more the content's than the style image
    assert rec["transfer_score"] < 1.0  # better than handing back either input image
    print("best", best["key"], best["params"], {k: rec[k] for k in (
        "transfer_score", "content_distance", "style_distance", "content_distance_of_style",
        "style_distance_of_content", "style_distance_of_noise", "content_distance_of_noise", "converge_step")})
    # the net-free measures (no VGG: nothing shared with the objective), with their references
    independent = {k: rec[k] for k in ("content_ssim", "content_edge_corr", "style_swd_patch", "style_swd_colour",
                                       "content_ssim_of_style", "content_edge_corr_of_style",
                                       "style_swd_patch_of_content", "style_swd_colour_of_content")}
    print("best, net-free", independent)

    # --- MLflow: one child run per trial, params under their YAML names, distances with provenance ------
    from mlflow.tracking import MlflowClient

    meta = json.loads((study / "study.json").read_text())
    c = MlflowClient(tracking_uri=f"sqlite:///{study / 'mlflow.db'}")
    runs = c.search_runs([meta["experiment_id"]], filter_string=f"tags.`mlflow.parentRunId` = '{meta['parent_run_id']}'")
    assert len(runs) == 8
    run = next(r for r in runs if r.data.tags["gansearch.trial_key"] == best["key"])
    assert run.data.tags["gansearch.task"] == "style_transfer" and "strategy" not in run.data.tags
    assert run.data.tags["eval.feature_net"] == "vgg19-random-seed1"
    assert {"style_weight", "tv_weight", "optimizer", "init", "lr"} <= set(run.data.params)
    assert [m.step for m in c.get_metric_history(run.info.run_id, "transfer_score")] == [0, 20, 40, 60]
    assert [m.step for m in c.get_metric_history(run.info.run_id, "style_swd_patch")] == [0, 20, 40, 60]
    assert run.data.metrics["content_ssim"] == pytest.approx(rec["content_ssim"])
    arts = {a.path for a in c.list_artifacts(run.info.run_id, "samples")}
    assert "samples/step_60.png" in arts
    assert {a.path for a in c.list_artifacts(run.info.run_id, "checkpoint")} == {"checkpoint/checkpoint.pt"}

    # --- Optuna: the same names; the report: importance of the weights, convergence ----------------------
    report = json.loads((study / "report" / "report.json").read_text())
    imp = report["importance"][0]
    assert imp["metric"] == "transfer_score" and {"style_weight", "tv_weight"} <= set(imp["importances"])
    conv = report["convergence"]
    assert conv["group_by"] == ["optimizer", "init"] and conv["speed"]["optimizer"]
    assert set(conv["top"][0]["curve"]) >= {"step", "transfer_score", "content_distance", "style_distance"}
    assert report["samples"][0]["key"] == best["key"] and (study / report["samples"][0]["path"]).is_file()
    assert report["study"]["provenance"]["style.feature_net"] == "vgg19-random-seed0"
    assert "vgg19-random-seed" in (study / "report" / "report.html").read_text()

    # --- export: the best image and its config, not a generator ------------------------------------------
    exported = tmp_path / "export"
    _cli(["export", str(study), "--top-k", "2", "--to", str(exported)], tmp_path, "export.log")
    manifest = json.loads((exported / "manifest.json").read_text())
    first = exported / manifest["trials"][0]["folder"]
    assert manifest["trials"][0]["trial_key"] == best["key"]
    assert {"image.png", "image.safetensors", "config.json", "metrics.json", "README.md"} <= set(manifest["trials"][0]["files"])
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["step"] == 60 and metrics["value"] == pytest.approx(best["value"])
    # the exported pixels, measured again by the product's Measure, give the recorded numbers
    from safetensors.torch import load_file

    from gansearch.config import SpaceFile
    from gansearch.style.measure import Measure

    image = load_file(str(first / "image.safetensors"))["image"]
    cfg = SpaceFile.model_validate(json.loads((first / "config.json").read_text())["space_file"])
    again = Measure(cfg.style, torch.device("cpu")).score(image)
    assert again["transfer_score"] == pytest.approx(rec["transfer_score"], rel=1e-4)
    assert again["style_distance"] == pytest.approx(rec["style_distance"], rel=1e-4)
    for k in ("content_ssim", "content_edge_corr", "style_swd_patch", "style_swd_colour"):
        assert again[k] == pytest.approx(rec[k], rel=1e-4, abs=1e-9), k

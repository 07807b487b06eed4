"""The style trainer: what it records, resume from a checkpoint (Adam and L-BFGS), divergence, and the
measuring net being another net than the one optimised against."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gansearch.config import fixed_params, load
from gansearch.config.metrics import FEATURE_NET, FEATURE_NET_HASH, OPTIMISED_NET, OPTIMISED_NET_HASH
from gansearch.errors import ConfigError
from gansearch.style import StyleTrainer, train
from gansearch.style.measure import DESCRIPTIONS, INDEPENDENT_METRICS
from gansearch.trainer import checkpoint


def _params(space: Path, **over: object) -> dict:
    return {**fixed_params(load(space).space), **over}


def test_run_records_distances_provenance_and_images(space: Path, tmp_path: Path) -> None:
    cfg = load(space)
    reports: list[tuple[dict, Path | None]] = []
    summary = train(cfg, tmp_path / "run", report=lambda rec, ck: reports.append((rec, ck)))
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [0, 4, 8, 12] == [r["step"] for r, _ in reports]
    assert summary["status"] == "completed" and summary["metric"] == "transfer_score"
    for r in recs:
        assert {"transfer_score", "content_distance", "style_distance", "transfer_score_best", "loss",
                "converge_step", "style_distance_of_content", "content_distance_of_style",
                "style_distance_of_noise", "content_distance_of_noise"} <= set(r)
        # the net-free measures, their best so far, and their references (the other input image, the noise)
        assert {"content_ssim", "content_edge_corr", "style_swd_patch", "style_swd_colour", "content_ssim_best",
                "style_swd_patch_best", "content_ssim_of_style", "content_edge_corr_of_style",
                "style_swd_patch_of_content", "style_swd_colour_of_content", "content_ssim_of_noise",
                "style_swd_colour_of_noise"} <= set(r)
        assert all(math.isfinite(r[k]) for k in INDEPENDENT_METRICS)
        assert (tmp_path / "run" / r["grid"]).is_file() and r["grid"] == f"samples/step_{r['step']}.png"
        assert r[FEATURE_NET] == "vgg19-random-seed1" and r[OPTIMISED_NET] == "vgg19-random-seed0"
        assert r[FEATURE_NET_HASH] != r[OPTIMISED_NET_HASH]
    # the definition of transfer_score, from the record's own numbers
    last = recs[-1]
    assert last["transfer_score"] == pytest.approx(last["content_distance"] / last["content_distance_of_style"]
                                                   + last["style_distance"] / last["style_distance_of_content"])
    assert last["content_ssim_best"] == max(r["content_ssim"] for r in recs)  # "max" measures: best is the max
    assert last["style_swd_colour_best"] == min(r["style_swd_colour"] for r in recs)
    assert recs[-1]["loss"] < recs[0]["loss"]  # the objective went down
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["task"] == "style_transfer" and run["params"]["image_size"] == 16 and run["dataset_fingerprint"]
    assert run["measure_definitions"] == DESCRIPTIONS and "proxy" in run["measure_definitions"]["transfer_score"]
    assert run["style_swd_patch_of_content"] == recs[0]["style_swd_patch_of_content"]


@pytest.mark.parametrize("optimizer,lr", [("adam", 0.05), ("lbfgs", 0.5)])
def test_resume_continues_exactly(space: Path, tmp_path: Path, optimizer: str, lr: float) -> None:
    """12 steps in one go == 4 steps, then a new trainer resuming the folder's checkpoint to 12."""
    params = _params(space, optimizer=optimizer, lr=lr, init="noise")
    cfg = load(space)
    whole = StyleTrainer(cfg, tmp_path / "whole", params)
    whole.run()
    short = load(space, ["train.steps=4"])
    StyleTrainer(short, tmp_path / "split", params).run()
    state = torch.load(tmp_path / "split" / checkpoint.FILENAME, weights_only=True)  # tensors and strings only
    assert state["step"] == 4 and state["task"] == "style_transfer"
    again = StyleTrainer(cfg, tmp_path / "split", params)
    assert again.restore() and again.start_step == 4 and [r["step"] for r in again.records.evals] == [0, 4]
    again.run()
    assert torch.equal(whole.image, again.image)
    strip = ("train_time_s", "eval_time_s", "converge_s")
    a = [{k: v for k, v in json.loads(x).items() if k not in strip} for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    b = [{k: v for k, v in json.loads(x).items() if k not in strip} for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert a == b


def test_resume_refuses_other_hyperparameters(space: Path, tmp_path: Path) -> None:
    cfg = load(space, ["train.steps=4"])
    StyleTrainer(cfg, tmp_path / "run", _params(space)).run()
    with pytest.raises(ConfigError, match="same hyperparameters"):
        StyleTrainer(cfg, tmp_path / "run", _params(space, style_weight=1.0)).run()


def test_a_non_finite_loss_is_recorded_as_diverged(space: Path, tmp_path: Path, monkeypatch) -> None:
    real = StyleTrainer.objective
    calls = {"n": 0}

    def nan_after_five(self, x):  # the loss of training steps 6, 7, ... (evaluations run without grad)
        calls["n"] += torch.is_grad_enabled()
        loss = real(self, x)
        if calls["n"] > 5:
            loss = loss * float("nan")
            self.terms["loss"] = float("nan")
        return loss

    monkeypatch.setattr(StyleTrainer, "objective", nan_after_five)
    summary = train(load(space), tmp_path / "run")
    assert summary["status"] == "diverged" and summary["diverged_step"] == 6
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [0, 4, 6] and recs[-1]["diverged"] == 1
    assert recs[-1]["transfer_score"] is None  # +inf in strict JSON: the worst case, no number to rank
    assert recs[-1]["style_swd_patch"] is None and recs[-1]["content_ssim"] == -1.0  # each measure's far end
    assert "grid" not in recs[-1]


def test_the_measuring_net_must_differ_from_the_optimised_one(space: Path, tmp_path: Path) -> None:
    net = torch.nn.Module()
    from gansearch.style.vgg import random_vgg19

    net = random_vgg19(5)
    weights = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in net.layers.state_dict().items()}, weights)
    copy = tmp_path / "copy.pth"
    copy.write_bytes(weights.read_bytes())
    cfg = load(space, [f"style.feature_weights={weights}", f"style.measure_weights={copy}"])
    with pytest.raises(ConfigError, match="must differ from the net the image is optimised against"):
        StyleTrainer(cfg, tmp_path / "run", _params(space))
    cfg = load(space, [f"style.feature_weights={weights}"])  # measured by the random seed-1 net: fine
    t = StyleTrainer(cfg, tmp_path / "run", _params(space))
    assert t.net.name == "vgg19:vgg19.pth" and t.measure.net.name == "vgg19-random-seed1"
    assert t.net.weights_hash == net.weights_hash


def test_content_start_is_the_content_image(space: Path, tmp_path: Path) -> None:
    t = StyleTrainer(load(space), tmp_path / "run", _params(space, init="content"))
    d = t.measure.score(t.image)
    # the content image at image_size == measure_size: exactly the measuring net's content target
    assert d["content_distance"] == pytest.approx(0.0, abs=1e-12)
    assert d["transfer_score"] == pytest.approx(1.0)
    assert math.isfinite(t.baselines["style_distance_of_noise"])

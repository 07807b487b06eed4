"""The trainer end to end on real data: outputs, bit-for-bit resume, divergence, the digits target."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from checks import assert_resumed_like_straight
from gansearch.config import fixed_params, load
from gansearch.trainer import Trainer, train
from gansearch.trainer import checkpoint

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "train.steps=40", "train.checkpoint_every=20", "train.batch_size=32", "eval.every=20",
    "eval.num_samples=256", "eval.kid_subset_size=128", "eval.grid=16", "model.g_width=16", "model.d_width=16",
    "eval.oscillation_window=16",
]


def tiny_cfg(*extra: str):
    return load(ROOT / "search_spaces" / "digits.yaml", TINY + list(extra))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_outputs_of_a_short_run(tmp_path: Path) -> None:
    summary = train(tiny_cfg(), tmp_path)
    recs = _jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in recs] == [0, 20, 40]
    assert summary["status"] == "completed" and summary["steps"] == 40
    for r in recs:
        assert r["fd_classifier"] > 0 and r["eval.num_samples"] == 256 and r["eval.feature_net"].startswith("classifier")
        assert len(r["eval.feature_net_hash"]) == 16 and "fid" not in r  # fid is for Inception features only
        assert (tmp_path / r["grid"]).is_file()
    assert {"d_loss", "g_loss", "d_amplitude", "g_period", "d_collapse", "classes_covered", "class_kl",
            "kd_classifier", "fd_classifier_best"} <= set(recs[-1])
    assert json.loads((tmp_path / "metrics.json").read_text())["final"]["step"] == 40
    state = checkpoint.load(tmp_path / checkpoint.FILENAME)
    cfg_dict, params = checkpoint.config_of(state)
    assert cfg_dict["train"]["steps"] == 40 and params == fixed_params(tiny_cfg().space)


def test_checkpoint_loads_with_weights_only(tmp_path: Path) -> None:
    train(tiny_cfg("train.steps=20"), tmp_path)
    state = torch.load(tmp_path / checkpoint.FILENAME, weights_only=True)
    assert state["step"] == 20 and "g" in state and not list(tmp_path.glob("*.tmp"))


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("balance", ["none", "instance_noise", "skip_d"])
def test_resume_is_bit_for_bit(tmp_path: Path, balance: str) -> None:
    """A run killed after its step-20 checkpoint and resumed ends with exactly the uninterrupted weights."""
    cfg = tiny_cfg(f"balance={balance}")
    train(cfg, tmp_path / "straight")

    def crash_at_40(record: dict, ckpt: Path | None) -> None:
        if record["step"] == 40:
            raise Crash()

    with pytest.raises(Crash):
        train(cfg, tmp_path / "resumed", report=crash_at_40)
    assert checkpoint.load(tmp_path / "resumed" / checkpoint.FILENAME)["step"] == 20
    train(cfg, tmp_path / "resumed")
    assert_resumed_like_straight(tmp_path / "straight", tmp_path / "resumed", [0, 20, 40])


def test_resume_refuses_other_params(tmp_path: Path) -> None:
    from gansearch.errors import ConfigError

    train(tiny_cfg("train.steps=20"), tmp_path)
    with pytest.raises(ConfigError, match="use another --out"):
        train(tiny_cfg("train.steps=20", "lr_g=0.001"), tmp_path)


def test_nan_is_recorded_as_diverged_with_its_step(tmp_path: Path) -> None:
    cfg = tiny_cfg()
    trainer = Trainer(cfg, tmp_path, fixed_params(cfg.space))
    first = next(trainer.d.parameters())
    with torch.no_grad():  # fault injection: D's first weight becomes NaN, so step 1's losses are NaN
        first.fill_(math.nan)
    summary = trainer.run()
    assert summary["status"] == "diverged" and summary["diverged_step"] == 1
    assert 1 <= summary["steps"] <= 20  # losses are read back once per window, not per step
    recs = _jsonl(tmp_path / "metrics.jsonl")
    assert recs[-1]["diverged"] == 1.0 and recs[-1]["fd_classifier"] is None  # worst case: inf, written as null
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"


def test_cli_train_writes_and_resumes(tmp_path: Path) -> None:
    from gansearch.cli.main import main

    args = ["train", str(ROOT / "search_spaces" / "digits.yaml"), "--out", str(tmp_path), "--quiet"]
    for s in TINY:
        args += ["--set", s]
    main(args + ["--steps", "20"])
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 20
    first = (tmp_path / "metrics.jsonl").read_text().splitlines()
    grids = {s: (tmp_path / "samples" / f"step_{s}.png").stat().st_mtime_ns for s in (0, 20)}
    assert checkpoint.load(tmp_path / checkpoint.FILENAME)["step"] == 20
    main(args + ["--steps", "40"])  # same folder, more steps: resumes from 20 (params are equal)
    assert [r["step"] for r in _jsonl(tmp_path / "metrics.jsonl")] == [0, 20, 40]
    # resumed, not retrained: the records and grids of steps 0 and 20 are the first run's, untouched
    assert (tmp_path / "metrics.jsonl").read_text().splitlines()[:2] == first
    assert {s: (tmp_path / "samples" / f"step_{s}.png").stat().st_mtime_ns for s in (0, 20)} == grids
    assert checkpoint.load(tmp_path / checkpoint.FILENAME)["step"] == 40

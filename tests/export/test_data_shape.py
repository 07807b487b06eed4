"""The export rebuilds G for the data shape the trainer recorded in its checkpoint, not one guessed from G's
weights; a checkpoint from before the trainer recorded it still exports, through the old guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gansearch.config import load
from gansearch.export import generator
from gansearch.export.package import export_trial
from gansearch.trainer import checkpoint, train

ROOT = Path(__file__).resolve().parents[2]
INFO = {"study": "s", "rank": 1, "trial_key": "t0", "metric": "fd_classifier", "mode": "min", "ranked_by": "value",
        "rank_value": 1.0, "status": "completed", "mlflow_run_id": None, "metrics": {}}


def test_export_reads_the_shape_the_checkpoint_carries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(ROOT / "search_spaces" / "digits.yaml", [
        "train.steps=2", "train.checkpoint_every=2", "eval.every=2", "eval.num_samples=64", "eval.kid=false",
        "eval.grid=4", "model.g_width=8", "model.d_width=8"])
    train(cfg, tmp_path / "run")
    path = tmp_path / "run" / checkpoint.FILENAME
    state = checkpoint.load(path)
    assert checkpoint.data_shape_of(state) == (1, 16, 16)

    def no_guess(*args: object) -> tuple[int, ...]:
        raise AssertionError("the export guessed a shape the checkpoint carries")

    with monkeypatch.context() as m:
        m.setattr(generator, "guess_data_shape", no_guess)
        export_trial(path, tmp_path / "new", INFO)
    new = json.loads((tmp_path / "new" / generator.CONFIG).read_text())["model_args"]
    assert new["data_shape"] == [1, 16, 16] and new["model_name"] == "dcgan"

    del state["data_shape"]  # as written before the trainer recorded it
    checkpoint.save(tmp_path / "old.pt", state)
    assert checkpoint.data_shape_of(checkpoint.load(tmp_path / "old.pt")) is None
    export_trial(tmp_path / "old.pt", tmp_path / "old", INFO)
    assert json.loads((tmp_path / "old" / generator.CONFIG).read_text())["model_args"] == new
    old, _ = generator.load(tmp_path / "old")
    again, _ = generator.load(tmp_path / "new")
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), again.state_dict().values()))

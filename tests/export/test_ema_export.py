"""A run that kept G's moving average (ema_decay > 0) exports the average, the generator its evaluations
scored, and says so; `gansearch sample` then renders the average. A run without one exports G, as "raw"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open

from gansearch.config import load
from gansearch.export import generator, manifest
from gansearch.export.package import export_trial
from gansearch.export.sample import sample_export
from gansearch.trainer import checkpoint, train
from gansearch.trainer.grids import fixed_latents, generate, sample_seed
from gansearch.trainer.models import build_models

ROOT = Path(__file__).resolve().parents[2]
TINY = ["train.steps=20", "train.checkpoint_every=10", "train.batch_size=16", "eval.every=10", "eval.num_samples=128",
        "eval.kid_subset_size=64", "eval.grid=16", "model.g_width=8", "model.d_width=8", "eval.oscillation_window=8"]
INFO = {"study": "s", "rank": 1, "trial_key": "t0", "metric": "fd_classifier", "mode": "min", "ranked_by": "value",
        "rank_value": 1.0, "status": "completed", "mlflow_run_id": None, "metrics": {}}


def _export(tmp: Path, *extra: str):
    cfg = load(ROOT / "search_spaces" / "digits.yaml", TINY + list(extra))
    train(cfg, tmp / "run")
    export_trial(tmp / "run" / checkpoint.FILENAME, tmp / "export" / "1-t0", INFO)
    manifest.write(tmp / "export", {"study": "s", "metric": "fd_classifier", "mode": "min"},
                   [{"folder": "1-t0", "rank": 1, "trial_key": "t0"}])
    return cfg, checkpoint.load(tmp / "run" / checkpoint.FILENAME), tmp / "export" / "1-t0"


def _g(cfg, state: dict) -> torch.nn.Module:
    g, _ = build_models(cfg.model, (1, 16, 16))
    g.load_state_dict(state)
    return g.eval()


def test_export_ships_the_average(tmp_path: Path) -> None:
    cfg, state, folder = _export(tmp_path, "ema_decay=0.9")
    config = json.loads((folder / generator.CONFIG).read_text())
    assert config["generator"] == "ema" and config["params"]["ema_decay"] == 0.9
    with safe_open(str(folder / generator.WEIGHTS), "pt") as f:
        assert f.metadata()["generator"] == "ema"
    assert "exponential moving average (`ema_decay` 0.9)" in (folder / "README.md").read_text()
    loaded, _ = generator.load(folder)
    z = fixed_latents(64, cfg.model.z_dim, sample_seed(cfg.train.seed), pool=128)
    with torch.no_grad():
        out = loaded(z)
        assert torch.equal(out, _g(cfg, state["g_ema"])(z))
        assert not torch.allclose(out, _g(cfg, state["g"])(z), atol=1e-3)
    # the export's grid and `gansearch sample`'s are the trial's own step-20 grid, which the average drew
    trial_grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step_20.png"))
    assert np.array_equal(np.asarray(Image.open(folder / "grid.png")), trial_grid)
    result = sample_export(tmp_path / "export", 16, tmp_path / "sampled.png")
    assert result["generator"] == "ema"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "sampled.png")), trial_grid)
    npz = sample_export(tmp_path / "export", 128, tmp_path / "scored.npz")
    assert npz["format"] == "npz"
    z = fixed_latents(128, cfg.model.z_dim, sample_seed(cfg.train.seed), pool=128)  # the run's evaluation latents
    scored = generate(_g(cfg, state["g_ema"]), z)
    assert np.array_equal(np.load(tmp_path / "scored.npz")["samples"], scored.numpy())


def test_export_without_an_average_is_raw(tmp_path: Path) -> None:
    cfg, state, folder = _export(tmp_path, "train.steps=10")
    assert "g_ema" not in state
    config = json.loads((folder / generator.CONFIG).read_text())
    assert config["generator"] == "raw"
    assert "moving average" not in (folder / "README.md").read_text()
    loaded, _ = generator.load(folder)
    assert all(torch.equal(v, state["g"][k]) for k, v in loaded.state_dict().items())

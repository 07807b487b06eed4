"""`gansearch export` / `gansearch sample` on a real study (tiny_study: real Ray, Optuna and MLflow).

References are independent of the export code: the trial's own grid PNG written by the trainer during
the search, and the checkpoint downloaded from MLflow with MlflowClient and read with torch.load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from checks import run_cli
from gansearch.cli.main import main

pytestmark = pytest.mark.slow  # the tiny_study fixture alone is ~1 min


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def exported(tiny_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    to = tmp_path_factory.mktemp("export") / "best"
    main(["export", str(tiny_study), "--top-k", "2", "--to", str(to)])
    return to


def trial_folders(root: Path) -> list[Path]:
    manifest = json.loads((root / "manifest.json").read_text())
    return [root / t["folder"] for t in sorted(manifest["trials"], key=lambda t: t["rank"])]


def test_export_layout_and_ranking(exported: Path, tiny_study: Path) -> None:
    summary = json.loads((tiny_study / "summary.json").read_text())
    finite = sorted((t for t in summary["trials"] if t["value"] is not None), key=lambda t: (t["value"], t["key"]))
    manifest = json.loads((exported / "manifest.json").read_text())
    assert (manifest["metric"], manifest["mode"]) == (summary["metric"], summary["mode"])
    assert manifest["torch_version"] == torch.__version__ and manifest["gansearch_version"]
    assert [t["trial_key"] for t in manifest["trials"]] == [t["key"] for t in finite[:2]]
    assert [t["folder"] for t in manifest["trials"]] == [f"{i + 1}-{t['key']}" for i, t in enumerate(finite[:2])]
    for entry, folder in zip(manifest["trials"], trial_folders(exported)):
        names = {"generator.safetensors", "config.json", "metrics.json", "grid.png", "README.md"}
        assert {p.name for p in folder.iterdir()} == names
        import hashlib

        assert entry["files"] == {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
        m = json.loads((folder / "metrics.json").read_text())
        jsonl = [json.loads(x) for x in (tiny_study / "trials" / m["trial_key"] / "metrics.jsonl").read_text().splitlines()]
        rec = next(r for r in jsonl if r["step"] == m["step"])
        assert m["value"] == pytest.approx(rec["fd_classifier"]) and m["metrics"]["fd_classifier"] == pytest.approx(rec["fd_classifier"])
        assert m["step"] == jsonl[-1]["step"]  # fd_classifier: a trial's value is its last evaluation's
        for k in ("eval.feature_net", "eval.feature_net_hash", "eval.num_samples"):
            assert m["metrics"][k] == rec[k]
        # re-scored on latents no evaluation used, by the same evaluator: a different, honest number
        fresh = m["rescored"]
        assert fresh["seed"] not in (m["sample_seed"],) and fresh["num_samples"] == rec["eval.num_samples"]
        assert fresh["eval.feature_net_hash"] == rec["eval.feature_net_hash"]
        assert fresh["metrics"]["fd_classifier"] != rec["fd_classifier"]
        assert abs(fresh["metrics"]["fd_classifier"] - rec["fd_classifier"]) < 0.25 * rec["fd_classifier"]
        assert m["train.seed"] == 0 and m["sample_seed"] == 3
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["model_args"]["data_shape"] == [1, 16, 16]
        assert cfg["params"] == next(t for t in summary["trials"] if t["key"] == m["trial_key"])["params"]
        card = (folder / "README.md").read_text()
        assert "gansearch sample" in card and "safetensors" in card and "Limitations" in card


def test_sample_reproduces_trial_grid_and_weights(exported: Path, tiny_study: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    from mlflow.tracking import MlflowClient
    from safetensors.torch import load_file

    study = json.loads((tiny_study / "study.json").read_text())
    client = MlflowClient(tracking_uri=study["tracking_uri"])
    for folder in trial_folders(exported):
        m = json.loads((folder / "metrics.json").read_text())
        n = json.loads((folder / "config.json").read_text())["space_file"]["eval"]["grid"]
        trial_grid = pixels(tiny_study / "trials" / m["trial_key"] / "samples" / f"step_{m['step']}.png")
        out = tmp_path / f"{folder.name}.png"
        code, stdout, _ = run_cli(["sample", str(folder), "-n", str(n), "-o", str(out)], capsys)
        assert code == 0 and f"seed {m['sample_seed']}" in stdout
        assert np.array_equal(pixels(out), trial_grid)
        assert np.array_equal(pixels(folder / "grid.png"), trial_grid)
        # Exported weights are the MLflow checkpoint's G, tensor for tensor.
        local = client.download_artifacts(m["mlflow_run_id"], "checkpoint/checkpoint.pt", str(tmp_path / folder.name))
        state = torch.load(local, map_location="cpu", weights_only=True)
        assert state["step"] == m["step"]
        weights = load_file(str(folder / "generator.safetensors"))
        assert weights.keys() == state["g"].keys()
        assert all(torch.equal(weights[k], state["g"][k]) for k in weights)
    # Another seed gives other images.
    other = tmp_path / "other.png"
    assert run_cli(["sample", str(exported), "-n", "16", "-o", str(other), "--seed", "7"], capsys)[0] == 0
    assert not np.array_equal(pixels(other), pixels(trial_folders(exported)[0] / "grid.png"))


def test_sample_subprocess_renders_rank_one(exported: Path, tiny_study: Path, tmp_path: Path) -> None:
    first = trial_folders(exported)[0]
    m = json.loads((first / "metrics.json").read_text())
    out = tmp_path / "sub.png"
    r = subprocess.run([sys.executable, "-m", "gansearch", "sample", str(exported), "-n", "16", "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(pixels(out), pixels(tiny_study / "trials" / m["trial_key"] / "samples" / f"step_{m['step']}.png"))


def test_export_is_pickle_free(exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture) -> None:
    from safetensors.torch import load_file

    for p in exported.rglob("*"):
        if p.is_file():
            head = p.read_bytes()[:4]
            assert p.suffix in {".safetensors", ".json", ".png", ".md"}, p
            assert head[:1] != b"\x80" and head != b"PK\x03\x04", f"{p} looks like a pickle / torch.save file"
    for folder in trial_folders(exported):
        cfg = json.loads((folder / "config.json").read_text())
        weights = load_file(str(folder / "generator.safetensors"))
        from gansearch.config import SpaceFile
        from gansearch.trainer.models import build_models

        g, _ = build_models(SpaceFile.model_validate(cfg["space_file"]).model, tuple(cfg["model_args"]["data_shape"]))
        assert set(weights) == set(g.state_dict())

    def refuse(*a, **k):
        raise AssertionError("unpickling is not allowed when sampling an export")

    import pickle

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert run_cli(["sample", str(exported), "-n", "4", "-o", str(tmp_path / "np.png")], capsys)[0] == 0


def test_tampered_weights_are_refused(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    folder = trial_folders(copy)[0]
    weights = folder / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-7] ^= 0x01  # a bit of a tensor value: the file still parses, the weights differ
    weights.write_bytes(bytes(data))
    for target in (copy, folder):
        code, _, err = run_cli(["sample", str(target), "-n", "4", "-o", str(tmp_path / "t.png")], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert lines[0].startswith(f"{weights}: sha256 must match the manifest (")
    assert not (tmp_path / "t.png").exists()


def test_input_errors_are_one_line(exported: Path, tiny_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fresh = str(tmp_path / "new")
    cases = [
        (["export", str(tmp_path / "nope"), "--to", fresh], "STUDY_DIR: must be a study folder"),
        (["export", str(tiny_study), "--top-k", "0", "--to", fresh], "--top-k: must be >= 1, got 0"),
        (["export", str(tiny_study), "--to", str(exported)], "--to: must be a new or empty folder"),
        (["sample", str(tmp_path), "-o", str(tmp_path / "x.png")], "EXPORT_DIR: must be an export root"),
    ]
    empty = tmp_path / "empty-study"
    empty.mkdir()
    (empty / "study.json").write_text(json.dumps({"name": "e", "tracking_uri": "sqlite:///x.db", "experiment_id": "1",
                                                   "parent_run_id": "p"}))
    (empty / "summary.json").write_text(json.dumps({"metric": "fd_classifier", "mode": "min", "trials": [
        {"key": "trial-0000", "status": "failed", "run_id": None, "value": None, "value_step": None, "params": {}}]}))
    cases.append((["export", str(empty), "--to", fresh],
                  "STUDY_DIR: must have a finished trial with a finite fd_classifier"))
    cases.append((["sample", str(exported), "-o", str(tmp_path / "x.png"), "--format", "tiff"],
                  "--format: must be one of auto, grid, png, npz"))
    cases.append((["sample", str(exported), "-o", str(tmp_path / "x.png"), "--format", "npz"],
                  "-o: must end in .npz with --format npz"))
    for args, start in cases:
        code, _, err = run_cli(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith(start), (args, err)
    assert not Path(fresh).exists()

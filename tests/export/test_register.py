"""`gansearch export --register NAME`: a pyfunc model version in the MLflow Model Registry (sqlite store)
whose predictions equal the exported generator's output for the same latents."""

from __future__ import annotations

import os
import json
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gansearch.cli.main import main

pytestmark = pytest.mark.slow


def private_copy(study: Path, dst: Path) -> Path:
    """A copy of the shared study whose MLflow store points at its own artifact folder, so registering
    writes nothing into the fixture other tests read."""
    shutil.copytree(study, dst, ignore=shutil.ignore_patterns("tune"))
    old, new = study.resolve().as_posix(), dst.resolve().as_posix()
    with sqlite3.connect(dst / "mlflow.db") as db:
        for table, col in (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                           ("logged_models", "artifact_location")):
            try:
                db.execute(f"UPDATE {table} SET {col} = replace({col}, ?, ?)", (old, new))
            except sqlite3.OperationalError:
                pass  # no such table in this MLflow version
    meta = json.loads((dst / "study.json").read_text())
    meta["tracking_uri"] = meta["tracking_uri"].replace(old, new)
    (dst / "study.json").write_text(json.dumps(meta))
    return dst


def test_register_pyfunc_matches_export(tiny_study: Path, tmp_path: Path) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from safetensors.torch import load_file

    from gansearch.config import SpaceFile
    from gansearch.trainer.models import build_models

    def snapshot() -> tuple[list[str], bytes]:
        return sorted(str(p) for p in tiny_study.rglob("*")), (tiny_study / "mlflow.db").read_bytes()

    before = snapshot()
    study = private_copy(tiny_study, tmp_path / "study")
    to = tmp_path / "export"
    t0 = time.perf_counter()
    main(["export", str(study), "--top-k", "1", "--to", str(to), "--register", "tiny-generator"])
    print(f"export --top-k 1 --register: {time.perf_counter() - t0:.1f} s")
    uri = json.loads((study / "study.json").read_text())["tracking_uri"]
    client = MlflowClient(tracking_uri=uri)
    version = client.get_model_version("tiny-generator", "1")
    assert version.status == "READY"
    assert snapshot() == before  # the shared fixture is untouched

    folder = next(p for p in to.iterdir() if p.is_dir())
    registered = json.loads((to / "manifest.json").read_text())["registered"]
    assert registered["model_uri"] == "models:/tiny-generator/1" and registered["folder"] == folder.name
    cfg = json.loads((folder / "config.json").read_text())
    g, _ = build_models(SpaceFile.model_validate(cfg["space_file"]).model, tuple(cfg["model_args"]["data_shape"]))
    g.load_state_dict(load_file(str(folder / "generator.safetensors")))
    g.eval()
    z = torch.randn(8, cfg["model_args"]["z_dim"], generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        expected = g(z).numpy()

    previous = os.environ.get("MLFLOW_TRACKING_URI")  # set_tracking_uri sets it: None unsets it again
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model("models:/tiny-generator/1")
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri="models:/tiny-generator/1",
                                                         dst_path=str(tmp_path / "model")))
    finally:
        mlflow.set_tracking_uri(previous)
    sig = model.metadata.signature
    assert list(sig.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, cfg["model_args"]["z_dim"]]
    got = model.predict(z.numpy())
    assert got.shape == (8, 1, 16, 16) and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # Nothing pickled in the logged model: weights are safetensors, the model is code.
    files = [p for p in local.rglob("*") if p.is_file()]
    assert not {p.suffix for p in files} & {".pkl", ".pickle", ".pt", ".pth", ".cloudpickle"}, files
    assert {"generator.safetensors", "config.json", "generator_pyfunc.py", "MLmodel"} <= {p.name for p in files}
    assert "gansearch==" in (next(p for p in files if p.name == "requirements.txt")).read_text()

"""Registering an exported generator in the MLflow Model Registry, as a pyfunc with nothing pickled.

The model is logged "from code" (gansearch/tracking/generator_pyfunc.py) with the export's safetensors
weights and config.json as artifacts, a tensor signature (latents in, samples out) and explicit pip
requirements: without them MLflow infers the environment, which costs ~18 s per model.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from gansearch.config import layout
from gansearch.tracking import conventions as cv

CODE = Path(__file__).with_name("generator_pyfunc.py")
TAG_SOURCE_RUN = "gansearch.source_run_id"  # the trial run the weights come from
TAG_SOURCE_KEY = "gansearch.source_trial_key"  # not TAG_TRIAL_KEY: this run is no trial of the study


def _requirement(dist: str) -> str:
    from importlib.metadata import version

    return f"{dist}=={version(dist).split('+')[0]}"


def pip_requirements() -> list[str]:
    return [_requirement(d) for d in ("gansearch", "torch", "safetensors", "numpy", "pydantic")]


def signature(z_dim: int, data_shape: list[int]) -> Any:
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    # Unnamed specs: the model takes one array (not a dict of named arrays) and returns one.
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, z_dim))]),
                          outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *data_shape))]))


def plugin_code(config: dict[str, Any]) -> list[str]:
    """The folder of a plug-in model's package (config.json records its import path), when it is not
    installed: the pyfunc bundles it, so serving needs no copy of the plug-in."""
    from gansearch.config.plugins import is_plugin, ship_path

    name = config["space_file"]["model"]["name"]
    path = ship_path(name) if is_plugin(name) else None
    return [path] if path else []


def register_generator(uri: str, experiment_id: str, folder: Path, name: str) -> dict[str, Any]:
    """Log the exported trial `folder` as a pyfunc in a new run of the study's experiment and register it
    under `name`; returns {name, version, model_uri, run_id}."""
    cv.disable_telemetry()
    import mlflow

    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / layout.METRICS_JSON).read_text())
    ma = config["model_args"]
    # MLflow's set_tracking_uri also sets MLFLOW_TRACKING_URI, which a later study in this process would take
    # as the user's store: put back exactly what was there (None unsets both)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        tags = {cv.TAG_KIND: "export", TAG_SOURCE_RUN: metrics["mlflow_run_id"], TAG_SOURCE_KEY: metrics["trial_key"]}
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"export-{metrics['trial_key']}", tags=tags) as run:
            mlflow.log_params({"trial_key": metrics["trial_key"], "step": metrics["step"], "metric": metrics["metric"]})
            with warnings.catch_warnings():  # "no input example": the signature says the shapes
                warnings.filterwarnings("ignore", message=".*input example.*")
                info = mlflow.pyfunc.log_model(
                    name="generator",
                    python_model=str(CODE),
                    artifacts={"weights": str(folder / "generator.safetensors"), "config": str(folder / "config.json")},
                    signature=signature(int(ma["z_dim"]), list(ma["data_shape"])),
                    pip_requirements=pip_requirements(),
                    code_paths=plugin_code(config) or None,  # a plug-in model's package travels with it
                    registered_model_name=name,
                )
        version = info.registered_model_version
        return {"name": name, "version": int(version), "model_uri": f"models:/{name}/{version}",
                "run_id": run.info.run_id}
    finally:
        mlflow.set_tracking_uri(previous)

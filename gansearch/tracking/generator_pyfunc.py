"""An MLflow "models from code" pyfunc for an exported generator: latents in, samples out.

MLflow copies this file into the logged model and runs it at load time, so nothing is pickled: the
weights are the export's generator.safetensors and the architecture its config.json (both artifacts).
Input: float32 latents [n, z_dim]. Output: float32 samples, [n, C, S, S] in [-1, 1] or [n, 2].
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
from mlflow.models import set_model


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        import json
        from pathlib import Path

        from safetensors.torch import load_file

        from gansearch.config import SpaceFile
        from gansearch.trainer.models import build_models, full_size

        self.full_size = full_size

        config = json.loads(Path(context.artifacts["config"]).read_text())
        self.z_dim = int(config["model_args"]["z_dim"])
        model_cfg = SpaceFile.model_validate(config["space_file"]).model
        g, _ = build_models(model_cfg, tuple(config["model_args"]["data_shape"]))  # as gansearch.export rebuilds G
        g.load_state_dict(load_file(context.artifacts["weights"], device="cpu"), strict=True)
        self.g = g.eval()

    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> np.ndarray:
        # np.ndarray: a hint MLflow accepts without inferring a schema (the signature holds the shapes)
        import torch

        if isinstance(model_input, dict):  # a serving request may name its one input
            (model_input,) = model_input.values()
        z = torch.as_tensor(np.asarray(model_input, dtype=np.float32)).reshape(-1, self.z_dim)
        with torch.no_grad():
            return torch.cat([self.full_size(self.g, self.g(chunk)) for chunk in z.split(1024)]).float().numpy()


set_model(GeneratorModel())

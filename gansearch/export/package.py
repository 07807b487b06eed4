"""One exported trial folder: generator.safetensors, config.json, metrics.json, grid.png and README.md.

Input is a trainer checkpoint (it carries the space file, the params, the data shape, G's weights and the
step) and what the tracking store recorded about the trial; the folder then describes itself, with no
pickle in it. A run that kept G's moving average (ema_decay > 0) evaluated that average, so that is what
the export ships (config.json `generator`: "ema"; "raw" otherwise).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping

from gansearch.config.lineage import schedule
from gansearch.config.names import resolved_model
from gansearch.export import card, generator

FORMAT = 1


def export_trial(checkpoint_path: Path, folder: Path, info: Mapping[str, Any],
                 rescore_fn: Callable[[Any, Mapping[str, Any]], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Write the trial folder from its checkpoint; returns the metrics.json body. `rescore_fn(G, space_file)`
    (e.g. `rescore.rescore`) adds `rescored`: the generator scored again on latents no evaluation used.

    `info`: study, rank, trial_key, metric, mode, ranked_by, rank_value, status, mlflow_run_id,
    metrics (everything logged at the checkpoint's step), optional rerun and dataset_fingerprint.
    """
    from safetensors.torch import save_file

    import gansearch
    from gansearch.trainer import checkpoint

    state = checkpoint.load(checkpoint_path)
    space_file, params = checkpoint.config_of(state)
    step = int(state["step"])
    kind = "ema" if "g_ema" in state else "raw"  # the G the trial's evaluations sampled
    g_state = {k: v.detach().cpu().contiguous() for k, v in state["g_ema" if kind == "ema" else "g"].items()}
    shape = generator.data_shape(space_file, g_state, checkpoint.data_shape_of(state))
    g = generator.build(space_file, shape, g_state, params)  # strict load: proves the recorded shape rebuilds G
    model = space_file["model"]
    config = {
        "format": FORMAT,
        "space_file": space_file,
        "params": params,
        "generator": kind,
        "model_args": {
            "model_name": resolved_model(model["name"], shape),
            "z_dim": int(model["z_dim"]),
            "data_shape": list(shape),
            "modes": generator.modes_of(space_file),
            "num_params": sum(p.numel() for p in g.parameters()),
        },
    }
    lineage = json.loads(state.get("lineage", "[]"))
    if lineage:  # PBT: the hyperparameters that made these weights changed at each exploit
        config["schedule"] = [{k: v for k, v in e.items() if not (k == "from" and v is None)}
                              for e in schedule(lineage, lineage[0]["before"])]
    train_seed = int(space_file["train"]["seed"])
    metrics = trial_metrics(info, step, train_seed, {"sample_seed": generator.sample_seed(train_seed)})
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "pt", "gansearch_version": gansearch.__version__, "trial_key": str(info["trial_key"]),
            "step": str(step), "z_dim": str(config["model_args"]["z_dim"]), "data_shape": json.dumps(list(shape)),
            "generator": kind}
    save_file(g_state, str(folder / generator.WEIGHTS), metadata=meta)
    (folder / generator.CONFIG).write_text(json.dumps(config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    # The grid comes from the written file, not the checkpoint: it shows what a user will load.
    loaded, _ = generator.load(folder)
    samples = generator.render(loaded, config["model_args"]["z_dim"], int(space_file["eval"]["grid"]),
                               metrics["sample_seed"], space_file["train"].get("threads"), generator.eval_pool(space_file))
    generator.save_grid(samples, folder / "grid.png", config)
    if rescore_fn is not None:
        metrics["rescored"] = rescore_fn(loaded, space_file)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (folder / "README.md").write_text(card.render(config, metrics))
    return metrics


def trial_metrics(info: Mapping[str, Any], step: int, train_seed: int,
                  task_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metrics.json body of an exported trial, a generator or a style-transfer image alike (`info` as
    for export_trial); `task_fields` follow train.seed."""
    metrics = {
        "format": FORMAT,
        "study": info["study"],
        "rank": int(info["rank"]),
        "trial_key": info["trial_key"],
        "metric": info["metric"],
        "mode": info["mode"],
        "ranked_by": info["ranked_by"],
        "rank_value": info["rank_value"],
        "value": _finite_or_none(info["metrics"].get(info["metric"])),
        "step": step,
        "status": info["status"],
        "mlflow_run_id": info["mlflow_run_id"],
        "train.seed": train_seed,
        **(task_fields or {}),
        "dataset_fingerprint": info.get("dataset_fingerprint"),
        "metrics": {k: _finite_or_none(v) for k, v in info["metrics"].items()},
    }
    if info.get("rerun"):
        metrics["rerun"] = info["rerun"]
    return metrics


def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


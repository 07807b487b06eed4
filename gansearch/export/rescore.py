"""The export's second opinion: the exported generator scored again, by the trainer's own evaluator, on
latents no evaluation of the run used.

Why: a trial's value comes from evaluations on the same fixed latents, and a study picks the best of many
trials (and `<m>_best` the best of many evaluations), so the recorded number is optimistic. The fresh
score says how much of it was the latents' luck; the export reports both, never one for the other.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from gansearch.trainer.grids import fixed_latents, latent_stream, pool_size, rescore_seed


def rescore(g: torch.nn.Module, space_file: Mapping[str, Any]) -> dict[str, Any]:
    """{"seed", "num_samples", "metrics": {...}} of G on eval.num_samples latents from `rescore_seed`, on
    the CPU, against the same cached real statistics and feature net; {"error": why} when the data or
    the feature net can't be had here (the export goes on without it)."""
    from gansearch.config import SpaceFile
    from gansearch.errors import GansearchError
    from gansearch.trainer.setup import EvalSetup

    cfg = SpaceFile.model_validate(dict(space_file))
    seed = rescore_seed(cfg.train.seed)
    try:
        setup = EvalSetup(cfg, torch.device("cpu"))
    except (GansearchError, OSError) as e:
        return {"seed": seed, "error": f"not re-scored: {e}"}
    z = fixed_latents(cfg.eval.num_samples, cfg.model.z_dim, seed,
                      pool=pool_size(cfg.eval.num_samples, cfg.eval.grid))
    metrics = setup.evaluate(latent_stream(g.eval(), z))
    return {"seed": seed, "num_samples": cfg.eval.num_samples, "metrics": metrics, **setup.provenance}

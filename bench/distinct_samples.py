"""The same checkpoints scored the old way and the new way, so the fix of "every evaluation scored the same
500 samples over and over" has numbers.

old (main before the fix): the evaluator asked for 500 samples at a time and the trainer re-seeded its
latents on every call, so 1000 samples were 2 copies of 500 and 2500 were 5; class_kl compared the
generated predicted-class histogram with the true train labels.
new: `eval.num_samples` distinct samples from one seeded draw; class_kl against the classifier's own
predicted histogram on held-out real images.
Both use today's feature net and real statistics, so the difference is the sampling (and class_kl's
reference) alone.

    python bench/distinct_samples.py RUN_DIR [RUN_DIR ...]   # folders made by `gansearch train`
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "distinct_samples.json"
KEYS = ("fd_classifier", "kd_classifier", "classes_covered", "class_kl", "fd_points", "modes_covered",
        "hq_fraction", "reverse_kl", "mode_score")


def score(run: Path) -> dict:
    from gansearch.config import SpaceFile
    from gansearch.metrics.evaluate import Evaluator
    from gansearch.trainer import Trainer, checkpoint
    from gansearch.trainer.grids import fixed_latents, generate, latent_stream, sample_seed

    state = checkpoint.load(run / checkpoint.FILENAME)
    cfg_dict, params = checkpoint.config_of(state)
    cfg = SpaceFile.model_validate(cfg_dict)
    t = Trainer(cfg, run, params)  # builds the models, the data and the evaluator; writes nothing
    t.g.load_state_dict(state["g"])
    seed, z_dim = sample_seed(cfg.train.seed), cfg.model.z_dim
    new = t.setup.evaluate(latent_stream(t.g, t._latents(t.pool)))
    ev = t.setup.evaluator
    drawn: list[torch.Tensor] = []

    def old_sampler(n: int) -> torch.Tensor:  # main's Trainer._sample: re-seeded on every call
        out = generate(t.g, fixed_latents(n, z_dim, seed))
        drawn.append(out.reshape(n, -1))
        return out

    labels = t.data.train_labels
    true_hist = None if labels is None or ev._class_hist is None else \
        np.bincount(labels.cpu().numpy(), minlength=len(ev._class_hist)).astype(np.float64)
    old_ev = Evaluator(t.data, t.setup.net, ev._real_feats, ev.num_samples, ev.kid_subset_size, ev.kid, ev.seed,
                       class_reference=true_hist, batch_size=500)
    old = old_ev(old_sampler)
    distinct_old = int(torch.unique(torch.cat(drawn), dim=0).shape[0])
    return {"run": str(run), "data": cfg.data.name, "step": int(state["step"]), "num_samples": cfg.eval.num_samples,
            "distinct_samples": {"old": distinct_old, "new": cfg.eval.num_samples},
            "old": {k: old[k] for k in KEYS if k in old}, "new": {k: new[k] for k in KEYS if k in new}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    rows = [score(r) for r in args.runs]
    for r in rows:
        print(f"{r['data']} step {r['step']}: {r['distinct_samples']['old']} vs {r['num_samples']} distinct samples")
        for k in r["new"]:
            print(f"  {k:<16} old {r['old'][k]:>10.4g}   new {r['new'][k]:>10.4g}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Per-trial orchestration overhead of `gansearch run` and the share of trial time spent in evaluation.

A study on the digits default (search_spaces/digits.yaml), one trial at a time (so no slot sits idle),
scheduler `none` (every trial runs its full budget). Ray is started and the feature cache warmed before
the clock starts: both are paid once per study, not per trial.

  overhead(study)    = study wall time - sum over its trials of the trainer's own train + eval time
  overhead per trial = (overhead(N trials) - overhead(n trials)) / (N - n)   (two studies, same Ray)
  fixed per study    = overhead(n trials) - n * overhead per trial  (Tuner start, first worker's imports, ...)
  eval share         = sum eval time / sum (train + eval time), over the N-trial study

The overhead covers everything the search adds per trial: Tune scheduling and actor reuse, the trainer's
set-up (data, cached feature net, models), the MLflow child run (params, batched metrics, sample grids,
best checkpoint), Tune reports with checkpoints, the Optuna sampler, and the study's own MLflow bookkeeping.
Targets: <= 1 s per trial, <= 10 % in evaluation. Writes bench/results/search_overhead.json.

  python bench/search_overhead.py [--trials 6] [--baseline-trials 2] [--steps 500] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--baseline-trials", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="override train.steps (default: the space file's)")
    ap.add_argument("--space", default=str(ROOT / "search_spaces" / "digits.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "search_overhead.json"))
    args = ap.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from gansearch.config import load
    from gansearch.search.study import _warm_feature_cache, run_study

    overrides = ["search.scheduler=none", "search.max_concurrent=1", "search.resources_per_trial.cpu=2",
                 "search.sampler=random", *args.overrides]
    if args.steps:
        overrides.append(f"train.steps={args.steps}")
    cfg = load(args.space, overrides)
    _warm_feature_cache(cfg)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.2", log_to_driver=False)
    try:
        small = _study(cfg, args.space, args.baseline_trials, run_study)
        large = _study(cfg, args.space, args.trials, run_study)
    finally:
        ray.shutdown()
    marginal = (large["overhead_s"] - small["overhead_s"]) / (args.trials - args.baseline_trials)
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "gpu": None},
        "space": os.path.relpath(args.space, ROOT), "overrides": overrides,
        "overhead_per_trial_s": round(marginal, 3),
        "fixed_per_study_s": round(small["overhead_s"] - args.baseline_trials * marginal, 3),
        "naive_overhead_per_trial_s": round(large["overhead_s"] / args.trials, 3),
        "eval_share": round(large["eval_s"] / (large["train_s"] + large["eval_s"]), 4),
        "targets": {"overhead_per_trial_s": 1.0, "eval_share": 0.10},
        "studies": [small, large],
    }
    result["meets_targets"] = {
        "overhead_per_trial_s": result["overhead_per_trial_s"] <= 1.0, "eval_share": result["eval_share"] <= 0.10,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "studies"}, indent=2))


def _study(cfg, space: str, n: int, run_study) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        t0 = time.perf_counter()
        run_study(cfg, Path(space), study, num_trials=n, echo=lambda s: None)
        wall = time.perf_counter() - t0
        trials = []
        for f in sorted((study / "trials").glob("*/metrics.jsonl")):
            last = json.loads(f.read_text().splitlines()[-1])
            trials.append({"key": f.parent.name, "train_s": last["train_time_s"], "eval_s": last["eval_time_s"],
                           "steps": last["step"]})
    train = sum(t["train_s"] for t in trials)
    evals = sum(t["eval_s"] for t in trials)
    return {"trials": len(trials), "wall_s": round(wall, 3), "train_s": round(train, 3), "eval_s": round(evals, 3),
            "overhead_s": round(wall - train - evals, 3), "per_trial": trials}


if __name__ == "__main__":
    main()

"""What a trial costs besides its training steps, from real `gansearch run` studies of shipped space files:
compilation (does the second trial of a compiled study skip it?) and evaluation (its share of trial time).

For each space file:
  eager study     `train.compile: false`, `--trials` trials one at a time, the space's own steps and
                  evaluation schedule: eval share = eval time / (train + eval time), summed over trials;
                  and the eager time per training step.
  compiled study  `train.compile: true`, `--compiled-trials` trials one at a time in a fresh study folder,
                  so its compile cache (<study>/compile-cache, Inductor's FX-graph and AOTAutograd caches)
                  starts empty: each trial's warm-up (`warmup_s`: the wall time of its first training
                  iteration, compilation included) and its time per step after that.
All trials of one study share shapes: the loss and balance strategy are fixed (`--set loss=...`), the
learning rates and beta1 are sampled (random sampler), so the only compile-cache misses are the first
trial's. Compile pays for a trial of S steps when  warm-up(cached) + S * step(compiled) < S * step(eager):
the verdict is printed per space file, for the first trial (cold cache) and for every later one.

The 1-minute load average is recorded before each study: compare numbers from one quiet invocation.
Writes bench/results/trial_costs.json.

  python bench/trial_costs.py [--spaces digits.yaml,ring8.yaml] [--trials 2] [--compiled-trials 3]
                              [--compiled-steps N] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GANSEARCH = str(Path(sys.executable).with_name("gansearch"))
FIXED = ["loss=non_saturating", "balance=none"]  # one D architecture and one step: one set of shapes per study


def run_study(space: Path, out: Path, trials: int, overrides: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One `gansearch run` (one trial at a time, no early stopping); per-trial costs from its folders."""
    args = [GANSEARCH, "run", str(space), "--out", str(out), "--num-trials", str(trials)]
    for o in ["search.scheduler=none", "search.sampler=random", "search.max_concurrent=1",
              "search.resources_per_trial.cpu=2", *FIXED, *overrides]:
        args += ["--set", o]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"gansearch run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    per_trial = []
    for f in sorted((out / "trials").glob("*/metrics.json")):
        m = json.loads(f.read_text())
        warm = m.get("warmup_s") or 0.0
        steps = int(m["steps"])
        per_trial.append({"key": f.parent.name, "steps": steps, "warmup_s": m.get("warmup_s"),
                          "train_s": m["train_time_s"], "eval_s": m["eval_time_s"],
                          "step_s": (m["train_time_s"] - warm) / max(1, steps - 1)})
    return {"wall_s": round(wall, 2), "load_before": round(load, 2), "trials": per_trial}


def summarize(space: str, steps: int, eager: dict[str, Any], compiled: dict[str, Any]) -> dict[str, Any]:
    e, c = eager["trials"], compiled["trials"]
    train, evals = sum(t["train_s"] for t in e), sum(t["eval_s"] for t in e)
    step_eager = sorted(t["step_s"] for t in e)[len(e) // 2]
    step_compiled = sorted(t["step_s"] for t in c)[len(c) // 2]
    first = c[0]["warmup_s"]
    later = [t["warmup_s"] for t in c[1:]]
    cached = max(later) if later else None

    def trial_s(warmup: float, step: float) -> float:
        return warmup + (steps - 1) * step

    eager_trial = trial_s(step_eager, step_eager)
    out = {
        "space": space, "train_steps": steps,
        "eval_share": round(evals / (train + evals), 4),
        "eager_step_s": round(step_eager, 6), "compiled_step_s": round(step_compiled, 6),
        "compiled_speedup": round(step_eager / step_compiled, 3),
        "warmup_first_s": first, "warmup_later_s": later,
        "warmup_later_over_first": round(cached / first, 4) if cached is not None and first else None,
        "trial_train_s": {"eager": round(eager_trial, 2), "compiled_first": round(trial_s(first, step_compiled), 2),
                          "compiled_later": round(trial_s(cached, step_compiled), 2) if cached is not None else None},
    }
    out["compile_pays"] = {"first_trial": out["trial_train_s"]["compiled_first"] < eager_trial,
                           "later_trials": cached is not None and out["trial_train_s"]["compiled_later"] < eager_trial}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spaces", default="digits.yaml,ring8.yaml")
    ap.add_argument("--trials", type=int, default=2, help="trials of the eager study")
    ap.add_argument("--compiled-trials", type=int, default=3)
    ap.add_argument("--compiled-steps", type=int, default=None,
                    help="train.steps of the compiled study (default: the space's); its per-step time is what counts")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "trial_costs.json"))
    args = ap.parse_args()

    from gansearch.config import load

    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
    results = []
    for name in args.spaces.split(","):
        space = ROOT / "search_spaces" / name
        steps = load(space, args.overrides).train.steps
        with tempfile.TemporaryDirectory() as tmp:
            eager = run_study(space, Path(tmp) / "eager", args.trials, ["train.compile=false", *args.overrides], env)
            extra = [f"train.steps={args.compiled_steps}"] if args.compiled_steps else []
            compiled = run_study(space, Path(tmp) / "compiled", args.compiled_trials,
                                 ["train.compile=true", *extra, *args.overrides], env)
            cache = Path(tmp) / "compiled" / "compile-cache"
            files = sum(1 for p in cache.rglob("*") if p.is_file()) if cache.exists() else 0
        s = summarize(name, steps, eager, compiled)
        s.update({"compile_cache_files": files, "eager_study": eager, "compiled_study": compiled})
        results.append(s)
        print(f"{name}: eval share {s['eval_share']:.1%}; step eager {s['eager_step_s'] * 1e3:.1f} ms, compiled "
              f"{s['compiled_step_s'] * 1e3:.1f} ms ({s['compiled_speedup']:.2f}x); warm-up first {s['warmup_first_s']:.1f} s, "
              f"later {', '.join(f'{w:.1f}' for w in s['warmup_later_s'])} s (ratio {s['warmup_later_over_first']}); "
              f"compile pays: first trial {s['compile_pays']['first_trial']}, later trials {s['compile_pays']['later_trials']}",
              flush=True)
    for s in results:
        s["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out = Path(args.out)
    if out.exists():  # spaces measured by an earlier run and not by this one stay, with their own date
        done = {s["space"] for s in results}
        results = [s for s in json.loads(out.read_text()).get("spaces", []) if s["space"] not in done] + results
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "gpu": None},
        "overrides": args.overrides, "fixed": FIXED, "spaces": results,
        "targets": {"warmup_later_over_first": 0.10, "eval_share": 0.10},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

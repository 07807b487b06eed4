"""`search.rerun_top_k`: after the search, the best k configurations train again with fresh seeds at
full budget, and the study ranks configurations by the mean over those seeds.

Why: the search's best trial is the maximum of many noisy draws, so its own value is biased (the
winner's curse). Only the fresh seeds enter the mean and std; the search trial's value is reported
beside them, not averaged in. Reruns are not told to Optuna (they are not samples of the space), run
with no scheduler (full budget), and live in the study like trials: `trials/<key>-seed<S>/` and a
child run tagged `gansearch.rerun_of` and `train.seed`.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from gansearch.config import layout
from gansearch.config.layout import (  # the folder names, defined once
    is_rerun,
    rerun_key,
)
from gansearch.config.metrics import rank_key, rerun_rank_key


def fresh_seeds(train_seed: int, n: int) -> list[int]:
    """Seeds the search never used: it trains every trial with `train.seed`."""
    return [train_seed + 1 + j for j in range(n)]


def pick_top(trials: list[dict[str, Any]], k: int, mode: str) -> list[dict[str, Any]]:
    """The k best search trials that finished with a finite value (diverged and failed ones never qualify)."""
    ok = [t for t in trials if t.get("value") is not None and math.isfinite(t["value"])
          and t.get("status") in ("completed", "stopped-early") and not is_rerun(t["key"])]
    ok.sort(key=lambda t: rank_key(t["value"], t["key"], mode))
    return ok[:k]


def planned(top: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """One Tune config per (configuration, seed)."""
    from gansearch.search.space import RERUN_OF, SEED_KEY, TRIAL_KEY

    return [{TRIAL_KEY: rerun_key(t["key"], s), SEED_KEY: s, RERUN_OF: t["key"], **t["params"]}
            for t in top for s in seeds]


def finished(study_dir: Path, key: str, steps: int) -> bool:
    """A trial (a rerun, a PBT member) whose folder holds a final summary at full budget (or a divergence)
    is not run again."""
    path = study_dir / layout.TRIALS / key / layout.METRICS_JSON
    if not path.exists():
        return False
    summary = json.loads(path.read_text())
    return summary.get("status") == "diverged" or (summary.get("status") == "completed" and summary.get("steps") == steps)


def summarize_reruns(top: list[dict[str, Any]], seeds: list[int], by_key: dict[str, dict[str, Any]],
                     mode: str) -> list[dict[str, Any]]:
    """Mean ± std of each configuration's value over the fresh seeds that ended with one, and how many
    diverged or failed; ordered by gansearch.config.metrics.rerun_rank_key (a configuration that diverged
    on any seed ranks below every one that converged on all)."""
    out = []
    for t in top:
        runs = []
        for s in seeds:
            r = by_key.get(rerun_key(t["key"], s), {})
            value = r.get("value")
            ok = isinstance(value, (int, float)) and math.isfinite(value) and r.get("status") != "diverged"
            runs.append({"key": rerun_key(t["key"], s), "seed": s, "value": value if ok else None, "status": r.get("status")})
        values = [r["value"] for r in runs if r["value"] is not None]
        out.append({
            "key": t["key"], "params": t["params"], "search_value": t["value"], "runs": runs,
            "n": len(values),
            "n_diverged": sum(r["status"] == "diverged" for r in runs),
            "n_failed": sum(r["status"] != "diverged" and r["value"] is None for r in runs),
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
        })
    out.sort(key=lambda r: rerun_rank_key(r, mode))
    return out


def fixed_searcher(configs: list[dict[str, Any]], metric: str, mode: str) -> Any:
    """A Tune searcher that hands out exactly these configs, once each (Tune's grid and
    points_to_evaluate both need every key in one shared param space; conditional params differ)."""
    from ray.tune.search import Searcher

    class FixedConfigs(Searcher):
        def __init__(self) -> None:
            super().__init__(metric=metric, mode=mode)
            self.queue = [dict(c) for c in configs]

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            return self.queue.pop(0) if self.queue else Searcher.FINISHED

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            return None

    return FixedConfigs()

"""Which architecture converges over the most of a shared hyperparameter space: the test of MSG-GAN's
claim that it trains "with the same set of fixed hyperparameters" across settings (Karnewar & Wang 2020),
read as hyperparameter sensitivity. Pure functions of the trials' records.

A trial *converged* when it ended with no failure flag (gansearch.analysis.convergence.failures: not
diverged, D not collapsed, not mode-collapsed) and a value within `factor` of the study's best (for a
distance: at most factor x the best). That is, the hyperparameters it drew trained this model about as well
as the best any model reached; a model whose share is high is insensitive to them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

import numpy as np

from gansearch.analysis.convergence import failures
from gansearch.config.metrics import rank_key

FACTOR = 2.0


def rule(metric: str, mode: str, factor: float = FACTOR) -> str:
    bound = f"<= {factor:g} x the study's best {metric}" if mode == "min" else f">= the study's best {metric} / {factor:g}"
    return (f"converged: no failure flag (not diverged, not D-collapsed, not mode-collapsed) and a final {metric} "
            f"{bound}")


def converged(flags: Mapping[str, bool | None], value: float | None, best: float | None, mode: str,
              factor: float = FACTOR) -> bool:
    if value is None or best is None or any(flags.get(k) for k in ("diverged", "d_collapsed", "mode_collapsed")):
        return False
    return value <= factor * best if mode == "min" else value >= best / factor


def by_group(trials: Iterable[tuple[str, Mapping[str, Any], list[Mapping[str, Any]], str | None, float | None]],
             by: str, default: str, mode: str, coverage: tuple[str, int] | None,
             factor: float = FACTOR) -> dict[str, dict[str, Any]]:
    """Per value of param `by` (e.g. model): trials, how many and what share converged, the best value and
    its trial, the median value. `trials`: (key, params, records, status, value) per trial."""
    rows = list(trials)
    finite = [v for *_, v in rows if v is not None]
    best_all = (min(finite) if mode == "min" else max(finite)) if finite else None
    groups: dict[str, list[tuple[str, bool, float | None]]] = defaultdict(list)
    for key, params, records, status, value in rows:
        ok = converged(failures(list(records), status, coverage), value, best_all, mode, factor)
        groups[str(params.get(by, default))].append((key, ok, value))
    out: dict[str, dict[str, Any]] = {}
    for group, items in sorted(groups.items()):
        values = [(v, k) for k, _, v in items if v is not None]
        best = min(values, key=lambda p: rank_key(p[0], p[1], mode)) if values else None  # ties: lower key
        out[group] = {"trials": len(items), "converged": sum(ok for _, ok, _ in items),
                      "converged_share": sum(ok for _, ok, _ in items) / len(items),
                      "best": best[0] if best else None, "best_key": best[1] if best else None,
                      "median": float(np.median([v for v, _ in values])) if values else None}
    return out

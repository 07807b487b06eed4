"""Which architecture converges over the most of a shared hyperparameter space: the test of MSG-GAN's
claim that it trains "with the same set of fixed hyperparameters" across settings (Karnewar & Wang 2020),
read as hyperparameter sensitivity. Pure functions of the trials' records.

A trial *converged* when it did not diverge, did not mode-collapse (final class/mode coverage of its
samples, measured the same way whatever the loss) and ended with a value within `factor` of the study's
best. D-collapse is not part of the rule: it is measured against each loss's own floor and cannot be
measured for WGAN-GP (no floor), so counting it made "converged" easier for WGAN-GP than for the other
losses. It stays in the tables as a diagnostic. Shares come with 95% Wilson intervals, and the model x loss
table shows whether a model's share rests on the losses its trials happened to draw.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from gansearch.analysis.convergence import DEFAULTS, failures
from gansearch.config.metrics import rank_key

FACTOR = 2.0
RULE_FLAGS = ("diverged", "mode_collapsed")  # the failure flags the rule uses (d_collapsed is reported only)
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile

# (key, params, records, status, value) per trial
TrialRow = tuple[str, Mapping[str, Any], list[Mapping[str, Any]], str | None, float | None]


def rule(metric: str, mode: str, factor: float = FACTOR) -> str:
    bound = f"<= {factor:g} x the study's best {metric}" if mode == "min" else f">= the study's best {metric} / {factor:g}"
    return (f"converged: not diverged, not mode-collapsed (final coverage of its samples) and a final {metric} "
            f"{bound}. D-collapse is shown beside it but is not part of the rule: it is measured against each "
            "loss's own floor and not at all for WGAN-GP (its critic loss has no floor), so it would make "
            "converging easier for WGAN-GP than for the other losses. Shares: 95% Wilson intervals.")


def converged(flags: Mapping[str, bool | None], value: float | None, best: float | None, mode: str,
              factor: float = FACTOR) -> bool:
    if value is None or best is None or any(flags.get(k) for k in RULE_FLAGS):
        return False
    return value <= factor * best if mode == "min" else value >= best / factor


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion k/n (95% by default): stays inside [0, 1] and is not empty at
    0/n or n/n, where the normal approximation fails. None for n = 0."""
    if n <= 0:
        return None
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _row(items: list[tuple[str, bool, bool | None, float | None]], mode: str) -> dict[str, Any]:
    """trials, converged, share with its interval, D-collapse (diagnostic), best value and key, median."""
    n, ok = len(items), sum(c for _, c, _, _ in items)
    measured = [d for _, _, d, _ in items if d is not None]
    values = [(v, k) for k, _, _, v in items if v is not None]
    best = min(values, key=lambda p: rank_key(p[0], p[1], mode)) if values else None  # ties: lower key
    ci = wilson(ok, n)
    return {"trials": n, "converged": ok, "converged_share": ok / n, "converged_interval": list(ci) if ci else None,
            "d_collapsed": sum(measured), "d_collapse_measured": len(measured),
            "best": best[0] if best else None, "best_key": best[1] if best else None,
            "median": float(np.median([v for v, _ in values])) if values else None}


def by_group(trials: Iterable[TrialRow], by: str | Sequence[str], mode: str, coverage: tuple[str, int] | None,
             factor: float = FACTOR, fixed: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per value of param `by` (e.g. model), or per combination of several params (e.g. model and loss,
    keyed "dcgan / hinge"): trials, how many converged with the share's Wilson interval, D-collapses
    (diagnostic), the best value and its trial, the median value. `fixed`: the space file's fixed values
    (a param absent from a trial's params has that value, else the trainer's default)."""
    defaults = {**DEFAULTS, **(fixed or {})}
    names = [by] if isinstance(by, str) else list(by)
    rows = list(trials)
    finite = [v for *_, v in rows if v is not None]
    best_all = (min(finite) if mode == "min" else max(finite)) if finite else None
    groups: dict[str, list[tuple[str, bool, bool | None, float | None]]] = defaultdict(list)
    for key, params, records, status, value in rows:
        flags = failures(list(records), status, coverage)
        group = " / ".join(str(params.get(n, defaults.get(n))) for n in names)
        groups[group].append((key, converged(flags, value, best_all, mode, factor), flags["d_collapsed"], value))
    return {group: _row(items, mode) for group, items in sorted(groups.items())}


def compute_budget(trials: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]], train_steps: int | None,
                   batch_size: int | None) -> dict[str, Any]:
    """What the trials cost, so a share is read against the training behind it: steps per trial, images
    seen (steps x batch size; `train.batch_size` may be searched) and the trials' own time (train_time_s +
    eval_time_s of each trial's last record; process start, data loading and scheduling are not in it).
    `trials`: (params, records) per trial."""
    n, seen, seconds, steps_run, batches = 0, 0, 0.0, 0, set()
    for params, records in trials:
        last = records[-1] if records else {}
        batch = int(params.get("train.batch_size", batch_size) or 0)
        step = int(last.get("step") or 0)
        n, steps_run, seen, batches = n + 1, steps_run + step, seen + step * batch, batches | {batch}
        seconds += sum(float(last.get(k) or 0.0) for k in ("train_time_s", "eval_time_s"))
    one_batch = (next(iter(batches)) if len(batches) == 1 else (batch_size if not batches else None)) or None
    per_trial = train_steps * one_batch if train_steps and one_batch else None
    sizes = (f" x batch {one_batch} = {per_trial:,} images" if per_trial else " (batch size not recorded)"
             if not any(batches) else f" at batch sizes {', '.join(map(str, sorted(batches)))}")
    text = (f"Each trial: {train_steps} steps{sizes}"
            + f"; all {n} trials: {steps_run:,} steps run, {seen:,} images seen, {seconds:,.0f} s of training and "
            "evaluation (the trials' own clocks; an early-stopped or diverged trial ran fewer steps).")
    return {"trials": n, "steps_per_trial": train_steps, "batch_size": one_batch, "images_per_trial": per_trial,
            "steps_run": steps_run, "images_seen": seen, "time_s": round(seconds, 1), "text": text}

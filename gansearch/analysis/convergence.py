"""How trials ended, grouped by balance strategy and by loss: loss oscillation (from each trial's last
record) and the share that diverged, D-collapsed or mode-collapsed. Pure functions of trial records.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gansearch.config.style import STYLE_HPARAMS

# scale-free amplitudes (detrended std / the loss's chance level) compare across losses; a period is only
# there when its peak beats a red-noise background (gansearch.metrics.oscillation)
OSCILLATION = ("g_rel_amplitude", "d_rel_amplitude", "g_period", "d_period")
FAILURES = ("diverged", "d_collapsed", "mode_collapsed")
DEFAULTS = {"balance": "none", "loss": "non_saturating",  # what the trainer uses when a space omits them
             **{k: STYLE_HPARAMS[k].default for k in ("optimizer", "init")}}  # (style transfer's trainer too)
SPEED = ("converge_step", "converge_s")  # style transfer: when a trial got to within converge_rtol of its end


def collapse_rule(coverage: tuple[str, int] | None) -> str:
    if coverage is None:
        return "mode collapse is not measured for this dataset (no class or mode count)"
    key, count = coverage
    return (f"final {key} < {count}/2 (below half of the {count} {key.split('_')[0]}); an early-stopped "
            "trial counts with its last evaluation")


def failures(records: list[Mapping[str, Any]], status: str | None, coverage: tuple[str, int] | None) -> dict[str, bool | None]:
    """One trial's failure flags.
    diverged: status `diverged` or any record with diverged = 1 (a non-finite loss);
    d_collapsed: any record with d_collapse = 1 (D's loss within eval.collapse_threshold of its floor for
    several evaluations in a row); None when no record measures it (a WGAN critic's loss has no floor);
    mode_collapsed: the last record's coverage below half of the classes/modes (None: not measured)."""
    diverged = status == "diverged" or any(r.get("diverged") == 1 for r in records)
    measured = [r["d_collapse"] for r in records if isinstance(r.get("d_collapse"), (int, float))]
    d_collapsed: bool | None = any(v == 1 for v in measured) if measured else None
    mode_collapsed: bool | None = None
    if coverage is not None:
        key, count = coverage
        covered = [r[key] for r in records if isinstance(r.get(key), (int, float))]
        if covered:
            mode_collapsed = covered[-1] < count / 2
    return {"diverged": diverged, "d_collapsed": d_collapsed, "mode_collapsed": mode_collapsed}


def failure_shares(trials: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]], str | None]],
                   by: str, coverage: tuple[str, int] | None) -> dict[str, dict[str, Any]]:
    """Share of trials per group (the value of param `by`) that diverged / D-collapsed / mode-collapsed.
    `trials`: (params, records, status) per trial. A share is None where nothing was measured."""
    groups: dict[str, list[dict[str, bool | None]]] = defaultdict(list)
    for params, records, status in trials:
        groups[str(params.get(by, DEFAULTS.get(by)))].append(failures(records, status, coverage))
    out: dict[str, dict[str, Any]] = {}
    for group, flags in sorted(groups.items()):
        row: dict[str, Any] = {"trials": len(flags)}
        for name in FAILURES:
            known = [f[name] for f in flags if f[name] is not None]
            row[name] = sum(known) / len(known) if known else None
            row[name + "_count"] = sum(known)
        out[group] = row
    return out


def _stats(xs: list[float]) -> dict[str, float | int | None]:
    if not xs:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    a = np.asarray(xs, dtype=np.float64)
    return {"n": int(a.size), "mean": float(a.mean()), "median": float(np.median(a)),
            "min": float(a.min()), "max": float(a.max())}


def oscillation_by_group(trials: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]],
                         by: str = "balance") -> dict[str, dict[str, Any]]:
    """Loss-oscillation amplitude and period (from each trial's last record that has them) per group."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: {k: [] for k in OSCILLATION})
    for params, records in trials:
        group = str(params.get(by, DEFAULTS.get(by)))
        last = next((r for r in reversed(records) if any(k in r for k in OSCILLATION)), {})
        values[group]  # a group with no oscillation record still shows (n = 0)
        for k in OSCILLATION:
            v = last.get(k)
            if isinstance(v, (int, float)) and math.isfinite(v):
                values[group][k].append(float(v))
    return {g: {k: _stats(vs[k]) for k in OSCILLATION} | {"values": vs} for g, vs in sorted(values.items())}


def curves(records: list[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, list[float | None]]:
    """step -> each key, as aligned lists (None where a record lacks a finite value): for plots and JSON."""
    out: dict[str, list[float | None]] = {"step": [r.get("step") for r in records]}
    for k in keys:
        out[k] = [float(r[k]) if isinstance(r.get(k), (int, float)) and math.isfinite(r[k]) else None for r in records]
    return out


def speed_by_group(trials: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]],
                   by: str) -> dict[str, dict[str, Any]]:
    """Time to converge per group: each trial's `converge_step` and `converge_s` from its last record
    (gansearch.style.records.converge_step defines them; a diverged trial has none)."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: {k: [] for k in SPEED})
    for params, records in trials:
        group = str(params.get(by, DEFAULTS.get(by)))
        last = records[-1] if records else {}
        row = values[group]  # every group gets a row, even one where no trial converged
        for k in SPEED:
            v = last.get(k)
            if isinstance(v, (int, float)) and math.isfinite(v) and not last.get("diverged"):
                row[k].append(float(v))
    return {g: {k: _stats(vs[k]) for k in SPEED} | {"values": vs} for g, vs in sorted(values.items())}

"""report.json: every section of the study report as plain, JSON-safe data (the HTML draws from it).
Importance comes in already computed (Optuna lives in gansearch.search); the rest is computed here."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gansearch.analysis.budget import budget_section
from gansearch.analysis.convergence import (
    collapse_rule,
    curves,
    failure_shares,
    oscillation_by_group,
    speed_by_group,
)
from gansearch.analysis.pbt_figures import pbt_section
from gansearch.analysis.sensitivity import by_group as converged_by_group
from gansearch.analysis.sensitivity import compute_budget
from gansearch.analysis.sensitivity import rule as converged_rule
from gansearch.analysis.study_data import COVERAGE, StudyData, ranked

STYLE_FAILURE_RULES = {"diverged": "status diverged, or any evaluation with diverged = 1 (a non-finite loss or image)",
                       "d_collapsed": "not measured for style transfer (no discriminator)",
                       "mode_collapsed": "not measured for style transfer (one image, no modes)"}
STATUS_ORDER = ("completed", "stopped-early", "diverged", "failed", "running")
BUDGET_IID = ("Trials were independent full-budget draws (random or qmc sampler, no early stopping): the dotted "
              "line is the exact expected best of n of them (order statistics), which the bootstrap mean matches.")
BUDGET_ADAPTIVE = ("This study's trials were not independent full-budget draws (sampler {sampler}, scheduler "
                   "{scheduler}): later trials depend on earlier ones and early-stopped trials have a partial "
                   "budget, so the closed form (which assumes i.i.d. full-budget trials) is not drawn; the bootstrap "
                   "over orderings shows this study's spread only.")


def json_safe(obj: Any) -> Any:
    """NaN/inf -> None, tuples -> lists, paths -> str: report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def marginals(study: StudyData, metric: str) -> list[dict[str, Any]]:
    """Per searched parameter: each trial's value of `metric` against the parameter's value (where active)."""
    best = {t.key: t.value(metric) for t in study.trials}
    out = []
    for name in study.searched():
        pts = [(t.key, t.params[name], best[t.key][1], str(t.status)) for t in study.trials
               if name in t.params and best[t.key] is not None]
        spec = study.space[name]
        out.append({"param": name, "metric": metric, "log_x": study.log_scaled(name),
                    "categorical": spec.get("type") == "categorical",
                    "key": [p[0] for p in pts], "x": [p[1] for p in pts], "y": [p[2] for p in pts],
                    "status": [p[3] for p in pts]})
    return out


def models_section(study: StudyData, coverage: tuple[str, int] | None) -> dict[str, Any]:
    """Model sensitivity: each model's converged share, the same by model and loss (so a share that rests
    on the losses a model happened to draw shows), and what the trials cost."""
    rows = [(t.key, t.params, t.records, t.status, (v[1] if (v := t.value(study.metric)) else None))
            for t in study.trials]
    fixed = {k: v for k, v in study.space.items() if not isinstance(v, dict)}
    return {"rule": converged_rule(study.metric, study.mode),
            "by_model": converged_by_group(rows, "model", study.mode, coverage, fixed=fixed),
            "by_model_loss": converged_by_group(rows, ("model", "loss"), study.mode, coverage, fixed=fixed),
            "budget": compute_budget([(t.params, t.records) for t in study.trials], study.train_steps,
                                     fixed.get("train.batch_size", study.batch_size))}


ORIGIN_WORDS = {"defaults": "the space's defaults (enqueued)", "stratum": "a stratify cell (enqueued)",
                "startup": "the sampler's start-up draws", "model": "the sampler's model",
                "random": "a sampler without a model"}


def origins_section(study: StudyData, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Which trials the sampler's model found, and which were start-up draws or enqueued points: the best
    trial's origin, and where the space's defaults ranked (a search that never beats them found nothing)."""
    counts = Counter(t.origin for t in study.trials if t.origin)
    ranked_rows = [r for r in rows if r["value"] is not None]
    best = ranked_rows[0] if ranked_rows else None
    rank_of_defaults = next((i + 1 for i, r in enumerate(ranked_rows) if r.get("origin") == "defaults"), None)
    return {"counts": {o: counts[o] for o in ORIGIN_WORDS if counts.get(o)}, "words": ORIGIN_WORDS,
            "best": best.get("origin") if best else None, "best_key": best["key"] if best else None,
            "defaults_rank": rank_of_defaults, "ranked": len(ranked_rows)}


def build_report(study: StudyData, importance: Sequence[Mapping[str, Any]], top_k: int = 4,
                 permutations: int = 1000, seed: int = 0) -> dict[str, Any]:
    metric, mode = study.metric, study.mode
    rows = ranked(study)
    top = [r for r in rows if r["value"] is not None][:top_k]
    by_key = {t.key: t for t in study.trials}
    counts = Counter(str(t.status) for t in study.trials)
    coverage = COVERAGE.get(study.data_name or "")
    curve_keys = [metric, "d_loss", "g_loss"] + ([coverage[0]] if coverage else [])
    style = study.task == "style_transfer"  # no D, G or losses to oscillate: the distances, the loss, the speed
    group_by = ("optimizer", "init") if style else ("balance", "loss")
    searched_model = "model" in study.searched()
    if searched_model:  # the architecture is a searched categorical: every convergence table by model too
        group_by = ("model",) + group_by
    if style:
        curve_keys = [metric, "content_distance", "style_distance", "content_edge_corr", "style_swd_patch", "style_swd_colour", "loss"]
    grouped = [(t.params, t.records, t.status) for t in study.trials]
    histories = [(t.params, t.records) for t in study.trials]
    samples = []
    for r in top:
        t = by_key.get(r["key"])
        path = t.grid_at(r["value_step"]) if t else None
        samples.append({"key": r["key"], "step": r["value_step"], "value": r["value"], "std": r["std"],
                        "path": str(path.relative_to(study.folder)) if path else None})
    report = {
        "study": {
            "folder": str(study.folder), "metric": metric, "mode": mode,
            "objectives": [{"metric": m, "mode": md} for m, md in study.objectives],
            "data": study.data_name, "task": study.task, "train_steps": study.train_steps, "num_trials": len(study.trials),
            "statuses": {s: counts.get(s, 0) for s in STATUS_ORDER} | {s: c for s, c in counts.items() if s not in STATUS_ORDER},
            "source": "summary.json" if study.from_summary else "trial folders (no summary.json: partial study)",
            "ranked_by": "rerun mean over fresh seeds" if study.reruns else (
                f"each trial's {metric} at its last evaluation" + (" (the best over its evaluations, as the "
                                                                     "name says)" if metric.endswith("_best") else "")),
            "reruns": len(study.reruns),
            "provenance": study.provenance(),
            "origins": origins_section(study, rows),
        },
        "ranking": rows,
        "importance": list(importance),
        "marginals": marginals(study, metric),
        "budget": {m: budget_section({t.key: (b[1] if (b := t.value(m)) else None) for t in study.trials},
                                     md, permutations, seed, closed_form=study.iid_trials) for m, md in study.objectives},
        "budget_note": BUDGET_IID if study.iid_trials else BUDGET_ADAPTIVE.format(
            sampler=study.search.get("sampler"), scheduler=study.search.get("scheduler")),
        "convergence": {
            "top": [{"key": r["key"], "curve": curves(by_key[r["key"]].records, curve_keys)} for r in top if r["key"] in by_key],
            "group_by": list(group_by),
            "oscillation": {by: {} if style else oscillation_by_group(histories, by) for by in group_by},
            "speed": {by: speed_by_group(histories, by) for by in group_by} if style else {},
            "failures": {
                "rules": STYLE_FAILURE_RULES if style else {
                          "diverged": "status diverged, or any evaluation with diverged = 1 (a non-finite loss)",
                          "d_collapsed": "any evaluation with d_collapse = 1: D's loss within eval.collapse_threshold "
                                         "of its floor (the least it can be: 0 for hinge and LSGAN, H(1 - smoothing) "
                                         "for the non-saturating loss) for eval.collapse_evals evaluations in a row; "
                                         "not measured for WGAN-GP, whose critic loss has no floor",
                          "mode_collapsed": collapse_rule(coverage)},
                **{f"by_{by}": failure_shares(grouped, by, coverage) for by in group_by},
            },
        },
        "models": models_section(study, coverage) if searched_model else None,
        "samples": samples,
        "pbt": pbt_section([(t.key, t.folder, t.last.get("step")) for t in study.trials], study.train_steps,
                           study.log_scaled),
    }
    return json_safe(report)

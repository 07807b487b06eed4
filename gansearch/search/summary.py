"""What a study amounts to, read back from its folder and MLflow: each trial's value (its last
evaluation), the ranking, the reruns' means, and the lines `gansearch run` prints at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from gansearch.config import layout
from gansearch.search.plan import Plan
from gansearch.tracking import conventions as cv


def summarize(study_dir: Path, plan: Plan, uri: str, exp_id: str, parent: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Every trial's value of the (first) objective (`config.metrics.trial_value`: its last evaluation),
    read back from its folder; statuses from MLflow. Trials whose distances come from different feature
    networks are not ranked against each other: the summary then names them and has no best."""
    from gansearch.config.metrics import FEATURE_NET_HASH, rank_key, trial_value
    from gansearch.tracking.runs import client

    c = client(uri)
    runs = c.search_runs([exp_id], filter_string=f"tags.`{cv.TAG_PARENT}` = '{parent}'", max_results=10000)
    by_key = {r.data.tags.get(cv.TAG_TRIAL_KEY): r for r in runs}
    from gansearch.config.layout import is_rerun

    trials, reruns, hashes = [], [], {}
    for folder in sorted((study_dir / layout.TRIALS).glob("*")) if (study_dir / layout.TRIALS).exists() else []:
        lines = (folder / layout.METRICS_JSONL).read_text().splitlines() if (folder / layout.METRICS_JSONL).exists() else []
        recs = [json.loads(x) for x in lines if x.strip()]
        run = by_key.get(folder.name)
        status = run.data.tags.get(cv.TAG_STATUS) if run else None
        value = None if status == "failed" else trial_value(recs, plan.metric)  # FAIL in Optuna: no number
        run_json = folder / layout.RUN_JSON
        params = json.loads(run_json.read_text()).get("params", {}) if run_json.exists() else {}
        pbt = json.loads((folder / layout.PBT_JSON).read_text()) if (folder / layout.PBT_JSON).exists() else None
        if pbt is not None:  # a PBT member: the hyperparameters its final weights trained with, and how it got there
            params = pbt["params"]
        for r in recs:
            if r.get(FEATURE_NET_HASH):
                hashes.setdefault(r[FEATURE_NET_HASH], []).append(folder.name)
        (reruns if is_rerun(folder.name) else trials).append({
            "key": folder.name, "status": status, "origin": run.data.tags.get(cv.TAG_ORIGIN) if run else None,
            "run_id": run.info.run_id if run else None, "value": value[1] if value else None,
            "value_step": value[0] if value else None, "last_step": recs[-1]["step"] if recs else None,
            "params": params, **({"pbt": {"initial": pbt["initial"], "lineage": [
                {k: e[k] for k in ("step", "from", "params")} for e in pbt["lineage"]]}} if pbt else {}),
        })
    ranked = [t for t in trials if t["value"] is not None]
    # ties (equal values) go to the lower trial key, never to the order the folders were listed in
    ranked.sort(key=lambda t: rank_key(t["value"], t["key"], plan.mode))
    refused = None
    if len(hashes) > 1:
        refused = ("trials were scored by different feature networks (" + "; ".join(
            f"{h}: {', '.join(sorted(set(keys)))}" for h, keys in sorted(hashes.items())) + "): not ranked")
    best = ranked[0] if ranked and refused is None else None
    counts = {st: sum(1 for t in trials if t["status"] == st) for st in cv.STATUSES}
    origins = [t["origin"] for t in trials if t["origin"]]
    summary = {"metric": plan.metric, "mode": plan.mode, "num_trials": len(trials),
               "best_value": best["value"] if best else None, "best_origin": best["origin"] if best else None,
               "origins": {o: origins.count(o) for o in sorted(set(origins))},
               **{f"trials_{k.replace('-', '_')}": v for k, v in counts.items()},
               "trials": ranked + [t for t in trials if t["value"] is None]}
    if refused:
        summary["ranking_refused"] = refused
    if reruns:
        summary["rerun_trials"] = reruns
    best_tags = {"key": best["key"], "run_id": best["run_id"], "value": best["value"],
                 "step": best["value_step"]} if best else None
    return summary, best_tags


def with_reruns(summary: dict[str, Any], best: dict[str, Any] | None, top: list[dict[str, Any]], seeds: list[int],
                 mode: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The study's answer becomes the configuration with the best mean over fresh seeds."""
    from gansearch.search.rerun import summarize_reruns

    by_key = {t["key"]: t for t in summary.get("rerun_trials", [])}
    table = summarize_reruns(top, seeds, by_key, mode)
    summary = {**summary, "ranking": "rerun_mean", "reruns": table}
    if table and table[0]["mean"] is not None:
        first = table[0]
        search_trial = next(t for t in summary["trials"] if t["key"] == first["key"])
        summary.update(best_mean=first["mean"], best_std=first["std"], best_origin=search_trial.get("origin"))
        best = {"key": first["key"], "run_id": search_trial["run_id"], "value": first["search_value"],
                "step": search_trial["value_step"], "mean": first["mean"], "std": first["std"], "seeds": len(seeds)}
    return summary, best


def ui_command(study_dir: Path) -> str:
    meta = json.loads((Path(study_dir) / layout.STUDY_JSON).read_text())
    if meta["tracking_uri"].startswith("sqlite"):
        return f"gansearch ui {study_dir}"
    return f"open {meta['tracking_uri']}/#/experiments/{meta['experiment_id']}/runs"


def print_report(summary: dict[str, Any], study_dir: Path, echo: Callable[[str], None] = print, top: int = 5) -> None:
    if summary.get("ranking_refused"):
        echo(f"warning: {summary['ranking_refused']}")
    echo(f"\ntop trials by {summary['metric']} ({summary['mode']}):")
    echo(f"  {'trial':<12} {'status':<14} {'origin':<9} {summary['metric']:>10} {'at step':>8}  params")
    for t in summary["trials"][:top]:
        v = "-" if t["value"] is None else f"{t['value']:.4g}"
        ps = " ".join(f"{k}={_fmt(v2)}" for k, v2 in t["params"].items())
        echo(f"  {t['key']:<12} {str(t['status']):<14} {str(t.get('origin') or '-'):<9} {v:>10} {str(t['value_step']):>8}  {ps}")
    if summary.get("origins"):
        echo("trials by origin: " + ", ".join(f"{n} {o}" for o, n in summary["origins"].items())
             + (f"; the best came from {summary['best_origin']}" if summary.get("best_origin") else ""))
    if summary.get("reruns"):
        echo(f"\nreruns with fresh seeds (ranked by mean {summary['metric']}):")
        for r in summary["reruns"]:
            vals = ", ".join("-" if x["value"] is None else f"{x['value']:.4g}" for x in r["runs"])
            mean = "-" if r["mean"] is None else f"{r['mean']:.4g} ± {r['std']:.2g}"
            lost = ", ".join(f"{r[f'n_{s}']} {s}" for s in ("diverged", "failed") if r.get(f"n_{s}"))
            echo(f"  {r['key']:<12} mean {mean:<18} search {r['search_value']:.4g}  seeds: {vals}"
                 + (f"  ({lost})" if lost else ""))
    echo(f"study folder: {study_dir}")
    echo(f"MLflow UI:    {ui_command(study_dir)}")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)

"""`gansearch export`: the best K trials of a finished study, ranked from summary.json, packaged for use.

Ranking: the study's first objective and mode (summary.json's `metric`/`mode`), each trial by its value
(`config.metrics.trial_value`, as everywhere); when the study reran its top configurations with fresh seeds
(`reruns`), those come first, by their mean, then the rest by their single value. Checkpoints come from
MLflow (each trial run's `checkpoint/checkpoint.pt`: the state at the step its value comes from), so a
study whose trials ran elsewhere exports the same way. Each export re-scores its generator on latents no
evaluation used, and reports that number beside the recorded one. A PBT member's config.json `schedule` is
the one that made its weights (gansearch.config.lineage: before a copy, the donor's history), read from the
lineage its checkpoint carries.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gansearch.config import layout
from gansearch.config.metrics import ranked_keys
from gansearch.errors import ConfigError


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def rank_trials(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates in export order (config.metrics.ranked_keys), those with a value only:
    {key, run_id, status, ranked_by, rank_value, rerun?}."""
    by_key = {t["key"]: t for t in summary.get("trials", [])}
    reruns = {r.get("key"): r for r in summary.get("reruns") or []}
    out: list[dict[str, Any]] = []
    for key, how in ranked_keys(summary.get("reruns") or [], {k: t.get("value") for k, t in by_key.items()}, summary["mode"]):
        t = by_key[key]
        if how == "rerun_mean":
            r = reruns[key]
            rerun = {k: r.get(k) for k in ("mean", "std", "n", "n_diverged", "n_failed", "runs")}
            out.append({**_base(t), "ranked_by": "rerun_mean", "rank_value": float(r["mean"]), "rerun": rerun})
        elif _finite(t.get("value")):
            out.append({**_base(t), "ranked_by": "value", "rank_value": float(t["value"])})
    return out


def _base(t: dict[str, Any]) -> dict[str, Any]:
    return {"key": t["key"], "run_id": t.get("run_id"), "status": t.get("status"), "value_step": t.get("value_step")}


def _check_inputs(study_dir: Path, top_k: int, to: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    if top_k < 1:
        raise ConfigError("--top-k", "must be >= 1", top_k)
    if not (study_dir / layout.STUDY_JSON).is_file():
        raise ConfigError("STUDY_DIR", "must be a study folder made by `gansearch run` (no study.json)", str(study_dir))
    if not (study_dir / layout.SUMMARY_JSON).is_file():
        raise ConfigError("STUDY_DIR", "must be a finished study (no summary.json: run `gansearch run --resume`)",
                          str(study_dir))
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise ConfigError("--to", "must be a new or empty folder", str(to))
    return json.loads((study_dir / layout.STUDY_JSON).read_text()), json.loads((study_dir / layout.SUMMARY_JSON).read_text())


def export_study(study_dir: Path, top_k: int, to: Path, register: str | None = None,
                 echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Export the best `top_k` trials into `to` (written beside it, then renamed into place).

    Returns {"manifest": path, "trials": [metrics.json bodies], "registered": {...} | None}.
    """
    from gansearch.export import manifest
    from gansearch.export.package import export_trial
    from gansearch.export.rescore import rescore
    from gansearch.tracking import artifacts
    from gansearch.tracking import conventions as cv

    cv.disable_telemetry()
    study_dir, to = Path(study_dir).resolve(), Path(to).resolve()
    meta, summary = _check_inputs(study_dir, top_k, to)
    task = _task(study_dir)  # style_transfer exports each trial's best image, not a generator
    if register and task != "gan":
        raise ConfigError("--register", f"must not be given for a {task} study (it exports images, not a generator)",
                          register)
    metric, mode = summary["metric"], summary["mode"]
    candidates = rank_trials(summary)
    if not candidates:
        n = len(summary.get("trials", []))
        raise ConfigError("STUDY_DIR", f"must have a finished trial with a finite {metric}", f"0 of {n} trials")
    uri = meta["tracking_uri"]
    runs = artifacts.trial_runs(uri, meta["experiment_id"], meta["parent_run_id"])
    to.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{to.name}.partial-", dir=to.parent))
    exported: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    try:
        for cand in candidates:
            if len(exported) == top_k:
                break
            run = runs.get(cand["key"])
            run_id = run.run_id if run else cand["run_id"]
            ckpt = artifacts.download_checkpoint(uri, run_id, staging / ".download" / cand["key"]) if run_id else None
            if ckpt is None:
                echo(f"skipped {cand['key']}: its MLflow run has no {artifacts.CHECKPOINT}")
                continue
            rank = len(exported) + 1
            folder = f"{rank}-{cand['key']}"
            step = _checkpoint_step(ckpt)
            info = {
                "study": meta.get("name", study_dir.name), "rank": rank, "trial_key": cand["key"],
                "metric": metric, "mode": mode, "ranked_by": cand["ranked_by"], "rank_value": cand["rank_value"],
                "status": (run.status if run else None) or cand["status"], "mlflow_run_id": run_id,
                "metrics": artifacts.metrics_at_step(uri, run_id, step),
                "dataset_fingerprint": _fingerprint(study_dir / layout.TRIALS / cand["key"]),
                "rerun": cand.get("rerun"),
            }
            if task == "gan":
                body = export_trial(ckpt, staging / folder, info, rescore_fn=rescore)
            else:
                from gansearch.export.style_image import export_style_trial

                body = export_style_trial(ckpt, staging / folder, info)
            exported.append(body)
            entries.append({"folder": folder, "rank": rank, "trial_key": cand["key"], "value": body["value"],
                            "rank_value": cand["rank_value"], "ranked_by": cand["ranked_by"], "step": body["step"]})
            fresh = (body.get("rescored") or {}).get("metrics", {}).get(metric.removesuffix("_best"))
            again = f"; {metric.removesuffix('_best')} {fresh:.6g} on fresh latents" if fresh is not None else ""
            echo(f"{rank}. {cand['key']}: {metric} {cand['rank_value']:.6g} ({cand['ranked_by']}), step {body['step']}{again}")
        shutil.rmtree(staging / ".download", ignore_errors=True)
        if 0 < len(exported) < top_k:
            echo(f"exported {len(exported)} of the {top_k} asked for: no more trials with a finite {metric} and a checkpoint")
        if not exported:
            raise ConfigError("STUDY_DIR", "must have a trial run with a checkpoint in MLflow",
                              f"0 of {len(candidates)} ranked trials")
        study = {"study": meta.get("name", study_dir.name), "study_dir": str(study_dir), "metric": metric,
                 "mode": mode, "tracking_uri": uri, "experiment_id": meta["experiment_id"],
                 "parent_run_id": meta["parent_run_id"], "top_k": top_k}
        manifest.write(staging, study, entries)
        _usual_modes(staging)
        if to.exists():
            to.rmdir()  # empty, checked above
        os.replace(staging, to)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    registered = None
    if register:
        from gansearch.tracking.registry import register_generator

        t0 = time.perf_counter()
        registered = register_generator(uri, meta["experiment_id"], to / entries[0]["folder"], register)
        registered["seconds"] = round(time.perf_counter() - t0, 2)
        echo(f"registered {register} version {registered['version']} ({registered['seconds']} s): "
             f"{registered['model_uri']}")
        body = json.loads((to / manifest.MANIFEST).read_text())  # the manifest hashes files, not itself
        body["registered"] = {**registered, "folder": entries[0]["folder"]}
        (to / manifest.MANIFEST).write_text(json.dumps(body, indent=2))
    return {"manifest": str(to / manifest.MANIFEST), "trials": exported, "registered": registered, "task": task}


def _task(study_dir: Path) -> str:
    """The study's `task` (space.json; studies from before tasks existed are GAN studies)."""
    try:
        return json.loads((study_dir / layout.SPACE_JSON).read_text()).get("task") or "gan"
    except (OSError, json.JSONDecodeError):
        return "gan"


def _usual_modes(root: Path) -> None:
    """mkdtemp (and safetensors) create owner-only files; an export is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [root, *root.rglob("*")]:
        p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)


def _checkpoint_step(path: Path) -> int:
    from gansearch.trainer import checkpoint

    return int(checkpoint.load(path)["step"])


def _fingerprint(trial_dir: Path) -> str | None:
    """The dataset fingerprint the trainer recorded in run.json, when the trial folder is here."""
    try:
        return json.loads((trial_dir / layout.RUN_JSON).read_text()).get("dataset_fingerprint")
    except (OSError, json.JSONDecodeError):
        return None

"""A hand-made study folder (records written by hand, a real Optuna journal) for the report tests:
every number in it is known, so each section of the report can be checked exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

SPACE = {
    "lr_g": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
    "loss": {"type": "categorical", "choices": ["non_saturating", "hinge"]},
    "balance": {"type": "categorical", "choices": ["none", "ttur"]},
    "ttur_ratio": {"type": "loguniform", "low": 0.1, "high": 10, "when": {"balance": "ttur"}},
    "beta2": 0.999,
}

# key: (params, status, [(step, fid, classes_covered, d_collapse, diverged)])
TRIALS: dict[str, tuple[dict[str, Any], str, list[tuple]]] = {
    "trial-0000": ({"lr_g": 1e-4, "loss": "non_saturating", "balance": "none"}, "completed",
                   [(0, 900.0, 2, 0, 0), (10, 300.0, 8, 0, 0), (20, 120.0, 10, 0, 0)]),
    "trial-0001": ({"lr_g": 1e-3, "loss": "hinge", "balance": "ttur", "ttur_ratio": 4.0}, "completed",
                   [(0, 900.0, 2, 0, 0), (10, 200.0, 3, 1, 0), (20, 250.0, 2, 1, 0)]),
    "trial-0002": ({"lr_g": 5e-3, "loss": "hinge", "balance": "ttur", "ttur_ratio": 0.5}, "diverged",
                   [(0, 900.0, 2, 0, 0), (10, float("nan"), 1, 0, 1)]),
    "trial-0003": ({"lr_g": 2e-5, "loss": "non_saturating", "balance": "none"}, "stopped-early",
                   [(0, 900.0, 2, 0, 0), (10, 700.0, 6, 0, 0)]),
    "trial-0004": ({"lr_g": 3e-4, "loss": "hinge", "balance": "none"}, "completed",
                   [(0, 900.0, 2, 0, 0), (10, 100.0, 7, 0, 0), (20, 150.0, 9, 0, 0)]),
}


def record(step: int, fid: float, covered: int, d_collapse: int, diverged: int) -> dict[str, Any]:
    r = {"step": step, "fid": fid, "classes_covered": float(covered), "d_collapse": float(d_collapse),
         "diverged": float(diverged), "grid": f"samples/step_{step}.png"}
    if step:
        r.update(d_loss=0.5 + step / 100, g_loss=1.0 - step / 100, g_amplitude=0.1 * step, d_amplitude=0.05 * step,
                 g_rel_amplitude=0.01 * step, d_rel_amplitude=0.02 * step, g_period=10.0 + step, d_period=20.0 + step)
    return r


def make_study(folder: Path, *, summary: bool = True, reruns: list[dict[str, Any]] | None = None,
               journal: bool = True, sampler: str = "tpe", scheduler: str = "asha") -> Path:
    """Write the study folder; with `journal`, a real Optuna journal holding what the search tells Optuna:
    each finished trial's last value, PRUNED for early-stopped ones, FAIL for the diverged one."""
    folder.mkdir(parents=True, exist_ok=True)
    space = {"name": "handmade", "data": {"name": "digits"}, "train": {"steps": 20}, "space": SPACE,
             "search": {"metric": "fid", "mode": "min", "objectives": None, "sampler": sampler, "scheduler": scheduler}}
    (folder / "space.json").write_text(json.dumps(space))
    rows = []
    for key, (params, status, recs) in TRIALS.items():
        t = folder / "trials" / key
        (t / "samples").mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(record(*r)) for r in recs]  # json writes NaN as NaN, as the trainer's json does
        (t / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        (t / "run.json").write_text(json.dumps({"params": params}))
        for step, *_ in recs:
            Image.new("RGB", (32, 32), (step * 10 % 255, 80, 160)).save(t / "samples" / f"step_{step}.png")
        last = recs[-1]
        value = None if status == "diverged" else last[1]  # config.metrics.trial_value, by hand
        rows.append({"key": key, "status": status, "run_id": None, "value": value,
                     "value_step": None if value is None else last[0], "last_step": last[0], "params": params})
    if summary:
        s: dict[str, Any] = {"metric": "fid", "mode": "min", "num_trials": len(rows), "trials": rows}
        if reruns is not None:
            s["reruns"] = reruns
        (folder / "summary.json").write_text(json.dumps(s))
    if journal:
        write_journal(folder, rows)
    return folder


def write_journal(folder: Path, rows: list[dict[str, Any]]) -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState, create_trial

    dists = {"lr_g": FloatDistribution(1e-5, 1e-2, log=True), "loss": CategoricalDistribution(["non_saturating", "hinge"]),
             "balance": CategoricalDistribution(["none", "ttur"]), "ttur_ratio": FloatDistribution(0.1, 10, log=True)}
    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    study = optuna.create_study(study_name="gansearch", storage=storage, direction="minimize")
    states = {"completed": TrialState.COMPLETE, "diverged": TrialState.FAIL, "stopped-early": TrialState.PRUNED}
    for row in rows:
        state = states[row["status"]]
        value = row["value"]
        study.add_trial(create_trial(
            params=row["params"], distributions={k: dists[k] for k in row["params"]}, state=state,
            value=value if state == TrialState.COMPLETE else None, user_attrs={"gansearch_key": row["key"]}))

"""What a style-transfer run writes, in the GAN trainer's formats (so the search, MLflow, the report and
the export read it alike): metrics.jsonl (one line per evaluation), metrics.json (the summary), run.json,
samples/step_<N>.png (the stylised image at that evaluation)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import torch

from gansearch.config import layout
from gansearch.config.metrics import BEST_SUFFIX
from gansearch.style.images import save_image
from gansearch.style.measure import MODES, WORST
from gansearch.trainer.records import (  # the GAN run's formats, the same files
    jsonable,
    write_json,
)

HEADLINE = "transfer_score"
# a null in metrics.jsonl stood for +inf (a diverged run's worst case) for these, NaN otherwise
_INF_WORST = {k for k, v in WORST.items() if v == math.inf}
_INF_WORST |= {k + BEST_SUFFIX for k in _INF_WORST}


def converge_step(steps: Sequence[int], values: Sequence[float], rtol: float) -> int | None:
    """The first evaluated step from which every later value lies within rtol * |last value| of the last
    value: when the run got (and stayed) as good as it ended. None when the last value is not finite."""
    if not values or not math.isfinite(values[-1]):
        return None
    last, first = values[-1], steps[-1]
    for step, v in zip(reversed(steps), reversed(values)):
        if not (math.isfinite(v) and abs(v - last) <= rtol * abs(last)):
            break
        first = step
    return int(first)


class StyleRecords:
    def __init__(self, out: Path, rtol: float) -> None:
        self.out, self.rtol = out, rtol
        self.jsonl = out / layout.METRICS_JSONL
        self.evals: list[dict[str, Any]] = []
        self.status = "running"
        self.diverged_step: int | None = None
        self.train_time = 0.0
        self.eval_time = 0.0

    def start(self, meta: dict[str, Any]) -> None:
        (self.out / layout.SAMPLES).mkdir(parents=True, exist_ok=True)
        self.jsonl.write_text("")
        write_json(self.out / layout.RUN_JSON, meta)

    def save_image(self, step: int, image: torch.Tensor) -> Path:
        return save_image(image, self.out / layout.SAMPLES / f"step_{step}.png")

    def add_eval(self, step: int, metrics: dict[str, float], extra: dict[str, Any], grid: Path | None) -> dict[str, Any]:
        rec: dict[str, Any] = {"step": step, **metrics}
        for key, mode in MODES.items():  # the best so far of each measure, in its direction (finite values only)
            if key not in metrics:
                continue
            values = [float(r[key]) for r in self.evals if isinstance(r.get(key), (int, float))] + [metrics[key]]
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                rec[key + BEST_SUFFIX] = min(finite) if mode == "min" else max(finite)
        rec["diverged"] = 1.0 if self.status == "diverged" else 0.0
        rec["train_time_s"] = round(self.train_time, 4)
        rec["eval_time_s"] = round(self.eval_time, 4)
        history = self.evals + [rec]
        conv = converge_step([int(r["step"]) for r in history], [float(r[HEADLINE]) for r in history], self.rtol)
        if conv is not None:
            rec["converge_step"] = conv
            rec["converge_s"] = next(r["train_time_s"] for r in history if r["step"] == conv)
        rec.update(extra)
        if grid is not None:
            rec["grid"] = str(grid.relative_to(self.out))
        self.evals.append(rec)
        with self.jsonl.open("a") as f:
            f.write(json.dumps(jsonable(rec)) + "\n")
        return rec

    # ---- resume --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"evals": json.dumps(jsonable(self.evals)),
                "times": torch.tensor([self.train_time, self.eval_time], dtype=torch.float64)}

    def restore(self, state: dict[str, Any]) -> None:
        self.evals = [{k: (math.inf if k in _INF_WORST else math.nan) if v is None else v for k, v in r.items()}
                      for r in json.loads(state["evals"])]
        self.train_time, self.eval_time = state["times"].tolist()
        with self.jsonl.open("w") as f:  # evaluations after this checkpoint will be redone
            for rec in self.evals:
                f.write(json.dumps(jsonable(rec)) + "\n")

    def finish(self, step: int, meta: dict[str, Any]) -> dict[str, Any]:
        finite = [r for r in self.evals if math.isfinite(float(r[HEADLINE]))]
        best = min(finite, key=lambda r: r[HEADLINE]) if finite else None
        summary = {
            "status": self.status, "steps": step, "diverged_step": self.diverged_step,
            "diverged_what": "loss" if self.diverged_step is not None else None,
            "final": self.evals[-1] if self.evals else {}, "metric": HEADLINE,
            "best_value": best[HEADLINE] if best else None, "best_step": best["step"] if best else None,
            "train_time_s": round(self.train_time, 3), "eval_time_s": round(self.eval_time, 3), **meta,
        }
        write_json(self.out / layout.METRICS_JSON, summary)
        write_json(self.out / layout.RUN_JSON, meta)  # as it ended: its peak GPU memory, where it last ran
        return summary


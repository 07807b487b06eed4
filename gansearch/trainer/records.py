"""What a run writes: metrics.jsonl (one line per evaluation), metrics.json (summary), sample grids.

It also keeps the loss history on the host, a window at a time, for the oscillation metrics and to
catch the first non-finite loss with its exact step.
"""

from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import torch

from gansearch.config import layout
from gansearch.config.metrics import DISTANCES
from gansearch.config.schema import EvalConfig
from gansearch.files import atomic_write_text
from gansearch.metrics.oscillation import d_collapse, loss_summary


class Records:
    """`modes`: metric -> "min"/"max" of the metrics whose best-so-far is recorded as `<metric>_best`;
    `d_floor`: the least D's loss can be (see losses.Loss.d_floor), None where collapse is undefined."""

    def __init__(self, out: Path, ev: EvalConfig, modes: dict[str, str] | None = None,
                 d_floor: float | None = 0.0, levels: tuple[float | None, float | None] = (None, None)) -> None:
        self.out, self.ev = out, ev
        self.modes = dict(modes or {})
        self.d_floor = d_floor
        self.levels = levels  # G's and D's chance levels (losses.Loss.chance): rel_amplitude's denominators
        self.jsonl = out / layout.METRICS_JSONL
        self.g_hist: deque[float] = deque(maxlen=ev.oscillation_window)
        self.d_hist: deque[float] = deque(maxlen=ev.oscillation_window)
        self.d_per_eval: list[float] = []
        self.evals: list[dict[str, Any]] = []
        self.sum_d = self.sum_g = 0.0
        self.count = 0
        self.status = "running"
        self.diverged_step: int | None = None
        self.diverged_what: str | None = None
        self.train_time = 0.0
        self.eval_time = 0.0
        # wall time of this process's first training iteration: with train.compile, compilation happens there
        self.warmup_time: float | None = None

    def start(self, meta: dict[str, Any]) -> None:
        (self.out / layout.SAMPLES).mkdir(parents=True, exist_ok=True)
        self.jsonl.write_text("")
        write_json(self.out / layout.RUN_JSON, meta)

    def add_losses(self, first_step: int, window: torch.Tensor) -> None:
        """`window` is (2, k): D and G losses of steps first_step+1 .. first_step+k."""
        finite = torch.isfinite(window).all(dim=0)
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0, 0])
            self.status = "diverged"
            self.diverged_step = first_step + bad + 1
            self.diverged_what = "d_loss" if not math.isfinite(float(window[0, bad])) else "g_loss"
            window = window[:, :bad]
        d, g = window[0].tolist(), window[1].tolist()
        self.d_hist.extend(d)
        self.g_hist.extend(g)
        self.sum_d += sum(d)
        self.sum_g += sum(g)
        self.count += len(d)

    def progress_fields(self) -> dict[str, float]:
        out = {"d_loss": self.d_hist[-1] if self.d_hist else math.nan, "g_loss": self.g_hist[-1] if self.g_hist else math.nan}
        if self.evals and self.modes:
            headline = next(iter(self.modes))  # the evaluator's distance comes first
            out[headline] = self.evals[-1].get(headline, math.nan)
        return out

    def add_eval(self, step: int, metrics: dict[str, float], provenance: dict[str, Any], grid: Path | None,
                 scale_grids: list[Path] | None = None) -> dict[str, Any]:
        rec: dict[str, Any] = {"step": step}
        if self.count:
            rec["d_loss"] = self.sum_d / self.count
            rec["g_loss"] = self.sum_g / self.count
            self.d_per_eval.append(rec["d_loss"])
        self.sum_d = self.sum_g = 0.0
        self.count = 0
        rec.update(metrics)
        rec.update(self._best_so_far(metrics))
        # d_collapse: D's loss within collapse_threshold of its floor for collapse_evals evaluations in a row
        above_floor = [v - (self.d_floor or 0.0) for v in self.d_per_eval]
        if len(self.d_hist) >= 8:
            rec.update(loss_summary(list(self.g_hist), list(self.d_hist), above_floor, self.ev.collapse_threshold, self.ev.collapse_evals,
                                    self.levels))
        else:
            rec["d_collapse"] = float(d_collapse(above_floor, self.ev.collapse_threshold, self.ev.collapse_evals))
        if self.d_floor is None:
            del rec["d_collapse"]  # undefined for a loss with no floor (WGAN)
        rec["diverged"] = 1.0 if self.status == "diverged" else 0.0
        rec["train_time_s"] = round(self.train_time, 4)
        rec["eval_time_s"] = round(self.eval_time, 4)
        if self.warmup_time is not None:
            rec["warmup_s"] = round(self.warmup_time, 4)
        rec.update(provenance)
        if grid is not None:
            rec["grid"] = str(grid.relative_to(self.out))
        if scale_grids:  # MSG-GAN: a grid per lower scale, the same latents as `grid`
            rec["scale_grids"] = [str(p.relative_to(self.out)) for p in scale_grids]
        self.evals.append(rec)
        with self.jsonl.open("a") as f:
            f.write(json.dumps(jsonable(rec)) + "\n")
        return rec

    def _best_so_far(self, metrics: dict[str, float]) -> dict[str, float]:
        """`<metric>_best` over this and every earlier evaluation (finite values only)."""
        out: dict[str, float] = {}
        for key, mode in self.modes.items():
            values = [float(r[key]) for r in self.evals if isinstance(r.get(key), (int, float))]
            values.append(float(metrics.get(key, math.nan)))
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                out[key + "_best"] = min(finite) if mode == "min" else max(finite)
        return out

    def save_grid(self, step: int, samples: torch.Tensor, data: Any, scale: int | None = None) -> Path:
        from gansearch.trainer.grids import save_grid

        path = self.out / layout.SAMPLES / (f"step_{step}.png" if scale is None else f"step_{step}_{scale}px.png")
        save_grid(samples, path, data)
        return path

    # ---- resume --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "g_hist": torch.tensor(list(self.g_hist), dtype=torch.float64),
            "d_hist": torch.tensor(list(self.d_hist), dtype=torch.float64),
            "d_per_eval": torch.tensor(self.d_per_eval, dtype=torch.float64),
            "evals": json.dumps(jsonable(self.evals)),
            "times": torch.tensor([self.train_time, self.eval_time], dtype=torch.float64),
            # the losses since the last evaluation: its d_loss/g_loss average them all, resumed or not
            "sums": torch.tensor([self.sum_d, self.sum_g, float(self.count)], dtype=torch.float64),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.g_hist.extend(state["g_hist"].tolist())
        self.d_hist.extend(state["d_hist"].tolist())
        self.d_per_eval = state["d_per_eval"].tolist()
        self.evals = [_unjson(r) for r in json.loads(state["evals"])]
        self.train_time, self.eval_time = state["times"].tolist()
        self.sum_d, self.sum_g, count = state["sums"].tolist()
        self.count = int(count)
        # Evaluations written after this checkpoint will be redone: drop them so no step appears twice.
        with self.jsonl.open("w") as f:
            for rec in self.evals:
                f.write(json.dumps(jsonable(rec)) + "\n")

    def finish(self, step: int, meta: dict[str, Any]) -> dict[str, Any]:
        headline = next(iter(self.modes), None)
        best = None
        if headline is not None:
            finite = [r for r in self.evals if isinstance(r.get(headline), (int, float)) and math.isfinite(r[headline])]
            pick = min if self.modes[headline] == "min" else max
            best = pick(finite, key=lambda r: r[headline]) if finite else None
        summary = {
            "status": self.status,
            "steps": step,
            "diverged_step": self.diverged_step,
            "diverged_what": self.diverged_what,
            "final": self.evals[-1] if self.evals else {},
            "metric": headline,
            "best_value": best[headline] if best else None,
            "best_step": best["step"] if best else None,
            "train_time_s": round(self.train_time, 3),
            "eval_time_s": round(self.eval_time, 3),
            "warmup_s": None if self.warmup_time is None else round(self.warmup_time, 3),
            **meta,
        }
        write_json(self.out / layout.METRICS_JSON, summary)
        write_json(self.out / layout.RUN_JSON, meta)  # as it ended: its peak GPU memory, where it last ran
        return summary


def jsonable(obj: Any) -> Any:
    """Strict JSON: non-finite floats become null (the status field says why)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


_INF_WORST = {k for pair in DISTANCES.values() for k in pair} | {"class_kl", "reverse_kl"}


def _inf_worst(key: str) -> bool:
    """A distance or KL (also at a lower scale, `<distance>_<r>px`), whose worst case is inf."""
    base, _, scale = key.rpartition("_")
    return key in _INF_WORST or (base in _INF_WORST and scale.endswith("px"))


def _unjson(rec: dict[str, Any]) -> dict[str, Any]:
    """A record read back: a null distance or KL stood for inf (its worst case); other nulls were NaN."""
    return {k: (math.inf if _inf_worst(k) else math.nan) if v is None else v for k, v in rec.items()}


def write_json(path: Path, obj: Any) -> None:
    """Atomically: a reader (the search, a resumed run) never sees half a file."""
    atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=True))

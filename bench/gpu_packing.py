"""Packing trials on one GPU: aggregate training images/s and GPU utilisation with 1, 2, 4 and 8 trials at once.

Each k runs one real study through the product path (`gansearch.search.study.run_study`, what `gansearch
run` calls) with `search.resources_per_trial.gpu = 1/k`, `search.num_trials = search.max_concurrent = k`,
`search.scheduler=none`, `search.sampler=random`, and the same fixed number of trainer steps per trial, so
all k trials train side by side on the one GPU. Every trial does the same work: loss `non_saturating`,
balance `none` and both learning rates are fixed (beta1 is still sampled, which costs nothing); one
evaluation at step 0 and one at the end, no KID, one checkpoint.

Why this model: the digits default (16 px, width 32, batch 64) is microseconds of GPU work per kernel, so
one trial leaves an H200 idle, launch-bound on its Python thread, and packing would look good for a trivial
reason. On the GPU we train 32-px digits with width-64 nets (the cifar10 space's) and batch 256: more work
per kernel, so packing must earn its gain; 8 trials still fit in memory many times over. (How busy one
trial keeps an H200 is what this measures, not something known yet.)

Measured per k:
  * images/s (train window) = sum over trials of steps x batch / (last trial's training end - first
    trial's training start). A trial's training starts at the MLflow timestamp of its step-0 evaluation
    (logged just before its first step) and ends at its final evaluation's timestamp minus that final
    evaluation's own time (metrics.jsonl's cumulative eval_time_s). Approximate to ~0.1 s. Trials start
    training up to seconds apart (actor start, CUDA init, sqlite writes), and that skew is inside the window,
    so this is a lower bound; `start_skew_s` and `all_k_training_s` (how long all k trained at once) say how
    much the trials overlapped. 1000 steps per trial are meant to keep the skew small next to the window
    and all four studies inside the budget (a guess: no GPU has run this yet).
  * images/s (study wall) = the same images / run_study's wall time on our clock (Tune and actor start,
    CUDA init, evaluations and the report included): what a user sees.
  * per-trial images/s = steps x batch / the trainer's own train_time_s (metrics.json), mean over trials.
  * GPU utilisation: `nvidia-smi --query-gpu=utilization.gpu,memory.used` every 0.5 s in a thread during
    the study; mean and max over the whole study, the train window and the span when all k trained at
    once (`all_k_training`: the packed steady state). nvidia-smi's utilisation is the
    share of time any kernel ran, not how full the SMs were. Without nvidia-smi it reads "unavailable".
  * grant_check: each trial's device against its Ray grant, from trials/<key>/run.json: k run.json files,
    `placement.gpu` = 1/k, `placement.gpu_ids` non-empty and the same id for all k (one card),
    `placement.device` "cuda:0", the trainer's `device` a CUDA one, no `placement.trained_on` (the test-only
    GANSEARCH_TEST_CUDA_STANDIN). --dry-run (gpu 0) expects no ids and "cpu". Gives ok, problems and per
    trial gpu_ids, device, precision, gpu_peak_memory_mib; study.json's `resources` is kept beside it.
Ray is started once, locally (RAY_ADDRESS is ignored), and the feature cache is warmed before
the first clock starts. A k that would not fit the remaining --budget-s (worst case: no gain from packing)
is skipped and says so. The JSON is rewritten after every study, so a run killed by its timeout keeps
what it measured. `--dry-run` (CPU): k = 1, 2, gpu 0, 20 steps of batch 16 on 16-px digits: plumbing only.
Exit 0 when at least one k was measured and every grant check that ran is ok, else 1.

  python bench/gpu_packing.py [--dry-run] [--out DIR] [--ks 1,2,4,8] [--steps N] [--budget-s S]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from search_efficiency import quiet  # the same fd-level redirect of Tune's and MLflow's output (bench/)

ROOT = Path(__file__).resolve().parents[1]
SMI_QUERY = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]


class GpuSampler(threading.Thread):
    """nvidia-smi every `period` s: (unix time, utilisation %, memory used MiB); 'unavailable' without it."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self.stop = period, [], threading.Event()
        self.unavailable: str | None = None if shutil.which("nvidia-smi") else "nvidia-smi not found"

    def read(self) -> tuple[float, float, float] | None:
        try:
            p = subprocess.run(SMI_QUERY, capture_output=True, text=True, timeout=5)
            util, mem = p.stdout.strip().splitlines()[0].split(",")[:2]
            return time.time(), float(util), float(mem)
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
            self.unavailable = f"nvidia-smi failed: {type(e).__name__}: {e}"[:300]
            return None

    @staticmethod
    def name() -> str | None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            p = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=10)
            return p.stdout.strip() or None
        return None

    def run(self) -> None:
        while self.unavailable is None and not self.stop.is_set():
            s = self.read()
            if s is not None:
                self.samples.append(s)
            self.stop.wait(self.period)

    def summary(self, window: tuple[float, float] | None, overlap: tuple[float, float] | None) -> dict[str, Any]:
        if not self.samples:
            return {"available": False, "reason": self.unavailable or "no samples"}

        def stats(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
            u = [r[1] for r in rows]
            return {"n": len(rows), "util_mean": round(statistics.mean(u), 1) if u else None,
                    "util_max": max(u, default=None), "mem_used_max_mib": max((r[2] for r in rows), default=None)}

        def within(w: tuple[float, float] | None) -> list[tuple[float, float, float]]:
            return [s for s in self.samples if w and w[0] <= s[0] <= w[1]]

        return {"available": True, "period_s": self.period, "study": stats(self.samples),
                "train_window": stats(within(window)), "all_k_training": stats(within(overlap))}


def overrides(a: argparse.Namespace, k: int, cpu: int) -> list[str]:
    gpu = 0 if a.dry_run else 1 / k
    return ["search.scheduler=none", "search.sampler=random", f"search.num_trials={k}", f"search.max_concurrent={k}",
            f"search.resources_per_trial.gpu={gpu}", f"search.resources_per_trial.cpu={cpu}",
            f"train.steps={a.steps}", f"train.batch_size={a.batch}", f"train.checkpoint_every={a.steps}",
            f"data.image_size={a.image_size}", f"model.g_width={a.width}", f"model.d_width={a.width}",
            f"eval.every={a.steps}", f"eval.num_samples={a.eval_samples}", "eval.kid=false", "eval.grid=16",
            "space.loss=non_saturating", "space.balance=none", "space.lr_g=2e-4", "space.lr_d=2e-4", *a.set]


def trial_rows(study: Path, batch: int) -> list[dict[str, Any]]:
    """Each trial's steps, trainer times and train window (unix s) from its folder and the study's MLflow."""
    from mlflow.tracking import MlflowClient

    meta = json.loads((study / "study.json").read_text())
    metric = json.loads((study / "summary.json").read_text())["metric"]
    c = MlflowClient(meta["tracking_uri"])
    runs = c.search_runs([meta["experiment_id"]], max_results=1000,
                         filter_string=f"tags.`mlflow.parentRunId` = '{meta['parent_run_id']}'")
    rows = []
    for r in runs:
        key = r.data.tags.get("gansearch.trial_key", r.info.run_id)
        folder = study / "trials" / key
        final = json.loads((folder / "metrics.json").read_text())
        recs = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines() if x.strip()]
        hist = sorted(c.get_metric_history(r.info.run_id, metric), key=lambda m: m.step)
        last_eval = recs[-1]["eval_time_s"] - (recs[-2]["eval_time_s"] if len(recs) > 1 else 0.0)
        rows.append({"key": key, "status": final.get("status"), "device": final.get("device"),
                     "precision": final.get("precision"), "steps": final.get("steps"),
                     "images": (final.get("steps") or 0) * batch, "train_time_s": final.get("train_time_s"),
                     "eval_time_s": final.get("eval_time_s"),
                     "start": hist[0].timestamp / 1000 if hist else None,
                     "end": hist[-1].timestamp / 1000 - last_eval if len(hist) > 1 else None})
    return rows


def grant_check(study: Path, k: int, dry: bool) -> dict[str, Any]:
    """Each trial's device against its Ray grant (trials/<key>/run.json `placement`); see the docstring."""
    want, problems, per_trial, ids = 0 if dry else 1 / k, [], [], set()
    files = sorted((study / "trials").glob("*/run.json")) if (study / "trials").is_dir() else []
    if len(files) != k:
        problems.append(f"{len(files)} trials wrote run.json, expected {k}")
    for f in files:
        rj = json.loads(f.read_text())
        pl, dev = rj.get("placement") or {}, str(rj.get("device"))
        gpu_ids, pdev, g = [str(i) for i in pl.get("gpu_ids") or []], pl.get("device"), pl.get("gpu")
        per_trial.append({"key": f.parent.name, "gpu_ids": gpu_ids, "device": rj.get("device"),
                          "precision": rj.get("precision"), "gpu_peak_memory_mib": rj.get("gpu_peak_memory_mib")})
        ids.update(gpu_ids)
        checks = [(isinstance(g, (int, float)) and abs(g - want) < 1e-9, f"placement.gpu {g!r}, expected {want:g}"),
                  (pl.get("trained_on", pdev) == pdev, f"trained on {pl.get('trained_on')} (GANSEARCH_TEST_CUDA_STANDIN)")]
        checks += [(not gpu_ids, f"gpu_ids {gpu_ids}, expected none"),
                   (dev == pdev == "cpu", f"device {dev}, placement.device {pdev}: expected cpu")] if dry else [
                   (bool(gpu_ids), "no gpu_ids granted"), (pdev == "cuda:0", f"placement.device {pdev}, expected cuda:0"),
                   (dev.startswith("cuda"), f"the trainer's device {dev}, expected cuda")]
        problems += [f"{f.parent.name}: {msg}" for ok, msg in checks if not ok] if pl else \
            [f"{f.parent.name}: no placement in run.json"]
    if len(ids) > 1:
        problems.append(f"{k} trials at gpu 1/{k} were granted different GPUs {sorted(ids)}, expected one card")
    return {"ok": not problems, "gpu_per_trial": want, "problems": problems, "per_trial": per_trial}


def measure(rows: list[dict[str, Any]], wall: float, gpu: GpuSampler) -> dict[str, Any]:
    images = sum(r["images"] for r in rows)
    timed = [r for r in rows if r["start"] is not None and r["end"] is not None]
    window = (min(r["start"] for r in timed), max(r["end"] for r in timed)) if timed else None
    overlap = (max(r["start"] for r in timed), min(r["end"] for r in timed)) if timed else None
    span = window[1] - window[0] if window else None
    rates = [r["images"] / r["train_time_s"] for r in rows if r.get("train_time_s")]
    t0 = window[0] if window else 0.0
    return {"trials": len(rows), "images": images, "study_wall_s": round(wall, 2),
            "train_window_s": round(span, 2) if span else None,
            "start_skew_s": round(overlap[0] - t0, 2) if overlap else None,
            # how long all k trained at once: a short one next to the window means the trials barely overlapped
            "all_k_training_s": round(max(0.0, overlap[1] - overlap[0]), 2) if overlap else None,
            "images_per_s_train_window": round(images / span, 1) if span else None,
            "images_per_s_study_wall": round(images / wall, 1),
            "per_trial_images_per_s_mean": round(statistics.mean(rates), 1) if rates else None,
            "sum_train_time_s": round(sum(r["train_time_s"] or 0 for r in rows), 2),
            "gpu": gpu.summary(window, overlap if overlap and overlap[1] > overlap[0] else None),
            "per_trial": [{**r, "start": None if r["start"] is None else round(r["start"] - t0, 2),
                           "end": None if r["end"] is None else round(r["end"] - t0, 2)} for r in rows]}


def machine(dry_run: bool) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                            "torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "dry_run": dry_run,
                            "gpu": GpuSampler.name(),  # from nvidia-smi: no CUDA context in the driver
                            "load_avg_start": list(os.getloadavg())}
    with contextlib.suppress(Exception):
        from importlib import metadata

        info.update({p: metadata.version(p) for p in ("ray", "optuna", "mlflow")})
    return info


def print_table(studies: dict[str, Any]) -> None:
    base = next((s["images_per_s_train_window"] for s in studies.values() if s.get("images_per_s_train_window")), None)
    print(f"\n{'k':>2} {'gpu/trial':>9} {'img/s train':>12} {'x vs k=1':>8} {'img/s wall':>11} {'per trial':>10} "
          f"{'util mean/max':>14} {'mem MiB':>8} {'wall s':>7} {'skew/all-k s':>13} grant")
    for k, s in studies.items():
        gc = s.get("grant_check")
        grant = "-" if gc is None else "ok" if gc["ok"] else f"NOT OK ({len(gc['problems'])}): " + "; ".join(gc["problems"][:3])
        if "error" in s or "skipped" in s:
            print(f"{k:>2} {s.get('error') or s.get('skipped')} (grant: {grant})")
            continue
        g = s["gpu"]
        tw = g.get("train_window", {}) if g.get("available") else {}
        util = f"{tw.get('util_mean')}/{tw.get('util_max')}" if tw else "unavailable"
        x = s["images_per_s_train_window"] / base if base and s["images_per_s_train_window"] else math.nan
        print(f"{k:>2} {s['gpu_per_trial']:>9.3g} {s['images_per_s_train_window'] or math.nan:>12.1f} {x:>7.2f}x "
              f"{s['images_per_s_study_wall']:>11.1f} {s['per_trial_images_per_s_mean'] or math.nan:>10.1f} "
              f"{util:>14} {str(tw.get('mem_used_max_mib', '-')):>8} {s['study_wall_s']:>7.1f} "
              f"{str(s['start_skew_s']) + '/' + str(s['all_k_training_s']):>13} {grant}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU plumbing check: k=1,2, gpu=0, tiny trials")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for gpu_packing.json")
    ap.add_argument("--ks", default=None, help="trials at once, comma-separated (default 1,2,4,8; dry run 1,2)")
    ap.add_argument("--space", type=Path, default=ROOT / "search_spaces" / "digits.yaml")
    ap.add_argument("--steps", type=int, default=None, help="trainer steps per trial (default 1000; dry run 20)")
    ap.add_argument("--batch", type=int, default=None, help="train.batch_size (default 256; dry run 16)")
    ap.add_argument("--image-size", type=int, default=None, help="data.image_size (default 32; dry run 16)")
    ap.add_argument("--width", type=int, default=None, help="model.g_width = d_width (default 64; dry run 16)")
    ap.add_argument("--eval-samples", type=int, default=None, help="eval.num_samples (default 1000; dry run 200)")
    ap.add_argument("--cpus-per-trial", type=int, default=None, help="default: CPUs // the largest k")
    ap.add_argument("--budget-s", type=float, default=None, help="skip a k predicted past it (default 110; dry 170)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the study folders here (default: a temp dir)")
    ap.add_argument("--set", action="append", default=[], help="more overrides, key=value")
    a = ap.parse_args()
    dry = a.dry_run
    for name, gpu_default, dry_default in (("steps", 1000, 20), ("batch", 256, 16), ("image_size", 32, 16), ("width", 64, 16),
                                           ("eval_samples", 1000, 200), ("budget_s", 110.0, 170.0)):
        if getattr(a, name) is None:
            setattr(a, name, dry_default if dry else gpu_default)
    ks = [int(k) for k in (a.ks or ("1,2" if dry else "1,2,4,8")).split(",")]
    cpu = a.cpus_per_trial or max(1, (os.cpu_count() or 1) // max(ks))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a phase timeout still shuts Ray down (finally)
    os.environ.setdefault("GANSEARCH_CACHE_DIR", str(Path(tempfile.gettempdir()) / "gansearch-gpu-check-cache"))
    os.environ.pop("RAY_ADDRESS", None)  # gansearch would treat it as --address: this measures one local Ray
    sys.path.insert(0, str(ROOT))
    from gansearch.config import load
    from gansearch.search import study as study_mod

    t_start = time.monotonic()
    out = a.out / "gpu_packing.json"
    a.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(dry),
        "space": os.path.relpath(a.space, ROOT), "ks": ks, "cpus_per_trial": cpu,
        "trial": {"steps": a.steps, "batch_size": a.batch, "image_size": a.image_size, "width": a.width,
                  "eval_samples": a.eval_samples},
        "overrides_k1": overrides(a, 1, cpu), "budget_s": a.budget_s, "studies": {}}
    work = a.workdir or Path(tempfile.mkdtemp(prefix="gansearch-packing-"))
    work.mkdir(parents=True, exist_ok=True)
    started = False
    try:
        study_mod._warm_feature_cache(load(a.space, overrides(a, ks[0], cpu)), echo=lambda s: None)
        with quiet(work / "ray.log"):
            started = study_mod._start_ray(None, study_mod.study_env())
        import ray

        result["ray_resources"] = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        if not dry and result["ray_resources"].get("GPU", 0) < 1:  # GPU trials would wait for one forever
            raise RuntimeError(f"Ray sees no GPU ({result['ray_resources']}): nothing to pack")
        prev: dict[str, Any] | None = None
        prev_k = None
        for k in ks:
            elapsed = time.monotonic() - t_start
            if prev and prev.get("train_window_s"):
                predicted = prev["study_wall_s"] - prev["train_window_s"] + prev["train_window_s"] * k / prev_k
                if elapsed + predicted > a.budget_s:
                    result["studies"][str(k)] = {"skipped": f"predicted {predicted:.0f} s (no packing gain) after "
                                                            f"{elapsed:.0f} s: past the {a.budget_s:.0f} s budget"}
                    continue
            result["studies"][str(k)] = entry = {"gpu_per_trial": 0 if dry else 1 / k}
            folder, gpu = work / f"k{k}", GpuSampler()
            gpu.start()
            t0 = time.monotonic()
            try:
                cfg = load(a.space, overrides(a, k, cpu))
                with quiet(work / f"k{k}.log"):
                    study_mod.run_study(cfg, a.space, folder, echo=print)
                entry["grant_check"] = grant_check(folder, k, dry)
                entry["resources"] = json.loads((folder / "study.json").read_text()).get("resources")
                entry.update(measure(trial_rows(folder, a.batch), time.monotonic() - t0, gpu))
                prev, prev_k = entry, k
            except Exception as e:  # noqa: BLE001 - one broken study must not lose the others
                log = work / f"k{k}.log"
                entry.update(error=f"{type(e).__name__}: {e}"[:1000], wall_s=round(time.monotonic() - t0, 1),
                             log_tail=log.read_text(errors="replace")[-3000:] if log.exists() else "")
                with contextlib.suppress(Exception):  # what the trials that ran were granted
                    entry.setdefault("grant_check", grant_check(folder, k, dry))
            finally:
                gpu.stop.set()
                gpu.join(timeout=10)
            out.write_text(json.dumps(result, indent=2) + "\n")
            print(f"k={k}: done in {time.monotonic() - t0:.1f} s" + (f" ({entry['error']})" if "error" in entry else ""), flush=True)
    except BaseException as e:  # recorded (SystemExit 143: the phase's timeout), then raised as it was
        result["error"] = f"{type(e).__name__}: {e}"[:1000]
        raise
    finally:
        if started:
            import ray

            ray.shutdown()
        result["bench_wall_s"] = round(time.monotonic() - t_start, 1)
        result["machine"]["load_avg_end"] = list(os.getloadavg())
        out.write_text(json.dumps(result, indent=2) + "\n")
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(result["studies"])
    print(f"wrote {out} ({result['bench_wall_s']} s)")
    studies = result["studies"].values()
    granted = all(s["grant_check"]["ok"] for s in studies if "grant_check" in s)
    return 0 if any("images" in s for s in studies) and granted else 1


if __name__ == "__main__":
    sys.exit(main())

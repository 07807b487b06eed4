"""Does the search save compute against plain random search (Lucic et al. 2018, "Are GANs Created Equal?")?

Methods, same space and budget B (trainer steps), R paired reps: rep r runs every method with search.seed = r,
so random, tpe and tpe_defaults draw from the same seeded samplers (issue 25, item 3):
- random, tpe: scheduler none, N trials x T steps = B, search.defaults_first off (every trial the sampler's);
- tpe_defaults: tpe with the space's defaults enqueued as trial 0 (the shipped default);
- random_asha, tpe_asha: ASHA_N trials with search.asha.grace_period at the share of a trial that
  bench/rank_correlation.py chose on full-length trials and its reduction factor (measured_rungs);
  run_study has no budget stop, so they run ~1.1-1.4 B and are cut at B;
- pbt: a random population of N members x T steps; every pbt_every evaluations the worst quarter copies one
  of the best and mutates lr_g, lr_d, beta1.

Scored by the product's rule. A study's answer at budget b is what its summary would rank first if the study
stopped there: the best over trials of each trial's LAST evaluation by then (config.metrics.trial_value),
not the best value ever seen (which rewards methods that evaluate often with lucky one-off peaks).
A study that ended before B keeps its final answer up to B (it is finished, not censored); a rep that
never reaches the target within B is right-censored at B.

Statistics, decided before the run (DECISION below is stored in the JSON):
- target = the median over random's reps of its answer at B, re-drawn inside every bootstrap resample;
- budget to target of each rep; ratio = Kaplan-Meier median of those budgets (censored at B) / B, infinite
  when fewer than half the reps reach it;
- a paired bootstrap (2000 resamples of rep indices, the same indices for every method, seed 0) gives 90 %
  intervals for each ratio and for each method's paired difference in answer at B against tpe.
Sizing: see SIZES; the default run of 6 methods x 15 reps on ring8 and digits is about 4 hours on 2 CPUs
(`--estimate`).
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
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STYLE = {"random": ("k", "-"), "tpe": ("tab:blue", "-"), "tpe_defaults": ("tab:cyan", "-"),
         "random_asha": ("tab:green", "--"), "tpe_asha": ("tab:red", "--"), "pbt": ("tab:purple", "-.")}
# method: (sampler, scheduler, defaults first)
METHODS = {"random": ("random", "none", False), "tpe": ("tpe", "none", False), "tpe_defaults": ("tpe", "none", True),
           "random_asha": ("random", "asha", False), "tpe_asha": ("tpe", "asha", False), "pbt": ("random", "pbt", False)}


def measured_rungs(task: str) -> tuple[float | None, int]:
    """(grace period as a share of a trial, reduction factor) that bench/rank_correlation.py's rule chose on
    full-length trials, read from its results JSON, so the study and the shipped space use the same
    measurement; a task without one (or where early stopping is not advised) keeps the first evaluation and 3."""
    found = ROOT / "bench" / "results" / f"rank_correlation_{task}.json"
    m = json.loads(found.read_text()) if task and found.exists() else {}
    if not m.get("early_stopping_advised"):
        return None, 3
    return m["grace_period"] / m["train_steps"], m["reduction_factor"]


DECISION = (
    "Written before the run. Compared on ring8 and digits, paired over 15 reps, by the answer at B (product rule). "
    "(1) search.scheduler default: stays none unless tpe_asha's paired difference against tpe has a 90% interval "
    "wholly on the better side on both tasks; then asha (with rank_correlation's grace). "
    "(2) search.sampler default: stays tpe unless random's paired difference against tpe is wholly better on "
    "both tasks. (3) search.defaults_first: stays on unless tpe_defaults' paired difference against tpe is "
    "wholly worse on either task. (4) The README's 1/3 goal is met by a method only if the upper end of its "
    "ratio's 90% interval is <= 1/3.")
WORST = 1e30  # gansearch.tracking.conventions.WORST: a diverged trial's logged distance


@dataclass(frozen=True)
class Size:
    """One task's trial and study sizes. The rest is the time estimate's cost model, fitted to single
    studies on 2 vCPUs: seconds per 1000 steps of one trial while two share the cores, per trial start,
    per PBT pause-and-restore of a member, and per study (Tuner start, fresh actors' imports, report)."""
    steps: int
    every: int
    n: int
    asha_n: int
    shrink: tuple[str, ...]
    kstep_s: float
    pbt_every: int = 1  # perturbation interval in evaluations (each one pauses and restores every member)
    trial_s: float = 1.0
    restart_s: float = 2.5
    study_s: float = 14.0


_PTS = ("train.batch_size=256", "eval.num_samples=1000", "eval.grid=500")
_DIG = ("eval.num_samples=500", "eval.kid=false", "eval.grid=16")
_W16, _W64, _W128 = (("model.g_width=%d" % w, "model.d_width=%d" % w) for w in (16, 64, 128))
SIZES: dict[str, dict[str, Size]] = {
    "default": {
        "ring8": Size(1500, 300, 8, 24, (*_W64, *_PTS), 3.0, pbt_every=2),
        "grid25": Size(3000, 600, 8, 20, (*_W64, *_PTS), 3.5, pbt_every=2),
        "digits": Size(400, 80, 8, 20, (*_W16, *_DIG), 18.0, pbt_every=2, study_s=20.0),
    },
    "full": {
        "ring8": Size(6000, 1000, 24, 72, (*_W128, *_PTS), 5.5),
        "grid25": Size(10000, 2000, 24, 72, (*_W128, *_PTS), 5.0),
        "digits": Size(1500, 250, 24, 72, ("eval.num_samples=1000", "eval.kid=false"), 40.0, study_s=20.0),
    },
    "smoke": {
        "ring8": Size(200, 100, 2, 3, (*_W16, *_PTS), 3.0),
        "grid25": Size(200, 100, 2, 3, (*_W16, *_PTS), 3.0),
        "digits": Size(60, 20, 2, 3, ("model.g_width=8", "model.d_width=8", *_DIG), 18.0, study_s=20.0),
    },
}


def overrides(size: Size, method: str, seed: int, task: str = "") -> list[str]:
    sampler, scheduler, first = METHODS[method]
    n = size.asha_n if scheduler == "asha" else size.n
    out = [*size.shrink, f"train.steps={size.steps}", f"eval.every={size.every}", f"train.checkpoint_every={size.every}",
           "search.resources_per_trial.cpu=1", f"search.sampler={sampler}", f"search.scheduler={scheduler}",
           f"search.num_trials={n}", f"search.defaults_first={str(first).lower()}"]
    if scheduler == "asha":
        share, eta = measured_rungs(task)
        grace = max(size.every, round(share * size.steps / size.every) * size.every) if share else size.every
        out += [f"search.asha.grace_period={min(grace, size.steps - size.every)}", f"search.asha.reduction_factor={eta}"]
    if method == "pbt":
        out += [f"search.pbt.perturbation_interval={size.every * size.pbt_every}", "search.pbt.quantile_fraction=0.25",
                "search.pbt.resample_probability=0.25", "search.pbt.mutate=[lr_g, lr_d, beta1]"]
    return out + [f"search.seed={seed}"]  # last: the JSON records it as <rep>


def asha_steps(size: Size) -> float:
    """Expected steps of one ASHA trial (grace eval.every, factor 3, synchronous approximation)."""
    rungs = [size.every * 3**k for k in range(30) if size.every * 3**k < size.steps] + [size.steps]
    return rungs[0] + sum((rungs[k + 1] - rungs[k]) / 3 ** (k + 1) for k in range(len(rungs) - 1))


def estimate_s(size: Size, method: str, cpus: int) -> float:
    scheduler = METHODS[method][1]
    if scheduler == "asha":  # async ASHA promotes more than the synchronous count: +15 % (measured)
        work = size.asha_n * size.trial_s + 1.15 * size.asha_n * asha_steps(size) / 1000 * size.kstep_s
    else:
        work = size.n * (size.trial_s + size.steps / 1000 * size.kstep_s)
    if scheduler == "pbt":
        work += size.n * math.ceil(size.steps / (size.every * size.pbt_every)) * size.restart_s
    return size.study_s + work / cpus


def read_timeline(study_dir: Path, metric: str) -> list[list[Any]]:
    """[seconds since the first event, trial key, step, value] of every evaluation, from the study's MLflow."""
    from mlflow.tracking import MlflowClient

    from gansearch.tracking import conventions as cv

    meta = json.loads((study_dir / "study.json").read_text())
    c = MlflowClient(meta["tracking_uri"])
    runs = c.search_runs([meta["experiment_id"]], max_results=10000,
                         filter_string=f"tags.`{cv.TAG_PARENT}` = '{meta['parent_run_id']}'")
    events = []
    for r in runs:
        key = r.data.tags.get(cv.TAG_TRIAL_KEY, r.info.run_id)
        events += [[m.timestamp, key, int(m.step), float(m.value)] for m in c.get_metric_history(r.info.run_id, metric)]
    events.sort(key=lambda e: (e[0], e[2], e[1]))
    t0 = events[0][0] if events else 0
    return [[(e[0] - t0) / 1000, *e[1:]] for e in events]


def trace(events: list[list[Any]], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative budget, the study's answer) after each event; events of one timestamp share the budget.
    The answer is the product's: the best over trials of each one's last evaluation so far (a diverged
    trial's WORST value has none), so it can get worse when the leading trial's next evaluation does."""
    latest: dict[str, int] = {}
    last: dict[str, float] = {}
    cum, best = [], []
    for _, key, step, v in events:
        latest[key] = step
        if math.isfinite(v) and abs(v) < WORST:
            last[key] = v
        else:
            last.pop(key, None)
        vals = list(last.values())
        cum.append(sum(latest.values()))
        best.append((max(vals) if mode == "max" else min(vals)) if vals else math.nan)
    for i in range(len(events) - 2, -1, -1):
        if events[i][0] == events[i + 1][0]:
            cum[i] = cum[i + 1]
    return np.maximum.accumulate(np.asarray(cum, float)) if cum else np.zeros(0), np.asarray(best, float)


def on_grid(cum: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(cum, grid, side="right") - 1
    return np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.nan, np.nan)


def reach(cum: np.ndarray, best: np.ndarray, target: float, budget: float, mode: str) -> float:
    """The budget at which the answer first reaches the target; inf (censored at B) if it never does by B."""
    ok = (cum <= budget) & ((best >= target) if mode == "max" else (best <= target))
    return float(cum[np.argmax(ok)]) if ok.any() else math.inf


def km_median(times: np.ndarray) -> float:
    """Kaplan-Meier median of budgets right-censored at B (inf = censored; every censoring is at B, after
    every event, so this is the plain median when at least half the reps reach the target, else inf)."""
    t = np.sort(times)
    k = math.ceil(len(t) / 2)
    return float(t[k - 1]) if len(t) and np.isfinite(t[k - 1]) else math.inf


def bands(rows: np.ndarray) -> dict[str, list[float]]:
    q = np.nanpercentile(rows, [0, 25, 50, 75, 100], axis=0)
    return dict(zip(("min", "q25", "median", "q75", "max"), q.tolist()))


def analyse(task: dict[str, Any], budget: float, mode: str, seed: int = 0, boots: int = 2000) -> None:
    """Curves, target, ratios and paired differences of one task, in place: reps are paired by search seed,
    and the bootstrap resamples rep indices once for every method and re-draws the target each time."""
    grid = np.linspace(0, budget, 101)
    task["grid"] = grid.tolist()
    by_seed = {m: {st["seed"]: trace(st["timeline"], mode) for st in d["studies"] if st.get("timeline")}
               for m, d in task["methods"].items()}
    for m, tr in by_seed.items():
        if tr:
            task["methods"][m]["curve"] = bands(np.array([on_grid(c, b, grid) for c, b in tr.values()]))
    seeds = sorted(set.intersection(*[set(tr) for tr in by_seed.values()])) if by_seed else []
    if "random" not in by_seed or not seeds:
        return
    sign = 1.0 if mode == "max" else -1.0
    at_b = {m: np.array([on_grid(*tr[s], np.array([budget]))[0] for s in seeds]) for m, tr in by_seed.items()}

    def ratios(idx: np.ndarray) -> tuple[float, dict[str, float]]:
        target = float(np.nanmedian(at_b["random"][idx]))
        return target, {m: km_median(np.array([reach(*by_seed[m][seeds[i]], target, budget, mode) for i in idx])) / budget
                        for m in by_seed}

    target, point = ratios(np.arange(len(seeds)))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(seeds), size=(boots, len(seeds)))
    boot_r = {m: [] for m in by_seed}
    boot_d = {m: [] for m in by_seed}
    for idx in draws:
        _, r = ratios(idx)
        for m in by_seed:
            boot_r[m].append(r[m])
            if "tpe" in at_b:
                boot_d[m].append(float(np.nanmean(sign * (at_b[m][idx] - at_b["tpe"][idx]))))
    task.update(target=target, paired_seeds=seeds, decision_rule=DECISION)
    for m, d in task["methods"].items():
        if m not in by_seed:
            continue
        reached = [reach(*by_seed[m][s], target, budget, mode) for s in seeds]
        d.update(budgets_to_target=reached, reached=int(np.isfinite(reached).sum()), reps=len(seeds),
                 ratio=point[m], ratio_ci90=np.percentile(boot_r[m], [5, 95], method="nearest").tolist(),
                 answer_at_b=at_b[m].tolist(), final_median=float(np.nanmedian(at_b[m])))
        if "tpe" in at_b and m != "tpe":
            diff = sign * (at_b[m] - at_b["tpe"])
            d.update(paired_vs_tpe=float(np.nanmean(diff)),
                     paired_vs_tpe_ci90=np.nanpercentile(boot_d[m], [5, 95]).tolist(),
                     paired_vs_tpe_note="mean over reps of (method - tpe) answer at B, in the better direction (> 0: better)")
    if point.get("random") == 0:
        task["warning"] = "random reaches its own target before any training: trials too small, ratios meaningless"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4), squeeze=False)
    for ax, (name, t) in zip(axes[0], tasks.items()):
        for m, d in t["methods"].items():
            if "curve" in d:
                c = d["curve"]
                color, ls = STYLE[m]
                ax.plot(t["grid"], c["median"], label=m, color=color, ls=ls, lw=1.6, drawstyle="steps-post")
                ax.fill_between(t["grid"], c["q25"], c["q75"], color=color, alpha=0.12, lw=0, step="post")
        if t.get("target") is not None:
            ax.axhline(t["target"], color="k", ls="--", lw=0.8, label="target (random @ B)")
        ax.axvline(t["budget"] / 3, color="grey", ls=":", lw=0.8, label="B/3")
        if t["mode"] == "min" and (t.get("target") or 0) > 0:
            ax.set_yscale("log")  # a distance falls by orders of magnitude in the first evaluations
        ax.set(title=f"{name} (R={result['reps']}, median, 25-75 %)", xlabel="cumulative trainer steps",
               ylabel=f"study's answer: best last {t['metric']} ({t['mode']})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Tune's tables, MLflow's and the progress line go to the study's log (fd level: they print from
    handlers bound at import), so the benchmark's own lines stay readable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with log.open("ab") as f:
        for fd in saved:
            os.dup2(f.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _clean(obj: Any) -> Any:
    """Strict JSON: inf/NaN -> None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj if not isinstance(obj, float) or math.isfinite(obj) else None


def machine() -> dict[str, Any]:
    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_avg_start": list(os.getloadavg()), **{p: metadata.version(p) for p in ("torch", "ray", "optuna", "mlflow")}}


def verdict(m: str, d: dict[str, Any], random_ratio: float | None) -> str:
    """Said from the interval, not the point: a ratio whose 90 % interval holds random's is no verdict."""
    r = d.get("ratio")
    if m == "random" or r is None or random_ratio is None:
        return ""
    lo, hi = (math.inf if x is None else x for x in d.get("ratio_ci90", [r, r]))
    if lo <= random_ratio <= hi:
        return "not distinguishable from random (its interval holds random's ratio)"
    if hi < random_ratio:
        return "beats random, meets the <= 1/3 goal" if hi <= 1 / 3 else "beats random, misses the <= 1/3 goal"
    return f"LOSES to random ({d['reached']}/{d['reps']} reps reached its result within B)"


def run_one(cfg: Any, space: Path, folder: Path, task: dict[str, Any]) -> dict[str, Any]:
    """One study, its output in <folder>.log; its timeline read back from its MLflow store."""
    from gansearch.search.study import run_study

    entry: dict[str, Any] = {"seed": cfg.search.seed}
    log, t0 = folder.with_suffix(".log"), time.perf_counter()
    try:
        with quiet(log):
            run_study(cfg, space, folder, echo=print)
        entry["timeline"] = read_timeline(folder, task["metric"])
    except Exception as e:  # noqa: BLE001 - one broken study must not lose the others
        entry.update(error=f"{type(e).__name__}: {e}", log_tail=log.read_text()[-3000:] if log.exists() else "")
    entry["wall_s"] = round(time.perf_counter() - t0, 2)
    cum, best = trace(entry.get("timeline", []), task["mode"])
    entry.update(trials=len({e[1] for e in entry.get("timeline", [])}), spent=float(cum[-1]) if len(cum) else 0.0,
                 best_at_budget=float(on_grid(cum, best, np.array([task["budget"]]))[0]))
    return entry


def print_table(result: dict[str, Any]) -> None:
    print("budget ratio = median budget to reach random's median best at B, / B (goal <= 0.33); 90 % bootstrap")
    for t, task in result["tasks"].items():
        tgt = task.get("target")
        print(f"{t}: B = {task['budget']} steps, target {task['metric']} {'-' if tgt is None else f'{tgt:.4g}'}"
              + "".join(f"\n  {m:<12} skipped: {why}" for m, why in task["skipped"].items()))
        if task.get("warning"):
            print(f"  WARNING: {task['warning']}")
        def inf(x: Any) -> float:  # a task read back from the JSON has null where it had inf
            return math.inf if x is None else x

        rr = inf(task["methods"].get("random", {}).get("ratio")) if "random" in task["methods"] else None
        for m, d in task["methods"].items():
            if "ratio" not in d:
                print(f"  {m:<12} no ratio ({len(d['studies'])} studies)")
                continue
            d = {**d, "ratio": inf(d["ratio"]), "ratio_ci90": [inf(x) for x in d["ratio_ci90"]]}
            lo, hi = d["ratio_ci90"]
            print(f"  {m:<12} ratio {d['ratio']:.2f} [{lo:.2f}, {hi:.2f}]  reached {d['reached']}/{d['reps']}  "
                  f"median answer at B {d['final_median']:.4g}  {verdict(m, d, rr)}"
                  + (f"  vs tpe {d['paired_vs_tpe']:+.3g} [{d['paired_vs_tpe_ci90'][0]:+.3g}, {d['paired_vs_tpe_ci90'][1]:+.3g}]"
                     if d.get("paired_vs_tpe_ci90") else ""))


def merged(result: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """This run's tasks beside those an earlier run measured (--merge), in the default task order."""
    tasks = {**earlier, **result["tasks"]}
    order = ["ring8", "grid25", "digits"]
    return {**result, "tasks": {t: tasks[t] for t in sorted(tasks, key=lambda t: (order.index(t) if t in order else 9, t))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="ring8,digits")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--reps", type=int, default=15)
    preset = ap.add_mutually_exclusive_group()
    preset.add_argument("--smoke", action="store_true", help="tiny trials, 1 rep: checks the plumbing only")
    preset.add_argument("--full", action="store_true", help="bigger trials and budgets (bigger machines)")
    ap.add_argument("--cpus", type=int, default=2, help="Ray CPUs: trials run this many at a time")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "search_efficiency.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "images" / "search_efficiency.png"))
    ap.add_argument("--workdir", default=None, help="study folders (kept); default: a temp dir, removed")
    ap.add_argument("--estimate", action="store_true", help="print the time estimate and stop")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other tasks already in --out (measured by an earlier run, same preset and reps)")
    args = ap.parse_args()
    preset_name = "smoke" if args.smoke else "full" if args.full else "default"
    reps, sizes = 1 if args.smoke else args.reps, SIZES[preset_name]
    tasks, methods = args.tasks.split(","), args.methods.split(",")
    for name, known in [(m, METHODS) for m in methods] + [(t, sizes) for t in tasks]:
        if name not in known:
            ap.error(f"{name} is not one of {', '.join(known)}")
    if "random" not in methods:
        print("note: without random there is no target: curves only, no ratios")
    from gansearch.config import load
    from gansearch.errors import ConfigErrors
    from gansearch.search.plan import make_plan
    from gansearch.search.study import study_env

    study_env()
    spaces = {t: ROOT / "search_spaces" / f"{t}.yaml" for t in tasks}
    plans, skipped = {}, {t: {} for t in tasks}
    for t, m in ((t, m) for t in tasks for m in methods):
        try:
            cfg = load(spaces[t], overrides(sizes[t], m, 0, t))
            plans[t, m] = make_plan(cfg)
            assert cfg.search.rerun_top_k is None, "search.rerun_top_k must be unset"
        except ConfigErrors as e:
            skipped[t][m] = str(e).replace("\n", "; ")
            print(f"skipping {m} on {t}: the product refuses its settings: {skipped[t][m]}")
    est = sum(estimate_s(sizes[t], m, args.cpus) for t, m in plans) * reps
    print(f"{len(plans) * reps} studies, estimated {est / 60:.0f} min on {args.cpus} CPUs ({preset_name} sizes)")
    if args.estimate:
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="gs-efficiency-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "machine": machine(), "preset": preset_name, "reps": reps, "cpus": args.cpus,
                              "estimate_s": round(est), "tasks": {}}
    earlier: dict[str, Any] = {}
    if args.merge and out.exists():
        before = json.loads(out.read_text())
        if (before.get("preset"), before.get("reps")) != (preset_name, reps):
            ap.error(f"--merge: {out} holds preset {before.get('preset')} x {before.get('reps')} reps, not "
                     f"{preset_name} x {reps}")
        for t, task in before["tasks"].items():
            if t not in tasks:  # measured by that run: it keeps its own date and machine
                earlier[t] = {"measured": {"date": before["date"], "machine": before["machine"],
                                           "wall_s": before.get("wall_s")}, **task}
    for t in tasks:
        plan = next((p for (tt, _), p in plans.items() if tt == t), None)
        result["tasks"][t] = {"space": f"search_spaces/{t}.yaml", "size": asdict(sizes[t]),
                              "budget": sizes[t].n * sizes[t].steps, "metric": plan and plan.metric,
                              "mode": plan and plan.mode, "skipped": skipped[t],
                              "methods": {m: {"overrides": [*overrides(sizes[t], m, 0, t)[:-1], "search.seed=<rep>"],
                                              "studies": []} for m in methods if (t, m) in plans}}
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.2", log_to_driver=False)
    t_all = time.perf_counter()
    todo = [(rep, t, m) for rep in range(reps) for (t, m) in plans]  # reps outermost: equal reps if stopped
    try:
        for i, (rep, t, m) in enumerate(todo, 1):
            task = result["tasks"][t]
            cfg = load(spaces[t], overrides(sizes[t], m, rep, t))
            entry = run_one(cfg, spaces[t], work / f"{t}-{m}-rep{rep}", task)
            task["methods"][m]["studies"].append(entry)
            print(f"[{i}/{len(todo)}] {t} {m} seed {rep}: {entry['wall_s']:.0f} s, {entry['trials']} trials, "
                  f"{entry['spent'] / task['budget']:.2f} B, best at B {entry['best_at_budget']:.4g}"
                  + (f"  ERROR {entry['error']}" if "error" in entry else ""), flush=True)
            analyse(task, task["budget"], task["mode"])
            result["wall_s"] = round(time.perf_counter() - t_all, 1)
            out.write_text(json.dumps(_clean(merged(result, earlier)), indent=1) + "\n")  # a stopped run keeps what it measured
    finally:
        ray.shutdown()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_avg_end"] = list(os.getloadavg())
    for task in result["tasks"].values():
        task["measured"] = {"date": result["date"], "machine": result["machine"], "wall_s": result.get("wall_s")}
    result = merged(result, earlier)
    out.write_text(json.dumps(_clean(result), indent=1) + "\n")
    plot(result, Path(args.plot))
    print(f"\nwall {result['wall_s'] / 60:.1f} min (estimated {est / 60:.0f}); {out}; {args.plot}")
    print_table(result)


if __name__ == "__main__":
    main()

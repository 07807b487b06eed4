"""Does the search save compute against plain random search (Lucic et al. 2018, "Are GANs Created Equal?")?

Methods, same space and budget B (trainer steps), R reps with search.seed = rep (all else identical, so rep r
of random, random_asha and pbt starts from the same draws): random and tpe (scheduler none, N trials x T
steps = B); random_asha and tpe_asha (the product's default; ASHA_N trials: run_study has no budget stop, so
they run ~1.1-1.4 B and are cut at B); pbt (a random population of N members x T steps; every pbt_every
evaluations the worst quarter copies one of the best and mutates lr_g, lr_d, beta1; categoricals are drawn
once per member and copied with the donor, so the space is the others'; skipped, saying why, if the product
refuses the `search.pbt` section).

Read back from each study's MLflow store: every evaluation of the study metric (trial, step, value, time).
Budget at an event = sum over trials of the latest step reported by then; best-so-far over all evaluations.
Target = random's median best at B; per rep the budget at which best-so-far first reaches it; ratio = median
of those / B (bootstrap interval over reps). Random's own ratio is below 1 (reps above its median get there
early): a method beats random only below random's ratio; the product's goal is <= 1/3. See bench/README.md.

Sizing (trials shrunk: this measures the search, not the GAN). Single studies measured on 2 vCPUs, 2 trials
at a time, load 1.2-3.9 from another user's tests (2026-11-29): ring8 random 39 s, tpe_asha 35 s, pbt 60 s;
grid25 random 61 s, random_asha 75 s; digits random 58 s, tpe_asha 44 s, pbt 65 s (9-20 s of each is
fixed: Tuner start, fresh actors' imports, report). The default run (3 tasks x 5 methods x 5 reps = 75
studies) is estimated at 75 min (`--estimate`); with a core busy elsewhere (load > 4) studies took up to 2x.
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
STYLE = {"random": ("k", "-"), "tpe": ("tab:blue", "-"), "random_asha": ("tab:green", "--"),
         "tpe_asha": ("tab:red", "--"), "pbt": ("tab:purple", "-.")}
METHODS = {"random": ("random", "none"), "tpe": ("tpe", "none"), "random_asha": ("random", "asha"),
           "tpe_asha": ("tpe", "asha"), "pbt": ("random", "pbt")}
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


def overrides(size: Size, method: str, seed: int) -> list[str]:
    sampler, scheduler = METHODS[method]
    n = size.asha_n if scheduler == "asha" else size.n
    out = [*size.shrink, f"train.steps={size.steps}", f"eval.every={size.every}", f"train.checkpoint_every={size.every}",
           "search.resources_per_trial.cpu=1", f"search.sampler={sampler}", f"search.scheduler={scheduler}",
           f"search.num_trials={n}"]
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
    """(cumulative budget, best so far) after each event; events of one timestamp share the budget."""
    latest: dict[str, int] = {}
    cum, best, b = [], [], math.nan
    for _, key, step, v in events:
        latest[key] = step
        if math.isfinite(v) and abs(v) < WORST:
            b = v if math.isnan(b) else (max(b, v) if mode == "max" else min(b, v))
        cum.append(sum(latest.values()))
        best.append(b)
    for i in range(len(events) - 2, -1, -1):
        if events[i][0] == events[i + 1][0]:
            cum[i] = cum[i + 1]
    return np.maximum.accumulate(np.asarray(cum, float)) if cum else np.zeros(0), np.asarray(best, float)


def on_grid(cum: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(cum, grid, side="right") - 1
    return np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.nan, np.nan)


def reach(cum: np.ndarray, best: np.ndarray, target: float, budget: float, mode: str) -> float:
    ok = (cum <= budget) & ((best >= target) if mode == "max" else (best <= target))
    return float(cum[np.argmax(ok)]) if ok.any() else math.inf


def bands(rows: np.ndarray) -> dict[str, list[float]]:
    q = np.percentile(rows, [0, 25, 50, 75, 100], axis=0)  # every study evaluates at step 0: no NaN columns
    return dict(zip(("min", "q25", "median", "q75", "max"), q.tolist()))


def analyse(task: dict[str, Any], budget: float, mode: str, seed: int = 0) -> None:
    """Curves, target and budget ratios of one task, in place."""
    grid = np.linspace(0, budget, 101)
    task["grid"] = grid.tolist()
    traces = {m: [trace(s["timeline"], mode) for s in d["studies"] if s.get("timeline")]
              for m, d in task["methods"].items()}
    for m, tr in traces.items():
        if tr:
            task["methods"][m]["curve"] = bands(np.array([on_grid(c, b, grid) for c, b in tr]))
    rnd = task["methods"].get("random", {}).get("curve")
    target = rnd["median"][-1] if rnd else math.nan
    task["target"] = None if math.isnan(target) else target
    rng = np.random.default_rng(seed)
    for m, tr in traces.items():
        d = task["methods"][m]
        if not tr or math.isnan(target):
            continue
        at = np.array([reach(c, b, target, budget, mode) for c, b in tr])
        boot = np.median(at[rng.integers(0, len(at), (2000, len(at)))], axis=1) / budget
        d.update(budgets_to_target=at.tolist(), reached=int(np.isfinite(at).sum()), reps=len(at),
                 ratio=float(np.median(at) / budget), ratio_ci90=np.percentile(boot, [5, 95], method="nearest").tolist(),
                 final_median=d["curve"]["median"][-1])
    if task["methods"].get("random", {}).get("ratio") == 0:
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
               ylabel=f"best {t['metric']} so far ({t['mode']})")
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
    r = d.get("ratio")
    if m == "random" or r is None or random_ratio is None:
        return ""
    if not math.isfinite(r):
        return f"LOSES to random: most reps never reached its result within B ({d['reached']}/{d['reps']} did)"
    if r >= random_ratio:
        return "LOSES to random (needs more budget)" if r > random_ratio else "no better than random"
    return "beats random, meets the <= 1/3 goal" if r <= 1 / 3 else "beats random, misses the <= 1/3 goal"


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
                  f"median best at B {d['final_median']:.4g}  {verdict(m, d, rr)}")


def merged(result: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """This run's tasks beside those an earlier run measured (--merge), in the default task order."""
    tasks = {**earlier, **result["tasks"]}
    order = ["ring8", "grid25", "digits"]
    return {**result, "tasks": {t: tasks[t] for t in sorted(tasks, key=lambda t: (order.index(t) if t in order else 9, t))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="ring8,grid25,digits")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--reps", type=int, default=5)
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
            cfg = load(spaces[t], overrides(sizes[t], m, 0))
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
                              "methods": {m: {"overrides": [*overrides(sizes[t], m, 0)[:-1], "search.seed=<rep>"],
                                              "studies": []} for m in methods if (t, m) in plans}}
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.2", log_to_driver=False)
    t_all = time.perf_counter()
    todo = [(rep, t, m) for rep in range(reps) for (t, m) in plans]  # reps outermost: equal reps if stopped
    try:
        for i, (rep, t, m) in enumerate(todo, 1):
            task = result["tasks"][t]
            cfg = load(spaces[t], overrides(sizes[t], m, rep))
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

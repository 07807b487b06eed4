"""Trials per minute of `gansearch run --address` on one Ray node vs two, on this host.

A real cluster from tests/cluster/ray_nodes.py: a head on 127.0.0.2 (1 CPU), then a second node on
127.0.0.3 (1 CPU) joins; the same study (same space, seed and sampler, so the same N configurations;
scheduler `none`, so every trial runs its full budget) runs on the head alone and then on both, back to
back in one invocation. The feature cache is warmed and the nodes are up before either clock starts.

  throughput = N / (last trial's MLflow end - first trial's MLflow start) * 60   [trials/min]
  ratio      = throughput(2 nodes) / throughput(1 node)      (target >= 1.7)

The CLI's wall time (driver start, ray.init, Tune set-up, report) is recorded too, with the ratio of wall
times. Both nodes share this host's cores: other work on the machine lowers the ratio, so the 1-minute
load average is recorded before, during and after each study. Writes bench/results/scaling.json.

The host's busy CPU seconds are split into the trainers' own train + eval time, the driver and the rest
(Ray's daemons, trial set-up, MLflow writes, other processes): on 2 cores, two trials plus all that can
exceed the host. A run takes ~3 minutes on a quiet 2-core host.

  python bench/scaling.py [--trials 8] [--steps 800] [--every 200] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "cluster")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=800, help="train.steps of every trial")
    ap.add_argument("--every", type=int, default=200, help="eval.every (and train.checkpoint_every)")
    ap.add_argument("--space", default=str(ROOT / "tests" / "search" / "tiny.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "scaling.json"))
    args = ap.parse_args()

    # loss and balance fixed: every trial does the same work (wgan_gp costs ~2x), so the two-node time is not
    # decided by which trial lands where; the learning rates are still sampled
    overrides = ["search.scheduler=none", "search.sampler=random", "search.resources_per_trial.cpu=1",
                 "space.loss=non_saturating", "space.balance=none",
                 f"train.steps={args.steps}", f"eval.every={args.every}", f"train.checkpoint_every={args.every}",
                 *args.overrides]
    from ray_nodes import ray_cluster

    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gansearch-scaling-") as tmp:
        tmp_path = Path(tmp)
        env = {"GANSEARCH_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path),
               "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
        os.environ.update(env)
        _warm(args.space, overrides)
        with ray_cluster(tmp_path / "logs", ips=("127.0.0.2",)) as cluster:
            cluster.wait_nodes()
            one = _study(cluster, env, tmp_path / "one-node", args, overrides)
            cluster.add_node("127.0.0.3")
            two = _study(cluster, env, tmp_path / "two-nodes", args, overrides)
    ratio = two["trials_per_min"] / one["trials_per_min"]
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                    "platform": platform.platform(), "python": platform.python_version(), "gpu": None},
        "space": os.path.relpath(args.space, ROOT), "overrides": overrides, "trials": args.trials,
        "nodes": {"one": ["127.0.0.2 (1 CPU)"], "two": ["127.0.0.2 (1 CPU)", "127.0.0.3 (1 CPU)"]},
        "ratio": round(ratio, 3), "target_ratio": 1.7, "meets_target": ratio >= 1.7,
        "wall_ratio": round(one["wall_s"] / two["wall_s"], 3),
        "bench_wall_s": round(time.monotonic() - t_start, 1),
        "studies": {"one_node": one, "two_nodes": two},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "studies"}, indent=2))
    for name, s in (("1 node", one), ("2 nodes", two)):
        print(f"{name:>8}: {s['trials_per_min']:.2f} trials/min over {s['trial_span_s']:.1f} s "
              f"(CLI wall {s['wall_s']:.1f} s, load {s['load_before']:.2f} -> {s['load_after']:.2f}, "
              f"mean {s['load_mean_during']}; CPU s {s['cpu_s']})")
    print(f"ratio 2 nodes / 1 node: {ratio:.2f}x (target >= 1.7x)")


def _warm(space: str, overrides: list[str]) -> None:
    """The feature network and real-data features, once, so neither study pays for them."""
    from gansearch.config import load
    from gansearch.search.study import _warm_feature_cache

    _warm_feature_cache(load(space, overrides))


def _study(cluster, env: dict[str, str], out: Path, args: argparse.Namespace, overrides: list[str]) -> dict:
    # one host: an explicit sqlite store is safe here (on a real cluster give an MLflow server)
    cmd = [str(Path(sys.executable).with_name("gansearch")), "run", args.space, "--address", cluster.address,
           "--out", str(out), "--num-trials", str(args.trials), "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}"]
    for o in overrides:
        cmd += ["--set", o]
    load_before = os.getloadavg()[0]
    loads: list[float] = []
    done = threading.Event()
    sampler = threading.Thread(target=_sample_load, args=(loads, done), daemon=True)
    sampler.start()
    cpu0 = (_host_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env={**cluster.env, **env}, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    cpu1 = (_host_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN))
    done.set()
    sampler.join()
    host = cpu1[0] - cpu0[0]
    driver = (cpu1[1].ru_utime + cpu1[1].ru_stime) - (cpu0[1].ru_utime + cpu0[1].ru_stime)
    if proc.returncode != 0:
        sys.exit(f"gansearch run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    trials = _trial_times(out)
    work = sum(t["train_s"] + t["eval_s"] for t in trials)
    span = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    first = min(t["start"] for t in trials)
    return {"trials": len(trials), "wall_s": round(wall, 2), "trial_span_s": round(span, 2),
            "trials_per_min": round(len(trials) / span * 60, 3),
            "nodes_used": sorted({t["node"] for t in trials}), "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "load_mean_during": round(sum(loads) / len(loads), 2) if loads else None,
            # CPU seconds while the CLI ran: the host's capacity and use; of that, the trainers' own train +
            # eval time (1 thread each), the driver (`gansearch run`); the rest is trial set-up, Ray's daemons,
            # MLflow writes and other people's processes
            "cpu_s": {"capacity": round(wall * (os.cpu_count() or 1), 1), "host_busy": round(host, 1),
                      "trainers": round(work, 1), "driver": round(driver, 1),
                      "rest": round(host - work - driver, 1)},
            "per_trial": [{**t, "start": round(t["start"] - first, 2), "end": round(t["end"] - first, 2)}
                          for t in sorted(trials, key=lambda t: t["start"])]}


def _sample_load(loads: list[float], done: threading.Event) -> None:
    """The 1-minute load average every 5 s while a study runs (this host's cores are shared)."""
    while not done.wait(5.0):
        loads.append(os.getloadavg()[0])


def _host_cpu() -> float:
    """Busy CPU seconds of the whole host so far (/proc/stat: all but idle and iowait)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # guest time is inside user already


def _trial_times(study: Path) -> list[dict]:
    """Each trial's MLflow child run: start/end (s), node, status and its trainer's own train/eval time."""
    from mlflow.tracking import MlflowClient

    meta = json.loads((study / "study.json").read_text())
    c = MlflowClient(tracking_uri=meta["tracking_uri"])
    runs = c.search_runs([meta["experiment_id"]], filter_string=f"tags.`mlflow.parentRunId` = '{meta['parent_run_id']}'",
                         max_results=1000)
    out = []
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        final = json.loads((study / "trials" / key / "metrics.json").read_text())
        out.append({"key": key, "node": r.data.tags.get("ray.node_ip"), "status": r.data.tags.get("status"),
                    "start": r.info.start_time / 1000, "end": r.info.end_time / 1000,
                    "train_s": final.get("train_time_s"), "eval_s": final.get("eval_time_s")})
    return out


if __name__ == "__main__":
    main()

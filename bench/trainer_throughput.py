"""Images/s of gansearch's 64-px DCGAN training step vs pytorch/examples' dcgan/main.py, back to back.

The reference is NOT part of this repository: pass the path of a `dcgan/main.py` extracted from a
checkout of the public pytorch/examples repository with `--reference PATH` (see bench/README.md).
`--no-reference` times ours alone (a machine without the reference, e.g. bench/gpu_check.sh's GPU box):
the parameter shapes are then not checked against the reference, and every ratio in the JSON is null.
`--floor` (CPU) profiles each of our runs after timing it: the convolutions' share of self time gives the
images/s if nothing else cost anything, the ceiling of any change that keeps the same maths.

Reference side: `main.py --dataset fake --batchSize 64 --imageSize 64 --niter 1 --manualSeed 0` runs as a
subprocess with N torch threads (OMP_NUM_THREADS=N) and unbuffered stdout; every per-iteration line
("[0/1][i/16] Loss_D: ...") is timestamped as it arrives. FakeData holds 1000 images -> 16 iterations,
the last one a partial batch of 40. Iterations 0 and 1 are warm-up (iteration 1's interval also holds
the image saving that main.py does after iteration 0, `i % 100 == 0`); the steady state is the full
batches 2..14: (t[14] - t[1]) / 13. It runs with its default `--workers 2` and with `--workers 0`; the
faster of the two is the peer.

Our side: gansearch.trainer.step.Step wired as gansearch.trainer.loop.Trainer wires it, on models built
by build_models(dcgan, z 100, widths 64, (3, 64, 64)) -- layer for layer the reference's (checked: the
parameter shapes must match) -- Adam(2e-4, (0.5, 0.999)), the non-saturating loss, balance `none`, and
real batches indexed out of one pre-made (1000, 3, 64, 64) tensor on the device (how the trainer keeps a
small dataset). Each variant runs in a fresh subprocess with the same N threads: warm-up steps, then K
timed steps with no host read-back inside the timed loop (one sync after it).

Runs are interleaved (ref, ours, ref, ours, ...) over --rounds rounds; the per-configuration figure is
the median over rounds. The load average is recorded around every run.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as _dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "trainer_throughput.json"
BATCH, SIZE, NZ, WIDTH, N_FAKE = 64, 64, 100, 64, 1000
LINE = re.compile(r"^\[(\d+)/(\d+)\]\[(\d+)/(\d+)\] Loss_D")
CPU_VARIANTS = ("fp32", "channels_last", "compile", "compile_channels_last", "bf16", "bf16_channels_last")
CUDA_VARIANTS = ("bf16_channels_last", "bf16", "channels_last", "fp32")
FLOOR_STEPS = 4  # profiled steps per run with --floor
TWO_CALLS = "+two_calls"  # suffix to any variant: D on the real and fake batches in two calls (the old step)
# variant -> (channels_last, compile, bf16 autocast)
VARIANTS: dict[str, tuple[bool, bool, bool]] = {
    "fp32": (False, False, False),
    "channels_last": (True, False, False),
    "compile": (False, True, False),
    "compile_channels_last": (True, True, False),
    "bf16": (False, False, True),
    "bf16_channels_last": (True, False, True),
    "bf16_compile_channels_last": (True, True, True),
}


# ---- reference ---------------------------------------------------------------------------------
def reference_models(path: Path) -> tuple[Any, Any]:
    """The reference's Generator and Discriminator, built from its source without running the script."""
    import torch
    from torch import nn

    tree = ast.parse(path.read_text(), str(path))
    keep = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name in ("Generator", "Discriminator", "weights_init")]
    names = {n.name for n in keep}
    if names != {"Generator", "Discriminator", "weights_init"}:
        raise SystemExit(f"{path}: expected Generator, Discriminator and weights_init, found {sorted(names)}")
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "nz": NZ, "ngf": WIDTH, "ndf": WIDTH, "nc": 3}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), ns)
    return ns["Generator"](1), ns["Discriminator"](1)


def run_reference(path: Path, workers: int, threads: int, device: str, timeout: float, last: int) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="dcgan-ref-") as outf:
        cmd = [sys.executable, "-u", str(path), "--dataset", "fake", "--batchSize", str(BATCH), "--imageSize", str(SIZE),
               "--niter", "1", "--outf", outf, "--manualSeed", "0", "--workers", str(workers)]
        if device != "cpu":
            cmd.append("--accel")
        load0 = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env, cwd=outf)
        stamps: dict[int, float] = {}
        total = None
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter()
            m = LINE.match(line)
            if m:
                stamps[int(m.group(3))] = now
                total = int(m.group(4))
                if int(m.group(3)) >= last:  # enough: the rest (partial batch, checkpoint) is not timed
                    proc.kill()
                    break
            if time.perf_counter() - start > timeout:
                proc.kill()
                break
        killed = last in stamps
        err = "" if killed else (proc.stderr.read() if proc.stderr else "")
        rc = proc.wait()
    if (rc != 0 and not killed) or total is None:
        raise SystemExit(f"reference failed (rc {rc}):\n{err[-3000:]}")
    last_full = last
    first = 1
    iters = [stamps[i] - stamps[i - 1] for i in range(first + 1, last_full + 1)]
    per_iter = (stamps[last_full] - stamps[first]) / (last_full - first)
    return {
        "workers": workers,
        "images_per_s": BATCH / per_iter,
        "s_per_iter": per_iter,
        "s_per_iter_median": statistics.median(iters),
        "timed_iters": len(iters),
        "iters_per_epoch": total,
        "wall_s": time.perf_counter() - start,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


# ---- ours (runs in a child process: python bench/trainer_throughput.py --_ours VARIANT ...) -----
def ours_child(variant: str, device_name: str, threads: int, steps: int, warmup: int, floor: bool = False) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from gansearch.config.hparams import defaults
    from gansearch.config.schema import ModelConfig
    from gansearch.trainer.balance import get_balance
    from gansearch.trainer.loop import adam
    from gansearch.trainer.losses import get_loss
    from gansearch.trainer.models import build_models
    from gansearch.trainer.step import Step

    two_calls = variant.endswith(TWO_CALLS)  # D(real), D(fake) as before the batched D pass: its gain
    cl, use_compile, bf16 = VARIANTS[variant.removesuffix(TWO_CALLS)]
    device = torch.device(device_name)
    torch.manual_seed(0)
    g, d = build_models(ModelConfig(name="dcgan", z_dim=NZ, g_width=WIDTH, d_width=WIDTH), (3, SIZE, SIZE))
    fmt = torch.channels_last if cl else torch.contiguous_format
    g.to(device, memory_format=fmt)
    d.to(device, memory_format=fmt)
    hp = defaults() | {"balance": "none"}
    total = warmup + steps
    profiled = FLOOR_STEPS if floor else 0
    balance = get_balance(hp, total + profiled)
    opt_g = adam(g, 2e-4, (0.5, 0.999))  # as the Trainer builds them
    opt_d = adam(d, 2e-4, (0.5, 0.999))
    data_gen = torch.Generator(device).manual_seed(1)
    noise_gen = torch.Generator(device).manual_seed(2)
    data = torch.rand(N_FAKE, 3, SIZE, SIZE, device=device, generator=data_gen) * 2 - 1  # like FakeData, in [-1, 1]

    def sample_real(n: int) -> torch.Tensor:  # as Trainer._sample_real / ImageDataset.sample
        x = data[torch.randint(0, N_FAKE, (n,), generator=data_gen, device=device)]
        return x.contiguous(memory_format=torch.channels_last) if cl else x

    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    g_fwd, d_fwd = (torch.compile(g), torch.compile(d)) if use_compile else (g, d)
    step_fn = Step(
        g=g_fwd, d=d_fwd, critic=d, opt_g=opt_g, opt_d=opt_d, loss=get_loss("non_saturating"), balance=balance, gp_weight=0.0,
        sample_real=sample_real, sample_z=lambda n: torch.randn(n, NZ, device=device, generator=noise_gen),
        noise_gen=noise_gen, batch_size=BATCH, autocast=autocast,
        d_has_batchnorm=any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in d.modules()),
    )
    if two_calls:
        step_fn._source_norms = []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    for s in range(warmup):
        loss_d, loss_g = step_fn(s, None)
    float(loss_d), float(loss_g)
    sync()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(warmup, total):
        loss_d, loss_g = step_fn(s, None)
    sync()
    elapsed = time.perf_counter() - t0
    ld, lg = float(loss_d), float(loss_g)
    result = {
        "variant": variant, "channels_last": cl, "compile": use_compile, "bf16_autocast": bf16,
        "images_per_s": BATCH * steps / elapsed, "s_per_iter": elapsed / steps, "warmup_s": warm_s,
        "final_loss_d": ld, "final_loss_g": lg, "threads": torch.get_num_threads(),
    }
    if floor:
        result.update(convolution_floor(lambda s: step_fn(s, None), total, profiled, result["images_per_s"]))
    return result


def convolution_floor(step: Any, first: int, n: int, images_per_s: float) -> dict[str, Any]:
    """The step's convolutions' share of CPU self time (torch.profiler, n more steps after the timed ones),
    and the images/s the step would reach if everything else cost nothing: a ceiling for any change that
    keeps the same convolutions (the same maths) on the same kernels."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for s in range(first, first + n):
            step(s)
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    conv_us = sum(e.self_cpu_time_total for e in events if "conv" in e.key)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:8]
    return {
        "convolution_share": conv_us / total_us,
        "convolution_floor_images_per_s": images_per_s / (conv_us / total_us),
        "profiled_steps": n,
        "self_time_top": {e.key: round(e.self_cpu_time_total / total_us, 4) for e in top},
    }


def settle(limit: float, max_wait_s: float = 300.0) -> float:
    """Wait until the 1-minute load average is below `limit` (the last run's own load decays in ~1.5 min)."""
    start = time.perf_counter()
    while os.getloadavg()[0] >= limit and time.perf_counter() - start < max_wait_s:
        time.sleep(5)
    return time.perf_counter() - start


def run_ours(variant: str, device: str, threads: int, steps: int, warmup: int, timeout: float,
             floor: bool = False) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_ours", variant, "--device", device, "--threads", str(threads),
           "--steps", str(steps), "--warmup", str(warmup)] + (["--floor"] if floor else [])
    load0 = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"variant": variant, "error": proc.stderr[-2000:]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(wall_s=time.perf_counter() - start, load_before=load0, load_after=os.getloadavg()[0])
    return res


# ---- driver ------------------------------------------------------------------------------------
def check_models(reference: Path | None) -> dict[str, Any]:
    """Parameter counts; with a reference, also refuse to go on unless its shapes are ours."""
    import torch

    sys.path.insert(0, str(REPO))
    from gansearch.config.schema import ModelConfig
    from gansearch.trainer.models import build_models

    g, d = build_models(ModelConfig(name="dcgan", z_dim=NZ, g_width=WIDTH, d_width=WIDTH), (3, SIZE, SIZE))
    if reference is None:
        return {"reference_g": None, "reference_d": None, "ours_g": sum(p.numel() for p in g.parameters()),
                "ours_d": sum(p.numel() for p in d.parameters())}
    rg, rd = reference_models(reference)

    def shapes(m: torch.nn.Module) -> list[tuple[int, ...]]:
        return [tuple(p.shape) for p in m.parameters()]

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    if shapes(rg) != shapes(g) or shapes(rd) != shapes(d):
        raise SystemExit("our DCGAN's parameter shapes differ from the reference's: not a like-for-like comparison")
    return {"reference_g": count(rg), "reference_d": count(rd), "ours_g": count(g), "ours_d": count(d)}


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, help="path to pytorch/examples' dcgan/main.py (not in this repo)")
    ap.add_argument("--no-reference", action="store_true", help="time ours alone: no reference runs, null ratios")
    ap.add_argument("--reference-commit", default=None, help="commit of that checkout (default: git rev-parse HEAD of --reference-git)")
    ap.add_argument("--reference-git", default=None, help="git dir of the pytorch/examples checkout, to record its commit")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, both sides (default: os.cpu_count())")
    ap.add_argument("--steps", type=int, default=12, help="K timed steps of ours")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps of ours first (compile happens here)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default=None, help="comma-separated; default: all for the device")
    ap.add_argument("--settle", type=float, default=None,
                    help="before each run wait (up to 5 min) until the 1-minute load average is below this")
    ap.add_argument("--ref-last", type=int, default=N_FAKE // BATCH - 1,
                    help="last reference iteration timed (default 14: index 15 is a partial batch of 40); it is stopped there")
    ap.add_argument("--workers", default="2,0", help="reference --workers settings to run")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run (compile included)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--note", action="append", default=[], help="free text recorded in the JSON's notes (repeatable)")
    ap.add_argument("--floor", action="store_true",
                    help="CPU: profile each of our runs after timing it; record the convolutions' share of self time "
                         "and the images/s if nothing else cost anything (the ceiling for the same maths)")
    ap.add_argument("--_ours", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a._ours:
        print(json.dumps(ours_child(a._ours, a.device, a.threads, a.steps, a.warmup, a.floor)))
        return 0
    if a.floor and a.device != "cpu":
        ap.error("--floor profiles CPU self time: CPU only")
    if a.no_reference:
        a.reference = None
    elif a.reference is None or not a.reference.is_file():
        ap.error("--reference PATH to pytorch/examples' dcgan/main.py is required (see bench/README.md)")
    import torch

    if a.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    variants = a.variants.split(",") if a.variants else list(CUDA_VARIANTS if a.device == "cuda" else CPU_VARIANTS)
    for v in variants:
        if v.removesuffix(TWO_CALLS) not in VARIANTS:
            ap.error(f"unknown variant {v}; one of {', '.join(VARIANTS)}, each optionally with {TWO_CALLS}")
    workers = [] if a.reference is None else [int(w) for w in a.workers.split(",")]
    params = check_models(a.reference)
    print(f"parameters: G {params['ours_g']:,} D {params['ours_d']:,} "
          + ("(same shapes as the reference)" if a.reference else "(no reference: ours alone, no ratios)"), flush=True)

    ref_runs: dict[int, list[dict[str, Any]]] = {w: [] for w in workers}
    our_runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(a.rounds):
        # interleave: ref, ours, ref, ours, ...; rotate our variants' order between rounds
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        queue: list[tuple[str, Any]] = []
        for i in range(max(len(workers), len(order))):
            if i < len(workers):
                queue.append(("ref", workers[i]))
            if i < len(order):
                queue.append(("ours", order[i]))
        for kind, what in queue:
            if a.settle:
                settle(a.settle)
            if kind == "ref":
                res = run_reference(a.reference, what, a.threads, a.device, a.timeout, a.ref_last)
                ref_runs[what].append(res)
                print(f"round {r + 1}  reference --workers {what}: {res['images_per_s']:7.1f} img/s  (load {res['load_before']:.2f})", flush=True)
            else:
                res = run_ours(what, a.device, a.threads, a.steps, a.warmup, a.timeout, a.floor)
                our_runs[what].append(res)
                msg = f"{res['images_per_s']:7.1f} img/s  (load {res['load_before']:.2f})" if "error" not in res else "FAILED: " + res["error"].strip().splitlines()[-1]
                print(f"round {r + 1}  ours {what}: {msg}", flush=True)

    def med(runs: list[dict[str, Any]]) -> float | None:
        ok = [x["images_per_s"] for x in runs if "error" not in x]
        return statistics.median(ok) if ok else None

    ref = {f"workers_{w}": med(ref_runs[w]) for w in workers}
    ours = {v: med(our_runs[v]) for v in variants}
    peer_key = max((k for k in ref if ref[k]), key=lambda k: ref[k], default=None)
    peer = ref[peer_key] if peer_key else None
    # the trainer's default configuration = what the trainer does with its TrainConfig defaults on this device
    from gansearch.config.schema import TrainConfig

    tc = TrainConfig()  # precision "auto": bf16 autocast on CUDA, fp32 on CPU
    default_variant = next(v for v, (cl, comp, bf) in VARIANTS.items()
                           if (cl, comp, bf) == (tc.channels_last, tc.compile, a.device == "cuda"))
    default_ips = ours.get(default_variant)
    loads = [x["load_before"] for runs in (*ref_runs.values(), *our_runs.values()) for x in runs if "load_before" in x]

    print()
    print(f"{'configuration':<38}{'images/s':>10}{'vs peer':>9}   per round")
    for w in workers:
        vals = " ".join(f"{x['images_per_s']:.1f}" for x in ref_runs[w])
        tag = " (peer)" if f"workers_{w}" == peer_key else ""
        print(f"{'reference --workers ' + str(w) + tag:<38}{ref[f'workers_{w}']:>10.1f}{ref[f'workers_{w}'] / peer:>8.2f}x   {vals}")
    for v in variants:
        vals = " ".join(f"{x['images_per_s']:.1f}" if "error" not in x else "fail" for x in our_runs[v])
        tag = " (trainer default)" if v == default_variant else ""
        num = f"{ours[v]:>10.1f}" + (f"{ours[v] / peer:>8.2f}x" if peer else f"{'-':>9}") if ours[v] else f"{'-':>10}{'-':>9}"
        print(f"{'ours ' + v + tag:<38}{num}   {vals}")
    ratio = default_ips / peer if default_ips and peer else None
    floors: dict[str, Any] = {}
    if a.floor:
        print(f"\n{'convolution floor (same maths, nothing else costs)':<52}{'conv share':>11}{'images/s':>10}{'vs peer':>9}")
        for v in variants:
            ok = [x for x in our_runs[v] if "convolution_share" in x]
            if not ok:
                continue
            share = statistics.median(x["convolution_share"] for x in ok)
            ceiling = statistics.median(x["convolution_floor_images_per_s"] for x in ok)
            floors[v] = {"convolution_share": share, "images_per_s": ceiling, "vs_peer": ceiling / peer if peer else None}
            print(f"{'ours ' + v:<52}{share:>10.1%}{ceiling:>10.1f}" + (f"{ceiling / peer:>8.2f}x" if peer else f"{'-':>9}"))
    best_v = max((v for v in variants if ours[v]), key=lambda v: ours[v], default=None)
    print(f"\nratio ours (trainer default: {default_variant}) / reference (best of workers): "
          + (f"{ratio:.2f}x" if ratio else "n/a") + (f"   load average during runs: min {min(loads):.2f} max {max(loads):.2f}" if loads else ""))

    if a.no_write:
        return 0
    commit = a.reference_commit
    if commit is None and a.reference_git:
        commit = subprocess.run(["git", "-C", a.reference_git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    result = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "threads": a.threads, "device": a.device,
                    "gpu": torch.cuda.get_device_name() if a.device == "cuda" else None},
        "torch": torch.__version__,
        "reference": None if a.reference is None else {"repo": "pytorch/examples", "file": "dcgan/main.py", "commit": commit,
                      "args": f"--dataset fake --batchSize {BATCH} --imageSize {SIZE} --niter 1 --manualSeed 0"
                      + (" --accel" if a.device == "cuda" else "")},
        "parameters": params,
        "reference_images_per_s": ref,
        "reference_peer": peer_key,
        "ours_images_per_s": ours,
        "ours_trainer_default": default_variant,
        "ratio_ours_default_vs_reference": ratio,
        "ratio_ours_best_vs_reference": (ours[best_v] / peer) if best_v and peer else None,
        "ours_best_variant": best_v,
        "convolution_floor": floors or None,
        "K_timed_steps": a.steps,
        "reference_timed_iterations": f"2..{a.ref_last}" if a.reference else None,
        "warmup_steps": a.warmup,
        "rounds": a.rounds,
        "load_average": {"min": min(loads), "max": max(loads), "mean": statistics.mean(loads)} if loads else None,
        "runs": {"reference": ref_runs, "ours": our_runs},
        "notes": a.note,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

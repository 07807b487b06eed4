"""What each trial asks Ray for, and the device it then trains on: the one Ray granted it.

Ray 2.60 hides no GPU from a task that asked for none (it leaves CUDA_VISIBLE_DEVICES alone), so a trial
that took "CUDA when present" would train on cuda:0 while Ray counts no GPU in use, and N trials would pile
onto one card. So in a search a trial trains on the CPU unless Ray granted it a GPU, and then on that GPU:
Ray sets CUDA_VISIBLE_DEVICES to the grant, in which the trial's first GPU is cuda:0.

`search.resources_per_trial.gpu: auto` (the default) is one GPU per trial where the cluster has GPUs, none
otherwise; a fraction packs 1/gpu trials on one card.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from gansearch.config import SpaceFile
from gansearch.errors import ConfigError

# Tests only: a node without CUDA passes the GPU preflight, and a trial granted a GPU records the device
# the grant gives it (cuda:0) but trains on the CPU. It lets a CPU machine check the grant logic with a Ray
# that advertises logical GPUs; nothing else reads it.
STANDIN_ENV = "GANSEARCH_TEST_CUDA_STANDIN"
GPU_FIELD = "search.resources_per_trial.gpu"
_CUDA = re.compile(r"^cuda(:\d+)?$")


def standin() -> bool:
    return os.environ.get(STANDIN_ENV, "").strip().lower() in ("1", "true", "yes")


def device_errors(cfg: SpaceFile) -> list[ConfigError]:
    """`train.device` must agree with what Ray will grant: checked in the plan, before Ray starts."""
    dev, gpu = cfg.train.device, cfg.search.resources_per_trial.gpu
    if _CUDA.match(dev) and dev not in ("cuda", "cuda:0"):
        return [ConfigError("train.device", "must be auto or cuda in a search (Ray picks each trial's GPU, which "
                            "the trial sees as cuda:0)", dev)]
    if gpu != "auto" and gpu > 0 and dev in ("cpu", "mps"):
        return [ConfigError("train.device", f"must be auto or cuda when {GPU_FIELD} is {gpu} (a trial trains on "
                            "the GPU Ray granted it)", dev)]
    if gpu == 0 and _CUDA.match(dev):
        return [ConfigError("train.device", f"must be auto, cpu or mps when {GPU_FIELD} is 0 (Ray grants the "
                            "trials no GPU)", dev)]
    return []


def resolve_gpu(cfg: SpaceFile, cluster_gpus: float, autoscaling: bool = False) -> tuple[float, str | None]:
    """The GPUs each trial asks for, `auto` decided against the cluster, and a warning or None. A GPU
    request a local Ray can never grant is refused here rather than left waiting in Ray's queue; on a
    cluster (`autoscaling`) it waits for an autoscaler to add GPU nodes, and the warning says so."""
    gpu = cfg.search.resources_per_trial.gpu
    if gpu == "auto":
        if cfg.train.device in ("cpu", "mps"):
            return 0.0, None
        if cluster_gpus > 0:
            return 1.0, None
        if _CUDA.match(cfg.train.device) and not autoscaling:
            raise ConfigError("train.device", "must be auto or cpu on a Ray without GPUs (it has 0)",
                              cfg.train.device)
        if _CUDA.match(cfg.train.device):
            return 1.0, ("the cluster has no GPU now: trials wait until an autoscaler adds GPU nodes "
                         f"(train.device is {cfg.train.device})")
        if autoscaling:  # an autoscaler may start GPU nodes only once something asks for a GPU
            return 0.0, (f"{GPU_FIELD} is auto and the cluster has no GPU now: trials train on CPUs; on a "
                         "cluster whose GPU nodes start at zero, set it to 1 (or a fraction) so they are asked for")
        return 0.0, None
    if gpu > 0 and cluster_gpus <= 0:
        if not autoscaling:
            raise ConfigError(GPU_FIELD, "must be 0 or auto on a Ray without GPUs (it has 0; "
                              f"--set {GPU_FIELD}=0 trains on CPUs)", gpu)
        return float(gpu), f"the cluster has no GPU now: trials wait until an autoscaler adds GPU nodes ({GPU_FIELD} is {gpu})"
    return float(gpu), None


def with_gpu(cfg: SpaceFile, gpu: float) -> SpaceFile:
    """The study's config with `auto` replaced by the number every trial asks for."""
    s = cfg.search
    res = s.resources_per_trial.model_copy(update={"gpu": gpu})
    return cfg.model_copy(update={"search": s.model_copy(update={"resources_per_trial": res})})


@dataclass(frozen=True)
class Concurrency:
    trials: int  # at most this many train at once
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"max_concurrent": self.trials, "why": self.why}


def concurrency(cfg: SpaceFile, gpu: float, resources: Mapping[str, float]) -> Concurrency:
    """How many trials the cluster's CPUs and GPUs hold at once at `gpu` per trial, and which limits it."""
    cpu = cfg.search.resources_per_trial.cpu
    n_cpu, n_gpu = float(resources.get("CPU", 1)), float(resources.get("GPU", 0))
    by_cpu = int(round(n_cpu / cpu, 9))
    limits = [(by_cpu, f"CPUs {_n(n_cpu)} / {_n(cpu)} per trial = {by_cpu}")]
    if gpu > 0:
        by_gpu = int(round(n_gpu / gpu, 9))
        limits.append((by_gpu, f"GPUs {_n(n_gpu)} / {_n(gpu)} per trial = {by_gpu}"))
    fits, first = min(limits, key=lambda x: x[0])
    others = "; ".join(text for _, text in limits if text != first)
    why = f"{first} binds; {others}" if others else first
    if cfg.search.max_concurrent:
        if cfg.search.max_concurrent < fits:
            return Concurrency(cfg.search.max_concurrent, f"search.max_concurrent {cfg.search.max_concurrent} "
                                                          f"(the resources would hold {fits}: {why})")
        return Concurrency(cfg.search.max_concurrent, f"search.max_concurrent {cfg.search.max_concurrent} "
                                                      f"(the resources hold {fits}: {why}; the rest wait in Ray's queue)")
    return Concurrency(max(1, fits), why)


def describe(cfg: SpaceFile, gpu: float, resources: Mapping[str, float], where: str) -> list[str]:
    """What `--dry-run` and the start of a study print: per-trial resources, how many at once, and why."""
    setting = cfg.search.resources_per_trial.gpu
    how = f"{_n(gpu)} GPU" + (" (gpu: auto)" if setting == "auto" else "")
    at_once = concurrency(cfg, gpu, resources)
    if gpu > 0:
        per_card = int(round(1 / gpu, 9)) if gpu < 1 else 1
        device = (f"each trial trains on the GPU Ray grants it (cuda:0 inside the trial); {per_card} trial"
                  f"{'s' if per_card > 1 else ''} per card")
    else:
        device = "each trial trains on the " + ("MPS device" if cfg.train.device == "mps" else "CPU") + \
            (" (Ray grants no GPU, so none is used even where the node has one)" if resources.get("GPU") else "")
    return [f"resources: {_n(cfg.search.resources_per_trial.cpu)} CPU, {how} per trial; {where}: "
            f"{_n(resources.get('CPU', 0))} CPUs, {_n(resources.get('GPU', 0))} GPUs",
            f"at once:   {at_once.trials} trials: {at_once.why}",
            f"device:    {device}"]


def local_resources() -> dict[str, float]:
    """What a fresh local Ray would find here (for --dry-run, which starts no Ray)."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(gpus)}


def placement(gpu: float, train_device: str) -> dict[str, Any]:
    """In a trial's worker: where Ray put it and the device it trains on (see the module docstring)."""
    import ray

    ctx = ray.get_runtime_context()
    ids = [str(i) for i in ctx.get_accelerator_ids().get("GPU", [])]
    if gpu > 0:
        if not ids:
            raise RuntimeError(f"Ray granted this trial no GPU id although it asked for {gpu}")
        device = "cuda:0"  # Ray set CUDA_VISIBLE_DEVICES to the grant
    else:
        device = "mps" if train_device == "mps" else "cpu"
    out: dict[str, Any] = {"node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                           "gpu_ids": ids, "device": device, "gpu": gpu}
    if device.startswith("cuda") and standin():
        out["trained_on"] = "cpu"
    return out


def gpu_probe() -> dict[str, Any]:
    """On one node: can torch use the GPUs Ray counts there? (Run as a zero-GPU task: Ray leaves
    CUDA_VISIBLE_DEVICES alone for it, so torch sees what the node has.)"""
    import torch

    usable = torch.cuda.is_available()
    return {"usable": usable, "count": torch.cuda.device_count() if usable else 0, "torch": torch.__version__,
            "cuda_build": torch.version.cuda, "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "standin": standin()}


def _n(x: float) -> str:
    return f"{x:g}"


def ray_resources() -> dict[str, float]:
    """The CPUs and GPUs of the Ray this process is connected to."""
    import ray

    return {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}


def decide(cfg: SpaceFile, address: str | None, meta: dict[str, Any], echo: Callable[[str], None]) -> SpaceFile:
    """After Ray starts: decide `gpu: auto` against the cluster, refuse a GPU request it can't grant,
    say what each trial gets and how many run at once (also in study.json)."""
    cluster = ray_resources()
    gpu, lines = _decided(cfg, cluster, address, "cluster" if address else "local Ray")
    for line in lines:
        echo(line)
    meta["resources"] = {"cpu": cfg.search.resources_per_trial.cpu, "gpu": gpu,
                         "gpu_setting": cfg.search.resources_per_trial.gpu, "cluster": cluster,
                         **concurrency(cfg, gpu, cluster).as_dict()}
    return with_gpu(cfg, gpu)


def dry_run_lines(cfg: SpaceFile, address: str | None) -> list[str]:
    """--dry-run starts no Ray: a local study is sized by what a fresh local Ray would find here; a cluster
    is asked for its resources by a short-lived driver."""
    if address:
        import ray

        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        try:
            cluster = ray_resources()
        finally:
            ray.shutdown()
    else:
        cluster = local_resources()
    return _decided(cfg, cluster, address, "cluster" if address else "this machine")[1]


def _decided(cfg: SpaceFile, cluster: Mapping[str, float], address: str | None, where: str) -> tuple[float, list[str]]:
    """(GPUs per trial, the lines that say it: `describe`'s and any warning) for `cluster`."""
    gpu, warning = resolve_gpu(cfg, cluster.get("GPU", 0.0), autoscaling=bool(address))
    return gpu, describe(cfg, gpu, cluster, where) + ([f"warning: {warning}"] if warning else [])

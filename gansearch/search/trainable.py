"""One trial inside a Ray worker: sampled params -> trainer -> (MLflow child run, Tune report + checkpoint).

Every evaluation: the trainer's state is checkpointed at exactly that step, the metrics go to MLflow in
one batch (with the sample grid), and then to Tune with the checkpoint (Tune keeps the best and the
last). A trial resumed by --resume finds its folder and its MLflow run by its stable key.
"""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gansearch.config import layout
from gansearch.config.plugins import add_to_sys_path
from gansearch.search import devices, faults
from gansearch.search.tasks import TaskTrainer
from gansearch.tracking import conventions as cv

COMPILE_CACHE = layout.COMPILE_CACHE  # in the study folder: PyTorch Inductor's caches, shared by the trials


@dataclass(frozen=True)
class TrialContext:
    cfg_json: str  # the study's SpaceFile, as JSON (threads set to the trial's CPUs)
    study_dir: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    objectives: tuple[tuple[str, str], ...]
    import_roots: tuple[str, ...] = ()  # folders holding the study's plug-ins, for sys.path (plugin_check)


def tune_metrics(record: dict[str, Any], objectives: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """What Tune sees: numeric metrics, `step`, and each objective (worst case when missing/non-finite)."""
    out: dict[str, Any] = {"step": int(record["step"]), **cv.record_metrics(record)}
    for metric, mode in objectives:
        v = record.get(metric)
        out[metric] = cv.worst_value(mode) if v is None or not math.isfinite(float(v)) else float(v)
    return out


# Where a trial ran: the node of its latest (re)start, and every node it ran on, in order (a trial
# restarted after its node died continues elsewhere); the GPU ids Ray granted it and the device it chose.
TAG_NODE_ID, TAG_NODE_IP, TAG_NODE_IDS = "ray.node_id", "ray.node_ip", "ray.node_ids"
TAG_GPU_IDS, TAG_DEVICE, TAG_PRECISION = "ray.gpu_ids", "device", "precision"
TAG_STANDIN = "device.trained_on"  # tests only (devices.STANDIN_ENV): the CPU that stood in for the GPU
PEAK_MEMORY = "gpu_peak_memory_mib"  # the trainer's run.json key, logged as a metric on CUDA


def tag_node(c: Any, run_id: str, where: dict[str, Any]) -> None:
    """Record this trial's placement (devices.placement) on its run; appends to the node history on
    every (re)start."""
    from gansearch.tracking.runs import log_batch

    node_id = where["node_id"]
    try:  # the run was just found or created, so the server answered a moment ago; if not, no tag
        before = c.get_run(run_id).data.tags.get(TAG_NODE_IDS, "")
        tags = {TAG_NODE_ID: node_id, TAG_NODE_IP: where["node_ip"], TAG_GPU_IDS: ",".join(where["gpu_ids"]),
                TAG_DEVICE: where["device"], TAG_NODE_IDS: ",".join([*filter(None, before.split(",")), node_id])}
        if "trained_on" in where:
            tags[TAG_STANDIN] = where["trained_on"]
        log_batch(c, run_id, tags=tags)
    except Exception as e:  # noqa: BLE001 - a lost tag must not fail a trial
        print(f"warning: node tags not recorded on {run_id}: {e}", file=sys.stderr)


def catch_up(run: Any, trainer: TaskTrainer, run_dir: Path, metric: str, mode: str,
             objectives: tuple[tuple[str, str], ...]) -> int:
    """A trial resumed from its folder's checkpoint continues after that checkpoint's step, so an
    evaluation recorded in it but never logged (the worker or driver was killed between the two) would
    be lost from MLflow for good. Log every such evaluation now (log_eval skips the steps the run already
    has), and the checkpoint when it is the state at the last of them. Returns how many were logged."""
    from gansearch.trainer import checkpoint as ckpt_mod

    logged = sum(run.log_eval(rec, run_dir) for rec in trainer.records.evals)
    last = trainer.records.evals[-1] if trainer.records.evals else None
    # the kill may also have come after the log and before the checkpoint upload: upload it again
    if last is not None and int(last["step"]) == trainer.start_step and not last.get("diverged"):
        run.log_value_checkpoint(metric, tune_metrics(last, objectives)[metric], mode, run_dir / ckpt_mod.FILENAME)
    return logged


def run_trial(config: dict[str, Any], ctx: TrialContext) -> None:
    import torch
    from ray import tune

    from gansearch.config import SpaceFile
    from gansearch.search import member
    from gansearch.search.schedulers import POPULATION_SCHEDULERS
    from gansearch.search.space import ORIGIN_KEY, RERUN_OF, SEED_KEY, split_config
    from gansearch.search.tasks import PopulationTrainer, trainer_class
    from gansearch.tracking.runs import TrialRun, wait_s
    from gansearch.trainer import checkpoint as ckpt_mod

    key, params = split_config(config)
    add_to_sys_path(ctx.import_roots)  # a plug-in not installed on this node, where the study folder's mount has it
    cfg = SpaceFile.model_validate_json(ctx.cfg_json)
    # the device Ray granted this trial, never "CUDA when present" (gansearch.search.devices)
    where = devices.placement(float(cfg.search.resources_per_trial.gpu), cfg.train.device)
    train = {"device": where.get("trained_on", where["device"])}
    if SEED_KEY in config:  # a rerun of a search trial's configuration with a fresh seed
        train["seed"] = int(config[SEED_KEY])
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update=train)})
    run_dir = Path(ctx.study_dir) / layout.TRIALS / key
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / ckpt_mod.FILENAME
    restored = tune.get_checkpoint()
    donor: dict[str, Any] | None = None  # PBT: the member whose checkpoint this trial continues from
    if restored is not None:
        with restored.as_directory() as d:
            wrote = member.owner(Path(d))
            if wrote is not None and wrote["key"] != key:
                shutil.copy2(Path(d) / ckpt_mod.FILENAME, run_dir / member.DONOR_FILE)
                donor = wrote
            elif not ckpt_path.exists():  # e.g. moved to another node
                shutil.copy2(Path(d) / ckpt_mod.FILENAME, ckpt_path)
    metric, mode = ctx.objectives[0]
    (run_dir / layout.WORKER_PID).write_text(f"{os.getpid()}\n")  # which process trains it (fault tests, debugging)
    run = TrialRun(ctx.tracking_uri, ctx.experiment_id, ctx.parent_run_id, key, params, trial_dir=run_dir, task=cfg.task)
    tag_node(run.c, run.run_id, where)
    if ORIGIN_KEY in config and not run.resumed:
        run.set_tag(cv.TAG_ORIGIN, str(config[ORIGIN_KEY]))
    if RERUN_OF in config and not run.resumed:  # through the run's buffer, like every other call
        run.set_tag(cv.TAG_RERUN_OF, str(config[RERUN_OF]))
        run.set_tag(cv.TAG_SEED, str(cfg.train.seed))
    if run.resumed:
        run.restore_best(metric, mode)
    tune_dir = run_dir / layout.TUNE_CHECKPOINT
    reported = False
    trainer: TaskTrainer | None = None
    # The trial's last report waits for the trainer's summary (metrics.json, train/eval times): a scheduler
    # may STOP the trial on that result (ASHA at max_t), and Tune then ends this function inside the report.
    last: list[tuple[dict[str, Any], Any]] = []

    def report(record: dict[str, Any], _ckpt: Path | None) -> None:
        nonlocal reported
        assert trainer is not None
        diverged = bool(record.get("diverged"))
        step = int(record["step"])
        if not diverged:
            trainer.save_checkpoint(step, ckpt_path)  # the state at exactly this evaluation
        faults.maybe_fail("after_checkpoint", step, run_dir)
        metrics = tune_metrics(record, ctx.objectives)
        run.log_eval(record, run_dir)
        faults.maybe_fail("after_log", step, run_dir)
        if not diverged:
            run.log_value_checkpoint(metric, metrics[metric], mode, ckpt_path)
        checkpoint = None
        if ckpt_path.exists():
            shutil.rmtree(tune_dir, ignore_errors=True)
            tune_dir.mkdir()
            shutil.copy2(ckpt_path, tune_dir / ckpt_mod.FILENAME)
            (tune_dir / member.OWNER).write_text(json.dumps({"key": key, "step": step}))
            checkpoint = tune.Checkpoint.from_directory(str(tune_dir))
        reported = True
        if diverged or step >= cfg.train.steps:
            last.append((metrics, checkpoint))
        else:
            tune.report(metrics, checkpoint=checkpoint)

    if cfg.train.compile:
        # compile once per shape per study: the trials share Inductor's FX-graph and AOTAutograd caches in the
        # study folder, so every node that mounts it finds what the first trial compiled
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(ctx.study_dir) / COMPILE_CACHE)
    try:
        trainer = trainer_class(cfg.task)(cfg, run_dir, params)
        trainer.placement = where
        run.set_tag(TAG_PRECISION, trainer.precision)
        if donor is not None:  # PBT's exploit: durable before anything trains
            step = cast(PopulationTrainer, trainer).adopt(run_dir / member.DONOR_FILE, {"from": donor["key"]})
            trainer.save_checkpoint(step, ckpt_path)
            (run_dir / member.DONOR_FILE).unlink()
        elif trainer.restore():  # its folder's checkpoint: evaluations it holds that MLflow missed go first
            catch_up(run, trainer, run_dir, metric, mode, ctx.objectives)
        if cfg.search.scheduler in POPULATION_SCHEDULERS and SEED_KEY not in config:
            member.record(run, cast(PopulationTrainer, trainer), cfg, run_dir)
        summary = trainer.run(report)
        if summary.get(PEAK_MEMORY) is not None:
            run.log_metrics({PEAK_MEMORY: summary[PEAK_MEMORY]}, int(summary["steps"]))
        if last:
            tune.report(last[-1][0], checkpoint=last[-1][1])
        elif not reported and summary.get("final"):  # resumed at the last step: nothing left to evaluate
            tune.report(tune_metrics(summary["final"], ctx.objectives))
    except Exception:
        # the status says it; no stand-in metric point (a 1e30 at a step the trial never evaluated)
        run.set_status("failed")
        raise
    finally:
        run.flush(wait_s())  # calls kept while the tracking server was down go out before the driver closes the run
        del trainer
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # the actor is reused: give the next trial a clean GPU

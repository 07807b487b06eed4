"""One Ray Tune run over the study's trainable: shared by the search and by the reruns of its best
configurations, so both checkpoint, restart and name their trials the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gansearch.config import SpaceFile, layout
from gansearch.search.plan import Plan
from gansearch.search.space import TRIAL_KEY


def trial_context(cfg: SpaceFile, plan: Plan, study_dir: Path, uri: str, exp_id: str, parent: str) -> Any:
    """What every trial needs; the trainer gets as many threads as the trial has CPUs."""
    from gansearch.search.trainable import TrialContext

    threads = cfg.train.threads or max(1, int(cfg.search.resources_per_trial.cpu))
    trial_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"threads": threads})})
    from gansearch.search.plugin_check import import_roots

    return TrialContext(trial_cfg.model_dump_json(), str(study_dir), uri, exp_id, parent, plan.objectives,
                        tuple(import_roots(cfg)))


def max_concurrent(cfg: SpaceFile, resources: dict[str, float] | None = None) -> int:
    """`search.max_concurrent`, else as many trials as the cluster's CPUs, and GPUs where trials ask for
    them, hold at once (`resources`: the cluster's, by default `ray.cluster_resources()`)."""
    from gansearch.search import devices

    if resources is None:
        import ray

        resources = ray.cluster_resources()
    gpu = cfg.search.resources_per_trial.gpu
    if gpu == "auto":
        gpu = devices.resolve_gpu(cfg, resources.get("GPU", 0), autoscaling=True)[0]
    return devices.concurrency(cfg, float(gpu), resources).trials


def fit(cfg: SpaceFile, plan: Plan, study_dir: Path, ctx: Any, *, callback: Any, num_samples: int,
        search_alg: Any, scheduler: Any = None, prefix: str = "run", keep_checkpoints: int | None = 1) -> None:
    """`keep_checkpoints`: Tune checkpoints kept per trial (None: all; PBT copies a donor's at a step it
    may have trained past by the time the member that copies it starts)."""
    from ray import tune

    from gansearch.search.trainable import run_trial

    res = cfg.search.resources_per_trial
    assert res.gpu != "auto", "run_study decides gpu: auto against the cluster first (devices.resolve_gpu)"
    trainable = tune.with_resources(tune.with_parameters(run_trial, ctx=ctx), {"cpu": res.cpu, "gpu": res.gpu})
    tune_dir = study_dir / layout.TUNE
    n = len(list(tune_dir.glob(f"{prefix}-*"))) if tune_dir.exists() else 0
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search_alg, scheduler=scheduler, num_samples=num_samples, reuse_actors=True,
            trial_dirname_creator=_trial_dirname, trial_name_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=f"{prefix}-{n}", storage_path=str(tune_dir), verbose=0, callbacks=[callback],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=keep_checkpoints, checkpoint_score_attribute=plan.metric,
                                                    checkpoint_score_order=plan.mode),
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
        ),
    )
    tuner.fit()


def _trial_dirname(trial: Any) -> str:
    return f"{trial.config.get(TRIAL_KEY, 'trial')}_{trial.trial_id}"

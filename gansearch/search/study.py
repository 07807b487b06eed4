"""`gansearch run`: check everything, start (or join) Ray, search, rerun the best, summarize. Ray Tune
schedules, Optuna samples (through Ray's OptunaSearch), MLflow records; the study folder's layout is
gansearch.config.layout, and what it holds across runs gansearch.search.folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from gansearch.config import SpaceFile, layout
from gansearch.errors import ConfigError
from gansearch.search import devices, folder, journal, plugin_check
from gansearch.search.plan import Plan, make_plan
from gansearch.search.schedulers import POPULATION_SCHEDULERS
from gansearch.tracking import conventions as cv

# Telemetry off (tracking.conventions.TELEMETRY_OFF); a reused actor waits this long for the last trial's
# thread to end (Ray's 2 s fails trials under load).
ENV = {**cv.TELEMETRY_OFF, "TUNE_FUNCTION_THREAD_TIMEOUT_S": "30",
       "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}


def study_env() -> dict[str, str]:
    """Set (without overriding the user's choices) and return the env every study process gets."""
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    return {k: os.environ[k] for k in ENV}


def _check_plugin_model(cfg: SpaceFile) -> tuple[int, ...] | None:
    """A plug-in model's data shape after building it and running a batch in this process; None otherwise."""
    from gansearch.config.plugins import is_plugin

    if cfg.task != "gan" or not is_plugin(cfg.model.name):
        return None
    shape = plugin_check.data_shape(cfg)
    plugin_check.check_model(cfg, shape)
    return shape


def _start_ray(address: str | None, env: dict[str, str], py_modules: list[str] | None = None) -> bool:
    """Join `address`, or start a fresh local Ray: never `ray.init()` with no address, which would join
    whatever RAY_ADDRESS or the last `ray start` on this machine points at, skipping the cluster checks."""
    import ray

    from gansearch.search.devices import STANDIN_ENV

    if ray.is_initialized():
        return False
    passed = ("GANSEARCH_CACHE_DIR", "GANSEARCH_FAULT", STANDIN_ENV)  # the feature cache; fault injection; tests
    runtime_env: dict[str, Any] = {"env_vars": {**env, **{k: os.environ[k] for k in passed if k in os.environ}}}
    if py_modules:
        runtime_env["py_modules"] = py_modules
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        from gansearch.search.private_api import init_local_ray

        init_local_ray(os.environ.get("GANSEARCH_RAY_NODE_IP", "127.0.0.2"), include_dashboard=False,
                       runtime_env=runtime_env, log_to_driver=False)
    return True


def run_study(cfg: SpaceFile, space_path: Path, study_dir: Path, *, num_trials: int | None = None,
              address: str | None = None, tracking_uri: str | None = None, resume: bool = False,
              dry_run: bool = False, experiment: str | None = None, storage: str | None = None,
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Check everything (before Ray starts, then on every node), search, rerun the best, summarize.
    `dry_run` stops after the checks, and writes nothing.

    Like Ray and MLflow themselves: RAY_ADDRESS is `address` (`ray job submit` sets it), and
    MLFLOW_TRACKING_URI is the default `tracking_uri`."""
    plan = make_plan(cfg, num_trials)  # bad input never starts Ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    env = study_env()
    study_dir = Path(study_dir).resolve()
    from gansearch.data.locate import check_feature_net, locate
    from gansearch.search import preflight

    if cfg.task == "gan":  # a style space's images were checked with the space file
        locate(cfg.data)
        check_feature_net(cfg)  # distances need labels or Inception weights
    shape = _check_plugin_model(cfg)  # built and run on one batch here, before Ray starts
    journal.check_url(storage)
    if experiment is not None and not experiment.strip():
        raise ConfigError("--experiment", "must be a non-empty name", experiment)
    preflight.check_address(address)
    if address and not tracking_uri and not resume:
        # trials on several nodes would all write one sqlite file on a shared mount: sqlite's locking over
        # NFS/EFS is unreliable, and a lost or corrupt write loses runs
        raise ConfigError("--tracking-uri", "must be given with --address or RAY_ADDRESS (an MLflow server, e.g. "
                          "http://HEAD:5000, or MLFLOW_TRACKING_URI: the default sqlite store in the study folder is "
                          "not safe for writers on several nodes)", None, show_value=False)
    preflight.check_tracking(tracking_uri or "")
    meta = folder.prepare_folder(cfg, space_path, study_dir, resume, tracking_uri, experiment, storage, write=not dry_run)
    if dry_run:
        return {"dry_run": True, "num_trials": plan.num_trials, "study_dir": str(study_dir),
                "tracking_uri": meta["tracking_uri"], "address": address, "storage": meta.get("storage"),
                "resources": devices.dry_run_lines(cfg, address)}
    uri = cv.move_credentials(tracking_uri or meta["tracking_uri"])
    storage_url = storage or (None if meta.get("storage", journal.JOURNAL) == journal.JOURNAL else meta["storage"])
    env.update({k: os.environ[k] for k in cv.CREDENTIAL_ENV if k in os.environ})  # the workers' runtime env
    from gansearch.tracking import runs

    artifacts = cv.artifact_root(study_dir) if uri.startswith("sqlite") else None
    if resume:
        name = meta.get("experiment") or cv.experiment_name(study_dir)  # older study folders: the old default
        exp_id = runs.ensure_experiment(uri, name, artifacts)
    else:
        name, exp_id = runs.ensure_study_experiment(uri, experiment, study_dir, artifacts)
    study_name = journal.study_name(meta) if resume else journal.new_study_name(storage_url, name)
    store = journal.open_storage(study_dir, storage_url)
    if not resume and journal.holds_study(store, study_name):
        raise ConfigError("--storage", f"must not hold a study named {study_name!r} already (it belongs to another "
                          "study folder: give --experiment another name, or --resume that folder)",
                          journal.describe(storage_url) if storage_url else journal.JOURNAL)
    settings = {"search." + k: v for k, v in cfg.search.model_dump(mode="json").items()}
    settings.update({"num_trials": plan.num_trials, "study_dir": str(study_dir), "space_file": str(space_path),
                     "optuna.storage": journal.describe(storage_url), "optuna.study_name": study_name})
    parent = runs.start_study_run(uri, exp_id, meta["name"], settings, study_dir / layout.SPACE_JSON,
                                  run_id=meta.get("parent_run_id"))
    meta.update(experiment=name, experiment_id=exp_id, study_name=study_name, parent_run_id=parent,
                num_trials=plan.num_trials)
    (study_dir / layout.STUDY_JSON).write_text(json.dumps(meta, indent=2))

    # A resumed study's sampler gets a fresh seed (seed + trials so far): the same seed would replay the
    # first run's random draws and sample the same configs again.
    pbt = cfg.search.scheduler in POPULATION_SCHEDULERS  # its population resumes by itself (search/population.py)
    finished, resumed, existing = folder.close_interrupted(store, study_name) if resume and not pbt else ([], [], 0)
    if resume:  # calls a down server missed in the last run go first, in order
        _flush(study_dir, uri, exp_id, parent, echo)
    folder.close_finished_runs(finished, uri, exp_id, parent)
    done = len(finished)
    remaining = plan.num_trials - done
    if resumed:
        echo(f"resuming: {done} trials finished, continuing {', '.join(resumed)}")
    reruns = cfg.search.rerun_top_k is not None
    top_seeds = None
    if remaining > 0 or reruns:
        started = _start_ray(address, env, plugin_check.ship_paths(cfg))
        try:
            if shape is not None:  # and on every node, where it may not import
                plugin_check.check_on_nodes(cfg, shape, plugin_check.import_roots(cfg))
            cfg = devices.decide(cfg, address, meta, echo)
            (study_dir / layout.STUDY_JSON).write_text(json.dumps(meta, indent=2))
            if cfg.search.resources_per_trial.gpu > 0:  # every node that advertises GPUs must be able to use them
                preflight.check_gpus(cfg.search.resources_per_trial.gpu)
            net_hash = _warm_feature_cache(cfg, echo)
            if address:  # a cluster: every node must write the study folder, see the data and the feature net
                preflight.check_nodes(study_dir, cfg.data if cfg.task == "gan" else None, feature_net_hash=net_hash)
            if pbt:
                from gansearch.search.population import run_population

                run_population(cfg, plan, study_dir, store, study_name, uri, exp_id, parent, echo)
            elif remaining > 0:
                _tune(cfg, plan, study_dir, store, study_name, uri, exp_id, parent, remaining, done,
                      cfg.search.seed + existing)
            top_seeds = _rerun(cfg, plan, study_dir, uri, exp_id, parent, echo) if reruns else None
        finally:
            if started:
                import ray

                ray.shutdown()
    _flush(study_dir, uri, exp_id, parent, echo, final=True)
    from gansearch.search.summary import summarize, with_reruns

    summary, best = summarize(study_dir, plan, uri, exp_id, parent)
    if top_seeds is not None:
        summary, best = with_reruns(summary, best, *top_seeds, plan.mode)
    (study_dir / layout.SUMMARY_JSON).write_text(json.dumps(summary, indent=2, default=str))
    report = _report(study_dir, echo)
    if report is not None:
        runs.client(uri).log_artifacts(parent, str(report), layout.REPORT)
    runs.finish_study_run(uri, parent, {k: v for k, v in summary.items() if k not in ("trials", "rerun_trials")}, best)
    return summary


def _flush(study_dir: Path, uri: str, exp_id: str, parent: str, echo: Callable[[str], None],
           final: bool = False) -> None:
    """Replay every trial's buffered tracking calls (waiting up to GANSEARCH_TRACKING_WAIT_S for the
    server). At the end of a study a server still down stops it cleanly, resumable."""
    from gansearch.errors import TrackingUnavailable
    from gansearch.tracking import runs

    left = {k: n for k, n in runs.flush_study(study_dir, uri, exp_id, parent, timeout_s=runs.wait_s()).items() if n}
    if not left:
        return
    where = f"{sum(left.values())} calls of {len(left)} trials kept in {study_dir}/trials/*/mlflow-buffer.jsonl"
    if final:
        raise TrackingUnavailable(f"--tracking-uri: the tracking server is unreachable ({where}); every trial has "
                                  f"finished: run the same command with --resume when the server is back")
    echo(f"warning: the tracking server still misses {where}")


def _report(study_dir: Path, echo: Callable[[str], None]) -> Path | None:
    """The study's HTML report and report.json (also `gansearch report`); a failure here costs the
    report, never the finished study."""
    from gansearch.search.report import write_report

    try:
        paths = write_report(study_dir)
    except Exception as e:  # noqa: BLE001 - the trials are done and recorded; say what went wrong
        echo(f"warning: the report was not written ({type(e).__name__}: {e}); run `gansearch report {study_dir}`")
        return None
    echo(f"report:       {paths['html']}")
    return Path(paths["html"]).parent


def _warm_feature_cache(cfg: SpaceFile, echo: Callable[[str], None] = print) -> str | None:
    """The feature network and real-data features are computed once per study, by the driver (cached on
    disk, keyed by the dataset and recipe); every trial then loads them instead of retraining. Returns the
    classifier's weights hash (None for other feature nets), which every node must find in its cache."""
    if cfg.task != "gan":  # style transfer: its VGG-19s are built from a seed or a file, nothing to cache
        return None
    import torch

    from gansearch.trainer.setup import EvalSetup

    setup = EvalSetup(cfg, torch.device("cpu"))
    if setup.warning:
        echo(f"warning: {setup.warning}")
    return setup.net.weights_hash if setup.net.space == "classifier" else None


def _tune(cfg: SpaceFile, plan: Plan, study_dir: Path, storage: Any, study_name: str, uri: str, exp_id: str,
          parent: str, remaining: int, done: int, seed: int) -> None:
    from ray.tune.search import ConcurrencyLimiter

    from gansearch.search import tuner
    from gansearch.search.enqueue import enqueue
    from gansearch.search.progress import StudyCallback
    from gansearch.search.private_api import searcher_study
    from gansearch.search.schedulers import SCHEDULERS
    from gansearch.search.searcher import make_searcher
    from gansearch.tracking import runs

    s = cfg.search
    searcher = make_searcher(cfg, plan, storage, study_name, seed)
    enqueue(searcher_study(searcher), cfg, plan.num_trials)
    # the sampler Optuna really uses, read back from the study (a test checks each name reaches it)
    runs.client(uri).set_tag(parent, "optuna.sampler", type(searcher_study(searcher).sampler).__name__)
    callback = StudyCallback(total=plan.num_trials, done_before=done, max_step=cfg.train.steps, study=study_dir.name, study_dir=str(study_dir),
                             metric=plan.metric, mode=plan.mode, tracking_uri=uri, experiment_id=exp_id,
                             parent_run_id=parent)
    tuner.fit(cfg, plan, study_dir, tuner.trial_context(cfg, plan, study_dir, uri, exp_id, parent),
              callback=callback, num_samples=remaining,
              search_alg=ConcurrencyLimiter(searcher, max_concurrent=tuner.max_concurrent(cfg)),
              scheduler=SCHEDULERS[s.scheduler](cfg, plan.metric, plan.mode))


def _rerun(cfg: SpaceFile, plan: Plan, study_dir: Path, uri: str, exp_id: str, parent: str,
           echo: Callable[[str], None]) -> tuple[list[dict[str, Any]], list[int]]:
    """search.rerun_top_k: the best k configurations again, fresh seeds, full budget, no scheduler."""
    from gansearch.search import rerun, tuner
    from gansearch.search.progress import StudyCallback
    from gansearch.search.summary import summarize

    rr = cfg.search.rerun_top_k
    assert rr is not None
    summary, _ = summarize(study_dir, plan, uri, exp_id, parent)
    top = rerun.pick_top(summary["trials"], rr.k, plan.mode)
    seeds = rerun.fresh_seeds(cfg.train.seed, rr.seeds)
    configs = [c for c in rerun.planned(top, seeds) if not rerun.finished(study_dir, c["__trial_key"], cfg.train.steps)]
    if configs:
        from ray.tune.search import ConcurrencyLimiter

        echo(f"rerunning the best {len(top)} configurations with seeds {seeds}: {len(configs)} trials")
        callback = StudyCallback(total=len(configs), done_before=0, max_step=cfg.train.steps, study=study_dir.name, study_dir=str(study_dir),
                                 metric=plan.metric,
                                 mode=plan.mode, tracking_uri=uri, experiment_id=exp_id, parent_run_id=parent)
        tuner.fit(cfg, plan, study_dir, tuner.trial_context(cfg, plan, study_dir, uri, exp_id, parent),
                  callback=callback, num_samples=len(configs), prefix="rerun",
                  search_alg=ConcurrencyLimiter(rerun.fixed_searcher(configs, plan.metric, plan.mode),
                                                max_concurrent=tuner.max_concurrent(cfg)))
    return top, seeds


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `gansearch run`")

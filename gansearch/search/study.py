"""`gansearch run`: a study folder holding the Optuna journal, the MLflow store, the trial folders and
Ray Tune's state; Ray Tune schedules, Optuna samples (through Ray's OptunaSearch), MLflow records.

study folder/
  study.json        what --resume and `gansearch ui` need (tracking URI, experiment, Optuna storage and study
                    name, parent run) and the resources each trial asked for
  space.json        the validated space file (a resumed study must match it)
  optuna.journal    the Optuna study (JournalStorage; or --storage URL): the sampler's history survives a crash
  mlflow.db, mlartifacts/   the default tracking store (sqlite) and its artifacts
  trials/<key>/     each trial's trainer folder (metrics.jsonl, samples/, checkpoint.pt)
  tune/run-N/       Ray Tune's experiment folder of each (re)start; checkpoints: best + last per trial
  compile-cache/    with train.compile: Inductor's FX-graph and AOTAutograd caches, shared by the trials
  summary.json      the final summary (also on the MLflow parent run)
  report/           report.html (self-contained) and report.json (also on the parent run, under report/)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from gansearch.config import SpaceFile
from gansearch.errors import ConfigError
from gansearch.search import journal
from gansearch.search.journal import CLOSED_ATTR
from gansearch.search.plan import SAMPLERS, Plan, make_plan
from gansearch.search.space import KEY_ATTR
from gansearch.search.schedulers import POPULATION_SCHEDULERS
from gansearch.tracking import conventions as cv

# MLflow's client prints each run's URL (credentials included) when a run ends: we print our own, redacted.
# A reused actor waits this long for the last trial's thread to end (Ray's 2 s fails trials under load).
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
       "TUNE_FUNCTION_THREAD_TIMEOUT_S": "30",
       "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}


def study_env() -> dict[str, str]:
    """Set (without overriding the user's choices) and return the env every study process gets."""
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    return {k: os.environ[k] for k in ENV}


def close_interrupted(storage: Any, study_name: str) -> tuple[list[Any], list[str], int]:
    """--resume: close Optuna trials a crash left RUNNING (FAIL, marked) and re-enqueue them under the
    same key, so each continues in its folder and MLflow run.
    Returns (finished trials, resumed keys, trials in the study)."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    waiting = {t.user_attrs.get(KEY_ATTR) for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
    resumed: list[str] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        key = t.user_attrs.get(KEY_ATTR)
        storage.set_trial_user_attr(t._trial_id, CLOSED_ATTR, True)
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if key is not None and key not in waiting:
            study.enqueue_trial(t.params, user_attrs={KEY_ATTR: key})
            resumed.append(key)
    finished = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if not t.user_attrs.get(CLOSED_ATTR)
    ]
    return finished, resumed, len(study.get_trials(deepcopy=False))


def close_finished_runs(finished: list[Any], uri: str, experiment_id: str, parent_id: str) -> int:
    """--resume: finished trials whose MLflow run the crash left open get their final status now."""
    from optuna.trial import TrialState

    from gansearch.tracking import runs

    outcome = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "fail"}
    closed = 0
    for t in finished:
        key = t.user_attrs.get(KEY_ATTR)
        if key is not None:
            closed += runs.close_if_left_open(uri, experiment_id, parent_id, key, outcome[t.state]) is not None
    return closed


def _prepare_folder(cfg: SpaceFile, space_path: Path, study_dir: Path, resume: bool, tracking_uri: str | None,
                    experiment: str | None, storage: str | None, write: bool = True) -> dict[str, Any]:
    """Check (and unless `write` is False, create) the study folder. study.json keeps the tracking URI and
    the storage URL without their passwords, so --resume of a password-protected store needs them again."""
    meta_path = study_dir / "study.json"
    dumped = cfg.model_dump(mode="json")
    if resume:
        if not meta_path.exists():
            raise ConfigError("--resume", "needs an existing study folder (no study.json)", str(study_dir))
        meta = json.loads(meta_path.read_text())
        stored = json.loads((study_dir / "space.json").read_text())
        stored = {"task": "gan", "style": None, **stored}  # a space.json written before `task` existed
        same = {k: v for k, v in stored.items() if k != "search"} == {k: v for k, v in dumped.items() if k != "search"}
        if not same:
            raise ConfigError("--resume", f"space file must match the study's ({study_dir / 'space.json'})", str(space_path))
        _same_on_resume("--tracking-uri", tracking_uri and cv.redact_uri(tracking_uri), meta["tracking_uri"])
        _same_on_resume("--storage", storage and journal.describe(storage), meta.get("storage", journal.JOURNAL))
        _same_on_resume("--experiment", experiment, meta.get("experiment") or cv.experiment_name(study_dir))
        return meta
    if meta_path.exists():
        raise ConfigError("--out", "must be a new study folder (add --resume to continue this one)", str(study_dir))
    if write:
        study_dir.mkdir(parents=True, exist_ok=True)
        (study_dir / "space.json").write_text(json.dumps(dumped, indent=2))
    return {"name": study_dir.name, "space_file": str(space_path),
            "tracking_uri": cv.redact_uri(tracking_uri or cv.default_store_uri(study_dir)),
            "storage": journal.describe(storage)}


def _same_on_resume(option: str, given: str | None, recorded: str) -> None:
    """--resume continues the study where it is recorded: an option given again must say the same, and a
    URL recorded without its password must be given again."""
    if given and given != recorded:
        raise ConfigError(option, f"must be the study's ({recorded}) on --resume", given)
    if not given and ":***@" in recorded:
        raise ConfigError(option, "must be given again on --resume (the study folder keeps it without its "
                          "password)", recorded)


def _start_ray(address: str | None, env: dict[str, str]) -> bool:
    """Join `address`, or start a fresh local Ray: never `ray.init()` with no address, which would join
    whatever RAY_ADDRESS or the last `ray start` on this machine points at, skipping the cluster checks."""
    import ray

    from gansearch.search.devices import STANDIN_ENV

    if ray.is_initialized():
        return False
    passed = ("GANSEARCH_CACHE_DIR", "GANSEARCH_FAULT", STANDIN_ENV)  # the feature cache; fault injection; tests
    runtime_env = {"env_vars": {**env, **{k: os.environ[k] for k in passed if k in os.environ}}}
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, runtime_env=runtime_env, log_to_driver=False,
                 _node_ip_address=os.environ.get("GANSEARCH_RAY_NODE_IP", "127.0.0.2"))
    return True


def _resources(cfg: SpaceFile, address: str | None, meta: dict[str, Any], echo: Callable[[str], None]) -> SpaceFile:
    """After Ray starts: decide `gpu: auto` against the cluster, refuse a GPU request it can't grant,
    say what each trial gets and how many run at once (also in study.json)."""
    import ray

    from gansearch.search import devices

    cluster = {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
    gpu, warning = devices.resolve_gpu(cfg, cluster.get("GPU", 0.0), autoscaling=bool(address))
    for line in devices.describe(cfg, gpu, cluster, "cluster" if address else "local Ray"):
        echo(line)
    if warning:
        echo(f"warning: {warning}")
    meta["resources"] = {"cpu": cfg.search.resources_per_trial.cpu, "gpu": gpu,
                         "gpu_setting": cfg.search.resources_per_trial.gpu, "cluster": cluster,
                         **devices.concurrency(cfg, gpu, cluster).as_dict()}
    return devices.with_gpu(cfg, gpu)


def _dry_run_resources(cfg: SpaceFile, address: str | None) -> list[str]:
    """--dry-run starts no Ray: a local study is sized by what a fresh local Ray would find here; a cluster
    is asked for its resources by a short-lived driver."""
    from gansearch.search import devices

    if address:
        import ray

        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        try:
            cluster = {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        finally:
            ray.shutdown()
    else:
        cluster = devices.local_resources()
    gpu, warning = devices.resolve_gpu(cfg, cluster.get("GPU", 0.0), autoscaling=bool(address))
    lines = devices.describe(cfg, gpu, cluster, "cluster" if address else "this machine")
    return lines + ([f"warning: {warning}"] if warning else [])


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
    from gansearch.data.locate import locate
    from gansearch.search import preflight

    if cfg.task == "gan":  # a style space's images were checked with the space file
        locate(cfg.data)
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
    meta = _prepare_folder(cfg, space_path, study_dir, resume, tracking_uri, experiment, storage, write=not dry_run)
    if dry_run:
        return {"dry_run": True, "num_trials": plan.num_trials, "study_dir": str(study_dir),
                "tracking_uri": meta["tracking_uri"], "address": address, "storage": meta.get("storage"),
                "resources": _dry_run_resources(cfg, address)}
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
    study_name = journal.study_name(meta) if resume else name
    store = journal.open_storage(study_dir, storage_url)
    if not resume and journal.holds_study(store, study_name):
        raise ConfigError("--storage", f"must not hold a study named {study_name!r} already (it belongs to another "
                          "study folder: give --experiment another name, or --resume that folder)",
                          journal.describe(storage_url) if storage_url else journal.JOURNAL)
    settings = {"search." + k: v for k, v in cfg.search.model_dump(mode="json").items()}
    settings.update({"num_trials": plan.num_trials, "study_dir": str(study_dir), "space_file": str(space_path),
                     "optuna.storage": journal.describe(storage_url), "optuna.study_name": study_name})
    parent = runs.start_study_run(uri, exp_id, meta["name"], settings, study_dir / "space.json",
                                  run_id=meta.get("parent_run_id"))
    meta.update(experiment=name, experiment_id=exp_id, study_name=study_name, parent_run_id=parent,
                num_trials=plan.num_trials)
    (study_dir / "study.json").write_text(json.dumps(meta, indent=2))

    # A resumed study's sampler gets a fresh seed (seed + trials so far): the same seed would replay the
    # first run's random draws and sample the same configs again.
    pbt = cfg.search.scheduler in POPULATION_SCHEDULERS  # its population resumes by itself (search/pbt.py)
    finished, resumed, existing = close_interrupted(store, study_name) if resume and not pbt else ([], [], 0)
    if resume:  # calls a down server missed in the last run go first, in order
        _flush(study_dir, uri, exp_id, parent, echo)
    close_finished_runs(finished, uri, exp_id, parent)
    done = len(finished)
    remaining = plan.num_trials - done
    if resumed:
        echo(f"resuming: {done} trials finished, continuing {', '.join(resumed)}")
    reruns = cfg.search.rerun_top_k is not None
    top_seeds = None
    if remaining > 0 or reruns:
        started = _start_ray(address, env)
        try:
            cfg = _resources(cfg, address, meta, echo)
            (study_dir / "study.json").write_text(json.dumps(meta, indent=2))
            if cfg.search.resources_per_trial.gpu > 0:  # every node that advertises GPUs must be able to use them
                preflight.check_gpus(cfg.search.resources_per_trial.gpu)
            net_hash = _warm_feature_cache(cfg, echo)
            if address:  # a cluster: every node must write the study folder, see the data and the feature net
                preflight.check_nodes(study_dir, cfg.data if cfg.task == "gan" else None, feature_net_hash=net_hash)
            if pbt:
                from gansearch.search import pbt as pbt_mod

                pbt_mod.fit(cfg, plan, study_dir, store, study_name, uri, exp_id, parent, echo)
            elif remaining > 0:
                _tune(cfg, plan, study_dir, store, study_name, uri, exp_id, parent, remaining, done,
                      cfg.search.seed + existing)
            top_seeds = _rerun(cfg, plan, study_dir, uri, exp_id, parent, echo) if reruns else None
        finally:
            if started:
                import ray

                ray.shutdown()
    _flush(study_dir, uri, exp_id, parent, echo, final=True)
    summary, best = summarize(study_dir, plan, uri, exp_id, parent)
    if top_seeds is not None:
        summary, best = _with_reruns(summary, best, *top_seeds, plan.mode)
    (study_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    report = _report(study_dir, echo)
    if report is not None:
        runs.client(uri).log_artifacts(parent, str(report), "report")
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
    from gansearch.search.progress import StudyCallback
    from gansearch.search.schedulers import SCHEDULERS
    from gansearch.search.searcher import StudySearch
    from gansearch.search.space import define_by_run

    s = cfg.search
    metrics = [m for m, _ in plan.objectives]
    modes = [m for _, m in plan.objectives]
    searcher = StudySearch(
        space=define_by_run(cfg.space),
        metric=metrics if plan.multi else plan.metric, mode=modes if plan.multi else plan.mode,
        sampler=SAMPLERS[s.sampler](seed, len(metrics), plan.num_trials),
        study_name=study_name, storage=storage, max_step=cfg.train.steps,
    )
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


def summarize(study_dir: Path, plan: Plan, uri: str, exp_id: str, parent: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Every trial's value of the (first) objective (`config.metrics.trial_value`: its last evaluation),
    read back from its folder; statuses from MLflow. Trials whose distances come from different feature
    networks are not ranked against each other: the summary then names them and has no best."""
    from gansearch.config.metrics import FEATURE_NET_HASH, rank_key, trial_value
    from gansearch.tracking.runs import client

    c = client(uri)
    runs = c.search_runs([exp_id], filter_string=f"tags.`{cv.TAG_PARENT}` = '{parent}'", max_results=10000)
    by_key = {r.data.tags.get(cv.TAG_TRIAL_KEY): r for r in runs}
    from gansearch.search.rerun import is_rerun

    trials, reruns, hashes = [], [], {}
    for folder in sorted((study_dir / "trials").glob("*")) if (study_dir / "trials").exists() else []:
        lines = (folder / "metrics.jsonl").read_text().splitlines() if (folder / "metrics.jsonl").exists() else []
        recs = [json.loads(x) for x in lines if x.strip()]
        run = by_key.get(folder.name)
        status = run.data.tags.get(cv.TAG_STATUS) if run else None
        value = None if status == "failed" else trial_value(recs, plan.metric)  # FAIL in Optuna: no number
        run_json = folder / "run.json"
        params = json.loads(run_json.read_text()).get("params", {}) if run_json.exists() else {}
        pbt = json.loads((folder / "pbt.json").read_text()) if (folder / "pbt.json").exists() else None
        if pbt is not None:  # a PBT member: the hyperparameters its final weights trained with, and how it got there
            params = pbt["params"]
        for r in recs:
            if r.get(FEATURE_NET_HASH):
                hashes.setdefault(r[FEATURE_NET_HASH], []).append(folder.name)
        (reruns if is_rerun(folder.name) else trials).append({
            "key": folder.name, "status": status,
            "run_id": run.info.run_id if run else None, "value": value[1] if value else None,
            "value_step": value[0] if value else None, "last_step": recs[-1]["step"] if recs else None,
            "params": params, **({"pbt": {"initial": pbt["initial"], "lineage": [
                {k: e[k] for k in ("step", "from", "params")} for e in pbt["lineage"]]}} if pbt else {}),
        })
    ranked = [t for t in trials if t["value"] is not None]
    # ties (equal values) go to the lower trial key, never to the order the folders were listed in
    ranked.sort(key=lambda t: rank_key(t["value"], t["key"], plan.mode))
    refused = None
    if len(hashes) > 1:
        refused = ("trials were scored by different feature networks (" + "; ".join(
            f"{h}: {', '.join(sorted(set(keys)))}" for h, keys in sorted(hashes.items())) + "): not ranked")
    best = ranked[0] if ranked and refused is None else None
    counts = {st: sum(1 for t in trials if t["status"] == st) for st in cv.STATUSES}
    summary = {"metric": plan.metric, "mode": plan.mode, "num_trials": len(trials),
               "best_value": best["value"] if best else None,
               **{f"trials_{k.replace('-', '_')}": v for k, v in counts.items()},
               "trials": ranked + [t for t in trials if t["value"] is None]}
    if refused:
        summary["ranking_refused"] = refused
    if reruns:
        summary["rerun_trials"] = reruns
    best_tags = {"key": best["key"], "run_id": best["run_id"], "value": best["value"],
                 "step": best["value_step"]} if best else None
    return summary, best_tags


def _with_reruns(summary: dict[str, Any], best: dict[str, Any] | None, top: list[dict[str, Any]], seeds: list[int],
                 mode: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The study's answer becomes the configuration with the best mean over fresh seeds."""
    from gansearch.search.rerun import summarize_reruns

    by_key = {t["key"]: t for t in summary.get("rerun_trials", [])}
    table = summarize_reruns(top, seeds, by_key, mode)
    summary = {**summary, "ranking": "rerun_mean", "reruns": table}
    if table and table[0]["mean"] is not None:
        first = table[0]
        search_trial = next(t for t in summary["trials"] if t["key"] == first["key"])
        summary.update(best_mean=first["mean"], best_std=first["std"])
        best = {"key": first["key"], "run_id": search_trial["run_id"], "value": first["search_value"],
                "step": search_trial["value_step"], "mean": first["mean"], "std": first["std"], "seeds": len(seeds)}
    return summary, best


def ui_command(study_dir: Path) -> str:
    meta = json.loads((Path(study_dir) / "study.json").read_text())
    if meta["tracking_uri"].startswith("sqlite"):
        return f"gansearch ui {study_dir}"
    return f"open {meta['tracking_uri']}/#/experiments/{meta['experiment_id']}/runs"


def print_report(summary: dict[str, Any], study_dir: Path, echo: Callable[[str], None] = print, top: int = 5) -> None:
    if summary.get("ranking_refused"):
        echo(f"warning: {summary['ranking_refused']}")
    echo(f"\ntop trials by {summary['metric']} ({summary['mode']}):")
    echo(f"  {'trial':<12} {'status':<14} {summary['metric']:>10} {'at step':>8}  params")
    for t in summary["trials"][:top]:
        v = "-" if t["value"] is None else f"{t['value']:.4g}"
        ps = " ".join(f"{k}={_fmt(v2)}" for k, v2 in t["params"].items())
        echo(f"  {t['key']:<12} {str(t['status']):<14} {v:>10} {str(t['value_step']):>8}  {ps}")
    if summary.get("reruns"):
        echo(f"\nreruns with fresh seeds (ranked by mean {summary['metric']}):")
        for r in summary["reruns"]:
            vals = ", ".join("-" if x["value"] is None else f"{x['value']:.4g}" for x in r["runs"])
            mean = "-" if r["mean"] is None else f"{r['mean']:.4g} ± {r['std']:.2g}"
            lost = ", ".join(f"{r[f'n_{s}']} {s}" for s in ("diverged", "failed") if r.get(f"n_{s}"))
            echo(f"  {r['key']:<12} mean {mean:<18} search {r['search_value']:.4g}  seeds: {vals}"
                 + (f"  ({lost})" if lost else ""))
    echo(f"study folder: {study_dir}")
    echo(f"MLflow UI:    {ui_command(study_dir)}")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `gansearch run`")

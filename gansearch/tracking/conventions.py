"""Names shared by the study driver and the trial workers. No mlflow import here."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

from gansearch.config import layout
from gansearch.config.metrics import PROVENANCE

# Tags (one name per concept; `mlflow.parentRunId` is MLflow's own nesting tag).
TAG_KIND = "gansearch.kind"  # "study" or "trial"
TAG_STUDY = "gansearch.study"
TAG_TRIAL_KEY = "gansearch.trial_key"  # stable across --resume: the first Optuna trial number
TAG_STATUS = "status"  # one of STATUSES
TAG_STRATEGY = "strategy"  # the balance strategy
TAG_LOSS = "loss"
TAG_TASK = "gansearch.task"  # the space file's `task` (style_transfer; absent on GAN runs)
TAG_PARENT = "mlflow.parentRunId"
TAG_STUDY_DIR = "gansearch.study_dir"  # on the experiment: the folder whose study named it by default
TAG_RERUN_OF = "gansearch.rerun_of"  # a rerun's search trial (search.rerun_top_k)
TAG_ORIGIN = "gansearch.origin"  # where a search trial's values came from: defaults, stratum, startup, model, random
TAG_SEED = "train.seed"  # the seed a rerun trained with (one name with the space file's field)
# PBT (search.scheduler: pbt): MLflow params are immutable, so a member's hyperparameters are also metrics
# `hp/<name>`, one point where each value starts; its exploits as `key@step`, oldest first, comma-separated
TAG_PBT_FROM = "pbt.exploited_from"
HP_PREFIX = "hp/"

STATUSES = ("running", "completed", "stopped-early", "diverged", "failed")

# Record keys that are not metrics at all (PROVENANCE describes the metrics: tags, not metrics).
NOT_METRICS = ("step", "grid") + PROVENANCE
# A non-finite worst case is logged as this bound (stores and JSON differ on how they keep inf).
WORST = 1e30


# The one telemetry environment of every process gansearch starts (driver, Ray workers, MLflow server);
# MLflow's client also prints each run's URL, credentials included, when a run ends: we print our own, redacted.
TELEMETRY_OFF = {"RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true",
                 "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def disable_telemetry() -> dict[str, str]:
    """Telemetry off in this process (unless the user set a variable); returns the variables as set."""
    for k, v in TELEMETRY_OFF.items():
        os.environ.setdefault(k, v)
    return {k: os.environ[k] for k in TELEMETRY_OFF}


def redact_uri(uri: str) -> str:
    """A URI as it may be shown, logged or stored: a password in it becomes `***` (user and host stay)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        userinfo, _, hostport = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}"))
    except ValueError:  # a malformed URI: hide everything between "//" and "@"
        head, sep, rest = uri.partition("//")
        return head + sep + rest.split("@", 1)[-1] if "@" in rest else uri


CREDENTIAL_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def move_credentials(uri: str) -> str:
    """`http://user:pw@host` -> `http://host`, with user and password in MLflow's own environment
    variables: then no object Ray or Tune persists (callbacks, trial context, tuner.pkl) holds them."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    os.environ[CREDENTIAL_ENV[0]] = unquote(parts.username or "")
    os.environ[CREDENTIAL_ENV[1]] = unquote(parts.password)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def default_store_uri(study_dir: str | Path) -> str:
    return f"sqlite:///{Path(study_dir).resolve() / layout.MLFLOW_DB}"


def artifact_root(study_dir: str | Path) -> str:
    return (Path(study_dir).resolve() / layout.MLARTIFACTS).as_uri()


def experiment_name(study_dir: str | Path) -> str:
    """The default experiment name (`--experiment`); runs.ensure_study_experiment makes it unique per folder."""
    return f"gansearch:{Path(study_dir).resolve().name}"


def trial_run_name(key: str) -> str:
    return key


def worst_value(mode: str) -> float:
    return WORST if mode == "min" else -WORST


def finite(value: float, mode: str = "min") -> float:
    """Non-finite values as the worst bound (NaN counts as worst too)."""
    if math.isnan(value):
        return worst_value(mode)
    if math.isinf(value):
        return WORST if value > 0 else -WORST
    return value


def record_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The numeric measurements of one trainer record, keyed as in the record. ±inf (a worst case: a
    diverged generator's distance) is logged as ±WORST; NaN means "not defined here" (no significant
    loss period, no kd_std of a diverged run) and is left out rather than logged as a number."""
    out: dict[str, float] = {}
    for k, v in record.items():
        if k in NOT_METRICS or isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            continue
        out[k] = finite(float(v))
    return out


def record_tags(record: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(record[k]) for k in PROVENANCE if k in record}


def trial_tags(params: Mapping[str, Any], task: str = "gan") -> dict[str, str]:
    if task != "gan":  # style transfer: the optimizer and the start, under their hyperparameter names
        from gansearch.config.style import STYLE_HPARAMS

        return {TAG_TASK: task, **{k: str(params.get(k, STYLE_HPARAMS[k].default)) for k in ("optimizer", "init")}}
    return {TAG_STRATEGY: str(params.get("balance", "none")), TAG_LOSS: str(params.get("loss", "non_saturating"))}

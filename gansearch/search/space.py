"""The `space` section as ONE Optuna define-by-run function: a conditional parameter is suggested only
when its `when:` holds, under the same name it has in YAML (and later in MLflow).
"""

from __future__ import annotations

from typing import Any, Callable

from gansearch.config import Dist, applies, layout, order
from gansearch.config.space import Space

TRIAL_KEY = "__trial_key"  # config entry naming the trial's folder and MLflow run (not a hyperparameter)
KEY_ATTR = "gansearch_key"  # Optuna user attribute holding it; kept when --resume re-enqueues a trial
SEED_KEY = "__seed"  # config entry of a rerun: the fresh train.seed it trains with
RERUN_OF = "__rerun_of"  # config entry of a rerun: the key of the search trial whose configuration it repeats
ORIGIN_KEY = "__origin"  # config entry: where the trial's values came from (gansearch.search.enqueue.ORIGINS)
META_KEYS = (TRIAL_KEY, SEED_KEY, RERUN_OF, ORIGIN_KEY)


def suggest(trial: Any, name: str, d: Dist) -> Any:
    if d.type == "categorical":
        return trial.suggest_categorical(name, list(d.choices))
    if d.type == "int":
        return trial.suggest_int(name, int(d.low), int(d.high), step=int(d.step or 1), log=d.log)
    log = d.type == "loguniform" or d.log
    return trial.suggest_float(name, float(d.low), float(d.high), step=None if log else d.step, log=log)


def define_by_run(space: Space) -> Callable[[Any], dict[str, Any]]:
    from gansearch.search.enqueue import ORIGIN_ATTR, origin

    names = order(space)

    def fn(trial: Any) -> dict[str, Any]:
        came_from = origin(trial)  # before any suggest: the sampler's count of finished trials right now
        values: dict[str, Any] = {}
        constants: dict[str, Any] = {}
        for name in names:
            entry = space[name]
            if not applies(entry, values):
                continue
            if isinstance(entry, Dist):
                values[name] = suggest(trial, name, entry)
            else:
                values[name] = constants[name] = entry
        key = trial.user_attrs.get(KEY_ATTR)
        if key is None:
            key = layout.trial_key(trial.number)
            trial.set_user_attr(KEY_ATTR, key)
        constants[TRIAL_KEY] = key
        trial.set_user_attr(ORIGIN_ATTR, came_from)
        constants[ORIGIN_KEY] = came_from
        return constants

    return fn


def split_config(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A Tune config -> (trial key, the active hyperparameters)."""
    params = {k: v for k, v in config.items() if k not in META_KEYS}
    return str(config[TRIAL_KEY]), params

"""The `space` section: which hyperparameters are searched, over what, and when each one applies."""

from __future__ import annotations

from typing import Any, Mapping

from gansearch.config.fields import FIXED
from gansearch.config.hparams import HPARAMS, HParam
from gansearch.config.schema import Dist
from gansearch.config.style import STYLE_HPARAMS
from gansearch.errors import ConfigError

Space = Mapping[str, "Dist | Any"]

# task -> its searchable hyperparameters (the `task:` name table of config.style.TASKS)
HPARAM_TABLES: dict[str, dict[str, HParam]] = {"gan": HPARAMS, "style_transfer": STYLE_HPARAMS}


def plugin_hparams(path: str) -> dict[str, Any]:
    """A plug-in model's own searchable parameters (config.hparams.HParam by name): its keyword parameters
    after `shape`, except the model section's fields it takes from there (MODEL_FIELDS)."""
    from gansearch.config.plugins import MODEL_FIELDS, REQUIRED, keyword_params, resolve

    out = {}
    for name, default in keyword_params(resolve(path, "model.name")).items():
        if name in MODEL_FIELDS or name == "gradient_penalty":
            continue
        kind = ("bool" if isinstance(default, bool) else "int" if isinstance(default, int) else
                "float" if isinstance(default, float) else "str" if isinstance(default, str) else "any")
        out[name] = HParam(kind, None if default is REQUIRED else default, doc=f"{path}'s parameter {name}")
    return out


def searchable(cfg: Any) -> dict[str, HParam]:
    """Every name a space may set: the task's hyperparameters; for GANs also each scalar field of `model`
    and `train` by its dotted name (config.fields) and a plug-in model's own keyword parameters."""
    from gansearch.config.fields import field_hparams
    from gansearch.config.plugins import is_plugin

    table = dict(HPARAM_TABLES[cfg.task])
    if cfg.task == "gan":
        table.update(field_hparams(cfg))
        if is_plugin(cfg.model.name):
            table.update({k: v for k, v in plugin_hparams(cfg.model.name).items() if k not in table})
    return table


def check_space(space: Space, task: str = "gan", table: Mapping[str, HParam] | None = None) -> list[ConfigError]:
    errs: list[ConfigError] = []
    table = HPARAM_TABLES[task] if table is None else table
    for name, entry in space.items():
        where = f"space.{name}"
        hp = table.get(name)
        if hp is None and name in FIXED:
            errs.append(ConfigError(where, f"must not be searched ({FIXED[name]})", name))
            continue
        if hp is None:
            kind = "" if task == "gan" else f" of task {task}"
            errs.append(ConfigError(where, f"must be a known hyperparameter{kind} (" + ", ".join(table) + ")", name))
            continue
        if not isinstance(entry, Dist):
            if not hp.check(entry):
                errs.append(ConfigError(where, hp.rule(), entry))
            continue
        errs.extend(_check_dist(where, hp, entry))
    for name, entry in space.items():
        if isinstance(entry, Dist) and entry.when:
            errs.extend(_check_when(name, entry.when, space))
    return errs


def _check_dist(where: str, hp: HParam, d: Dist) -> list[ConfigError]:
    errs: list[ConfigError] = []
    if d.type == "categorical":
        if d.low is not None or d.high is not None:
            errs.append(ConfigError(f"{where}.low", "must not be set for a categorical parameter", d.low))
        if not d.choices:
            errs.append(ConfigError(f"{where}.choices", "must be a non-empty list for categorical", d.choices))
            return errs
        for i, c in enumerate(d.choices):
            if not hp.check(c):
                errs.append(ConfigError(f"{where}.choices[{i}]", hp.rule(), c))
        if len(set(map(repr, d.choices))) != len(d.choices):
            errs.append(ConfigError(f"{where}.choices", "must not repeat a choice", d.choices))
        if d.default is not None and d.default not in d.choices:
            errs.append(ConfigError(f"{where}.default", "must be one of the choices", d.default))
        return errs
    if hp.kind in ("choice", "bool", "str"):
        return [ConfigError(f"{where}.type", f"must be categorical for a {'named choice' if hp.kind == 'choice' else hp.kind}", d.type)]
    if d.choices is not None:
        errs.append(ConfigError(f"{where}.choices", f"must not be set for type {d.type}", d.choices))
    if d.low is None or d.high is None:
        missing = "low" if d.low is None else "high"
        return errs + [ConfigError(f"{where}.{missing}", f"must be given for type {d.type}", None)]
    if hp.kind == "int" and d.type != "int":
        errs.append(ConfigError(f"{where}.type", "must be int or categorical for an integer parameter", d.type))
    if d.type == "int" and (not float(d.low).is_integer() or not float(d.high).is_integer()):
        errs.append(ConfigError(f"{where}.low", "must be whole numbers for type int", (d.low, d.high)))
    if not d.low < d.high:
        errs.append(ConfigError(f"{where}.low", "must be < high", f"low={d.low} high={d.high}", show_value=True))
    if (d.type == "loguniform" or d.log) and d.low <= 0:
        errs.append(ConfigError(f"{where}.low", "must be > 0 for a log scale", d.low))
    if d.step is not None and d.step <= 0:
        errs.append(ConfigError(f"{where}.step", "must be > 0", d.step))
    if d.step is not None and (d.type == "loguniform" or d.log):
        errs.append(ConfigError(f"{where}.step", "must not be combined with a log scale", d.step))
    for end in ("low", "high"):
        v = getattr(d, end)
        if not hp.check(v):
            errs.append(ConfigError(f"{where}.{end}", hp.rule(), v))
    if d.default is not None:
        if not hp.check(d.default) or not (d.low <= d.default <= d.high):
            errs.append(ConfigError(f"{where}.default", f"must lie in [low, high] = [{d.low}, {d.high}]", d.default))
    return errs


def _check_when(name: str, when: Mapping[str, Any], space: Space) -> list[ConfigError]:
    errs: list[ConfigError] = []
    for other, wanted in when.items():
        where = f"space.{name}.when.{other}"
        if other == name:
            errs.append(ConfigError(where, "must not refer to the parameter itself", other))
            continue
        if other not in space:
            errs.append(ConfigError(where, "must name another parameter of this space (" + ", ".join(space) + ")", other))
            continue
        target = space[other]
        if not isinstance(target, Dist):
            continue  # fixed (say by --set balance=none): the parameter is simply inactive, not wrong
        possible = _possible_values(target)
        if possible is None:
            errs.append(ConfigError(where, "must name a categorical or fixed parameter", other))
            continue
        for w in wanted if isinstance(wanted, list) else [wanted]:
            if w not in possible:
                errs.append(ConfigError(where, f"must be a value {other} can take ({', '.join(map(str, possible))})", w))
    return errs


def _possible_values(entry: Any) -> list[Any] | None:
    if isinstance(entry, Dist):
        return list(entry.choices) if entry.type == "categorical" and entry.choices else None
    return [entry]


def applies(entry: Any, values: Mapping[str, Any]) -> bool:
    """Whether a conditional parameter is active given the values chosen so far."""
    if not isinstance(entry, Dist) or not entry.when:
        return True
    for other, wanted in entry.when.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if other not in values or values[other] not in options:
            return False
    return True


def order(space: Space) -> list[str]:
    """Parameters ordered so each comes after those its `when` reads (define-by-run needs this)."""
    done: list[str] = []
    pending = list(space)
    while pending:
        progressed = False
        for name in list(pending):
            entry = space[name]
            deps = list(entry.when) if isinstance(entry, Dist) and entry.when else []
            if all(d in done or d not in space for d in deps):
                done.append(name)
                pending.remove(name)
                progressed = True
        if not progressed:
            raise ConfigError("space." + pending[0] + ".when", "must not form a cycle", pending)
    return done


def fixed_params(space: Space, chosen: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The active parameters: `chosen` values where given, else each one's default; inactive ones dropped."""
    chosen = dict(chosen or {})
    values: dict[str, Any] = {}
    for name in order(space):
        entry = space[name]
        if not applies(entry, values):
            continue
        if name in chosen:
            values[name] = chosen[name]
        elif isinstance(entry, Dist):
            values[name] = entry.fallback_default()
        else:
            values[name] = entry
    return values


def full_params(active: Mapping[str, Any], task: str = "gan") -> dict[str, Any]:
    """The trainer's view: every hyperparameter, active ones as given, the rest at their defaults."""
    out = {name: p.default for name, p in HPARAM_TABLES[task].items()}
    out.update(active)
    return out

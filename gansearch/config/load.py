"""YAML -> validated `SpaceFile`, with every mistake reported as `<field path>: <rule>, got <value>`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gansearch.config import names
from gansearch.config.schema import SECTIONS, Dist, SpaceFile
from gansearch.config.plugins import is_plugin
from gansearch.config.space import check_space, searchable
from gansearch.config.style import check_style
from gansearch.errors import ConfigError, ConfigErrors

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float (YAML 1.1 insists on `1.0e-4`, a classic trap)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load(path: str | os.PathLike[str], overrides: list[str] | None = None) -> SpaceFile:
    """Read, override and validate a space file; raise ConfigErrors listing every problem."""
    raw = read_yaml(path)
    for item in overrides or []:
        apply_override(raw, item)
    return validate(raw, where=str(path))


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "space file must exist", str(path)) from None
    except IsADirectoryError:
        raise ConfigError(str(path), "space file must be a file, not a folder", str(path)) from None
    except OSError as e:
        raise ConfigError(str(path), f"space file must be readable ({e.strerror})", str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), f"must be UTF-8 text (bad byte at offset {e.start})", data[e.start : e.start + 4]) from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise ConfigError(str(path), f"must be valid YAML ({problem}{where})", None, show_value=False) from None
    except RecursionError:
        raise ConfigError(str(path), "must be valid YAML (nesting too deep)", None, show_value=False) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "must be a mapping of sections (data, model, train, eval, space)", raw)
    return raw


def apply_override(raw: dict[str, Any], item: str) -> None:
    """`train.steps=100` sets a field; a bare hyperparameter name (`lr_d=1e-3`) fixes that space entry."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", "must look like key=value", item)
    try:
        value = yaml.load(text, Loader=_Loader) if text.strip() else None  # noqa: S506
    except yaml.YAMLError:
        value = text
    parts = key.split(".")
    if len(parts) == 1:
        parts = ["space", parts[0]]
    elif parts[0] == "space" and len(parts) > 2:  # space.model.g_width: the searched field model.g_width
        parts = ["space", ".".join(parts[1:])]
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}", "must name a field inside a section", item)
        node = nxt
    node[parts[-1]] = value


def validate(raw: dict[str, Any], where: str = "<space>") -> SpaceFile:
    try:
        cfg = SpaceFile.model_validate(raw)
    except ValidationError as e:
        raise ConfigErrors(_pydantic_errors(e)) from None
    except RecursionError:
        raise ConfigErrors([ConfigError("(top level)", "must not nest this deep", None, show_value=False)]) from None
    errors: dict[str, ConfigError] = {}
    errs = check_sections(cfg) + check_style(cfg)
    if not any(e.path == "model.name" for e in errs):  # a plug-in's own parameters need it importable
        try:
            table = searchable(cfg)
        except ConfigError as e:
            errs.append(e)
        else:
            errs += check_space(cfg.space, cfg.task, table)
    for err in errs:
        errors.setdefault(err.path, err)  # the first rule broken at a field is the one to fix
    if errors:
        raise ConfigErrors(list(errors.values()))
    return cfg


def model_rule(is_image: bool, dataset: str | None = None) -> str:
    """The rule a model name of the wrong kind for the data breaks, from the name tables (validation and
    the trainer's `build_models` say the same): which models suit the data, and what auto builds there."""
    allowed = names.IMAGE_MODELS if is_image else names.POINT_MODELS
    data = (f"the {'image' if is_image else '2D'} dataset {dataset}" if dataset is not None
            else "image data" if is_image else "2D point data")
    auto = names.AUTO_MODEL["image" if is_image else "points"]
    return f"must be auto or one of {', '.join(allowed)} for {data} (auto builds {auto})"


def _check_models(cfg: SpaceFile, is_image: bool) -> list[ConfigError]:
    """The model section's name, or every choice of a searched `space.model`, must suit the data."""
    m, d = cfg.model, cfg.data
    entry = cfg.space.get("model")
    if entry is not None and m.name != "auto":
        return [ConfigError("space.model", "must not be searched when model.name is set (set model.name: auto)",
                            m.name)]
    where, models = "model.name", [m.name]
    if isinstance(entry, Dist):
        where, models = "space.model.choices", list(entry.choices or [])
    elif entry is not None:
        where, models = "space.model", [entry]
    allowed = names.IMAGE_MODELS if is_image else names.POINT_MODELS
    errs = [ConfigError(where, model_rule(is_image, d.name), name)
            for name in models if name in names.MODELS and name not in ("auto", *allowed)]
    if m.depth and any(name in ("msg", "progressive") for name in models):
        errs.append(ConfigError("model.depth", "must be 0 for msg and progressive (their blocks are fixed)", m.depth))
    if cfg.train.compile and "progressive" in models:
        errs.append(ConfigError("train.compile", "must be false for progressive (its fade-in weight changes every "
                                "step, and each value would compile again)", True))
    return errs


def check_sections(cfg: SpaceFile) -> list[ConfigError]:
    """Rules that span fields or need the name tables."""
    errs: list[ConfigError] = []
    d, m, t, ev = cfg.data, cfg.model, cfg.train, cfg.eval
    if d.name not in names.DATASETS and not is_plugin(d.name):
        errs.append(ConfigError("data.name", "must be one of " + ", ".join(names.DATASETS) + " or a plug-in's "
                                "import path package.module:function", d.name))
    if m.name not in names.MODELS and not is_plugin(m.name):
        errs.append(ConfigError("model.name", "must be one of " + ", ".join(names.MODELS) + " or a plug-in's "
                                "import path package.module:function", m.name))
    is_image = names.is_image_data(d.name)  # a plug-in dataset (package.module:function) returns images
    if is_image and d.image_size not in names.IMAGE_SIZES:
        errs.append(ConfigError("data.image_size", "must be one of " + ", ".join(map(str, names.IMAGE_SIZES))
                                + " for image datasets", d.image_size))
    errs += _check_models(cfg, is_image)
    if d.root is not None and not Path(d.root).expanduser().exists():
        errs.append(ConfigError("data.root", "must be an existing folder", d.root))
    if not _DEVICE.match(t.device):
        errs.append(ConfigError("train.device", "must be auto, cpu, mps, cuda or cuda:N", t.device))
    if ev.feature_net not in names.FEATURE_NETS:
        errs.append(ConfigError("eval.feature_net", "must be one of " + ", ".join(names.FEATURE_NETS), ev.feature_net))
    if ev.feature_net == "inception" and d.name in names.POINT_DATASETS:
        errs.append(ConfigError("eval.feature_net", "must not be inception for 2D points", ev.feature_net))
    if ev.inception_weights is not None and not Path(ev.inception_weights).expanduser().is_file():
        errs.append(ConfigError("eval.inception_weights", "must be an existing weights file", ev.inception_weights))
    if t.precision == "bf16" and d.name in names.POINT_DATASETS:
        errs.append(ConfigError("train.precision", "must be fp32 or auto for 2D points (bf16 rounding is the "
                                "size of a mode's std)", t.precision))
    if ev.kid and ev.kid_subset_size > ev.num_samples:
        errs.append(ConfigError("eval.kid_subset_size", f"must be <= eval.num_samples ({ev.num_samples})", ev.kid_subset_size))
    return errs


def _pydantic_errors(e: ValidationError) -> list[ConfigError]:
    out: list[ConfigError] = []
    seen: set[str] = set()
    for err in e.errors(include_url=False):
        loc = [str(x) for x in err["loc"]]
        # A space entry is "fixed scalar or distribution": report the distribution's complaint only.
        if len(loc) >= 2 and loc[0] == "space":
            loc = [p for p in loc if not p.startswith(("function-", "Strict", "bool", "int", "float", "str"))]
            if len(loc) >= 3 and loc[2] == "Dist":
                loc = loc[:2] + loc[3:]
            elif len(loc) == 2 and err["type"] not in ("missing",):
                if isinstance(err["input"], dict):
                    continue  # the Dist branch reports it
        path = ".".join(loc) or "(top level)"
        if path in seen:
            continue
        seen.add(path)
        out.append(ConfigError(path, _rule(err, loc), err.get("input")))
    return out or [ConfigError("(top level)", "must be a valid space file", None, show_value=False)]


def _rule(err: dict[str, Any], loc: list[str]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "see the docs"
        return f"unknown key (allowed: {allowed})"
    if kind == "model_type" or kind == "dict_type":
        return "must be a mapping"
    if kind == "literal_error":
        return "must be " + err["msg"].removeprefix("Input should be ")
    msg = err["msg"]
    msg = msg.removeprefix("Input should be ").removeprefix("Value error, ")
    return "must be " + msg if not msg.startswith("must") else msg


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    if not loc:
        return SpaceFile
    if loc[0] == "space" and len(loc) == 2:
        return Dist
    return SECTIONS.get(loc[0]) if len(loc) == 1 else None

"""The space file's reference, written from the pydantic models and the name tables themselves, so the
docs (docs/spaces.md, through mkdocs_hooks.py) can't drift from what `gansearch validate` accepts."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gansearch.config import names, schema
from gansearch.config.hparams import HPARAMS, HParam
from gansearch.config.style import STYLE_HPARAMS

def _nested(annotation: Any, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    """The models an annotation holds, each with how its key continues: `[]` for a list's items, `.<name>`
    for a map's values (`space.<name>`), nothing for a plain or optional section."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, suffix)]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return [m for a in args for m in _nested(a, suffix + "[]")]
    if origin is dict:
        return [m for a in args[1:] for m in _nested(a, suffix + ".<name>")]
    return [m for a in args for m in _nested(a, suffix)]


def _sections(key: str, model: type[BaseModel], purpose: str) -> list[tuple[str, type[BaseModel], str]]:
    out = [(key, model, purpose)]
    for name, field in model.model_fields.items():
        for sub, suffix in _nested(field.annotation):
            out += _sections(f"{key}.{name}{suffix}" if key else f"{name}{suffix}", sub, field.description or "")
    return out


# (section key, model, what the section is for: the description of the field that holds it), depth first in
# the schema's own order, found through the annotations so a new nested section can't be left out
SECTIONS: list[tuple[str, type[BaseModel], str]] = _sections("", schema.SpaceFile, "the file's top level")

# the plug-in families a space file names, each an explicit table
NAME_TABLES: dict[str, tuple[str, ...]] = {
    "data.name": names.DATASETS + ("package.module:function",),
    "model.name": names.MODELS + ("package.module:function",),
    "loss": names.LOSSES,
    "balance": names.BALANCE,
    "eval.feature_net": names.FEATURE_NETS,
    "search.sampler": typing.get_args(schema.SearchConfig.model_fields["sampler"].annotation),
    "search.scheduler": typing.get_args(schema.SearchConfig.model_fields["scheduler"].annotation),
}


def type_name(annotation: Any) -> str:
    """A field's type as a YAML writer reads it: int, number, string, true/false, a list of choices."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        parts = [type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return text + (" or null" if type(None) in typing.get_args(annotation) else "")
    if origin in (list, dict):
        return {list: "list", dict: "map"}[origin]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    # Strict* types are Annotated[...]: their origin is the plain type
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    return {bool: "true/false", int: "integer", float: "number", str: "string"}.get(base, str(base))


def bounds(field: FieldInfo) -> str:
    """The numeric and length limits pydantic enforces, written as a range."""
    out = []
    for m in field.metadata:
        for cls, attr, sym in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<")):
            if isinstance(m, cls):
                value = getattr(m, attr)
                out.append(f"{sym} {value}" if isinstance(value, int) and abs(value) < 10**7 else f"{sym} {value:.3g}")
        if isinstance(m, MinLen):
            out.append(f"at least {m.min_length} item(s)")
    return ", ".join(out)


def default_text(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        return "required"
    if isinstance(field.default, BaseModel):
        return "(section)"
    value = field.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if value != [] else "`[]`"


def section_table(key: str, model: type[BaseModel], purpose: str) -> str:
    title = f"`{key}`" if key else "top level"
    rows = [f"### {title}", "", f"{purpose[0].upper()}{purpose[1:]}.", "",
            "| field | type | default | limits | meaning |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        dotted = f"{key}.{name}" if key else name
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{dotted}` | {type_name(field.annotation)} | {default_text(field)} | {bounds(field)} "
                    f"| {meaning} |")
    return "\n".join(rows)


def hparam_table(table: dict[str, HParam]) -> str:
    rows = ["| name | values | default | applies when | meaning |", "|---|---|---|---|---|"]
    for name, p in table.items():
        when = f"`{p.used_when[0]}: {p.used_when[1]}`" if p.used_when else "always"
        rows.append(f"| `{name}` | {p.rule().removeprefix('must be ')} | `{p.default}` | {when} | {p.doc} |")
    return "\n".join(rows)


def markdown() -> str:
    """The whole reference: every section's fields, the hyperparameters, the name tables."""
    parts = ["## Sections and fields",
             "Unknown keys are refused, as are values outside a field's limits: one line naming the field, "
             "the rule and the value, exit 2."]
    parts += [section_table(*s) for s in SECTIONS]
    parts += ["## Hyperparameters (`space`)",
              "The same name in YAML, code, Optuna and MLflow. Besides these, any scalar field of `model` and "
              "`train` by its dotted name, and a plug-in model's own keyword parameters by their bare names.",
              hparam_table(HPARAMS), "With `task: style_transfer`:", hparam_table(STYLE_HPARAMS), "## Names"]
    parts.append("\n".join(["| field | valid names |", "|---|---|"]
                           + [f"| `{k}` | {', '.join(f'`{v}`' for v in vals)} |" for k, vals in NAME_TABLES.items()]))
    return "\n\n".join(p for p in parts if p) + "\n"

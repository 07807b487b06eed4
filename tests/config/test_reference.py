"""The docs' space-file reference (gansearch.config.reference, built into docs/spaces.md by mkdocs_hooks.py)
covers the whole schema: every section model reachable from SpaceFile, every field with its meaning, every
hyperparameter and name table. A field added without a description, or a new nested section, fails here."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from gansearch.config import reference
from gansearch.config.hparams import HPARAMS
from gansearch.config.schema import SpaceFile
from gansearch.config.style import STYLE_HPARAMS


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """Every pydantic model a space file can hold, found through the annotations themselves."""
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel) and t not in seen:
                _models(t, seen)
            stack.extend(typing.get_args(t))
    return seen


def test_every_section_of_the_schema_is_in_the_reference() -> None:
    listed = {model for _, model, _ in reference.SECTIONS}
    assert _models(SpaceFile, set()) == listed


def test_every_field_has_a_row_and_a_meaning() -> None:
    text = reference.markdown()
    for key, model, _ in reference.SECTIONS:
        for name, field in model.model_fields.items():
            dotted = f"{key}.{name}" if key else name
            assert f"| `{dotted}` |" in text, dotted
            assert field.description, f"{dotted} has no description: the docs would show an empty meaning"
    for name in [*HPARAMS, *STYLE_HPARAMS]:
        assert f"| `{name}` |" in text, name


def test_rows_show_the_limits_pydantic_enforces() -> None:
    text = reference.markdown()
    assert "| `search.asha.reduction_factor` | integer | `3` | ≥ 2, ≤ 16 |" in text
    assert "| `train.precision` | `auto` \\| `fp32` \\| `bf16` | `auto` |" in text
    assert "| `search.pbt.perturbation_interval` | integer | required | ≥ 1 |" in text
    assert "| `lr_g` | a number in (0, 1] | `0.0002` | always |" in text
    assert "| `n_critic` | an integer in [1, 100] | `5` | `balance: n_critic` |" in text

"""The `task:` name table: which trainer a trial runs. Both have the surface the search uses
(`cls(cfg, run_dir, params)`, `restore()`, `run(report, progress)`, `records.evals`, `start_step`,
`save_checkpoint(step, path)`), so tracking, the report and the export need no other special case.
Imported lazily: naming a task costs no torch."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping

TASKS: dict[str, tuple[str, str]] = {
    "gan": ("gansearch.trainer.loop", "Trainer"),
    "style_transfer": ("gansearch.style.trainer", "StyleTrainer"),
}


def trainer_class(task: str) -> Any:
    if task not in TASKS:
        from gansearch.errors import ConfigError

        raise ConfigError("task", "must be one of " + ", ".join(TASKS), task)
    module, name = TASKS[task]
    return getattr(importlib.import_module(module), name)


def train(cfg: Any, out_dir: str | Path, params: Mapping[str, Any] | None = None,
          report: Callable[..., None] | None = None, progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """`gansearch train` for any task: the space file's defaults unless `params` are given."""
    from gansearch.config import fixed_params

    active = dict(params) if params is not None else fixed_params(cfg.space)
    return trainer_class(cfg.task)(cfg, Path(out_dir), active).run(report, progress)

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


def _module(task: str) -> Any:
    if task not in TASKS:
        from gansearch.errors import ConfigError

        raise ConfigError("task", "must be one of " + ", ".join(TASKS), task)
    return importlib.import_module(TASKS[task][0])


def trainer_class(task: str) -> Any:
    return getattr(_module(task), TASKS[task][1])


def train(cfg: Any, out_dir: str | Path, params: Mapping[str, Any] | None = None,
          report: Callable[..., None] | None = None, progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """`gansearch train` for any task: the task's own `train` (the space file's defaults unless `params`)."""
    return _module(cfg.task).train(cfg, out_dir, params, report, progress)

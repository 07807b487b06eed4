"""The `task:` name table: which trainer a trial runs. Both have the surface the search uses
(`cls(cfg, run_dir, params)`, `restore()`, `run(report, progress)`, `records.evals`, `start_step`,
`save_checkpoint(step, path)`), so tracking, the report and the export need no other special case.
Imported lazily: naming a task costs no torch."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

TASKS: dict[str, tuple[str, str]] = {
    "gan": ("gansearch.trainer.loop", "Trainer"),
    "style_transfer": ("gansearch.style.trainer", "StyleTrainer"),
}


def _module(task: str) -> Any:
    if task not in TASKS:
        from gansearch.errors import ConfigError

        raise ConfigError("task", "must be one of " + ", ".join(TASKS), task)
    return importlib.import_module(TASKS[task][0])


class TaskTrainer(Protocol):
    """What a trial needs of a task's trainer (gansearch.trainer.loop.Trainer, gansearch.style.trainer.
    StyleTrainer): the contract at the Ray boundary, checked by a type checker instead of read in prose."""

    records: Any  # `.evals`: the evaluation records so far (trainer.records.Records, style.records.StyleRecords)
    start_step: int | None  # the restored checkpoint's step; None for a fresh run
    precision: str  # "bf16" or "fp32", as trained
    placement: dict[str, Any]  # where the search put the run (gansearch.search.devices.placement)
    params: dict[str, Any]

    def __init__(self, cfg: Any, out_dir: Path, params: dict[str, Any]) -> None: ...

    def restore(self) -> bool: ...

    def run(self, report: Callable[..., None] | None = None,
            progress: Callable[..., None] | None = None) -> dict[str, Any]: ...

    def save_checkpoint(self, step: int, path: Path | None = None) -> Path: ...


class PopulationTrainer(TaskTrainer, Protocol):
    """A trainer PBT/PB2 can run (the GAN trainer): it adopts a donor's checkpoint and keeps the lineage."""

    lineage: list[dict[str, Any]]

    def adopt(self, donor_path: Path, event: dict[str, Any]) -> int: ...


def trainer_class(task: str) -> type[TaskTrainer]:
    return getattr(_module(task), TASKS[task][1])


def train(cfg: Any, out_dir: str | Path, params: Mapping[str, Any] | None = None,
          report: Callable[..., None] | None = None, progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """`gansearch train` for any task: the task's own `train` (the space file's defaults unless `params`)."""
    return _module(cfg.task).train(cfg, out_dir, params, report, progress)

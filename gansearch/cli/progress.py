"""A rich progress bar around `trainer.train`: step, losses and the last FID."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from gansearch.config import SpaceFile


def run_with_progress(cfg: SpaceFile, out: Path, quiet: bool = False) -> dict[str, Any]:
    from gansearch.search.tasks import train  # the space file's task: a GAN, or style transfer

    if quiet:
        return train(cfg, out)
    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("train", total=cfg.train.steps, info="")

        def progress(step: int, fields: dict[str, float]) -> None:
            info = f"d {fields['d_loss']:.3f} g {fields['g_loss']:.3f}" if "d_loss" in fields else ""
            for name, value in fields.items():  # the last evaluation's headline metric (style: also the loss)
                if name not in ("d_loss", "g_loss"):
                    info += f" {name} {value:.3f}"
            bar.update(task, completed=step, info=info)

        return train(cfg, out, progress=progress)

"""What every member of a PBT/PB2 population runs on the trial side (gansearch.search.population is the
driver's): which member wrote a Tune checkpoint, where a donor's checkpoint waits while it is adopted, and
the member's record of its schedule. It imports no driver module (only the trainer contract in tasks),
so the trainable needs none either."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gansearch.config import SpaceFile, layout
from gansearch.config.lineage import schedule
from gansearch.search.tasks import PopulationTrainer

OWNER = "owner.json"  # in each Tune checkpoint: which member wrote it, at which step
DONOR_FILE = "donor-checkpoint.pt"  # in a member's folder while it adopts another's checkpoint


def owner(checkpoint_dir: Path) -> dict[str, Any] | None:
    path = checkpoint_dir / OWNER
    return json.loads(path.read_text()) if path.exists() else None


def record(run: Any, trainer: PopulationTrainer, cfg: SpaceFile, run_dir: Path) -> None:
    """A member's schedule and lineage, from its checkpoint's lineage (so a resumed member writes the same):
    `hp/<name>` points not logged yet, the exploited-from tag, and `pbt.json` in its folder."""
    from gansearch.tracking import conventions as cv

    assert cfg.search.pbt is not None
    names = cfg.search.pbt.mutate
    points = schedule(trainer.lineage, trainer.params)
    for name in names:
        run.log_points(cv.HP_PREFIX + name, [(e["step"], float(e["params"][name])) for e in points if name in e["params"]])
    if trainer.lineage:
        run.set_tag(cv.TAG_PBT_FROM, ",".join(f"{e['from']}@{e['step']}" for e in trainer.lineage))
    (run_dir / layout.PBT_JSON).write_text(json.dumps({
        "initial": points[0]["params"], "params": trainer.params, "mutate": names,
        "lineage": trainer.lineage}, indent=2))

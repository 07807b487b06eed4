"""What every member of a PBT/PB2 population runs on the trial side (gansearch.search.population is the
driver's): which member wrote a Tune checkpoint, where a donor's checkpoint waits while it is adopted, and
the member's record of its schedules (gansearch.config.lineage). It imports no driver module (only the
trainer contract in tasks), so the trainable needs none either.

What an exploit leaves in MLflow. Params are immutable, so they keep the member's initial configuration;
what is in force is recorded beside them, every searched name at every step the member's run changed
configuration (an exploit copies the donor's whole configuration, not only the names in `mutate`):
- metric `hp/<name>`: the value; for a categorical, the index of its value in the space's `choices`;
  NaN at a step where a conditional name is not in force;
- tag `hp/<name>` (categoricals only): the values by step, `value@step` comma-separated, oldest first;
- tags `loss` and `strategy` (balance): the values in force now, so grouping runs by them is right.
pbt.json holds both schedules in full.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gansearch.config import Dist, SpaceFile, layout
from gansearch.config.lineage import run_schedule, schedule
from gansearch.files import atomic_write_text
from gansearch.search.tasks import PopulationTrainer

OWNER = "owner.json"  # in each Tune checkpoint: which member wrote it, at which step
DONOR_FILE = "donor-checkpoint.pt"  # in a member's folder while it adopts another's checkpoint
INACTIVE = "-"  # in an `hp/<name>` tag: the (conditional) name is not in force from that step


def owner(checkpoint_dir: Path) -> dict[str, Any] | None:
    path = checkpoint_dir / OWNER
    return json.loads(path.read_text()) if path.exists() else None


def record(run: Any, trainer: PopulationTrainer, cfg: SpaceFile, run_dir: Path) -> None:
    """A member's schedules and lineage, from its checkpoint's lineage (so a resumed member writes the same;
    each exploit's entry holds the donor's schedule at the copy, which Trainer.adopt read from the donor's
    checkpoint): the MLflow records (module docstring), the exploited-from tag, and `pbt.json` in its folder."""
    from gansearch.tracking import conventions as cv

    assert cfg.search.pbt is not None
    own = run_schedule(trainer.lineage, trainer.params)
    for name, points in hp_points(own, cfg.space).items():
        run.log_points(cv.HP_PREFIX + name, points)
    tags = {**cv.trial_tags(trainer.params), **hp_tags(own, cfg.space)}
    if trainer.lineage:
        tags[cv.TAG_PBT_FROM] = ",".join(f"{e['from']}@{e['step']}" for e in trainer.lineage)
    for key, value in tags.items():
        run.set_tag(key, value)
    atomic_write_text(run_dir / layout.PBT_JSON, json.dumps({
        "initial": own[0]["params"], "params": trainer.params, "mutate": cfg.search.pbt.mutate,
        "run_schedule": own, "schedule": schedule(trainer.lineage, trainer.params),
        "lineage": trainer.lineage}, indent=2))


def searched(space: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> dict[str, Dist]:
    """The space's distributions that are in force at some step of `steps`, in space-file order."""
    return {n: d for n, d in space.items() if isinstance(d, Dist) and any(n in s["params"] for s in steps)}


def hp_value(d: Dist, value: Any) -> float:
    """An `hp/<name>` metric value: the number; a categorical's index in `choices`; NaN when not in force."""
    if value is None:
        return math.nan
    if d.type == "categorical":
        return float(next((i for i, c in enumerate(d.choices or []) if type(c) is type(value) and c == value), math.nan))
    return float(value)


def hp_points(steps: Sequence[Mapping[str, Any]], space: Mapping[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """name -> [(step, hp_value)], one point per entry of the run's schedule."""
    return {n: [(int(s["step"]), hp_value(d, s["params"].get(n))) for s in steps] for n, d in searched(space, steps).items()}


def hp_tags(steps: Sequence[Mapping[str, Any]], space: Mapping[str, Any]) -> dict[str, str]:
    """`hp/<name>` -> "value@step,...": each categorical's values as they are, by step."""
    from gansearch.tracking import conventions as cv

    return {cv.HP_PREFIX + n: ",".join(f"{s['params'].get(n, INACTIVE)}@{s['step']}" for s in steps)
            for n, d in searched(space, steps).items() if d.type == "categorical"}

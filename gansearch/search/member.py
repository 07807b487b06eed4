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
from gansearch.config.lineage import DONOR_SCHEDULE, run_schedule, schedule
from gansearch.files import atomic_write_text
from gansearch.search.tasks import PopulationTrainer

OWNER = "owner.json"  # in each Tune checkpoint: which member wrote it, at which step
DONOR_FILE = "donor-checkpoint.pt"  # in a member's folder while it adopts another's checkpoint
INACTIVE = "-"  # in an `hp/<name>` tag: the (conditional) name is not in force from that step


def owner(checkpoint_dir: Path) -> dict[str, Any] | None:
    path = checkpoint_dir / OWNER
    return json.loads(path.read_text()) if path.exists() else None


def record(run: Any, trainer: PopulationTrainer, cfg: SpaceFile, run_dir: Path) -> None:
    """A member's schedules and lineage, from its checkpoint's lineage (so a resumed member writes the same).
    Each exploit first gets the donor's schedule at the copy, in the trainer's lineage, so every later
    checkpoint (and the export made from it) carries the history of its weights; then the MLflow records
    (module docstring) not logged yet, the exploited-from tag, and `pbt.json` in its folder."""
    from gansearch.tracking import conventions as cv

    assert cfg.search.pbt is not None
    for e in trainer.lineage:
        if DONOR_SCHEDULE not in e:
            found = donor_schedule(e, run_dir)
            if found is not None:
                e[DONOR_SCHEDULE] = found
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


def donor_schedule(entry: Mapping[str, Any], run_dir: Path) -> list[dict[str, Any]] | None:
    """The `schedule` of the donor's weights at the copy: from the donor's checkpoint this trial was restored
    from (Tune's, found on any node), else from the donor's pbt.json in the study folder (a member resumed
    from its folder); None when neither holds it."""
    donor_step = int(entry.get("donor_step", entry["step"]))
    return _from_tune_checkpoint(entry["from"], donor_step) or _from_study_folder(entry["from"], donor_step, run_dir)


def _from_tune_checkpoint(donor: str, donor_step: int) -> list[dict[str, Any]] | None:
    import torch
    from ray import tune

    try:
        restored = tune.get_checkpoint()
    except Exception:  # noqa: BLE001 - outside a Tune session
        return None
    if restored is None:
        return None
    with restored.as_directory() as d:
        wrote = owner(Path(d))
        if wrote is None or wrote["key"] != donor or int(wrote["step"]) != donor_step:
            return None
        # mmap: only the two strings are read, not the weights
        state = torch.load(Path(d) / layout.CHECKPOINT, map_location="cpu", weights_only=True, mmap=True)
        return schedule(json.loads(state.get("lineage", "[]")), json.loads(state["params"]))


def _from_study_folder(donor: str, donor_step: int, run_dir: Path) -> list[dict[str, Any]] | None:
    try:
        p = json.loads((run_dir.parent / donor / layout.PBT_JSON).read_text())
    except (OSError, ValueError):
        return None
    # the donor's checkpoint at donor_step was written before any exploit of its own at that step
    return schedule([e for e in p["lineage"] if int(e["step"]) < donor_step], p["initial"])

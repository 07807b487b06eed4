"""A PBT member's two schedules, read from the lineage its trainer keeps in every checkpoint (one entry per
exploit: step, from, donor_step, before, params, donor_schedule).

- `run_schedule`: the configuration the member's own run trained with from each step: its initial one,
  then the one each exploit put in force (every name, categoricals included: an exploit copies the
  donor's whole configuration). Its MLflow `hp/<name>` history and pbt.json's `run_schedule`.
- `schedule`: the schedule that made its weights. An exploit replaces the weights (and Adam's moments)
  with the donor's, so the history of the weights before the copy is the donor's schedule up to that step
  (its own copies included, recursively), not the member's. Ray's PBT replays the donor's policy for the
  same reason. pbt.json's `schedule`, the export's config.json and the report draw it from here alike.

`donor_schedule` is the donor's `schedule` at the copy, read from the donor's checkpoint by
Trainer.adopt, which loads it anyway; the donor's own entry carries its donor's, so one
checkpoint resolves the whole chain. Without it (a checkpoint from before gansearch recorded it) the
weights' history before the copy is unknown, and the schedule starts at the copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DONOR_SCHEDULE = "donor_schedule"  # in a lineage entry: the donor's `schedule` at the copy


def _entry(e: Mapping[str, Any]) -> dict[str, Any]:
    return {"step": int(e["step"]), "from": e["from"], "params": dict(e["params"])}


def run_schedule(lineage: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{step, from, params}]: the member's own start (`from` None; the params before its first exploit,
    else `params`), then one entry per exploit, from that step on, with the donor it copied (`from`)."""
    first = lineage[0]["before"] if lineage else params
    return [{"step": 0, "from": None, "params": dict(first)}] + [_entry(e) for e in lineage]


def schedule(lineage: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{step, from, params}]: the settings the weights were trained with from each step. Before the last
    exploit that is the donor's schedule up to the copy (`from` on an entry: whose weights were copied
    there, by whichever member then held them); from the copy on, the member's own."""
    if not lineage:
        return run_schedule(lineage, params)
    last = lineage[-1]
    before = last.get(DONOR_SCHEDULE) or []
    return [_entry(e) for e in before if int(e["step"]) < int(last["step"])] + [_entry(last)]


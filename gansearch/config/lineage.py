"""A PBT member's schedule: the hyperparameters in force from each step, read from the lineage its
trainer keeps in every checkpoint. The member's record (pbt.json, `hp/<name>` in MLflow), the export's
config.json and the report draw it from here alike."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def schedule(lineage: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{step, from, params}]: the start (`from` None; the params before the first exploit, else `params`),
    then one entry per exploit, from that step on, with the donor it copied (`from`)."""
    first = lineage[0]["before"] if lineage else params
    return [{"step": 0, "from": None, "params": dict(first)}] + [
        {"step": int(e["step"]), "from": e["from"], "params": dict(e["params"])} for e in lineage]

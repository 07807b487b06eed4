"""Shared by the export tests: train a small ring8 run and export it as the study's rank-1 generator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def export_ring8(tmp: Path, overrides: list[str], study: str = "ring8") -> tuple[Any, dict, Path, dict]:
    """(config, the run's last metrics record, the export folder, export_trial's body)."""
    from gansearch.config import load
    from gansearch.export import manifest
    from gansearch.export.package import export_trial
    from gansearch.trainer import train

    cfg = load(ROOT / "search_spaces" / "ring8.yaml", overrides)
    run = tmp / "run"
    train(cfg, run)
    rec = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
    export = tmp / "export"
    info = {"study": study, "rank": 1, "trial_key": "t0", "metric": "mode_score", "mode": "max", "ranked_by": "value",
            "rank_value": rec["mode_score"], "status": "completed", "mlflow_run_id": None,
            "metrics": {k: v for k, v in rec.items() if k not in ("step", "grid")}}
    body = export_trial(run / "checkpoint.pt", export / "1-t0", info)
    manifest.write(export, {"study": study, "metric": "mode_score", "mode": "max"},
                   [{"folder": "1-t0", "rank": 1, "trial_key": "t0"}])
    return cfg, rec, export, body

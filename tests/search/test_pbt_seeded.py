"""PBT studies are reproducible from `search.seed`, and a copy of a copy is recorded as what it is.

Two in-process studies of the tiny digits space with the same search.seed: 4 members, 30 steps, a
perturbation every 10 with quantile_fraction 0.5, so at each of the two rounds the 2 worst each draw a
donor among the 2 best (4 draws). The driver's global `random` is seeded differently before each: Ray drew
the donor from it, the study must not. The first study then shows, for the member that copied a member
that had itself copied another, that pbt.json, the checkpoint MLflow keeps (what `gansearch export`
packages) and the report's PBT section all give the schedule that made its weights: the donor's history
before the copy, recursively; and that every exploit's whole configuration (the loss, the balance) is
recorded in MLflow at the step it came into force. Last, the importance sample of a PBT study: every
member's initial configuration at the first perturbation, not the survivors.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from study_helpers import DIGITS, child_runs, jsonl
from test_pbt import assert_in_force_recorded, made_weights

pytestmark = pytest.mark.slow
STEPS, INTERVAL, N = 30, 10, 4
SETTINGS = ["search.scheduler=pbt", f"train.steps={STEPS}",
            (f"search.pbt={{perturbation_interval: {INTERVAL}, quantile_fraction: 0.5, resample_probability: 0.0, "
             "mutate: [lr_g, lr_d]}")]


def _study(out: Path, global_seed: int) -> dict[str, dict[str, Any]]:
    """Run the study in this process (the driver is the test); returns each member's pbt.json."""
    from gansearch.config import load
    from gansearch.search.study import run_study

    random.seed(global_seed)
    run_study(load(DIGITS, SETTINGS), DIGITS, out, num_trials=N, echo=lambda s: None)
    keys = [m["key"] for m in json.loads((out / "population.json").read_text())]
    return {k: json.loads((out / "trials" / k / "pbt.json").read_text()) for k in keys}


def _donors(pbt: dict[str, dict[str, Any]]) -> list[tuple[int, str, str]]:
    return sorted((e["step"], k, e["from"]) for k, p in pbt.items() for e in p["lineage"])


def _exported_schedule(out: Path, run: Any, key: str, tmp: Path) -> Any:
    """config.json's `schedule` of the member's export, made from the checkpoint its MLflow run keeps."""
    from gansearch.export.package import export_trial
    from gansearch.tracking import artifacts

    uri = json.loads((out / "study.json").read_text())["tracking_uri"]
    ckpt = artifacts.download_checkpoint(uri, run.info.run_id, tmp / "download")
    assert ckpt is not None
    info = {"study": out.name, "rank": 1, "trial_key": key, "metric": "fd_classifier", "mode": "min",
            "ranked_by": "value", "rank_value": 0.0, "status": "completed", "mlflow_run_id": run.info.run_id,
            "metrics": {}}
    export_trial(ckpt, tmp / "export", info)
    return json.loads((tmp / "export" / "config.json").read_text()).get("schedule")


def test_pbt_same_seed_same_donors_and_copies_of_copies_recorded(tmp_path: Path, ray_up: None) -> None:
    from gansearch.analysis.pbt_figures import pbt_section, schedules
    from gansearch.search.population import first_round_trials
    from gansearch.search.report import load_optuna

    out = tmp_path / "a"
    pbt = _study(out, 1)
    donors = _donors(pbt)
    assert [s for s, _, _ in donors] == [10, 10, 20, 20], donors  # two draws among two donors per round
    assert _donors(_study(tmp_path / "b", 2)) == donors

    # a copy of a copy: a member whose last donor had copied another before; its weights' schedule holds both
    chains = [k for k, p in pbt.items() if p["lineage"] and any(
        x["step"] < p["lineage"][-1]["step"] for x in pbt[p["lineage"][-1]["from"]]["lineage"])]
    assert chains, donors
    c, runs, _ = child_runs(json.loads((out / "study.json").read_text())["tracking_uri"], out)
    by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
    section = pbt_section([(k, out / "trials" / k, STEPS) for k in pbt], STEPS, lambda n: n in ("lr_g", "lr_d"))
    assert section is not None
    members = {m["key"]: m for m in section["members"]}
    for key in chains:
        want = made_weights(pbt, key)
        assert len(want) >= 3 and want[0]["step"] == 0, want
        assert pbt[key]["schedule"] == want == members[key]["schedule"]
        assert _exported_schedule(out, by_key[key], key, tmp_path / key) == [
            {k: v for k, v in x.items() if v is not None} for x in want]

    # every exploit's whole configuration, in force from its step: MLflow, pbt.json, the report
    assert any(e["params"][n] != e["before"][n] for _, p in pbt.items() for e in p["lineage"] for n in ("loss", "balance"))
    assert {"loss", "balance"} <= set(section["names"])
    fig = schedules(section)
    panel = section["names"].index("loss") + 1
    axis = "x" if panel == 1 else f"x{panel}"
    for key, p in pbt.items():
        assert_in_force_recorded(c, by_key[key], p)
        assert members[key]["run_schedule"] == p["run_schedule"]
        line = [t for t in fig.data if t.name == key and t.mode == "lines" and t.xaxis == axis]
        assert [list(t.y) for t in line] == [[s["params"]["loss"] for s in p["schedule"]] + [p["params"]["loss"]]]

    # importance: every member's initial configuration at the first perturbation, not only the survivors
    study = load_optuna(out)
    used, excluded = first_round_trials(study, INTERVAL)
    assert excluded == {} and len(used) == N > sum(t.state.name == "COMPLETE" for t in study.get_trials())
    first = {t.user_attrs["gansearch_key"]: t.value for t in used}
    assert first == {k: pytest.approx(next(r["fd_classifier"] for r in jsonl(out / "trials" / k / "metrics.jsonl")
                                           if r["step"] == INTERVAL)) for k in pbt}

"""The architecture as a searched categorical, end to end with real Ray, Optuna and MLflow: each trial
builds the model it drew, an MSG-GAN trial logs its distance at every scale and a grid per scale, a
progressive trial grows, the report tabulates each model's converging share, and the export rebuilds
whichever model won."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gansearch.config import load
from study_helpers import DIGITS, child_runs, jsonl

pytestmark = pytest.mark.slow

SPACE = [
    "model.name=auto", "train.steps=20", "eval.every=10", "train.checkpoint_every=10", "search.scheduler=none",
    "search.sampler=random", "search.seed=3",
]


def test_model_is_a_searched_categorical(ray_up, tmp_path: Path) -> None:
    from gansearch.search.export_study import export_study
    from gansearch.search.report import write_report
    from gansearch.search.study import run_study

    space = tmp_path / "models.yaml"
    # the space section is the tiny study's, with the architecture added to it
    lines = DIGITS.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("search:"))
    lines[at:at] = ["  model: {type: categorical, choices: [dcgan, msg, progressive]}",
                    "  steps_per_resolution: {type: int, low: 4, high: 8, when: {model: progressive}}"]
    space.write_text("\n".join(lines) + "\n")
    cfg = load(space, SPACE)
    out = tmp_path / "study"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = run_study(cfg, space, out, num_trials=5, tracking_uri=uri, echo=lambda s: None)
    c, runs, _ = child_runs(uri, out)
    drawn = {}
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        model = r.data.params["model"]
        drawn[key] = model
        trial = out / "trials" / key
        assert json.loads((trial / "run.json").read_text())["model"] == model  # built what it drew
        recs = jsonl(trial / "metrics.jsonl")
        grids = {Path(a.path).name for a in c.list_artifacts(r.info.run_id, "samples")}
        if model == "msg":
            for name in ("fd_classifier_4px", "fd_classifier_8px", "kd_classifier_8px"):
                hist = c.get_metric_history(r.info.run_id, name)
                assert [m.step for m in hist] == [rec["step"] for rec in recs], name
            assert grids == {f"step_{rec['step']}{s}.png" for rec in recs for s in ("", "_4px", "_8px")}
        else:
            assert not c.get_metric_history(r.info.run_id, "fd_classifier_8px")
            assert grids == {f"step_{rec['step']}.png" for rec in recs}
        if model == "progressive":
            assert "steps_per_resolution" in r.data.params
    assert set(drawn.values()) == {"dcgan", "msg", "progressive"}, drawn  # search.seed 3 draws all three

    paths = write_report(out)
    report = json.loads(paths["json"].read_text())
    rows = report["models"]["by_model"]
    assert {m: row["trials"] for m, row in rows.items()} == {m: list(drawn.values()).count(m) for m in set(drawn.values())}
    assert report["convergence"]["group_by"][0] == "model" and "model" in report["importance"][0]["importances"]
    assert "Model sensitivity" in paths["html"].read_text()

    from gansearch.export import generator

    exported = export_study(out, 1, tmp_path / "export", echo=lambda s: None)
    best = exported["trials"][0]["trial_key"]
    g, config = generator.load(tmp_path / "export" / f"1-{best}")  # strict load of whichever model won
    assert config["model_args"]["model_name"] == drawn[best] and config["params"]["model"] == drawn[best]
    assert summary["trials"]

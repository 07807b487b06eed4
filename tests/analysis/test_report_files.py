"""write_report on a hand-made study folder (real Optuna journal, known records): strict JSON, the
ranking (rerun mean over the lucky seed), failure shares, samples, partial studies, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_fixtures import TRIALS, make_study

from gansearch.errors import ConfigError
from gansearch.search.report import write_report

ROOT = Path(__file__).resolve().parents[2]


def strict_json(path: Path) -> dict:
    def no_nan(token: str) -> None:
        raise AssertionError(f"report.json holds {token}")

    return json.loads(path.read_text(), parse_constant=no_nan)


def test_full_report(tmp_path: Path) -> None:
    study = make_study(tmp_path / "study")
    journal = (study / "optuna.journal").read_bytes()
    out = write_report(study, tmp_path / "out" / "r.html", top_k=2)
    assert out == {"html": tmp_path / "out" / "r.html", "json": tmp_path / "out" / "r.json"}
    assert (study / "optuna.journal").read_bytes() == journal and not (study / "report").exists()
    r = strict_json(out["json"])
    assert r["study"]["statuses"]["completed"] == 3 and r["study"]["source"] == "summary.json"
    # each trial by its last evaluation: trial-0004 reached 100 at step 10 but ended at 150
    assert [row["key"] for row in r["ranking"]] == ["trial-0000", "trial-0004", "trial-0001", "trial-0003", "trial-0002"]
    assert [row["value"] for row in r["ranking"]] == [120.0, 150.0, 250.0, 700.0, None]  # diverged: no value
    imp = r["importance"][0]
    assert imp["evaluator"] == "ped_anova" and imp["trials_used"] == 3
    assert imp["trials_excluded"] == {"pruned": 1, "failed or diverged": 1}
    # the diverged ttur trial no longer takes part as ±1e30, which leaves ttur_ratio one scored trial
    assert imp["conditional"] == {"ttur_ratio": 1} and "PED-ANOVA needs 2 per regime" in imp["dropped"]["ttur_ratio"]
    assert set(imp["importances"]) == {"lr_g", "loss", "balance"}
    assert abs(sum(imp["importances"].values()) - 1.0) < 1e-9
    # every score with its bootstrap interval; 3 completed trials rank nothing, and the report says so
    assert set(imp["intervals"]) == set(imp["importances"]) and imp["bootstrap"]["resamples"] == 200
    assert all(0.0 <= lo <= hi <= 1.0 for lo, hi in imp["intervals"].values())
    assert imp["verdict"]["kind"] == "too_small" and set(imp["sparse"]) == set(imp["importances"])
    fails = r["convergence"]["failures"]
    assert fails["by_balance"]["ttur"] == {"trials": 2, "diverged": 0.5, "diverged_count": 1, "d_collapsed": 0.5,
                                           "d_collapsed_count": 1, "mode_collapsed": 1.0, "mode_collapsed_count": 2}
    assert fails["by_balance"]["none"]["mode_collapsed"] == 0.0  # final coverage 10, 6 and 9 of 10
    assert "classes_covered < 10/2" in fails["rules"]["mode_collapsed"]
    assert r["samples"] == [
        {"key": "trial-0000", "step": 20, "value": 120.0, "std": None, "path": "trials/trial-0000/samples/step_20.png"},
        {"key": "trial-0004", "step": 20, "value": 150.0, "std": None, "path": "trials/trial-0004/samples/step_20.png"}]
    assert [c["key"] for c in r["convergence"]["top"]] == ["trial-0000", "trial-0004"]
    assert r["budget"]["fid"]["n"] == [1, 2, 3, 4] and r["budget"]["fid"]["mean"][-1] == pytest.approx(120.0)
    # TPE + ASHA trials are not i.i.d. full-budget draws: no closed form, and the report says why
    assert r["budget"]["fid"]["expected"] == [] and "not independent" in r["budget_note"]
    marg = {m["param"]: m for m in r["marginals"]}
    assert marg["lr_g"]["log_x"] and marg["loss"]["categorical"] and len(marg["ttur_ratio"]["x"]) == 1
    html = out["html"].read_text()
    assert "Too small to rank: 3 completed trials" in html and "90% interval" in html
    assert html.count("<img src=\"data:image/png;base64,") == 2
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in html  # plotly.js inline (once): the file works offline
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html.replace(get_plotlyjs(), ""))
    # importance, 4 marginals, budget, curves, 2 oscillation, 2 failure plots
    assert html.count('class="plotly-graph-div"') == 11


def test_budget_closed_form_only_for_iid_full_budget_trials(tmp_path: Path) -> None:
    r = strict_json(write_report(make_study(tmp_path / "s", sampler="random", scheduler="none"))["json"])
    b = r["budget"]["fid"]
    assert len(b["expected"]) == 4 and b["expected"][-1] == pytest.approx(120.0) and "independent" in r["budget_note"]


def test_reruns_rank_by_mean_not_the_lucky_seed(tmp_path: Path) -> None:
    reruns = [{"key": "trial-0001", "params": TRIALS["trial-0001"][0], "mean": 110.0, "std": 5.0, "n": 3,
               "runs": [{"key": "trial-0001-seed1", "seed": 1, "value": 105.0, "status": "completed"}]},
              {"key": "trial-0000", "params": TRIALS["trial-0000"][0], "mean": 160.0, "std": 30.0, "n": 3, "runs": []}]
    study = make_study(tmp_path / "study", reruns=reruns)
    (study / "trials" / "trial-0001-seed1").mkdir()  # a rerun's own folder is not a search trial
    r = strict_json(write_report(study, top_k=1)["json"])
    assert (study / "report" / "report.html").exists()
    assert [row["key"] for row in r["ranking"][:3]] == ["trial-0001", "trial-0000", "trial-0004"]
    assert r["study"]["num_trials"] == 5 and r["ranking"][0]["ranked_by"] == "rerun mean" and r["ranking"][0]["seed_value"] == 250.0
    assert r["samples"][0]["key"] == "trial-0001" and r["samples"][0]["std"] == 5.0
    assert "110 ± 5" in (study / "report" / "report.html").read_text()


def test_partial_study_takes_statuses_from_the_journal(tmp_path: Path) -> None:
    study = make_study(tmp_path / "study", summary=False)
    r = strict_json(write_report(study, tmp_path / "r.html", evaluator="fanova")["json"])
    status = {row["key"]: row["status"] for row in r["ranking"]}
    assert status == {"trial-0000": "completed", "trial-0001": "completed", "trial-0002": "diverged",
                      "trial-0003": "stopped-early", "trial-0004": "completed"}
    assert r["study"]["source"].startswith("trial folders")
    imp = r["importance"][0]
    assert imp["evaluator"] == "fanova" and "ttur_ratio" in imp["dropped"] and "ttur_ratio" not in imp["importances"]


def test_no_journal_no_summary_derives_from_records(tmp_path: Path) -> None:
    study = make_study(tmp_path / "study", summary=False, journal=False)
    (study / "trials" / "trial-0000-seed7").mkdir()  # a rerun folder, found by its name alone
    r = strict_json(write_report(study, tmp_path / "r.html")["json"])
    status = {row["key"]: row["status"] for row in r["ranking"]}
    assert status["trial-0003"] == "running" and status["trial-0002"] == "diverged" and len(status) == 5
    assert r["importance"][0]["note"] == "no optuna.journal in the study folder"


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--evaluator: must be one of ped_anova, fanova, got 'shap'"):
        write_report(tmp_path, evaluator="shap")
    with pytest.raises(ConfigError, match="--top-k"):
        write_report(tmp_path, top_k=0)
    with pytest.raises(ConfigError, match="STUDY_DIR"):
        write_report(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no space.json"):
        write_report(tmp_path)



def test_model_sensitivity_section(tmp_path: Path) -> None:
    """With `model` searched: one converged rule for every loss, Wilson intervals, the model x loss table
    and the budget line."""
    study = make_study(tmp_path / "study")
    models = {"trial-0000": "dcgan", "trial-0001": "msg", "trial-0002": "msg", "trial-0003": "dcgan", "trial-0004": "msg"}
    space = json.loads((study / "space.json").read_text())
    space["space"]["model"] = {"type": "categorical", "choices": ["dcgan", "msg"]}
    space["train"]["batch_size"] = 8
    (study / "space.json").write_text(json.dumps(space))
    summary = json.loads((study / "summary.json").read_text())
    for row in summary["trials"]:
        row["params"]["model"] = models[row["key"]]
    (study / "summary.json").write_text(json.dumps(summary))
    out = write_report(study, tmp_path / "r.html")
    m = strict_json(out["json"])["models"]
    assert "not part of the rule" in m["rule"]
    # converged: trial-0000 (120) and trial-0004 (150, within 2 x 120); 0001 mode-collapsed, 0002 diverged,
    # 0003 ended at 700
    assert {k: (r["trials"], r["converged"]) for k, r in m["by_model"].items()} == {"dcgan": (2, 1), "msg": (3, 1)}
    assert m["by_model"]["dcgan"]["converged_interval"] == [pytest.approx(0.0945, abs=1e-4), pytest.approx(0.9055, abs=1e-4)]
    assert m["by_model"]["msg"]["d_collapsed"] == 1  # trial-0001: shown, not counted against it
    assert {k: (r["trials"], r["converged"]) for k, r in m["by_model_loss"].items()} == {
        "dcgan / non_saturating": (2, 1), "msg / hinge": (3, 1)}
    b = m["budget"]
    assert (b["steps_per_trial"], b["batch_size"], b["images_per_trial"], b["steps_run"], b["images_seen"]) == (20, 8, 160, 80, 640)
    html = out["html"].read_text()
    assert "dcgan / non_saturating" in html and "0.09453–0.9055" in html and "640 images seen" in html

"""A real study with a known answer: on ring8 (MLP G/D) the D/G learning-rate ratio decides whether the
ring is covered, and a weight decay of 1e-12..1e-10 cannot matter. PED-ANOVA (and fANOVA) on the
study's Optuna journal must rank the ratio first and the weight decay last, and the report must say so.

Measured (final FID on the 2D points, 1500 steps, lr_g 1e-3): ratio below ~0.6 (D too slow) and above
~30 (D overpowers G) end at FID 1-8; 1-10 reach 0.01-0.5. PED-ANOVA importance of ttur_ratio, default
top quantile 5/24, with the scrambled qmc sampler: 0.894 (this test, search.seed 0, before the defaults became trial
0; 0.908 with them) and 0.959
(search.seed 1); before scrambling (when qmc ignored the seed) 0.975 and, with train.seed 1, 0.97; the
random sampler with search.seed 1 gave 0.93. fANOVA gave 1.00 on all. About 80-100 s on 2 quiet cores.
With 16 trials and ratio 0.1-100 the ranking flipped on one of three studies, hence 24 trials and a
wider range.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from study_helpers import cache_dir

SPACE = """
name: ring8-importance
data: {name: ring8}
model: {name: mlp, z_dim: 2, g_width: 64, d_width: 64}
train: {steps: 1500, batch_size: 256, seed: 0, checkpoint_every: 1500}
eval: {every: 500, num_samples: 1000, kid: false, grid: 1000, oscillation_window: 100}
space:
  lr_g: 1e-3
  beta1: 0.5
  loss: non_saturating
  balance: ttur
  ttur_ratio: {type: loguniform, low: 0.01, high: 1000}
  weight_decay: {type: loguniform, low: 1e-12, high: 1e-10}
search: {metric: fd_points, mode: min, sampler: qmc, scheduler: none, num_trials: 24, seed: 0,
         resources_per_trial: {cpu: 1}}
"""


@pytest.mark.slow
def test_importance_ranks_the_lr_ratio_first_and_weight_decay_last(ray_up, tmp_path: Path) -> None:
    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from gansearch.config import load
    from gansearch.search.report import write_report
    from gansearch.search.study import run_study

    space = tmp_path / "ring8-importance.yaml"
    space.write_text(SPACE)
    study = tmp_path / "study"
    run_study(load(space, []), space, study, echo=lambda s: None)
    report = json.loads(write_report(study)["json"].read_text())
    imp = report["importance"][0]
    print("ped_anova", imp["importances"], imp["intervals"], imp["verdict"])
    assert imp["metric"] == "fd_points" and imp["trials_used"] == 24 and imp["dropped"] == {}
    assert imp["ranking"] == ["ttur_ratio", "weight_decay"]
    assert imp["importances"]["ttur_ratio"] >= 0.75
    # and says how sure it is. PED-ANOVA scores each resample (about 15 distinct trials) by its top ~3, so
    # its interval is wide: 0.91 [0.31, 0.97] vs 0.09 [0.03, 0.69] on this study, the same over bootstrap
    # seeds 0-5 (lower ends 0.26-0.35). The verdict must follow the rule on those intervals: the top one
    # ranks first only where its interval lies wholly above every other's.
    assert imp["sparse"] == {}
    above = imp["intervals"]["ttur_ratio"][0] > imp["intervals"]["weight_decay"][1]
    assert imp["verdict"]["kind"] == ("top_first" if above else "no_ranking"), imp["verdict"]
    assert all(lo <= imp["importances"][k] <= hi for k, (lo, hi) in imp["intervals"].items())
    fanova = json.loads(write_report(study, tmp_path / "fanova.html", evaluator="fanova")["json"].read_text())
    print("fanova", fanova["importance"][0]["importances"], fanova["importance"][0]["intervals"],
          fanova["importance"][0]["verdict"])
    assert fanova["importance"][0]["ranking"] == ["ttur_ratio", "weight_decay"]
    # fANOVA's forest separates them in every resample (1.00 [1.00, 1.00] vs 0.00): its verdict ranks the ratio first
    assert fanova["importance"][0]["verdict"]["kind"] == "top_first"
    assert fanova["importance"][0]["intervals"]["ttur_ratio"][0] > fanova["importance"][0]["intervals"]["weight_decay"][1]
    # the marginal the report plots shows why: the best trial's ratio lies between the extremes
    marg = {m["param"]: m for m in report["marginals"]}["ttur_ratio"]
    best_ratio = marg["x"][marg["y"].index(min(marg["y"]))]
    assert 0.3 < best_ratio < 30 and marg["log_x"]

"""What the report says about conditional parameters, held against what Optuna's evaluators really do;
the bootstrap intervals, the marks for parameters active in too few trials, and the verdict, on real
Optuna studies."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from gansearch.analysis.importance import (
    EVALUATORS,
    check_evaluator,
    conditional_params,
    dropped_params,
    importance_section,
    intervals,
    sparse_params,
    target_quantile,
    verdict,
)
from gansearch.errors import ConfigError

PARAMS = [{"x": 0.1, "c": "a", "y": 1.0}, {"x": 0.2, "c": "b"}, {"x": 0.3, "c": "a", "y": 2.0},
          {"x": 0.4, "c": "b", "z": 3}]
SEARCHED = ["x", "c", "y", "z", "never"]


def test_fanova_drops_every_param_missing_from_some_trial() -> None:
    d = dropped_params(PARAMS, SEARCHED, "fanova")
    assert set(d) == {"y", "z", "never"}
    assert "active in 2 of 4" in d["y"] and "fANOVA drops it" in d["y"] and "not active in any" in d["never"]


def test_ped_anova_keeps_conditionals_with_two_active_trials() -> None:
    d = dropped_params(PARAMS, SEARCHED, "ped_anova")
    assert set(d) == {"z", "never"}  # y is active in 2 trials: scored; z in 1: its regime is skipped
    assert conditional_params(PARAMS, SEARCHED) == {"y": 2, "z": 1}


def test_unknown_evaluator_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as e:
        check_evaluator("shap")
    assert str(e.value) == "--evaluator: must be one of ped_anova, fanova, got 'shap'"
    assert EVALUATORS == ("ped_anova", "fanova")


def test_section_leaves_dropped_params_out_of_the_ranking() -> None:
    s = importance_section(("fid", "min"), "fanova", {"x": 0.7, "c": 0.3, "y": 0.0}, PARAMS, SEARCHED,
                           {"pruned": 3}, None)
    assert s["ranking"] == ["x", "c"] and "y" in s["dropped"] and s["trials_excluded"] == {"pruned": 3}
    assert target_quantile(100) == 0.1 and target_quantile(20) == 0.25 and target_quantile(4) == 0.5


def _conditional_study(n: int = 40):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        c = trial.suggest_categorical("c", ["a", "b"])
        if c == "a":
            trial.suggest_float("y", 0.0, 1.0)
        return (x - 0.3) ** 2

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n)
    return study


def test_claims_match_optuna() -> None:
    """fANOVA really drops the conditional `y`; PED-ANOVA really scores it (Optuna 5)."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    study = _conditional_study()
    params = [t.params for t in study.trials]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fanova = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
        ped = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    assert set(fanova) == {"x", "c"} and set(dropped_params(params, ["x", "c", "y"], "fanova")) == {"y"}
    assert set(ped) == {"x", "c", "y"} and dropped_params(params, ["x", "c", "y"], "ped_anova") == {}
    assert max(fanova, key=fanova.get) == "x" and max(ped, key=ped.get) == "x"


# ---- intervals, marks and the verdict ---------------------------------------------------------------

def test_intervals_sparse_marks_and_verdict_rules() -> None:
    resamples = [{"x": 0.9, "c": 0.1}, {"x": 0.5, "c": 0.5}, {"x": 1.0}]  # c unscored in one resample: 0
    bounds = intervals(["x", "c"], resamples, level=0.5)
    assert bounds == {"x": [pytest.approx(0.7), pytest.approx(0.95)], "c": [pytest.approx(0.05), pytest.approx(0.3)]}
    params = [{"x": i / 10, "c": "a" if i < 9 else "b", **({"y": 1.0} if i < 4 else {})} for i in range(10)]
    sparse = sparse_params(params, ["x", "c", "y"], {"c": ["a", "b"]})
    assert sparse == {"c": "choice b drawn in fewer than 2 trials", "y": "active in 4 of 10 completed trials (fewer than 5)"}
    imp = {"x": 0.8, "c": 0.15, "y": 0.05}
    assert verdict(9, imp, {}, {})["kind"] == "too_small"
    assert verdict(10, imp, {"x": [0.6, 0.9], "c": [0.0, 0.5], "y": [0.0, 0.3]}, {})["kind"] == "top_first"
    part = verdict(10, imp, {"x": [0.4, 0.9], "c": [0.0, 0.5], "y": [0.0, 0.3]}, {})
    assert part["kind"] == "partial" and part["below_top"] == ["y"] and "x and c cannot be ordered" in part["text"]
    assert verdict(10, imp, {"x": [0.2, 0.9], "c": [0.0, 0.5], "y": [0.0, 0.3]}, {})["kind"] == "no_ranking"
    # a marked parameter does not rank first, however its interval looks
    assert verdict(10, imp, {"x": [0.6, 0.9], "c": [0.0, 0.5], "y": [0.0, 0.3]}, {"x": "few"})["kind"] == "partial"
    assert verdict(50, {}, {}, {})["kind"] == "nothing"


SPACE = {"x": {"type": "uniform", "low": 0.0, "high": 1.0}, "a": {"type": "uniform", "low": 0.0, "high": 1.0},
         "b": {"type": "loguniform", "low": 1e-3, "high": 1.0},
         "c": {"type": "categorical", "choices": ["p", "q", "r"]}}


def _clear_signal_study(n: int, seed: int = 0):
    """The value depends on x alone: a, b and c are noise."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_float("a", 0.0, 1.0)
        trial.suggest_float("b", 1e-3, 1.0, log=True)
        trial.suggest_categorical("c", ["p", "q", "r"])
        return (x - 0.3) ** 2

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=n)
    return study


def _section(study, space=SPACE, evaluator: str = "ped_anova") -> dict:
    from gansearch.analysis.study_data import StudyData
    from gansearch.search.report import importances

    return importances(study, StudyData(Path("."), [("y", "min")], space, None, None, []), evaluator)[0]


def test_a_clear_signal_ranks_first_with_a_tight_interval() -> None:
    """40 trials (PED-ANOVA's top set: 5). x's interval here is [0.76, 0.95]; 150 independent 40-trial
    studies of the same objective spread x's importance over [0.71, 0.98]."""
    s = _section(_clear_signal_study(40))
    assert s["ranking"][0] == "x" and s["verdict"]["kind"] == "top_first" and s["sparse"] == {}
    assert s["bootstrap"]["resamples"] == 200 and s["bootstrap"]["scored"] == 200
    lo, hi = s["intervals"]["x"]
    assert lo > 0.7 and hi - lo < 0.25
    for name, value in s["importances"].items():  # each interval holds its point estimate
        assert s["intervals"][name][0] <= value <= s["intervals"][name][1], name
    assert set(s["verdict"]["below_top"]) == {"a", "b", "c"}


def test_bootstrap_is_deterministic_under_its_seed() -> None:
    from optuna.study import StudyDirection

    from gansearch.search.report import _target, bootstrap

    trials = _clear_signal_study(20).get_trials()
    directions = [StudyDirection.MINIMIZE]
    first = bootstrap(trials, directions, "ped_anova", _target(0, 1.0), resamples=10, seed=0)
    assert first == bootstrap(trials, directions, "ped_anova", _target(0, 1.0), resamples=10, seed=0)
    assert first != bootstrap(trials, directions, "ped_anova", _target(0, 1.0), resamples=10, seed=1)


def test_the_demo_sized_study_ranks_nothing() -> None:
    """8 trials as in search_spaces/digits.yaml, gp_weight active in the 2 WGAN-GP ones and deciding their
    value: PED-ANOVA scores gp_weight high, the report marks it and says the study ranks nothing."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import create_trial

    dists = {"lr_g": FloatDistribution(1e-5, 1e-2, log=True),
             "loss": CategoricalDistribution(["non_saturating", "hinge", "lsgan", "wgan_gp"]),
             "gp_weight": FloatDistribution(1.0, 100.0, log=True)}
    space = {"lr_g": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
             "loss": {"type": "categorical", "choices": list(dists["loss"].choices)},
             "gp_weight": {"type": "loguniform", "low": 1, "high": 100, "when": {"loss": "wgan_gp"}}}
    rows = [(3e-4, "hinge", None, 300.0), (1e-3, "lsgan", None, 320.0), (5e-5, "non_saturating", None, 310.0),
            (2e-3, "hinge", None, 305.0), (8e-4, "lsgan", None, 315.0), (1e-4, "non_saturating", None, 330.0),
            (4e-4, "wgan_gp", 2.0, 120.0), (6e-4, "wgan_gp", 60.0, 900.0)]
    study = optuna.create_study()
    for lr, loss, gp, value in rows:
        params = {"lr_g": lr, "loss": loss} | ({"gp_weight": gp} if gp else {})
        study.add_trial(create_trial(params=params, distributions={k: dists[k] for k in params}, value=value))
    s = _section(study, space)
    assert s["trials_used"] == 8 and set(s["importances"]) == {"lr_g", "loss", "gp_weight"}
    assert s["sparse"]["gp_weight"] == "active in 2 of 8 completed trials (fewer than 5)"
    assert s["verdict"]["kind"] == "too_small" and "Too small to rank: 8 completed trials" in s["verdict"]["text"]
    assert "rank nothing" in s["verdict"]["text"]
    assert all(k in s["intervals"] for k in s["importances"])

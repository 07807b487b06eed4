"""What the report says about conditional parameters, held against what Optuna's evaluators really do."""

from __future__ import annotations

import warnings

import pytest

from gansearch.analysis.importance import (EVALUATORS, check_evaluator, conditional_params, dropped_params,
                                           importance_section, target_quantile)
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

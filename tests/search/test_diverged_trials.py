"""A diverged trial reaches Optuna as FAIL, as Optuna treats an objective that returns NaN, so it cannot
skew what the sampler and the importances learn from the other trials. On main it was COMPLETE with
1e30: one such trial moved fANOVA's whole importance onto the parameter that isolated it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gansearch.analysis.study_data import StudyData
from gansearch.config import Dist
from gansearch.search.report import importances
from gansearch.search.searcher import StudySearch
from gansearch.search.space import define_by_run

SPACE = {"a": Dist(type="uniform", low=0.0, high=1.0), "b": Dist(type="uniform", low=0.0, high=1.0)}
METRIC = "fd_classifier"


def _search() -> StudySearch:
    import optuna

    s = StudySearch(space=define_by_run(SPACE), metric=METRIC, mode="min", max_step=30,
                    sampler=optuna.samplers.RandomSampler(seed=0))
    s.set_search_properties(METRIC, "min", {})
    return s


def _study_data() -> StudyData:
    return StudyData(Path("."), [(METRIC, "min")], {k: {"type": "uniform"} for k in SPACE}, "digits", 30, [])


def _run(search: StudySearch, n: int, diverged_at: dict[str, float] | None) -> None:
    for i in range(n):
        config = search.suggest(f"t{i}")
        # `a` decides (a bowl around 0.3), `b` barely matters
        value = 100.0 * (config["a"] - 0.3) ** 2 + 0.01 * config["b"]
        search.on_trial_result(f"t{i}", {METRIC: value, "step": 30})
        search.on_trial_complete(f"t{i}", {METRIC: value, "step": 30, "diverged": 0.0})
    if diverged_at is not None:
        search._ot_study.enqueue_trial(diverged_at)
        search.suggest("bad")
        # what the trainable reports for a diverged trial: the worst bound (for ASHA), and diverged = 1
        search.on_trial_complete("bad", {METRIC: 1e30, "step": 12, "diverged": 1.0})


@pytest.mark.parametrize("evaluator", ["fanova", "ped_anova"])
def test_a_diverged_trial_changes_no_importance(evaluator: str) -> None:
    clean, with_bad = _search(), _search()
    _run(clean, 20, None)
    _run(with_bad, 20, {"a": 0.3, "b": 0.999})  # diverged where `a` is at its best, `b` at an extreme
    bad = with_bad._ot_study.get_trials(deepcopy=False)[-1]
    assert bad.state.name == "FAIL" and bad.values is None
    before = importances(clean._ot_study, _study_data(), evaluator)[0]
    after = importances(with_bad._ot_study, _study_data(), evaluator)[0]
    assert before["ranking"][0] == "a" and after["ranking"] == before["ranking"]
    assert after["importances"] == pytest.approx(before["importances"], abs=1e-9)
    assert after["trials_excluded"] == {"failed or diverged": 1}


def test_the_stand_in_value_would_have_flipped_it() -> None:
    """The old encoding, for the record: the same trial told COMPLETE at 1e30 makes `b` look decisive."""
    import optuna

    s = _search()
    _run(s, 20, None)
    s._ot_study.enqueue_trial({"a": 0.3, "b": 0.999})
    t = s._ot_study.ask()
    t.suggest_float("a", 0.0, 1.0)
    t.suggest_float("b", 0.0, 1.0)
    s._ot_study.tell(t, 1e30, state=optuna.trial.TrialState.COMPLETE)
    assert importances(s._ot_study, _study_data(), "fanova")[0]["ranking"][0] == "b"

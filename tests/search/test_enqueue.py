"""search.stratify: every (model, loss) cell the same number of trials, fixed through Optuna's queue, the
rest drawn by the sampler; bad names refused in one line before anything runs."""

from __future__ import annotations

import collections
import warnings
from pathlib import Path

import optuna
import pytest

from gansearch.config import load
from gansearch.errors import ConfigErrors
from gansearch.search.enqueue import ENQUEUED_ATTR, ORIGIN_ATTR, defaults, enqueue, planned
from gansearch.search.plan import SAMPLERS, make_plan
from gansearch.search.space import define_by_run

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "search_spaces" / "model-sensitivity.yaml"


@pytest.mark.parametrize("sampler", ["qmc", "tpe", "random"])
def test_stratified_cells_are_balanced_and_the_rest_is_sampled(sampler: str) -> None:
    cfg = load(SPACE, ["search.num_trials=26", "search.defaults_first=true"])
    assert cfg.search.stratify == ["model", "loss"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    study = optuna.create_study(sampler=SAMPLERS[sampler](0, 1, 26))
    assert enqueue(study, cfg, 26) == 26
    fn = define_by_run(cfg.space)
    for _ in range(26):
        trial = study.ask()
        fn(trial)
        study.tell(trial, trial.params["lr_g"])
    cells = collections.Counter((t.params["model"], t.params["loss"]) for t in study.trials)
    assert len(cells) == 12 and sorted(cells.values()) == [2] * 10 + [3] * 2  # 26 = 2 x 12 + 2
    # trial 0 is the space's defaults and stands for its own cell; the rest are strata
    assert study.trials[0].params == defaults(cfg) and study.trials[0].user_attrs[ENQUEUED_ATTR] == "defaults"
    assert all(t.user_attrs[ENQUEUED_ATTR] == "stratum" for t in study.trials[1:])
    assert [t.user_attrs[ORIGIN_ATTR] for t in study.trials] == ["defaults"] + ["stratum"] * 25
    assert len({t.params["lr_g"] for t in study.trials}) == 26  # the sampler still draws the rest
    wgan = [t for t in study.trials if t.params["loss"] == "wgan_gp"]
    assert wgan and all("gp_weight" in t.params for t in wgan)  # conditionals follow the fixed value
    assert enqueue(study, cfg, 26) == 0  # a study with trials (a --resume) keeps the queue it has
    off = optuna.create_study(sampler=SAMPLERS[sampler](0, 1, 26))  # the shipped default: strata only
    assert enqueue(off, load(SPACE, ["search.num_trials=26"]), 26) == 26
    assert [t.user_attrs[ENQUEUED_ATTR] for t in off.get_trials(deepcopy=False)] == ["stratum"] * 26


@pytest.mark.parametrize(("sets", "message"), [
    (["search.stratify=[lr_g]"], "search.stratify[0]: must name a categorical of space without `when`, got 'lr_g'"),
    (["search.stratify=[steps_per_resolution]"], "search.stratify[0]: must name a categorical of space without `when`"),
    (["search.stratify=[loss, loss]"], "search.stratify: must not repeat a name"),
])
def test_bad_stratify_is_one_line(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigErrors) as e:
        make_plan(load(SPACE, sets))
    assert message in str(e.value)
    assert all("\n" not in line for line in str(e.value).splitlines())


def test_defaults_first_and_where_each_trial_came_from() -> None:
    """search.defaults_first: on, trial 0 is the space's defaults (conditionals off by default are left out);
    off (the shipped default, docs/benchmarks.md), nothing is queued. Each sampler's trials are marked
    startup, model or random by the sampler's own count."""
    cfg = load(ROOT / "search_spaces" / "digits.yaml", ["search.defaults_first=true"])
    first = defaults(cfg)
    assert first == {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "loss": "non_saturating", "balance": "none"}
    assert planned(cfg, 5) == [(first, "defaults")]
    assert planned(load(ROOT / "search_spaces" / "digits.yaml"), 5) == []  # off unless asked for
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fn = define_by_run(cfg.space)

    def origins(sampler: optuna.samplers.BaseSampler, c=cfg, n: int = 6) -> list[str]:
        study = optuna.create_study(sampler=sampler)
        enqueue(study, c, n)
        for i in range(n):
            trial = study.ask()
            fn(trial)
            study.tell(trial, float(i))
        return [t.user_attrs[ORIGIN_ATTR] for t in study.trials]

    # TPE with n_startup_trials 3 (as plan builds it for 9 trials): the defaults count as a finished trial
    assert origins(SAMPLERS["tpe"](0, 1, 9)) == ["defaults", "startup", "startup", "model", "model", "model"]
    off = load(ROOT / "search_spaces" / "digits.yaml", ["search.defaults_first=false"])
    assert origins(SAMPLERS["tpe"](0, 1, 9), off) == ["startup"] * 3 + ["model"] * 3
    assert origins(SAMPLERS["random"](0, 1, 9)) == ["defaults"] + ["random"] * 5
    assert origins(SAMPLERS["gp"](0, 1, 9), off, 3) == ["startup"] * 3  # GPSampler's default: 10

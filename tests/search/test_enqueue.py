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
from gansearch.search.enqueue import ENQUEUED_ATTR, enqueue
from gansearch.search.plan import SAMPLERS, make_plan
from gansearch.search.space import define_by_run

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "search_spaces" / "model-sensitivity.yaml"


@pytest.mark.parametrize("sampler", ["qmc", "tpe", "random"])
def test_stratified_cells_are_balanced_and_the_rest_is_sampled(sampler: str) -> None:
    cfg = load(SPACE, ["search.num_trials=26"])
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
    assert all(t.user_attrs[ENQUEUED_ATTR] == "stratum" for t in study.trials)
    assert len({t.params["lr_g"] for t in study.trials}) == 26  # the sampler still draws the rest
    wgan = [t for t in study.trials if t.params["loss"] == "wgan_gp"]
    assert wgan and all("gp_weight" in t.params for t in wgan)  # conditionals follow the fixed value
    assert enqueue(study, cfg, 26) == 0  # a study with trials (a --resume) keeps the queue it has


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

"""Fast checks of the search layer: name tables, validation before Ray, define-by-run, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

from gansearch.config import load
from gansearch.config.schema import SearchConfig
from gansearch.errors import ConfigErrors
from gansearch.search.plan import SAMPLERS, make_plan
from gansearch.search.schedulers import SCHEDULERS
from gansearch.search.space import KEY_ATTR, TRIAL_KEY, define_by_run

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "search_spaces" / "digits.yaml"


def _literal(field: str) -> set[str]:
    return set(typing.get_args(SearchConfig.model_fields[field].annotation))


def test_name_tables_match_the_schema() -> None:
    assert set(SAMPLERS) == _literal("sampler") == {"tpe", "random", "qmc", "cmaes", "gp", "nsga2"}
    assert set(SCHEDULERS) == _literal("scheduler") == {"asha", "hyperband", "pbt", "none"}


@pytest.mark.parametrize("name", ["tpe", "random", "qmc", "gp", "nsga2"])
def test_every_sampler_builds_and_samples_the_conditional_space(name: str) -> None:
    import optuna

    cfg = load(DIGITS)
    study = optuna.create_study(sampler=SAMPLERS[name](0, 1, 8))
    fn = define_by_run(cfg.space)
    for _ in range(3):
        t = study.ask()
        consts = fn(t)
        assert consts[TRIAL_KEY] == f"trial-{t.number:04d}" and consts["beta2"] == 0.999
        study.tell(t, 1.0)


def test_unknown_names_fail_in_one_line_listing_valid_ones() -> None:
    with pytest.raises(ConfigErrors) as e:
        load(DIGITS, ["search.sampler=tpee", "search.scheduler=median"])
    text = str(e.value)
    assert "search.sampler: must be 'tpe', 'random', 'qmc', 'cmaes', 'gp' or 'nsga2', got 'tpee'" in text
    assert "search.scheduler: must be 'asha', 'hyperband', 'pbt' or 'none', got 'median'" in text


def test_plan_rejects_unknown_metric_and_unsupported_combinations() -> None:
    with pytest.raises(ConfigErrors) as e:
        make_plan(load(DIGITS, ["search.metric=fidd"]))
    assert str(e.value).startswith("search.metric: must be a metric of digits runs (fid, kid,")
    with pytest.raises(ConfigErrors, match="search.scheduler: must be asha, hyperband or none"):
        make_plan(load(DIGITS, ["search.scheduler=pbt"]))
    with pytest.raises(ConfigErrors, match=r"search.objectives\[1\].metric"):
        make_plan(load(DIGITS, ["search.objectives=[{metric: fid}, {metric: nope}]"]))
    plan = make_plan(load(DIGITS, ["search.sampler=nsga2", "search.objectives=[{metric: fid}, {metric: g_amplitude}]"]))
    assert plan.multi and plan.objectives == (("fid", "min"), ("g_amplitude", "min"))
    assert make_plan(load(DIGITS), num_trials=3).num_trials == 3


def test_define_by_run_samples_conditionals_only_when_they_apply() -> None:
    import optuna

    cfg = load(DIGITS)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fn = define_by_run(cfg.space)
    seen = set()
    for _ in range(60):
        t = study.ask()
        fn(t)
        p = t.params
        assert ("gp_weight" in p) == (p["loss"] == "wgan_gp")
        assert ("n_critic" in p) == (p["balance"] == "n_critic")
        assert ("ttur_ratio" in p) == (p["balance"] == "ttur")
        seen.add(p["balance"])
        study.tell(t, 0.0)
    assert len(seen) == 6


def test_a_reenqueued_trial_keeps_its_key_and_params() -> None:
    import optuna

    cfg = load(DIGITS)
    study = optuna.create_study()
    fn = define_by_run(cfg.space)
    first = study.ask()
    fn(first)
    study.enqueue_trial(first.params, user_attrs={KEY_ATTR: "trial-0000"})
    again = study.ask()
    consts = fn(again)
    assert consts[TRIAL_KEY] == "trial-0000" and again.params == first.params and again.number == 1


def test_cli_and_plan_stay_light_and_bad_input_never_starts_ray(tmp_path: Path) -> None:
    code = ("import sys, gansearch.cli.main, gansearch.search.plan, gansearch.search.space, "
            "gansearch.search.schedulers, gansearch.tracking.conventions;"
            "print(sorted(m for m in ('ray', 'optuna', 'mlflow', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    exe = str(Path(sys.executable).with_name("gansearch"))
    t0 = time.monotonic()
    r = subprocess.run([exe, "run", str(DIGITS), "--out", str(tmp_path / "s"), "--set", "search.sampler=bogus"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and time.monotonic() - t0 < 15
    assert r.stderr.strip().startswith("search.sampler: must be 'tpe'") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
    r = subprocess.run([exe, "run", str(DIGITS), "--out", str(tmp_path / "s"), "--set", "search.metric=bogus"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "search.metric: must be a metric" in r.stderr and "ray" not in r.stderr.lower()
    assert not (tmp_path / "s").exists()

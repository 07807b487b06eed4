"""Fast checks of the search layer: name tables, validation before Ray, define-by-run, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from gansearch.config import load
from gansearch.config.schema import SearchConfig
from gansearch.errors import ConfigError, ConfigErrors
from gansearch.search.plan import SAMPLERS, make_plan
from gansearch.search.schedulers import SCHEDULERS
from gansearch.search.space import KEY_ATTR, TRIAL_KEY, define_by_run

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "search_spaces" / "digits.yaml"


def _literal(field: str) -> set[str]:
    return set(typing.get_args(SearchConfig.model_fields[field].annotation))


def test_name_tables_match_the_schema() -> None:
    assert set(SAMPLERS) == _literal("sampler") == {"tpe", "random", "qmc", "cmaes", "gp", "nsga2"}
    assert set(SCHEDULERS) == _literal("scheduler") == {"asha", "hyperband", "pbt", "pb2", "none"}


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
    assert "search.scheduler: must be 'asha', 'hyperband', 'pbt', 'pb2' or 'none', got 'median'" in text


def test_plan_rejects_unknown_metric_and_unsupported_combinations() -> None:
    with pytest.raises(ConfigErrors) as e:
        make_plan(load(DIGITS, ["search.metric=fidd"]))
    assert str(e.value).startswith("search.metric: must be a metric of digits runs with these eval settings "
                                   "(fd_classifier, kd_classifier,")
    with pytest.raises(ConfigErrors, match=r"search.pbt: must be set with search.scheduler: pbt"):
        make_plan(load(DIGITS, ["search.scheduler=pbt"]))
    with pytest.raises(ConfigErrors, match=r"search.objectives\[1\].metric"):
        make_plan(load(DIGITS, ["search.objectives=[{metric: fd_classifier}, {metric: nope}]"]))
    with pytest.raises(ConfigErrors, match="search.scheduler: must be none with several objectives"):
        make_plan(load(DIGITS, ["search.sampler=nsga2", "search.scheduler=asha",
                                "search.objectives=[{metric: fd_classifier}, {metric: g_amplitude}]"]))
    plan = make_plan(load(DIGITS, ["search.sampler=nsga2", "search.scheduler=none",
                                   "search.objectives=[{metric: fd_classifier}, {metric: g_amplitude}]"]))
    assert plan.multi and plan.objectives == (("fd_classifier", "min"), ("g_amplitude", "min"))
    assert make_plan(load(DIGITS), num_trials=3).num_trials == 3


def test_metric_names_say_their_feature_space(tmp_path: Path) -> None:
    """`fid` is Inception's alone: a classifier-feature distance is `fd_classifier`, a 2-D one `fd_points`;
    with no metric given a study ranks by the dataset's headline metric, in its better direction."""
    ring8 = ROOT / "search_spaces" / "ring8.yaml"
    assert make_plan(load(DIGITS, ["search.metric=null", "search.mode=null"])).objectives == (("fd_classifier", "min"),)
    assert make_plan(load(ring8, ["search.metric=null", "search.mode=null"])).objectives == (("mode_score", "max"),)
    assert make_plan(load(DIGITS, ["search.metric=fd_classifier_best", "search.mode=null"])).objectives == (
        ("fd_classifier_best", "min"),)
    with pytest.raises(ConfigErrors, match="search.metric: must be a metric of digits runs"):
        make_plan(load(DIGITS, ["search.metric=fid"]))  # no Inception weights given: there is no fid
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"")
    cfg = load(DIGITS, [f"eval.inception_weights={weights}", "search.metric=fid"])
    assert make_plan(cfg).objectives == (("fid", "min"),)


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
    r = subprocess.run([exe, "run", str(DIGITS), "--out", str(tmp_path / "s"), "--set", "search.sampler=bogus"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("search.sampler: must be 'tpe'") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
    r = subprocess.run([exe, "run", str(DIGITS), "--out", str(tmp_path / "s"), "--set", "search.metric=bogus"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "search.metric: must be a metric" in r.stderr and "ray" not in r.stderr.lower()
    assert not (tmp_path / "s").exists()


def test_concurrency_counts_gpus_as_well_as_cpus() -> None:
    """16 CPUs and 2 GPUs, trials of 1 CPU and half a GPU: 4 fit, not 16 (main counted CPUs only)."""
    from gansearch.search.tuner import max_concurrent

    cfg = load(DIGITS, ["search.resources_per_trial={cpu: 1, gpu: 0.5}"])
    assert max_concurrent(cfg, {"CPU": 16.0, "GPU": 2.0}) == 4
    assert max_concurrent(cfg, {"CPU": 3.0, "GPU": 2.0}) == 3  # CPUs bind first
    assert max_concurrent(cfg, {"CPU": 16.0}) == 1  # no GPU yet (an autoscaler adds them): one at a time
    assert max_concurrent(load(DIGITS, ["search.resources_per_trial={cpu: 2, gpu: 0}"]), {"CPU": 16.0, "GPU": 2.0}) == 8
    assert max_concurrent(load(DIGITS, ["search.max_concurrent=5"]), {"CPU": 1.0}) == 5
    cfg = load(DIGITS, ["search.resources_per_trial={cpu: 1, gpu: 0.1}"])
    assert max_concurrent(cfg, {"CPU": 64.0, "GPU": 1.0}) == 10  # 1 / 0.1 is 9.999... in floats


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_each_sampler_name_reaches_optuna(name: str, tmp_path: Path) -> None:
    """The study's searcher (what `_tune` builds) samples with the sampler `search.sampler` names, read
    back from the Optuna study it created: a sampler silently left at its default would fail here."""
    import optuna

    from gansearch.search.private_api import searcher_study
    from gansearch.search.searcher import make_searcher

    expected = {"tpe": "TPESampler", "random": "RandomSampler", "qmc": "QMCSampler", "cmaes": "CmaEsSampler",
                "gp": "GPSampler", "nsga2": "NSGAIISampler"}
    cfg = load(DIGITS, [f"search.sampler={name}", "search.scheduler=none"])
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j")))
    searcher = make_searcher(cfg, make_plan(cfg), storage, "gansearch", seed=3)
    assert type(searcher_study(searcher).sampler).__name__ == expected[name]


def test_gpu_auto_and_train_device_follow_the_grant() -> None:
    """`auto` is one GPU per trial where the cluster has GPUs; a train.device that contradicts the grant,
    or a GPU request a local Ray can never grant, is one line naming the field."""
    from gansearch.search.devices import describe, resolve_gpu
    from gansearch.search.plan import make_plan

    auto = load(DIGITS, [])
    assert auto.search.resources_per_trial.gpu == "auto"
    assert resolve_gpu(auto, 2.0) == (1.0, None) and resolve_gpu(auto, 0.0) == (0.0, None)
    assert resolve_gpu(load(DIGITS, ["train.device=cpu"]), 8.0) == (0.0, None)  # asked for the CPU
    gpu, warning = resolve_gpu(auto, 0.0, autoscaling=True)  # a cluster whose GPU nodes start at zero
    assert gpu == 0.0 and "set it to 1" in warning
    half = load(DIGITS, ["search.resources_per_trial.gpu=0.5"])
    with pytest.raises(ConfigError) as e:
        resolve_gpu(half, 0.0)
    assert e.value.path == "search.resources_per_trial.gpu" and "without GPUs" in e.value.rule
    assert resolve_gpu(half, 0.0, autoscaling=True)[0] == 0.5  # waits for the autoscaler, and says so
    for bad, field in (("search.resources_per_trial.gpu=2", "search.resources_per_trial.gpu"),
                       ("search.resources_per_trial.gpu=-1", "search.resources_per_trial.gpu")):
        with pytest.raises(ConfigErrors) as errs:
            load(DIGITS, [bad])
        assert [x.path for x in errs.value.errors] == [field]
    for overrides in (["train.device=cpu", "search.resources_per_trial.gpu=1"],
                      ["train.device=cuda", "search.resources_per_trial.gpu=0"], ["train.device=cuda:1"]):
        with pytest.raises(ConfigErrors) as errs:
            make_plan(load(DIGITS, overrides))
        assert [x.path for x in errs.value.errors] == ["train.device"], overrides
    make_plan(load(DIGITS, ["train.device=cuda", "search.resources_per_trial.gpu=0.25"]))
    lines = describe(half, 0.5, {"CPU": 16.0, "GPU": 2.0}, "cluster")
    assert lines[1].startswith("at once:   4 trials: GPUs 2 / 0.5 per trial = 4 binds; CPUs 16") and "2 trials per card" in lines[2]


TINY = Path(__file__).resolve().parent / "tiny.yaml"
PBT = ["search.scheduler=pbt", "search.pbt={perturbation_interval: 10, mutate: [lr_g, gp_weight]}"]


def test_pbt_mutates_only_continuous_hyperparameters_on_evaluation_steps() -> None:
    """PBT multiplies a value by 0.8 or 1.2: only a continuous range can take that; it compares members
    by their last evaluation, so a perturbation lands on an evaluation step."""
    assert make_plan(load(TINY, PBT)).metric == "fd_classifier"  # gp_weight: conditional, still continuous
    cases = {
        "search.pbt.mutate=[loss]": "search.pbt.mutate[0]: must name a continuous hyperparameter of space "
                                    "(uniform or loguniform, no step; loss is categorical), got 'loss'",
        "search.pbt.mutate=[beta1]": "search.pbt.mutate[0]: must name a continuous hyperparameter of space "
                                     "(uniform or loguniform, no step; beta1 is a constant), got 'beta1'",
        "search.pbt.mutate=[n_critic]": "(uniform or loguniform, no step; n_critic is not in space), got 'n_critic'",
        "search.pbt.perturbation_interval=15": "search.pbt.perturbation_interval: must be a multiple of eval.every "
                                               "(10) below train.steps (30), got 15",
        "search.rerun_top_k={k: 2}": "search.rerun_top_k: must be unset with search.scheduler: pbt",
        "search.max_concurrent=2": "search.max_concurrent: must be unset or >= num_trials (4) with pbt",
        "search.num_trials=1": "search.num_trials: must be >= 2 with pbt (the population's size), got 1",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigErrors) as e:
            make_plan(load(TINY, [*PBT, override]))
        assert message in str(e.value), str(e.value)
    with pytest.raises(ConfigErrors, match="search.pbt: must be set only with search.scheduler: pbt or pb2"):
        make_plan(load(TINY, [PBT[1]]))


def test_pb2_mutates_only_names_every_member_has_and_picks_values_itself() -> None:
    """PB2's GP models each member on every mutated name, and it chooses the new values (no resampling)."""
    pb2 = ["search.scheduler=pb2", "search.pbt={perturbation_interval: 10, mutate: [lr_g, lr_d]}"]
    assert make_plan(load(TINY, pb2)).metric == "fd_classifier"
    cases = {
        "search.pbt.mutate=[lr_g, gp_weight]": "search.pbt.mutate[1]: must name a hyperparameter every member has "
                                               "with pb2 (no `when`; gp_weight has when {'loss': 'wgan_gp'}), "
                                               "got 'gp_weight'",
        "search.pbt.resample_probability=0.25": "search.pbt.resample_probability: must be unset with pb2 (its GP "
                                                "bandit picks every new value), got 0.25",
        "search.num_trials=1": "search.num_trials: must be >= 2 with pb2 (the population's size), got 1",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigErrors) as e:
            make_plan(load(TINY, [*pb2, override]))
        assert message in str(e.value), str(e.value)


def test_pbt_error_is_one_line_exit_2_before_any_trial(tmp_path: Path) -> None:
    r = subprocess.run([str(Path(sys.executable).with_name("gansearch")), "run", str(TINY), "--out", str(tmp_path / "s"),
                        "--set", PBT[0], "--set", PBT[1], "--set", "search.pbt.mutate=[loss]"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("search.pbt.mutate[0]: must name a continuous hyperparameter") and not (tmp_path / "s").exists()


def _rungs(scheduler: object) -> list[int]:
    """The trainer steps at which the scheduler Ray runs cuts (its first bracket's rungs)."""
    return sorted(r[0] for r in scheduler._brackets[0]._rungs)  # type: ignore[attr-defined]


def test_asha_rungs_follow_search_asha() -> None:
    """search.asha reaches Ray's schedulers: the rungs are grace_period x reduction_factor^k (read off the
    scheduler Ray runs); unset, the first cut is the first evaluation; misplaced or out of range: one line."""
    def rungs(*sets: str) -> list[int]:
        cfg = load(DIGITS, ["search.scheduler=asha", *sets])
        make_plan(cfg)
        return _rungs(SCHEDULERS["asha"](cfg, "fd_classifier", "min"))

    assert rungs("search.asha.grace_period=500", "search.asha.reduction_factor=2") == [500, 1000]
    assert rungs() == [600]  # digits.yaml's measured rungs: 600 x 4 is past train.steps 1500
    assert rungs("search.asha.grace_period=null", "search.asha.reduction_factor=3") == [250, 750]  # first evaluation
    hb = SCHEDULERS["hyperband"](load(DIGITS, ["search.scheduler=hyperband", "search.asha.grace_period=300"]),
                                 "fd_classifier", "min")
    assert _rungs(hb) == [300, 1200]  # factor 4 from digits.yaml
    make_plan(load(DIGITS, ["search.asha.grace_period=500"]))  # kept for `--set search.scheduler=asha`
    make_plan(load(DIGITS, ["search.asha.grace_period=500", "train.steps=100", "eval.every=50"]))  # unused: unchecked
    with pytest.raises(ConfigErrors) as e:
        make_plan(load(DIGITS, ["search.scheduler=asha", "search.asha.grace_period=1500"]))
    assert str(e.value).startswith("search.asha.grace_period: must be >= eval.every (250) and < train.steps (1500)")
    with pytest.raises(ConfigErrors, match="search.asha.reduction_factor"):
        load(DIGITS, ["search.scheduler=asha", "search.asha.reduction_factor=1"])


@pytest.mark.parametrize("task", ["digits", "ring8", "grid25"])
def test_shipped_rungs_are_the_measured_ones(task: str) -> None:
    """A task's shipped space carries the rungs its rank-correlation study chose (bench/rank_correlation.py):
    Ray's ASHA, built from the shipped file, cuts at g* x eta*^k. Early stopping not advised: no rungs kept."""
    measured = json.loads((ROOT / "bench" / "results" / f"rank_correlation_{task}.json").read_text())
    cfg = load(ROOT / "search_spaces" / f"{task}.yaml", ["search.scheduler=asha"])
    if not measured["early_stopping_advised"]:
        assert cfg.search.asha.grace_period is None
        return
    make_plan(cfg)
    g, eta, steps = measured["grace_period"], measured["reduction_factor"], measured["train_steps"]
    assert steps == cfg.train.steps and cfg.search.metric == measured["metric"]
    assert _rungs(SCHEDULERS["asha"](cfg, measured["metric"], measured["mode"])) == [g * eta ** k for k in range(8) if g * eta ** k < steps]

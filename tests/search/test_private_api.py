"""Every private Ray/Optuna name gansearch uses (gansearch.search.private_api) still exists in the installed
versions, with the shape the code is written against: a pin bump that drops one fails here in seconds,
not in the slow PBT study. Also: no other module of gansearch touches them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from gansearch.search import private_api

PKG = Path(private_api.__file__).resolve().parents[1]


def test_ray_names() -> None:
    import ray
    import ray._raylet
    from ray.tune.schedulers import PopulationBasedTraining, pb2, pbt

    # GcsClient hands its calls to InnerGcsClient (its __getattr__)
    assert callable(ray._raylet.GcsClient) and hasattr(ray._raylet.InnerGcsClient, "internal_kv_get")
    compile(private_api.GCS_PROBE, "GCS_PROBE", "exec")
    assert 'kwargs.pop("_node_ip_address"' in inspect.getsource(ray.init)  # taken from **kwargs
    classes = {"PopulationBasedTraining": PopulationBasedTraining, "PB2": pb2.PB2}
    for cls, methods in private_api.OVERRIDDEN.items():
        for name, params in methods.items():
            method = getattr(classes[cls], name)
            assert tuple(inspect.signature(method).parameters) == params, (cls, name)
    # StudyPBT picks the donor and hands Ray a one-member upper quantile: Ray must draw from that list only
    assert "random.choice(upper_quantile)" in inspect.getsource(PopulationBasedTraining._checkpoint_or_exploit)
    s = PopulationBasedTraining(time_attr="step", metric="m", mode="min", perturbation_interval=10,
                                hyperparam_mutations={"a": [1, 2]})
    assert all(hasattr(s, a) for a in private_api.READ["PopulationBasedTraining"])
    assert all(hasattr(pb2.PB2(time_attr="step", metric="m", mode="min", perturbation_interval=10,
                               hyperparam_bounds={"a": [0.0, 1.0]}), a) for a in private_api.READ["PB2"])

    class _Trial:
        experiment_tag = "t"

    state = pbt._PBTTrialState(_Trial())
    assert all(hasattr(state, a) for a in private_api.READ["_PBTTrialState"])


def test_optuna_search_names() -> None:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    def space(trial: optuna.Trial) -> None:
        trial.suggest_float("x", 0.0, 1.0)

    searcher = OptunaSearch(space=space, metric="m", mode="min", sampler=optuna.samplers.RandomSampler(seed=0))
    assert searcher.suggest("t1") is not None
    assert isinstance(private_api.searcher_trial(searcher, "t1"), optuna.trial.Trial)
    assert private_api.searcher_trial(searcher, "unknown") is None
    assert isinstance(private_api.searcher_study(searcher), optuna.Study)


def test_sampler_startup_counts() -> None:
    """Each model-based sampler's start-up count, as gansearch.search.plan builds it, is read back."""
    import optuna

    from gansearch.search.plan import SAMPLERS

    assert private_api.sampler_startup(SAMPLERS["tpe"](0, 1, 30)) == 10
    assert private_api.sampler_startup(SAMPLERS["tpe"](0, 1, 6)) == 2
    assert private_api.sampler_startup(optuna.samplers.GPSampler(seed=0, n_startup_trials=7)) == 7
    assert private_api.sampler_startup(optuna.samplers.CmaEsSampler(seed=0, n_startup_trials=3)) == 3
    assert private_api.sampler_startup(optuna.samplers.NSGAIISampler(seed=0, population_size=12)) == 12
    assert private_api.sampler_startup(optuna.samplers.RandomSampler(seed=0)) == 0
    assert private_api.sampler_counts_pruned(optuna.samplers.CmaEsSampler(seed=0, consider_pruned_trials=True))
    assert not private_api.sampler_counts_pruned(optuna.samplers.CmaEsSampler(seed=0))


def test_no_other_module_uses_a_private_ray_or_optuna_name() -> None:
    """`x._name` on ray/optuna objects outside private_api and the scheduler subclasses it declares."""
    allowed = {"private_api.py", "pbt_schedulers.py"}
    private_attrs = {"_ot_trials", "_ot_study", "_trial_id", "_raylet", "_node_ip_address", "_completed_trials",
                     "_storage", "_study_id", "_trial_state", "_perturbation_interval", "_n_startup_trials",
                     "_consider_pruned_trials"}
    found = []
    for path in PKG.rglob("*.py"):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else node.arg if isinstance(node, ast.keyword) else \
                node.module if isinstance(node, ast.ImportFrom) else None
            if name and any(part in private_attrs for part in str(name).split(".")):
                found.append(f"{path.relative_to(PKG)}:{node.lineno}: {name}")
    assert found == []

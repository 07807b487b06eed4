"""Every private name of Ray and Optuna that gansearch uses, in one place, each for a reason no public call
covers. tests/search/test_private_api.py checks each one against the installed versions in seconds, so a
pin bump that removes or reshapes one fails there, not in a slow PBT study.

Two kinds:
- accessors below, which the rest of gansearch calls instead of touching the private name itself;
- methods and attributes that gansearch.search.pbt_schedulers overrides or reads on Ray's PBT and PB2
  (subclassing is the only way to change how Ray copies a donor, so those uses stay there), declared in
  OVERRIDDEN and READ with the signatures they are written against.
"""

from __future__ import annotations

from typing import Any

# --- Ray ------------------------------------------------------------------------------------------
# A child process asks a GCS for one key: Ray's public ray.init retries for ~40 s against a port that is
# not a Ray head, and reads the auth token the same way, so the preflight probes with the GCS client itself.
GCS_PROBE = """
import json, sys
try:
    from ray._raylet import GcsClient
    c = GcsClient(address=sys.argv[1])
    c.internal_kv_get(b"session_name", namespace=b"session", timeout=float(sys.argv[2]))
    print(json.dumps({"ok": True}))
except Exception as e:
    print(json.dumps({"ok": False, "type": type(e).__name__, "msg": str(e).splitlines()[0][:300]}))
"""


def init_local_ray(node_ip: str, **kwargs: Any) -> None:
    """A fresh local Ray on a loopback address of our choosing: Ray rewrites 127.0.0.1 to the machine's
    interface address, and only the private `_node_ip_address` keeps a test (or a laptop study) on loopback."""
    import ray

    ray.init(address="local", _node_ip_address=node_ip, **kwargs)


# Ray's PopulationBasedTraining / PB2 (ray.tune.schedulers): what StudyPBT and StudyPB2 override, with the
# parameters they are written against, and the attributes they read.
OVERRIDDEN: dict[str, dict[str, tuple[str, ...]]] = {
    "PopulationBasedTraining": {
        "_exploit": ("self", "tune_controller", "trial", "trial_to_clone"),
        "_get_new_config": ("self", "trial", "trial_to_clone"),
        "_save_trial_state": ("self", "state", "time", "result", "trial"),
        # Ray draws the donor there with the global `random`: StudyPBT hands it one donor drawn from search.seed
        "_checkpoint_or_exploit": ("self", "trial", "tune_controller", "upper_quantile", "lower_quantile"),
    },
    "PB2": {"_get_new_config": ("self", "trial", "trial_to_clone")},
}
READ: dict[str, tuple[str, ...]] = {
    # on the scheduler; the per-trial state holds last_perturbation_time, last_train_time, last_result
    "PopulationBasedTraining": ("_trial_state", "_perturbation_interval", "_time_attr"),
    "PB2": ("data",),
    "_PBTTrialState": ("last_perturbation_time", "last_train_time", "last_result"),
}
# PB2's _get_new_config reads only `.config` and `str()` of the donor it is handed: StudyPB2 hands it one
# with the GP's (log) scale.


# --- Optuna behind Ray's OptunaSearch -----------------------------------------------------------------
def searcher_trial(searcher: Any, trial_id: str) -> Any | None:
    """The optuna.Trial that OptunaSearch asked for Tune's trial `trial_id` (None once told)."""
    return searcher._ot_trials.get(trial_id)


def searcher_study(searcher: Any) -> Any:
    """The optuna.Study OptunaSearch created or loaded (Ray keeps it private)."""
    return searcher._ot_study


def sampler_counts_pruned(sampler: Any) -> bool:
    """Whether a model-based sampler counts PRUNED trials toward its start-up (CMA-ES's private flag)."""
    return bool(getattr(sampler, "_consider_pruned_trials", False))


def sampler_startup(sampler: Any) -> int:
    """How many finished trials an Optuna sampler draws independently before its model: TPE's, GP's and
    CMA-ES's private `_n_startup_trials` (no public getter), NSGA-II's first generation (its public
    `population_size`); 0 where it has neither."""
    for name in ("_n_startup_trials", "population_size"):
        if getattr(sampler, name, None) is not None:
            return int(getattr(sampler, name))
    return 0

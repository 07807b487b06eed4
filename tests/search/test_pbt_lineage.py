"""A PBT member's schedules and records from its lineage alone, in seconds (test_pbt_seeded.py checks them on
a real study): the weights' schedule follows the donors (recursively), the run's schedule is its own;
`hp/<name>` values and tags for every searched name; the importance sample of a PBT study."""

from __future__ import annotations

import math

from study_helpers import DIGITS

A = {"lr_g": 1e-3, "lr_d": 1e-3, "loss": "wgan_gp", "gp_weight": 2.0, "balance": "none"}
B = {"lr_g": 2e-4, "lr_d": 3e-4, "loss": "non_saturating", "balance": "ttur", "ttur_ratio": 2.0}
B2 = {**B, "lr_g": 2.4e-4}  # B's configuration as C continues with it after copying B at 20
C = {"lr_g": 5e-4, "lr_d": 5e-4, "loss": "wgan_gp", "gp_weight": 9.0, "balance": "none"}
C3 = {**B2, "lr_g": 1.9e-4}  # what D continues with after copying C at 40


def _lineages() -> dict[str, list[dict]]:
    """B never copied; C copied B at 20; D (started as A) copied C at 40, the entries as member.record leaves
    them (with the donor's schedule at the copy)."""
    from gansearch.config.lineage import DONOR_SCHEDULE, schedule

    c = [{"step": 20, "from": "B", "donor_step": 20, "before": C, "params": B2, DONOR_SCHEDULE: schedule([], B)}]
    d = [{"step": 40, "from": "C", "donor_step": 40, "before": A, "params": C3, DONOR_SCHEDULE: schedule(c, B2)}]
    return {"C": c, "D": d}


def test_weights_schedule_is_the_donors_before_the_copy_recursively() -> None:
    from gansearch.config.lineage import DONOR_SCHEDULE, run_schedule, schedule

    d = _lineages()["D"]
    assert schedule(d, C3) == [{"step": 0, "from": None, "params": B}, {"step": 20, "from": "B", "params": B2},
                               {"step": 40, "from": "C", "params": C3}]
    assert run_schedule(d, C3) == [{"step": 0, "from": None, "params": A}, {"step": 40, "from": "C", "params": C3}]
    assert schedule([], A) == run_schedule([], A) == [{"step": 0, "from": None, "params": A}]
    # a checkpoint from before the donor's history was recorded: the schedule starts at the copy
    old = [{k: v for k, v in d[0].items() if k != DONOR_SCHEDULE}]
    assert schedule(old, C3) == [{"step": 40, "from": "C", "params": C3}]


def test_hp_records_name_every_searched_value_in_force() -> None:
    from gansearch.config import load
    from gansearch.config.lineage import run_schedule
    from gansearch.search.member import hp_points, hp_tags

    space = load(DIGITS, []).space
    steps = run_schedule(_lineages()["D"], C3)  # wgan_gp with gp_weight, then non_saturating with ttur
    points = hp_points(steps, space)
    assert set(points) == {"lr_g", "lr_d", "loss", "gp_weight", "balance", "ttur_ratio"}
    assert points["loss"] == [(0, 1.0), (40, 0.0)] and points["balance"] == [(0, 0.0), (40, 1.0)]  # index in choices
    assert points["lr_g"] == [(0, 1e-3), (40, 1.9e-4)]
    (s0, g0), (s1, g1) = points["gp_weight"]
    assert (s0, g0, s1) == (0, 2.0, 40) and math.isnan(g1)  # not in force after the copy
    assert math.isnan(points["ttur_ratio"][0][1]) and points["ttur_ratio"][1] == (40, 2.0)
    assert hp_tags(steps, space) == {"hp/loss": "wgan_gp@0,non_saturating@40", "hp/balance": "none@0,ttur@40"}


def test_first_round_trials_score_every_member_not_the_survivors() -> None:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from gansearch.search.population import first_round_trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    dist = {"lr_g": FloatDistribution(1e-4, 3e-3, log=True)}
    for i, (state, values) in enumerate([(TrialState.PRUNED, {10: 5.0}), (TrialState.COMPLETE, {10: 3.0, 20: 1.0}),
                                         (TrialState.FAIL, {}), (TrialState.PRUNED, {10: float("nan")})]):
        study.add_trial(create_trial(state=state, params={"lr_g": 5e-4 * (i + 1)}, distributions=dist,
                                     value=1.0 if state == TrialState.COMPLETE else None, intermediate_values=values))
    used, excluded = first_round_trials(study, 10)
    assert [(t.params["lr_g"], t.value, t.state) for t in used] == [(5e-4, 5.0, TrialState.COMPLETE),
                                                                    (1e-3, 3.0, TrialState.COMPLETE)]
    assert excluded == {"no finite value at step 10": 2}

"""Failure shares and oscillation tables on hand-made records (the rules the report states)."""

from __future__ import annotations

from gansearch.analysis.convergence import (
    collapse_rule,
    curves,
    failure_shares,
    failures,
    oscillation_by_group,
)

COV = ("modes_covered", 8)


def rec(step: int, **kw: float) -> dict:
    return {"step": step, **kw}


def test_failure_flags_follow_the_stated_rules() -> None:
    ok = [rec(0, modes_covered=2, d_collapse=0, diverged=0), rec(10, modes_covered=8, d_collapse=0, diverged=0)]
    assert failures(ok, "completed", COV) == {"diverged": False, "d_collapsed": False, "mode_collapsed": False}
    # 4 of 8 modes is exactly half: not below half, so not collapsed; 3 of 8 is.
    assert failures([rec(10, modes_covered=4)], "completed", COV)["mode_collapsed"] is False
    assert failures([rec(10, modes_covered=3)], "completed", COV)["mode_collapsed"] is True
    # the FINAL coverage counts: a trial that covered 8 and ended on 2 has collapsed
    assert failures([rec(0, modes_covered=8), rec(10, modes_covered=2)], "completed", COV)["mode_collapsed"] is True
    assert failures([rec(10, d_collapse=1), rec(20, d_collapse=0)], "completed", COV)["d_collapsed"] is True
    assert failures([rec(10, diverged=1)], "completed", COV)["diverged"] is True
    # a WGAN-GP critic's loss has no floor: its records carry no d_collapse, and that is "not measured"
    assert failures([rec(10, modes_covered=8)], "completed", COV)["d_collapsed"] is None
    assert failures([], "diverged", COV)["diverged"] is True
    assert failures([rec(10, modes_covered=1)], "completed", None)["mode_collapsed"] is None
    assert "< 8/2" in collapse_rule(COV) and "not measured" in collapse_rule(None)


def test_shares_per_strategy_and_per_loss() -> None:
    trials = [
        ({"balance": "ttur", "loss": "hinge"}, [rec(10, modes_covered=8, d_collapse=0, diverged=0)], "completed"),
        ({"balance": "ttur", "loss": "non_saturating"}, [rec(10, modes_covered=2, d_collapse=1, diverged=0)], "completed"),
        ({"balance": "ttur", "loss": "hinge"}, [rec(10, diverged=1)], "diverged"),
        ({"loss": "hinge"}, [rec(10, modes_covered=1, d_collapse=1)], "completed"),  # balance absent: none
    ]
    by_balance = failure_shares(trials, "balance", COV)
    assert set(by_balance) == {"ttur", "none"}
    t = by_balance["ttur"]
    # d_collapsed counts the trials that measured it: the diverged one has no d_collapse record
    assert t["trials"] == 3 and t["diverged"] == 1 / 3 and t["d_collapsed"] == 1 / 2
    assert t["mode_collapsed"] == 1 / 2 and t["mode_collapsed_count"] == 1  # the diverged one has no coverage
    assert by_balance["none"] == {"trials": 1, "diverged": 0.0, "diverged_count": 0, "d_collapsed": 1.0,
                                  "d_collapsed_count": 1, "mode_collapsed": 1.0, "mode_collapsed_count": 1}
    by_loss = failure_shares(trials, "loss", COV)
    assert by_loss["hinge"]["trials"] == 3 and by_loss["hinge"]["diverged"] == 1 / 3
    assert by_loss["non_saturating"]["mode_collapsed"] == 1.0


def test_oscillation_uses_each_trials_last_record() -> None:
    trials = [
        ({"balance": "none"}, [rec(10, g_rel_amplitude=9.0, d_rel_amplitude=9.0),
                               rec(20, g_rel_amplitude=1.0, d_rel_amplitude=2.0, g_period=10.0, d_period=20.0)]),
        ({"balance": "none"}, [rec(20, g_rel_amplitude=3.0, d_rel_amplitude=4.0, g_period=30.0, d_period=float("nan"))]),
        ({"balance": "ttur"}, [rec(0)]),
    ]
    osc = oscillation_by_group(trials, "balance")
    assert osc["none"]["g_rel_amplitude"] == {"n": 2, "mean": 2.0, "median": 2.0, "min": 1.0, "max": 3.0}
    assert osc["none"]["d_period"]["n"] == 1 and osc["none"]["d_period"]["mean"] == 20.0  # no period: left out
    assert osc["ttur"]["g_rel_amplitude"]["n"] == 0 and osc["ttur"]["g_rel_amplitude"]["mean"] is None


def test_curves_align_steps_and_blank_missing_values() -> None:
    c = curves([rec(0, fid=5.0), rec(10, fid=float("inf"), d_loss=0.3)], ["fid", "d_loss"])
    assert c == {"step": [0, 10], "fid": [5.0, None], "d_loss": [None, 0.3]}

"""The model-sensitivity table: one converged rule for every loss, shares with Wilson intervals, the
model x loss table, and what the trials cost."""

from __future__ import annotations

import pytest

from gansearch.analysis.sensitivity import (
    by_group,
    compute_budget,
    converged,
    rule,
    wilson,
)


def _trial(key: str, model: str, fd: float | None, *, loss: str = "hinge", diverged: bool = False,
           d_collapse: bool | None = False, classes: float = 10.0, status: str = "completed"):
    rec = {"step": 100, "fd_classifier": fd, "diverged": 1.0 if diverged else 0.0, "classes_covered": classes,
           "train_time_s": 3.0, "eval_time_s": 1.5}
    if d_collapse is not None:  # the trainer writes no d_collapse for WGAN-GP
        rec["d_collapse"] = 1.0 if d_collapse else 0.0
    return key, {"model": model, "loss": loss, "lr_g": 1e-3}, [rec], "diverged" if diverged else status, None if diverged else fd


def test_wilson_against_known_values() -> None:
    lo, hi = wilson(2, 6)  # also scipy.stats.binomtest(2, 6).proportion_ci(method="wilson")
    assert (round(lo, 4), round(hi, 4)) == (0.0968, 0.7000)
    assert wilson(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))  # not empty at 0/n, as the normal one is
    assert wilson(5, 5) == (pytest.approx(0.5655, abs=1e-4), 1.0) and wilson(0, 0) is None


def test_converged_rule_is_the_same_for_every_loss() -> None:
    ok = {"diverged": False, "d_collapsed": False, "mode_collapsed": None}
    assert converged(ok, 20.0, 10.0, "min") and not converged(ok, 20.1, 10.0, "min")
    assert converged(ok, 5.0, 10.0, "max") and not converged(ok, 4.9, 10.0, "max")
    # D-collapse no longer counts: WGAN-GP (never measured) and hinge (measured, collapsed) are judged alike
    assert converged(ok | {"d_collapsed": True}, 10.0, 10.0, "min") == converged(ok | {"d_collapsed": None}, 10.0, 10.0, "min")
    assert not converged(ok | {"mode_collapsed": True}, 10.0, 10.0, "min")
    assert not converged(ok | {"diverged": True}, 10.0, 10.0, "min")
    assert not converged(ok, None, 10.0, "min")
    text = rule("fd_classifier", "min")
    assert "2 x the study's best fd_classifier" in text and "not part of the rule" in text and "WGAN-GP" in text


def test_by_model() -> None:
    trials = [
        _trial("trial-0000", "dcgan", 30.0),
        _trial("trial-0001", "dcgan", 70.0),  # more than 2 x the best (30): trained, not converged
        _trial("trial-0002", "msg", 35.0, loss="wgan_gp", d_collapse=None),
        _trial("trial-0003", "msg", 40.0, d_collapse=True),  # D collapsed: a diagnostic, still converged
        _trial("trial-0004", "msg", None, diverged=True),
        _trial("trial-0005", "progressive", 60.0),
        _trial("trial-0006", "progressive", 45.0, classes=3.0),  # 3 of 10 classes: mode-collapsed
    ]
    out = by_group(trials, "model", "min", ("classes_covered", 10))
    assert list(out) == ["dcgan", "msg", "progressive"]
    assert out["dcgan"] == {"trials": 2, "converged": 1, "converged_share": 0.5,
                            "converged_interval": [pytest.approx(0.0945, abs=1e-4), pytest.approx(0.9055, abs=1e-4)],
                            "d_collapsed": 0, "d_collapse_measured": 2,
                            "best": 30.0, "best_key": "trial-0000", "median": 50.0}
    msg = out["msg"]
    assert (msg["trials"], msg["converged"], msg["best"]) == (3, 2, 35.0)
    assert (msg["d_collapsed"], msg["d_collapse_measured"]) == (1, 2)  # the WGAN-GP trial is not measured
    assert msg["converged_share"] == pytest.approx(2 / 3)
    assert (out["progressive"]["converged"], out["progressive"]["best_key"]) == (1, "trial-0006")
    by_loss = by_group(trials, ("model", "loss"), "min", ("classes_covered", 10))
    assert list(by_loss) == ["dcgan / hinge", "msg / hinge", "msg / wgan_gp", "progressive / hinge"]
    assert (by_loss["msg / wgan_gp"]["trials"], by_loss["msg / wgan_gp"]["converged"]) == (1, 1)
    assert (by_loss["msg / hinge"]["trials"], by_loss["msg / hinge"]["converged"]) == (2, 1)


def test_a_loss_the_space_fixes_groups_by_its_value() -> None:
    key, params, recs, status, value = _trial("trial-0000", "msg", 10.0)
    params = {k: v for k, v in params.items() if k != "loss"}  # a fixed `loss: lsgan` is not a trial param
    assert list(by_group([(key, params, recs, status, value)], ("model", "loss"), "min", None)) == ["msg / non_saturating"]
    assert list(by_group([(key, params, recs, status, value)], ("model", "loss"), "min", None,
                         fixed={"loss": "lsgan"})) == ["msg / lsgan"]


def test_ties_go_to_the_lower_key() -> None:
    trials = [_trial("trial-0003", "msg", 10.0), _trial("trial-0001", "msg", 10.0)]
    assert by_group(trials, "model", "min", None)["msg"]["best_key"] == "trial-0001"


def test_compute_budget() -> None:
    rows = [(p, r) for _, p, r, _, _ in (_trial("a", "msg", 1.0), _trial("b", "msg", 2.0))]
    rows.append(({"model": "msg"}, [{"step": 40, "train_time_s": 1.0, "eval_time_s": 0.25}]))  # stopped early
    b = compute_budget(rows, 100, 32)
    assert b == {"trials": 3, "steps_per_trial": 100, "batch_size": 32, "images_per_trial": 3200,
                 "steps_run": 240, "images_seen": 7680, "time_s": 10.2, "text": b["text"]}
    assert "100 steps x batch 32 = 3,200 images" in b["text"] and "7,680 images seen" in b["text"]
    searched = compute_budget([({"train.batch_size": 64}, [{"step": 10}]), ({"train.batch_size": 16}, [{"step": 10}])], 10, 32)
    assert searched["batch_size"] is None and searched["images_seen"] == 800 and "batch sizes 16, 64" in searched["text"]

"""The model-sensitivity table: which trials count as converged, per model, and the best of each."""

from __future__ import annotations

import pytest

from gansearch.analysis.sensitivity import by_group, converged, rule


def _trial(key: str, model: str, fd: float | None, *, diverged: bool = False, d_collapse: bool = False,
           classes: float = 10.0, status: str = "completed"):
    rec = {"step": 100, "fd_classifier": fd, "diverged": 1.0 if diverged else 0.0,
           "d_collapse": 1.0 if d_collapse else 0.0, "classes_covered": classes}
    return key, {"model": model, "lr_g": 1e-3}, [rec], "diverged" if diverged else status, None if diverged else fd


def test_converged_rule() -> None:
    ok = {"diverged": False, "d_collapsed": False, "mode_collapsed": None}
    assert converged(ok, 20.0, 10.0, "min") and not converged(ok, 20.1, 10.0, "min")
    assert converged(ok, 5.0, 10.0, "max") and not converged(ok, 4.9, 10.0, "max")
    assert not converged(ok | {"d_collapsed": True}, 10.0, 10.0, "min")
    assert not converged(ok | {"mode_collapsed": True}, 10.0, 10.0, "min")
    assert not converged(ok, None, 10.0, "min")
    assert "2 x the study's best fd_classifier" in rule("fd_classifier", "min")


def test_by_model() -> None:
    trials = [
        _trial("trial-0000", "dcgan", 30.0),
        _trial("trial-0001", "dcgan", 70.0),  # more than 2 x the best (30): trained, not converged
        _trial("trial-0002", "msg", 35.0),
        _trial("trial-0003", "msg", 40.0, d_collapse=True),  # close to the best, but D collapsed
        _trial("trial-0004", "msg", None, diverged=True),
        _trial("trial-0005", "progressive", 60.0),
        _trial("trial-0006", "progressive", 45.0, classes=3.0),  # 3 of 10 classes: mode-collapsed
    ]
    out = by_group(trials, "model", "auto", "min", ("classes_covered", 10))
    assert list(out) == ["dcgan", "msg", "progressive"]
    assert out["dcgan"] == {"trials": 2, "converged": 1, "converged_share": 0.5, "best": 30.0,
                            "best_key": "trial-0000", "median": 50.0}
    assert (out["msg"]["trials"], out["msg"]["converged"], out["msg"]["best"]) == (3, 1, 35.0)
    assert out["msg"]["converged_share"] == pytest.approx(1 / 3)
    assert (out["progressive"]["converged"], out["progressive"]["best_key"]) == (1, "trial-0006")


def test_ties_go_to_the_lower_key() -> None:
    trials = [_trial("trial-0003", "msg", 10.0), _trial("trial-0001", "msg", 10.0)]
    assert by_group(trials, "model", "auto", "min", None)["msg"]["best_key"] == "trial-0001"

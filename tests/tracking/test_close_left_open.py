"""--resume closes what a SIGKILL left open, on a real MLflow sqlite store.

The driver closes a trial's run with two calls (status tag, then end). A kill between them left a run
tagged `completed` but still RUNNING, which --resume used to skip (seen once in CI, in
tests/search/test_resume_sigkill.py). These tests put the store in each state a kill can leave."""

from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """One store for the module (its schema migration is most of the cost); each test its own trial key."""
    from gansearch.tracking import runs

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        tmp = tmp_path_factory.mktemp("close")
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        exp = runs.ensure_experiment(uri, "close", str(tmp / "artifacts"))
        yield uri, exp, runs.start_study_run(uri, exp, "close", {"a": 1}, None)


def _state(uri: str, run_id: str) -> tuple[str | None, str]:
    from gansearch.tracking import conventions as cv
    from gansearch.tracking import runs

    r = runs.client(uri).get_run(run_id)
    return r.data.tags.get(cv.TAG_STATUS), r.info.status


@pytest.mark.parametrize("tag,outcome", [("completed", "complete"), ("stopped-early", "pruned"), ("diverged", "fail"),
                                        ("failed", "fail")])  # failed: the worker's own tag (trainable)
def test_killed_between_tag_and_end_is_ended_with_its_tag(study: tuple[str, str, str], tag: str, outcome: str) -> None:
    from gansearch.tracking import conventions as cv
    from gansearch.tracking import runs

    uri, exp, parent = study
    key = f"trial-{tag}"
    run = runs.TrialRun(uri, exp, parent, key, {"lr_g": 0.1})
    run.c.set_tag(run.run_id, cv.TAG_STATUS, tag)  # the close's first call; the kill comes before the second
    assert _state(uri, run.run_id) == (tag, "RUNNING")
    assert runs.close_if_left_open(uri, exp, parent, key, outcome) == tag
    assert _state(uri, run.run_id) == (tag, "FAILED" if tag == "failed" else "FINISHED")


def test_running_tag_is_closed_from_the_sampler_outcome(study: tuple[str, str, str]) -> None:
    from gansearch.tracking import runs

    uri, exp, parent = study
    run = runs.TrialRun(uri, exp, parent, "trial-0001", {"lr_g": 0.1})
    assert runs.close_if_left_open(uri, exp, parent, "trial-0001", "pruned") == "stopped-early"
    assert _state(uri, run.run_id) == ("stopped-early", "FINISHED")


def test_closed_run_is_left_alone(study: tuple[str, str, str]) -> None:
    from gansearch.tracking import runs

    uri, exp, parent = study
    run = runs.TrialRun(uri, exp, parent, "trial-0002", {"lr_g": 0.1})
    runs.close_trial_run(uri, exp, parent, "trial-0002", "diverged", timeout_s=0)
    assert runs.close_if_left_open(uri, exp, parent, "trial-0002", "complete") is None
    assert _state(uri, run.run_id) == ("diverged", "FINISHED")


def test_reattached_run_is_running_again(study: tuple[str, str, str]) -> None:
    """A run closed before the crash but not told to the sampler trains again under its key: while it
    does, its tag says running, so a second crash leaves it for --resume to close from the outcome."""
    from gansearch.tracking import runs

    uri, exp, parent = study
    first = runs.TrialRun(uri, exp, parent, "trial-0003", {"lr_g": 0.1})
    runs.close_trial_run(uri, exp, parent, "trial-0003", "completed", timeout_s=0)
    again = runs.TrialRun(uri, exp, parent, "trial-0003", {"lr_g": 0.1})
    assert again.resumed and again.run_id == first.run_id
    assert _state(uri, again.run_id) == ("running", "RUNNING")
    assert runs.close_if_left_open(uri, exp, parent, "trial-0003", "fail") == "failed"
    assert _state(uri, again.run_id) == ("failed", "FAILED")

"""The study folder across runs: made once by `gansearch run`, checked and picked up again by --resume,
which also closes what a crash left open (Optuna trials stuck RUNNING, MLflow runs left RUNNING)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gansearch.config import SpaceFile, layout
from gansearch.errors import ConfigError
from gansearch.search import journal
from gansearch.search.journal import CLOSED_ATTR
from gansearch.search.enqueue import ORIGIN_ATTR
from gansearch.search.space import KEY_ATTR
from gansearch.tracking import conventions as cv


def close_interrupted(storage: Any, study_name: str) -> tuple[list[Any], list[str], int]:
    """--resume: close Optuna trials a crash left RUNNING (FAIL, marked) and re-enqueue them under the
    same key, so each continues in its folder and MLflow run.
    Returns (finished trials, resumed keys, trials in the study)."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    study_id = storage.get_study_id_from_name(study_name)
    waiting = {t.user_attrs.get(KEY_ATTR) for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
    resumed: list[str] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        key = t.user_attrs.get(KEY_ATTR)
        storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(study_id, t.number), CLOSED_ATTR, True)
        study.tell(t.number, state=TrialState.FAIL)
        if key is not None and key not in waiting:
            kept = {ORIGIN_ATTR: t.user_attrs[ORIGIN_ATTR]} if ORIGIN_ATTR in t.user_attrs else {}  # where its values came from
            study.enqueue_trial(t.params, user_attrs={KEY_ATTR: key, **kept})
            resumed.append(key)
    finished = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if not t.user_attrs.get(CLOSED_ATTR)
    ]
    return finished, resumed, len(study.get_trials(deepcopy=False))


def close_finished_runs(finished: list[Any], uri: str, experiment_id: str, parent_id: str) -> int:
    """--resume: finished trials whose MLflow run the crash left open get their final status now."""
    from optuna.trial import TrialState

    from gansearch.tracking import runs

    outcome = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "fail"}
    closed = 0
    for t in finished:
        key = t.user_attrs.get(KEY_ATTR)
        if key is not None:
            closed += runs.close_if_left_open(uri, experiment_id, parent_id, key, outcome[t.state]) is not None
    return closed


def prepare_folder(cfg: SpaceFile, space_path: Path, study_dir: Path, resume: bool, tracking_uri: str | None,
                    experiment: str | None, storage: str | None, write: bool = True) -> dict[str, Any]:
    """Check (and unless `write` is False, create) the study folder. study.json keeps the tracking URI and
    the storage URL without their passwords, so --resume of a password-protected store needs them again."""
    meta_path = study_dir / layout.STUDY_JSON
    dumped = cfg.model_dump(mode="json")
    if resume:
        if not meta_path.exists():
            raise ConfigError("--resume", "needs an existing study folder (no study.json)", str(study_dir))
        meta = json.loads(meta_path.read_text())
        stored = json.loads((study_dir / layout.SPACE_JSON).read_text())
        stored = {"task": "gan", "style": None, **stored}  # a space.json written before `task` existed
        same = {k: v for k, v in stored.items() if k != "search"} == {k: v for k, v in dumped.items() if k != "search"}
        if not same:
            raise ConfigError("--resume", f"space file must match the study's ({study_dir / 'space.json'})", str(space_path))
        _same_on_resume("--tracking-uri", tracking_uri and cv.redact_uri(tracking_uri), meta["tracking_uri"])
        _same_on_resume("--storage", storage and journal.describe(storage), meta.get("storage", journal.JOURNAL))
        _same_on_resume("--experiment", experiment, meta.get("experiment") or cv.experiment_name(study_dir))
        return meta
    if meta_path.exists():
        raise ConfigError("--out", "must be a new study folder (add --resume to continue this one)", str(study_dir))
    if write:
        study_dir.mkdir(parents=True, exist_ok=True)
        (study_dir / layout.SPACE_JSON).write_text(json.dumps(dumped, indent=2))
    return {"name": study_dir.name, "space_file": str(space_path),
            "tracking_uri": cv.redact_uri(tracking_uri or cv.default_store_uri(study_dir)),
            "storage": journal.describe(storage)}


def _same_on_resume(option: str, given: str | None, recorded: str) -> None:
    """--resume continues the study where it is recorded: an option given again must say the same, and a
    URL recorded without its password must be given again."""
    if given and given != recorded:
        raise ConfigError(option, f"must be the study's ({recorded}) on --resume", given)
    if not given and ":***@" in recorded:
        raise ConfigError(option, "must be given again on --resume (the study folder keeps it without its "
                          "password)", recorded)

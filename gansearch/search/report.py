"""`gansearch report`: gather what a (finished or partial) study left — the trial folders, summary.json
and the Optuna journal — compute hyperparameter importance with Optuna, and write the HTML report and
report.json (gansearch.analysis does the rest, without Optuna)."""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gansearch.analysis.importance import (
    RESAMPLES,
    SEED,
    check_evaluator,
    importance_section,
    target_quantile,
)
from gansearch.analysis.study_data import StudyData, load_study
from gansearch.config import layout
from gansearch.errors import ConfigError
from gansearch.search import journal
from gansearch.search.journal import CLOSED_ATTR
from gansearch.search.space import KEY_ATTR


def _ped_anova(n_trials: int) -> Any:
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator(target_quantile=target_quantile(n_trials))


def _fanova(n_trials: int) -> Any:
    from optuna.importance import FanovaImportanceEvaluator

    return FanovaImportanceEvaluator(seed=0)


# Optuna's evaluator for each name of gansearch.analysis.importance.EVALUATORS (which checks --evaluator)
EVALUATOR_FACTORIES: dict[str, Callable[[int], Any]] = {"ped_anova": _ped_anova, "fanova": _fanova}


def load_optuna(study_dir: Path) -> Any | None:
    """The study's Optuna study, copied into memory: from a copy of its journal (the study folder is never
    written), or read from its --storage database. None when neither can be read."""
    import json

    meta_path = Path(study_dir) / layout.STUDY_JSON
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    name, where = journal.study_name(meta), meta.get("storage", journal.JOURNAL)
    if where != journal.JOURNAL:  # a database (recorded without its password: one that needs one can't be read)
        if ":***@" in where:
            return None
        import optuna

        with _quiet():
            return _in_memory(optuna.load_study(study_name=name, storage=journal.open_storage(study_dir, where)))
    path = Path(study_dir) / journal.JOURNAL
    if not path.exists():
        return None
    import optuna

    tmp = Path(tempfile.mkdtemp(prefix="gansearch-report-"))
    try:
        shutil.copy2(path, tmp / journal.JOURNAL)
        return _in_memory(optuna.load_study(study_name=name, storage=journal.open_storage(tmp)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _in_memory(study: Any) -> Any:
    import optuna

    trials = study.get_trials(deepcopy=True)
    with _quiet():
        mem = optuna.create_study(directions=study.directions)
    mem.add_trials(trials)
    return mem


def optuna_statuses(study: Any, data_diverged: Callable[[str], bool]) -> dict[str, str]:
    """Trial key -> status from the journal (the fallback when summary.json is missing)."""
    from optuna.trial import TrialState

    names = {TrialState.PRUNED: "stopped-early", TrialState.FAIL: "failed", TrialState.RUNNING: "running",
             TrialState.WAITING: "running"}
    out: dict[str, str] = {}
    for t in study.get_trials(deepcopy=False):
        key = t.user_attrs.get(KEY_ATTR)
        if key is None or t.user_attrs.get(CLOSED_ATTR):
            continue
        if t.state in (TrialState.COMPLETE, TrialState.FAIL) and data_diverged(key):
            out[key] = "diverged"  # Optuna holds a diverged trial as FAIL (no number to learn from)
        elif t.state == TrialState.COMPLETE:
            out[key] = "completed"
        else:
            out[key] = names.get(t.state, str(t.state.name).lower())
    return out


def importances(study: Any | None, data: StudyData, evaluator: str) -> list[dict[str, Any]]:
    """One importance section per objective, over the COMPLETE trials with a finite value, each score with
    its bootstrap interval (gansearch.analysis.importance says how to read them)."""
    from optuna.trial import TrialState

    searched = data.searched()
    choices = {k: v["choices"] for k, v in data.space.items() if isinstance(v, dict) and v.get("type") == "categorical"}
    sections = []
    for i, (metric, mode) in enumerate(data.objectives):
        if study is None:
            sections.append(importance_section((metric, mode), evaluator, {}, [], searched, {}, None,
                                               "no optuna.journal in the study folder"))
            continue
        sign = 1.0 if mode == "min" else -1.0
        used, excluded = [], {}
        for t in study.get_trials(deepcopy=False):
            ok = t.state == TrialState.COMPLETE and t.values is not None and math.isfinite(t.values[i])
            if ok:
                used.append(t)
            elif not t.user_attrs.get(CLOSED_ATTR):
                reason = {TrialState.COMPLETE: "no finite value", TrialState.FAIL: "failed or diverged"}.get(
                    t.state, t.state.name.lower())
                excluded[reason] = excluded.get(reason, 0) + 1
        pbt = data.search.get("pbt") if data.search.get("scheduler") in ("pbt", "pb2") else None
        if pbt:  # COMPLETE = never copied: PBT's survivors; every member's own start instead
            from gansearch.search.population import first_round_trials

            used, excluded = first_round_trials(study, int(pbt["perturbation_interval"]))
        params = [t.params for t in used]
        quantile = target_quantile(len(used)) if evaluator == "ped_anova" else None
        note = None
        scores: dict[str, float] = {}
        resamples: list[dict[str, float]] = []
        failed = 0
        if len(used) < 2:
            note = f"too few completed trials ({len(used)}) to compute importances"
        else:
            target = _target(i, sign)
            try:
                scores = _scores(used, study.directions, evaluator, target)
            except (ValueError, RuntimeError) as e:  # e.g. fANOVA with no parameter in every trial
                note = f"{evaluator} could not score this study: {e}"
            else:
                resamples, failed = bootstrap(used, study.directions, evaluator, target)
        if data.reruns:
            note = (note + " " if note else "") + "Importances use each trial's search-seed value, not the rerun means."
        if pbt:
            from gansearch.search.population import importance_note

            note = importance_note(int(pbt["perturbation_interval"]), len(used)) + (" " + note if note else "")
        sections.append(importance_section((metric, mode), evaluator, scores, params, searched, excluded, quantile,
                                           note, resamples, failed, choices))
    return sections


def _target(i: int, sign: float) -> Callable[[Any], float]:
    """Objective i as a value to minimise, for the evaluators."""
    return lambda t: sign * t.values[i]


def _scores(trials: list[Any], directions: list[Any], evaluator: str, target: Callable[[Any], float]) -> dict[str, float]:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.importance.get_param_importances(
            _subset(trials, directions), evaluator=EVALUATOR_FACTORIES[evaluator](len(trials)), target=target)


def bootstrap(trials: list[Any], directions: list[Any], evaluator: str, target: Callable[[Any], float],
              resamples: int | None = None, seed: int = SEED) -> tuple[list[dict[str, float]], int]:
    """The evaluator on `resamples` (default RESAMPLES[evaluator]) resamples of `trials` drawn with
    replacement, each drawn trial kept once (gansearch.analysis.importance.RESAMPLE says why), seeded:
    (the importances of each resample it could score, how many it could not)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out, failed = [], 0
    for _ in range(RESAMPLES[evaluator] if resamples is None else resamples):
        pick = np.unique(rng.integers(0, len(trials), len(trials)))
        try:
            out.append(_scores([trials[j] for j in pick], directions, evaluator, target))
        except (ValueError, RuntimeError):
            failed += 1
    return out, failed


def _subset(trials: list[Any], directions: list[Any]) -> Any:
    import optuna

    with _quiet():
        sub = optuna.create_study(directions=directions)
    sub.add_trials(trials)
    return sub


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No "A new study created in memory" lines from the report's scratch studies."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def write_report(study_dir: Path, html: Path | None = None, evaluator: str = "ped_anova", top_k: int = 4) -> dict[str, Path]:
    """Write the study report: one self-contained HTML file and report.json beside it (default
    STUDY_DIR/report/report.html and report.json). Returns {"html": path, "json": path}."""
    from gansearch.analysis.render import write
    from gansearch.analysis.report import build_report

    check_evaluator(evaluator)
    if top_k < 1:
        raise ConfigError("--top-k", "must be >= 1", top_k)
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise ConfigError("STUDY_DIR", "must be an existing study folder", str(study_dir))
    html = Path(html) if html is not None else study_dir / layout.REPORT / layout.REPORT_HTML
    study = load_optuna(study_dir)
    data = load_study(study_dir)
    if study is not None and not data.from_summary:  # a partial study: statuses from the journal
        diverged = {t.key for t in data.trials if any(r.get("diverged") == 1 for r in t.records)}
        states = optuna_statuses(study, diverged.__contains__)
        for t in data.trials:
            t.status = states.get(t.key, t.status)
    report = build_report(data, importances(study, data, evaluator), top_k=top_k)
    return write(report, study_dir, html, html.with_suffix(".json"))

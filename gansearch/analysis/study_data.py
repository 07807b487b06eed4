"""What a study folder holds, read once into plain data for the report: the objectives, every trial's
records and status, and reruns. Works on a partial study (no summary.json) from the trial folders alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gansearch.config import layout
from gansearch.config.metrics import PROVENANCE, objectives, ranked_keys, trial_value
from gansearch.errors import ConfigError

# Final coverage below half of these counts is called mode collapse (the report states the rule).
LABELLED = ("digits", "mnist", "fashion-mnist", "cifar10")
COVERAGE: dict[str, tuple[str, int]] = {"ring8": ("modes_covered", 8), "grid25": ("modes_covered", 25),
                                         **{name: ("classes_covered", 10) for name in LABELLED}}


@dataclass
class Trial:
    key: str
    status: str | None
    params: dict[str, Any]
    records: list[dict[str, Any]]
    run_id: str | None = None
    folder: Path | None = None
    origin: str | None = None  # where its values came from (summary.json; gansearch.search.enqueue.ORIGINS)

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1] if self.records else {}

    @property
    def strategy(self) -> str:
        return str(self.params.get("balance", "none"))

    @property
    def loss(self) -> str:
        return str(self.params.get("loss", "non_saturating"))

    def value(self, metric: str) -> tuple[int, float] | None:
        """(step, value) the trial is ranked by: config.metrics.trial_value, as in the search; a trial that
        raised (FAIL in Optuna) has none."""
        return None if self.status == "failed" else trial_value(self.records, metric)

    def grid_at(self, step: int | None) -> Path | None:
        """The sample grid written at `step` (the trainer names it in the record)."""
        if self.folder is None or step is None:
            return None
        for r in self.records:
            if r.get("step") == step and r.get("grid"):
                path = self.folder / r["grid"]
                return path if path.exists() else None
        path = self.folder / layout.SAMPLES / f"step_{step}.png"
        return path if path.exists() else None


@dataclass
class StudyData:
    folder: Path
    objectives: list[tuple[str, str]]  # (metric, mode); the first is the study metric
    space: dict[str, Any]  # the space file's `space` section, as validated
    data_name: str | None
    train_steps: int | None
    trials: list[Trial]
    reruns: list[dict[str, Any]] = field(default_factory=list)
    from_summary: bool = False
    search: dict[str, Any] = field(default_factory=dict)  # the space file's search section, as validated
    task: str = "gan"  # the space file's task: gan, or style_transfer (no data section, no GAN losses)
    batch_size: int | None = None  # the space file's train.batch_size (a trial's own if it is searched)

    @property
    def iid_trials(self) -> bool:
        """Trials are independent draws at full budget (random or qmc sampler, no early stopping): what
        the budget curve's closed form assumes."""
        return self.search.get("sampler") in ("random", "qmc") and self.search.get("scheduler") == "none"

    def provenance(self) -> dict[str, Any]:
        """How the study's distances were computed (the first record that says so), for the report."""
        for t in self.trials:
            for r in t.records:
                if any(k in r for k in PROVENANCE):
                    return {k: r[k] for k in PROVENANCE if k in r}
        return {}

    @property
    def metric(self) -> str:
        return self.objectives[0][0]

    @property
    def mode(self) -> str:
        return self.objectives[0][1]

    def log_scaled(self, name: str) -> bool:
        d = self.space.get(name)
        return isinstance(d, dict) and (d.get("type") == "loguniform" or bool(d.get("log")))

    def searched(self) -> list[str]:
        """Hyperparameters that were sampled (distributions), in space-file order."""
        return [k for k, v in self.space.items() if isinstance(v, dict) and "type" in v]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-write
                continue
    return out


def objectives_of(space_json: dict[str, Any]) -> list[tuple[str, str]]:
    """The study's (metric, mode) pairs as `gansearch run` resolved them (config.metrics.objectives)."""
    from gansearch.config import SpaceFile

    return objectives(SpaceFile.model_validate(space_json))


def derived_status(records: list[dict[str, Any]], train_steps: int | None) -> str:
    """Status from the records alone (no summary, no Optuna): diverged, completed, or running."""
    if any(r.get("diverged") == 1 for r in records):
        return "diverged"
    if records and train_steps is not None and records[-1].get("step", -1) >= train_steps:
        return "completed"
    return "running"


def load_study(study_dir: Path, statuses: dict[str, str] | None = None) -> StudyData:
    """Read a study folder. `statuses` (trial key -> status, e.g. from the Optuna journal) fills in
    statuses summary.json lacks; with neither, statuses are derived from the records."""
    study_dir = Path(study_dir)
    space_path = study_dir / layout.SPACE_JSON
    if not space_path.exists():
        raise ConfigError("STUDY_DIR", "must be a gansearch study folder (no space.json)", str(study_dir))
    space_json = json.loads(space_path.read_text())
    summary_path = study_dir / layout.SUMMARY_JSON
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    train = space_json.get("train") or {}
    steps = train.get("steps")
    by_key = {t["key"]: t for t in (summary or {}).get("trials", [])}
    trials_dir = study_dir / layout.TRIALS
    reruns = (summary or {}).get("reruns") or []
    # Reruns (fresh seeds of a top configuration, `trials/<key>-seed<S>/`) are not samples of the space.
    rerun_keys = {run.get("key") for r in reruns for run in r.get("runs") or []}
    rerun_keys |= {t.get("key") for t in (summary or {}).get("rerun_trials") or []}
    folders = {p.name for p in trials_dir.iterdir() if p.is_dir()} if trials_dir.exists() else set()
    rerun_keys |= {k for k in folders if (m := layout.RERUN_KEY.match(k)) and m.group("of") in folders}
    keys = [k for k in sorted(folders or by_key) if k not in rerun_keys]
    trials = []
    for key in keys:
        folder = trials_dir / key
        records = read_jsonl(folder / layout.METRICS_JSONL)
        s = by_key.get(key, {})
        params = s.get("params")
        if params is None:
            run_json = folder / layout.RUN_JSON
            params = json.loads(run_json.read_text()).get("params", {}) if run_json.exists() else {}
        status = s.get("status") or (statuses or {}).get(key) or derived_status(records, steps)
        trials.append(Trial(key, status, params, records, s.get("run_id"), folder if folder.exists() else None,
                            s.get("origin")))
    task = space_json.get("task") or "gan"
    data_name = (space_json.get("data") or {}).get("name") if task == "gan" else None
    return StudyData(study_dir, objectives_of(space_json), space_json.get("space") or {},
                     data_name, steps, trials, reruns, summary is not None, space_json.get("search") or {}, task,
                     train.get("batch_size"))


def ranked(study: StudyData) -> list[dict[str, Any]]:
    """Configurations best first, in config.metrics.ranked_keys' order: by the rerun mean where reruns exist
    (not the lucky seed), then the remaining trials by their value; trials with no value last."""
    metric, mode = study.metric, study.mode
    by_key = {t.key: t for t in study.trials}
    reruns = {r["key"]: r for r in study.reruns}
    own = {t.key: t.value(metric) for t in study.trials}
    values = {**{k: None for k in reruns}, **{k: v[1] if v else None for k, v in own.items()}}
    rows = []
    for key, how in ranked_keys(study.reruns, values, mode):
        t, mine = by_key.get(key), own.get(key)
        if how == "rerun_mean":
            r = reruns[key]
            rows.append({"key": key, "status": t.status if t else None, "origin": t.origin if t else None,
                         "value": r["mean"], "std": r.get("std"),
                         "n": r.get("n"), "ranked_by": "rerun mean", "value_step": mine[0] if mine else None,
                         "seed_value": mine[1] if mine else None, "params": r.get("params") or (t.params if t else {})})
        elif t is not None:
            rows.append({"key": key, "status": t.status, "origin": t.origin, "value": mine[1] if mine else None,
                         "std": None, "n": 1,
                         "ranked_by": "value", "value_step": mine[0] if mine else None,
                         "seed_value": mine[1] if mine else None, "params": t.params})
    return rows

"""gansearch from Python: run a study, read one back, train one GAN, load an exported generator.

    import gansearch
    study = gansearch.run("search_spaces/digits.yaml", "studies/digits", num_trials=4)
    study.trials_dataframe()            # one row per trial: key, status, value, value_step, params_<name>
    study.best_trial.params             # what the CLI prints and `gansearch export` ranks first
    g, z_dim = gansearch.load_generator("exports/digits")

The CLI calls these same functions (`gansearch run`, `train`); bad input raises
`gansearch.errors.ConfigErrors` / `ConfigError` whose lines are what the CLI prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

from gansearch.config import layout

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch

    from gansearch.config import SpaceFile

def load_space(space: str | Path | Mapping[str, Any], overrides: Sequence[str] | None = None) -> tuple[SpaceFile, Path]:
    """(validated SpaceFile, the path recorded as its source) from a space file's path or a dict."""
    from gansearch.config import apply_override, load, validate

    if isinstance(space, Mapping):
        raw = json.loads(json.dumps(dict(space)))  # a deep copy: overrides must not write into the caller's dict
        for item in overrides or []:
            apply_override(raw, item)
        return validate(raw, where="<dict>"), Path("<dict>")
    return load(space, list(overrides or [])), Path(space)


@dataclass(frozen=True)
class Trial:
    """One trial of a study: its key (folder and MLflow run name), status, active params, and the value it
    is ranked by (its last evaluation of the study's metric; None when it has none)."""

    key: str
    status: str | None
    params: dict[str, Any]
    value: float | None
    value_step: int | None
    run_id: str | None = None
    origin: str | None = None  # defaults, stratum, startup, model or random (gansearch.search.enqueue.ORIGINS)


@dataclass
class Study:
    """A study folder made by `gansearch run`, finished or interrupted."""

    out: Path
    metric: str
    mode: str
    trials: list[Trial]
    summary: dict[str, Any] | None = field(default=None, repr=False)  # summary.json (None: interrupted)

    @property
    def best_trial(self) -> Trial | None:
        """The study's answer, by the product's one ranking rule (config.metrics.ranked_keys, as `gansearch
        export` ranks): the best rerun mean when the study reran its top trials, else the best value. None
        when no trial has a value, or the summary refused to rank (different feature nets)."""
        from gansearch.config.metrics import ranked_keys

        summary = self.summary or {}
        if summary.get("ranking_refused"):
            return None
        by_key = {t.key: t for t in self.trials}
        for key, how in ranked_keys(summary.get("reruns") or [], {t.key: t.value for t in self.trials}, self.mode):
            if how == "rerun_mean" or by_key[key].value is not None:
                return by_key[key]
        return None

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial in ranking order (summary.json's), like Optuna's and Tune's: key, status, value,
        value_step, run_id, origin (where its values came from), and one `params_<name>` column per parameter
        (NaN where inactive)."""
        import pandas as pd

        rows = [{"key": t.key, "status": t.status, "value": t.value, "value_step": t.value_step, "run_id": t.run_id,
                 "origin": t.origin, **{f"params_{k}": v for k, v in t.params.items()}} for t in self.trials]
        columns = ["key", "status", "value", "value_step", "run_id", "origin"]
        return pd.DataFrame(rows, columns=columns + sorted({c for r in rows for c in r} - set(columns)))


def load_study(out: str | Path) -> Study:
    """The study in `out`: from summary.json when it finished, else from its trial folders."""
    out = Path(out)
    if not (out / layout.STUDY_JSON).is_file():
        from gansearch.errors import ConfigError

        raise ConfigError("out", "must be a study folder made by gansearch run (no study.json)", str(out))
    summary_path = out / layout.SUMMARY_JSON
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        trials = [Trial(t["key"], t.get("status"), dict(t.get("params") or {}), t.get("value"), t.get("value_step"),
                        t.get("run_id"), t.get("origin")) for t in summary.get("trials", [])]
        return Study(out, summary["metric"], summary["mode"], trials, summary)
    from gansearch.analysis.study_data import load_study as read_folders

    data = read_folders(out)
    trials = []
    for t in data.trials:
        v = t.value(data.metric)
        trials.append(Trial(t.key, t.status, dict(t.params), v[1] if v else None, v[0] if v else None, t.run_id, t.origin))
    return Study(out, data.metric, data.mode, trials, None)


def run(space: str | Path | Mapping[str, Any], out: str | Path, *, num_trials: int | None = None,
        overrides: Sequence[str] | None = None, resume: bool = False, address: str | None = None,
        tracking_uri: str | None = None, experiment: str | None = None, storage: str | None = None,
        echo: Callable[[str], None] | None = None) -> Study:
    """Search hyperparameters (what `gansearch run` does) and return the study. `space`: a space file's
    path or the same content as a dict; `overrides`: `--set` items (`train.steps=100`, `lr_d=1e-3`)."""
    from gansearch.search.study import run_study

    cfg, source = load_space(space, overrides)
    run_study(cfg, source, Path(out), num_trials=num_trials, address=address, tracking_uri=tracking_uri,
              resume=resume, experiment=experiment, storage=storage, echo=echo or (lambda s: None))
    return load_study(out)


def train(space: str | Path | Mapping[str, Any], out: str | Path, *, overrides: Sequence[str] | None = None,
          progress: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train one GAN with the space file's fixed values (what `gansearch train` does); returns its
    summary (also `out/metrics.json`)."""
    from gansearch.search.tasks import train as train_task

    cfg, _ = load_space(space, overrides)
    from gansearch.data.locate import check_feature_net, locate

    if cfg.task == "gan":
        locate(cfg.data)
        check_feature_net(cfg)  # distances need labels or Inception weights
    return train_task(cfg, Path(out), progress=progress)


class Generator(NamedTuple):
    module: torch.nn.Module  # G in eval mode on the CPU: (N, z_dim) -> (N, *data_shape)
    z_dim: int


def load_generator(export_dir: str | Path) -> Generator:
    """The generator of an export (`gansearch export --to DIR`: its rank-1 trial, or one trial folder),
    weights through safetensors only; its sha256 is checked against the manifest first."""
    from gansearch.export import generator, manifest

    folder, entry = manifest.resolve(Path(export_dir))
    manifest.verify(folder, entry)
    g, config = generator.load(folder)
    return Generator(g, int(config["model_args"]["z_dim"]))

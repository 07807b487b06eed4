"""`search.scheduler: pbt` (Population Based Training, Jaderberg et al. 2017) and `pb2` (Parker-Holder et al.
2020): the driver's side, with Ray Tune's schedulers (gansearch.search.pbt_schedulers holds them).

The population is `search.num_trials` members, sampled up front by the study's Optuna sampler, the first
at the space's defaults when `search.defaults_first` is on (Ray's PBT
refuses to run beside a searcher, so the members reach Tune as fixed configs; `population.json` keeps
them). PBT runs synchronously: each member pauses at every `perturbation_interval` steps until all got
there, so a donor's checkpoint is at the very step of the member that copies it. Then the worst
`quantile_fraction` each take the checkpoint (weights and optimizer moments) of one of the best, drawn
from `search.seed` (the same seed gives the same donors), and its whole configuration, categoricals
included, each name in `mutate` multiplied by 0.8 or 1.2 (or, with `resample_probability`, drawn again),
kept inside its range; with `pb2` PB2's GP bandit picks the new values instead. The trial itself
(`trainable.run_trial`, with gansearch.search.member) sees a Tune checkpoint written by another member and
adopts it (`Trainer.adopt`): it keeps its own records, RNG streams and lineage, and records both the
configuration now in force and the donor's schedule, which its weights now descend from
(gansearch.config.lineage).

What Optuna is told. A member's Optuna trial stands for its initial configuration trained from scratch.
Its evaluations are reported as intermediate values until its first exploit; there it is told PRUNED (that
configuration trained so many steps and lost) and nothing more: after the exploit neither the weights nor
the configuration are its own. A member never exploited ends COMPLETE with its final value, a diverged one
FAIL. PBT's own choices are not sampled by Optuna, so they are not in Optuna's importance either.

Importance. The COMPLETE trials are the members never copied: survivors of PBT's selection, not a sample
of the space, and their final values come from schedules, not from their configuration alone. What every
member did with its own configuration alone is its value at the first perturbation (all were trained
from scratch to that step, none had copied yet): `first_round_trials` turns each into a COMPLETE trial
with that value, the sample the report's importance should score for a PBT study.

Resume (`--resume` after a crash): every member that has not finished continues from its folder's
checkpoint with the hyperparameters that checkpoint was trained with, in a new Tune run whose perturbations
fall on the same multiples of `perturbation_interval`. An exploit decided but not yet started by the
member when the crash came is lost: the member goes on as it was (its Optuna trial stays PRUNED).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gansearch.config import SpaceFile, layout
from gansearch.search.space import META_KEYS, TRIAL_KEY, define_by_run

POPULATION = layout.POPULATION_JSON  # in the study folder: [{key, number, config}] in Optuna's order


def population(study_dir: Path, study: Any, cfg: SpaceFile, n: int) -> list[dict[str, Any]]:
    """The members: asked from the Optuna study once, then read back (a resumed study keeps its own)."""
    path = study_dir / POPULATION
    if path.exists():
        return json.loads(path.read_text())
    from gansearch.search.enqueue import enqueue

    enqueue(study, cfg, n)  # search.defaults_first: member 0 is the space's defaults
    fn = define_by_run(cfg.space)
    members = []
    for _ in range(n):
        t = study.ask()
        constants = fn(t)
        members.append({"key": constants[TRIAL_KEY], "number": t.number, "config": {**t.params, **constants}})
    path.write_text(json.dumps(members, indent=2))
    return members


def current_config(study_dir: Path, member: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A member's config and step now: its folder checkpoint's params and step, else the initial config."""
    from gansearch.trainer import checkpoint

    path = study_dir / layout.TRIALS / member["key"] / checkpoint.FILENAME
    if not path.exists():
        return dict(member["config"]), 0
    state = checkpoint.load(path)
    _, params = checkpoint.config_of(state)
    return {**params, **{k: v for k, v in member["config"].items() if k in META_KEYS}}, int(state["step"])


def fixed_population(configs: list[dict[str, Any]], max_concurrent: int) -> Any:
    """Tune's default search algorithm (PBT runs beside no other) handing out the members' configs in order:
    Tune's own `points_to_evaluate` needs every key in one shared param space, and members differ in their
    conditional parameters."""
    from ray.tune.search.basic_variant import BasicVariantGenerator

    class Population(BasicVariantGenerator):
        def __init__(self) -> None:
            super().__init__(max_concurrent=max_concurrent)
            self.configs = [dict(c) for c in configs]

        def next_trial(self) -> Any:
            trial = super().next_trial()
            if trial is not None:
                trial.set_config(self.configs.pop(0))
                trial.evaluated_params = {k: v for k, v in trial.config.items() if k not in META_KEYS}
                # named after the config they were created without (the folder is made later, from this)
                if trial.trial_name_creator:
                    trial.custom_trial_name = trial.trial_name_creator(trial)
                if trial.trial_dirname_creator:
                    trial.custom_dirname = trial.trial_dirname_creator(trial)
            return trial

    return Population()


def first_round_trials(study: Any, interval: int) -> tuple[list[Any], dict[str, int]]:
    """Every member's initial configuration scored by its value at step `interval` (the first perturbation),
    as COMPLETE trials, for importance; with the members left out, by reason (none reported a finite value
    there: failed or diverged before it)."""
    import optuna

    used, excluded = [], {}
    for t in study.get_trials(deepcopy=False):
        value = t.intermediate_values.get(interval)
        if value is None or not math.isfinite(value):
            reason = f"no finite value at step {interval}"
            excluded[reason] = excluded.get(reason, 0) + 1
            continue
        used.append(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=float(value),
                                              user_attrs=t.user_attrs, intermediate_values=t.intermediate_values))
    return used, excluded


def importance_note(interval: int, n: int) -> str:
    """What the report says beside a PBT study's importance (from `first_round_trials`)."""
    return (f"PBT: importance scores each member's initial configuration by its value at step {interval}, the "
            f"first perturbation, before any member copied another ({n} members). Final values are not used: "
            "they come from weights and settings copied between members, and the members never copied are "
            "survivors of PBT's selection, not a sample of the space.")


def run_population(cfg: SpaceFile, plan: Any, study_dir: Path, storage: Any, study_name: str, uri: str,
                   exp_id: str, parent: str, echo: Any) -> None:
    """Run (or continue) the population; the members that finished before a crash are not run again."""
    import optuna

    from gansearch.search import tuner
    from gansearch.search.pbt_schedulers import OptunaMembers, StudyPB2, StudyPBT
    from gansearch.search.plan import SAMPLERS
    from gansearch.search.progress import StudyCallback
    from gansearch.search.rerun import finished
    from gansearch.tracking.runs import close_if_left_open

    sampler = SAMPLERS[cfg.search.sampler](cfg.search.seed, 1, plan.num_trials)
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler, load_if_exists=True,
                                direction="maximize" if plan.mode == "max" else "minimize")
    members = population(study_dir, study, cfg, plan.num_trials)
    todo = [m for m in members if not finished(study_dir, m["key"], cfg.train.steps)]
    for m in members:  # finished before a crash, its run left open between the trainer's end and the close
        if m not in todo:
            close_if_left_open(uri, exp_id, parent, m["key"], "complete")
    if not todo:
        return
    configs, starts = [], {}
    for m in todo:
        config, step = current_config(study_dir, m)
        configs.append(config)
        starts[m["key"]] = step
    if len(todo) < len(members):
        echo(f"resuming: {len(members) - len(todo)} members finished, continuing {', '.join(m['key'] for m in todo)}")
    kind = StudyPB2 if cfg.search.scheduler == "pb2" else StudyPBT
    scheduler = kind(cfg, plan.metric, plan.mode, OptunaMembers(study, storage, members, plan.metric, cfg.train.steps), starts)
    callback = StudyCallback(total=len(members), done_before=len(members) - len(todo), max_step=cfg.train.steps,
                             study=study_dir.name, study_dir=str(study_dir), metric=plan.metric, mode=plan.mode,
                             tracking_uri=uri, experiment_id=exp_id, parent_run_id=parent)
    tuner.fit(cfg, plan, study_dir, tuner.trial_context(cfg, plan, study_dir, uri, exp_id, parent),
              callback=callback, num_samples=len(configs), scheduler=scheduler,
              search_alg=fixed_population(configs, cfg.search.max_concurrent or 0),
              keep_checkpoints=None)

"""`search.scheduler: pbt` end to end: real Ray Tune PBT, Optuna and MLflow on the tiny digits space.

4 members, 60 steps, a perturbation every 20: two rounds (steps 20 and 40), the worst member copying the
best each time. What is checked: the exploit really continued from the donor's weights (the member's state
right after the exploit holds the donor's checkpoint file, read with torch.load: G, D, both Adam optimizers'
moments and step; training on from it gives the member's weights 10 steps later bit for bit; from its own,
not), `hp/<name>` shows every searched name in force from the step it changed (the loss the exploit copied
too), the lineage tag and summary.json agree with the member's record, the export's schedule holds the
donor's history before the copy, Optuna heard about each initial configuration only what it did, and a
SIGKILL in the middle of it resumes with no duplicated run, step, lineage entry or Optuna trial.
(test_pbt_seeded.py: the same seed gives the same donors; a copy of a copy.)
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from study_helpers import (
    DIGITS,
    GANSEARCH,
    child_runs,
    cli_env,
    jsonl,
    optuna_trials,
    sigkill_study,
    wait_for,
)
from test_pbt_adopt import assert_holds_donor_state, exploit_like_a_trial

pytestmark = pytest.mark.slow
STEPS, EVERY, INTERVAL, N = 60, 10, 20, 4
PBT = ["--set", "search.scheduler=pbt", "--set", f"train.steps={STEPS}", "--num-trials", str(N), "--set",
       (f"search.pbt={{perturbation_interval: {INTERVAL}, quantile_fraction: 0.25, resample_probability: 0.0, "
        "mutate: [lr_g, lr_d]}")]


def _run(out: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    r = subprocess.run([GANSEARCH, "run", str(DIGITS), "--out", str(out), *PBT, *extra], env=cli_env(tmp),
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r


def _tune_checkpoints(out: Path) -> dict[tuple[str, int], Path]:
    """(member, step) -> the checkpoint.pt Tune kept (PBT keeps them all)."""
    found = {}
    for owner in out.glob("tune/run-*/*/checkpoint_*/owner.json"):
        o = json.loads(owner.read_text())
        found[(o["key"], int(o["step"]))] = owner.with_name("checkpoint.pt")
    return found


def _continue(folder: Path, start: Path, until: int, params: dict[str, Any] | None = None) -> Any:
    """Train from checkpoint `start` to step `until` as a trial does (under `params`, else the checkpoint's);
    returns the trainer."""
    from gansearch.config import load
    from gansearch.trainer import checkpoint
    from gansearch.trainer.loop import Trainer

    cfg = load(DIGITS, [f"train.steps={until}", "train.threads=1"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(start, folder / checkpoint.FILENAME)
    trainer = Trainer(cfg, folder, params or checkpoint.config_of(checkpoint.load(start))[1])
    trainer.run()
    return trainer


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _hp(c: Any, run_id: str, name: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in c.get_metric_history(run_id, f"hp/{name}"))


def made_weights(pbt: dict[str, dict[str, Any]], key: str, until: int | None = None) -> list[dict[str, Any]]:
    """The schedule [{step, from, params}] that made `key`'s weights (at step `until`, else its last), worked
    out here from every member's lineage alone: before its last copy, the donor's, recursively (a donor's
    checkpoint at step s was written before any copy of its own at s)."""
    lineage = [e for e in pbt[key]["lineage"] if until is None or e["step"] < until]
    if not lineage:
        return [{"step": 0, "from": None, "params": pbt[key]["initial"]}]
    last = lineage[-1]
    return [x for x in made_weights(pbt, last["from"], last["step"]) if x["step"] < last["step"]] + [
        {"step": last["step"], "from": last["from"], "params": last["params"]}]


def assert_in_force_recorded(c: Any, run: Any, record: dict[str, Any]) -> None:
    """Every searched name's value in force in the member's run, from each step its configuration changed
    (its start, then each exploit: the donor's whole configuration), in pbt.json's `run_schedule` and in
    MLflow: metric `hp/<name>` (a categorical: its index in `choices`; NaN where a conditional name is not in
    force), tag `hp/<name>` for a categorical (`value@step`, `-` when not in force), and tags `loss` and
    `strategy` at the values in force now."""
    from gansearch.config import Dist, load

    own = [{"step": 0, "from": None, "params": record["initial"]}] + [
        {k: e[k] for k in ("step", "from", "params")} for e in record["lineage"]]
    assert record["run_schedule"] == own
    space = {n: d for n, d in load(DIGITS, []).space.items() if isinstance(d, Dist)}
    tags = run.data.tags
    for name, d in space.items():
        values = [s["params"].get(name) for s in own]
        hp = _hp(c, run.info.run_id, name)
        if all(v is None for v in values):
            assert hp == [], name
            continue
        assert [st for st, _ in hp] == [s["step"] for s in own], name  # one point per change, none twice
        want = [math.nan if v is None else float(d.choices.index(v)) if d.type == "categorical" else float(v)
                for v in values]
        assert all((math.isnan(w) and math.isnan(g)) or g == pytest.approx(w, rel=1e-12) for (_, g), w in zip(hp, want)), \
            (name, hp, want)
        if d.type == "categorical":
            assert tags[f"hp/{name}"] == ",".join(f"{'-' if v is None else v}@{s['step']}" for v, s in zip(values, own))
    assert (tags["loss"], tags["strategy"]) == (record["params"]["loss"], record["params"]["balance"])


def test_pbt_exploits_continue_from_donor_weights_and_are_recorded(tmp_path: Path) -> None:
    out = tmp_path / "study"
    r = _run(out, tmp_path)
    assert "pbt: trial-" in r.stdout and "continues from" in r.stdout
    members = json.loads((out / "population.json").read_text())
    keys = [m["key"] for m in members]
    assert len(keys) == N
    pbt = {k: json.loads((out / "trials" / k / "pbt.json").read_text()) for k in keys}
    events = [(k, e) for k in keys for e in pbt[k]["lineage"]]
    assert {e["step"] for _, e in events} == {20, 40}, events  # two rounds, each with an exploit
    c, runs, _ = child_runs(json.loads((out / "study.json").read_text())["tracking_uri"], out)
    by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
    assert sorted(by_key) == sorted(keys) and len(runs) == N
    ckpts = _tune_checkpoints(out)
    summary = {t["key"]: t for t in json.loads((out / "summary.json").read_text())["trials"]}

    for key, e in events:
        s, donor = e["step"], e["from"]
        assert donor != key and e["donor_step"] == s  # synchronous: the donor's checkpoint is at the same step
        # the weights: the member's own state at s (Tune drops the checkpoint of the member whose result
        # started the round: retrain it from s-10), then steps s..s+10 from the donor's weights under the new
        # hyperparameters give the member's weights at s+10 bit for bit; keeping its own weights does not
        own = _continue(tmp_path / "own", ckpts[(key, s - EVERY)], s).out / "checkpoint.pt"
        if (key, s) in ckpts:
            assert _same(torch.load(own, weights_only=True)["g"], torch.load(ckpts[(key, s)], weights_only=True)["g"])
        # right after the exploit: the donor's checkpoint file as torch.load reads it, not as adopt does
        exploited = exploit_like_a_trial(tmp_path / "exploited", own, e["params"], ckpts[(donor, s)], donor, STEPS)
        assert_holds_donor_state(*(torch.load(f, weights_only=True) for f in (exploited, ckpts[(donor, s)], own)),
                                 e["params"])
        after = torch.load(ckpts[(key, s + EVERY)], weights_only=True)
        adopted = _continue(tmp_path / "adopted", exploited, s + EVERY, e["params"])
        assert _same(after["g"], adopted.g.state_dict()) and _same(after["d"], adopted.d.state_dict()), (key, s)
        assert not _same(after["g"], _continue(tmp_path / "kept", own, s + EVERY).g.state_dict())
        # the hyperparameters: the donor's at step s times 0.8 or 1.2 (resample_probability 0), logged at s
        donor_hp = {n: [v for st, v in _hp(c, by_key[donor].info.run_id, n) if st <= s][-1] for n in ("lr_g", "lr_d")}
        mine = dict(_hp(c, by_key[key].info.run_id, "lr_g"))
        assert mine[s] == pytest.approx(e["params"]["lr_g"], rel=1e-12)
        for n in ("lr_g", "lr_d"):
            assert any(e["params"][n] == pytest.approx(donor_hp[n] * f, rel=1e-9) for f in (0.8, 1.2)), (n, e, donor_hp)
    # an exploit copies the donor's whole configuration: here it changes the loss too
    assert any(e["params"]["loss"] != e["before"]["loss"] for _, e in events), events
    for key in keys:
        run = by_key[key]
        lineage = pbt[key]["lineage"]
        assert_in_force_recorded(c, run, pbt[key])
        assert pbt[key]["schedule"] == made_weights(pbt, key)
        assert run.data.tags.get("pbt.exploited_from") == (",".join(f"{e['from']}@{e['step']}" for e in lineage) or None)
        assert summary[key]["pbt"]["lineage"] == [{k: e[k] for k in ("step", "from", "params")} for e in lineage]
        assert summary[key]["params"] == pbt[key]["params"]
        assert [m.step for m in sorted(c.get_metric_history(run.info.run_id, "fd_classifier"), key=lambda m: m.step)] \
            == list(range(0, STEPS + 1, EVERY))
        assert run.data.params["lr_g"] == repr(pbt[key]["initial"]["lr_g"]) or \
            float(run.data.params["lr_g"]) == pbt[key]["initial"]["lr_g"]  # MLflow params: the initial config
    # export: each member's final weights with the schedule that made them (read from its checkpoint)
    exp = subprocess.run([GANSEARCH, "export", str(out), "--to", str(tmp_path / "exp"), "--top-k", str(N)],
                         env=cli_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert exp.returncode == 0, exp.stderr[-3000:]
    for folder in (tmp_path / "exp").glob("*-trial-*"):
        key = folder.name.split("-", 1)[1]
        config = json.loads((folder / "config.json").read_text())
        lineage = pbt[key]["lineage"]
        assert json.loads((folder / "metrics.json").read_text())["step"] == STEPS and config["params"] == pbt[key]["params"]
        # the schedule that made these weights: before the copy, the donor's history
        assert config.get("schedule") == ([{k: v for k, v in x.items() if v is not None} for x in made_weights(pbt, key)]
                                          if lineage else None)
        assert ("weights copied from" in (folder / "README.md").read_text()) == bool(lineage)
    # Optuna: each initial configuration's own evaluations only; an exploited one stops at its first exploit
    trials = {t.user_attrs["gansearch_key"]: t for t in optuna_trials(out)}
    assert sorted(trials) == sorted(keys)
    for key in keys:
        t, lineage = trials[key], pbt[key]["lineage"]
        if lineage:
            assert t.state.name == "PRUNED" and max(t.intermediate_values) == lineage[0]["step"]
        else:
            assert t.state.name == "COMPLETE" and t.value == pytest.approx(jsonl(out / "trials" / key / "metrics.jsonl")[-1]["fd_classifier"])
            assert t.params == {k: v for k, v in members[keys.index(key)]["config"].items() if k in t.params}


def test_pbt_resumes_after_sigkill_without_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "study"
    log = tmp_path / "first.log"
    cmd = [GANSEARCH, "run", str(DIGITS), "--out", str(out), *PBT]
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, env=cli_env(tmp_path), stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # kill once the first exploit is recorded and before the population finished
        wait_for(lambda: any(json.loads(p.read_text())["lineage"] for p in out.glob("trials/*/pbt.json")), proc, log)
    finally:
        sigkill_study(proc)
    assert not all((out / "trials" / k / "metrics.json").exists()
                   for k in (m["key"] for m in json.loads((out / "population.json").read_text())))
    population = (out / "population.json").read_text()
    _run(out, tmp_path, "--resume")
    assert (out / "population.json").read_text() == population  # the same members, not a new sample
    keys = [m["key"] for m in json.loads(population)]
    c, runs, parent = child_runs(json.loads((out / "study.json").read_text())["tracking_uri"], out)
    assert sorted(r.data.tags["gansearch.trial_key"] for r in runs) == sorted(keys)  # no run twice
    pbt = {k: json.loads((out / "trials" / k / "pbt.json").read_text()) for k in keys}
    for run in runs:
        key = run.data.tags["gansearch.trial_key"]
        assert run.data.tags["status"] == "completed" and run.info.status == "FINISHED"
        steps = sorted(m.step for m in c.get_metric_history(run.info.run_id, "fd_classifier"))
        assert steps == list(range(0, STEPS + 1, EVERY)), (key, steps)  # no step lost, none twice
        lineage = pbt[key]["lineage"]
        assert len({e["step"] for e in lineage}) == len(lineage)  # no exploit recorded twice
        assert pbt[key]["schedule"] == made_weights(pbt, key)  # the donor's history, found again after the crash
        hp = [m.step for m in c.get_metric_history(run.info.run_id, "hp/lr_g")]
        assert sorted(hp) == sorted(set(hp)) == [0] + [e["step"] for e in lineage]
        assert [x["step"] for x in jsonl(out / "trials" / key / "metrics.jsonl")] == list(range(0, STEPS + 1, EVERY))
    trials = optuna_trials(out)
    assert len(trials) == N and not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert parent.info.status == "FINISHED"


def _config_at(record: dict[str, Any], step: int) -> dict[str, Any]:
    """The configuration a member trained with just before `step`, from its pbt.json."""
    config = record["initial"]
    for e in record["lineage"]:
        config = e["params"] if e["step"] < step else config
    return config


def test_pb2_copies_then_picks_values_inside_the_range_and_records_them(tmp_path: Path) -> None:
    """`pb2`: the same exploit and record as PBT; the new values come from PB2's GP bandit. At the first round
    it has no change of the metric to model (one evaluation per member), so it copies the donor's values."""
    out = tmp_path / "study"
    pb2 = ["--set", "search.scheduler=pb2", "--set", f"train.steps={STEPS}", "--num-trials", str(N), "--set",
           f"search.pbt={{perturbation_interval: {INTERVAL}, quantile_fraction: 0.25, mutate: [lr_g, lr_d]}}"]
    r = subprocess.run([GANSEARCH, "run", str(DIGITS), "--out", str(out), *pb2], env=cli_env(tmp_path),
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    keys = [m["key"] for m in json.loads((out / "population.json").read_text())]
    pbt = {k: json.loads((out / "trials" / k / "pbt.json").read_text()) for k in keys}
    events = [(k, e) for k in keys for e in pbt[k]["lineage"]]
    assert {e["step"] for _, e in events} == {20, 40}, events
    c, runs, _ = child_runs(json.loads((out / "study.json").read_text())["tracking_uri"], out)
    by_key = {r.data.tags["gansearch.trial_key"]: r for r in runs}
    assert sorted(by_key) == sorted(keys)
    picked = 0
    for key, e in events:
        s, donor = e["step"], e["from"]
        donor_hp = {n: [v for st, v in _hp(c, by_key[donor].info.run_id, n) if st <= s][-1] for n in ("lr_g", "lr_d")}
        for n in ("lr_g", "lr_d"):
            assert 1e-4 <= e["params"][n] <= 3e-3 and dict(_hp(c, by_key[key].info.run_id, n))[s] == \
                pytest.approx(e["params"][n], rel=1e-12)
            if s == INTERVAL:
                assert e["params"][n] == pytest.approx(donor_hp[n], rel=1e-6), (n, e, donor_hp)
            else:
                picked += e["params"][n] != pytest.approx(donor_hp[n], rel=1e-6)
        fixed = [k for k in e["params"] if k not in ("lr_g", "lr_d")]  # the rest of the donor's configuration
        assert {k: e["params"][k] for k in fixed} == {k: _config_at(pbt[donor], s)[k] for k in fixed}
        assert by_key[key].data.tags["pbt.exploited_from"] == ",".join(f"{x['from']}@{x['step']}" for x in pbt[key]["lineage"])
    assert picked > 0  # the GP moved at least one value away from the donor's at the second round
    trials = {t.user_attrs["gansearch_key"]: t for t in optuna_trials(out)}
    assert {k: t.state.name for k, t in trials.items()} == {k: "PRUNED" if pbt[k]["lineage"] else "COMPLETE" for k in keys}

"""Each trial trains on what Ray granted it (gansearch.search.devices), on a real local Ray that advertises
two logical GPUs on this CPU machine.

Without a usable CUDA the GPU preflight refuses such a study before any trial, naming the node; the tests
of the grant itself therefore run with the seam `GANSEARCH_TEST_CUDA_STANDIN=1`, under which a trial
granted a GPU records the device it chose (cuda:0 inside its grant) and trains on the CPU."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from gansearch.config import load
from gansearch.errors import ConfigError
from gansearch.search.devices import STANDIN_ENV
from study_helpers import DIGITS, cache_dir, child_runs

pytestmark = pytest.mark.slow


def _ray_with_gpus(standin: bool) -> None:
    import ray

    from gansearch.search.study import study_env

    if ray.is_initialized():
        ray.shutdown()  # the session's shared Ray (tests/conftest.py) has no GPUs; its next user restarts it
    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    env = {**study_env(), "GANSEARCH_CACHE_DIR": cache_dir(), **({STANDIN_ENV: "1"} if standin else {})}
    # 8 logical CPUs, so the GPUs (2 / 0.5 = 4 trials) and not the CPUs limit how many run at once
    ray.init(num_cpus=8, num_gpus=2, include_dashboard=False, _node_ip_address="127.0.0.2", log_to_driver=False,
             runtime_env={"env_vars": env})


@pytest.fixture
def gpu_ray_without_cuda() -> Iterator[None]:
    import ray

    _ray_with_gpus(standin=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def gpu_ray() -> Iterator[None]:
    import ray

    _ray_with_gpus(standin=True)
    yield
    ray.shutdown()


def _study(out: Path, gpu: float, num_trials: int) -> dict:
    from gansearch.search.study import run_study

    cfg = load(DIGITS, [f"search.resources_per_trial.gpu={gpu}", "search.scheduler=none"])
    return run_study(cfg, DIGITS, out, num_trials=num_trials, echo=lambda s: None)


def _trials(out: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "run.json").read_text()) for p in sorted((out / "trials").iterdir())}


def test_a_node_whose_torch_cannot_use_its_gpus_is_refused_before_any_trial(gpu_ray_without_cuda, tmp_path: Path) -> None:
    import ray

    with pytest.raises(ConfigError) as e:
        _study(tmp_path / "study", 0.5, 2)
    node = ray.nodes()[0]["NodeID"]
    assert e.value.path == "search.resources_per_trial.gpu" and e.value.value == 0.5
    assert f"node {node[:12]} 127.0.0.2" in e.value.rule and "can use none" in e.value.rule
    assert "\n" not in str(e.value)
    assert not (tmp_path / "study" / "trials").exists()


def _intervals(out: Path) -> dict[str, tuple[int, int]]:
    """Each trial's training span, from timestamps the trial itself logged while holding its grant (its
    first and last evaluation): inside the span Ray held its resources, so overlaps are never overcounted."""
    from gansearch.tracking.conventions import default_store_uri

    c, runs, _ = child_runs(default_store_uri(out), out)
    spans = {}
    for r in runs:
        hist = c.get_metric_history(r.info.run_id, "fd_classifier")
        spans[r.data.tags["gansearch.trial_key"]] = (min(m.timestamp for m in hist), max(m.timestamp for m in hist))
    return spans


def _most_at_once(spans: dict[str, tuple[int, int]], keys: list[str]) -> int:
    events = sorted([(spans[k][0], 1) for k in keys] + [(spans[k][1], -1) for k in keys], key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, d in events:  # an end at the same millisecond as a start counts first
        now += d
        most = max(most, now)
    return most


def test_half_a_gpu_per_trial_packs_two_trials_per_gpu_id(gpu_ray, tmp_path: Path) -> None:
    from gansearch.tracking.conventions import default_store_uri

    out = tmp_path / "packed"
    summary = _study(out, 0.5, 8)
    assert summary["num_trials"] == 8 and summary["trials_failed"] == 0
    meta = json.loads((out / "study.json").read_text())["resources"]
    assert meta["gpu"] == 0.5 and meta["max_concurrent"] == 4 and meta["why"].startswith("GPUs 2 / 0.5 per trial = 4")
    trials = _trials(out)
    for key, run in trials.items():
        p = run["placement"]
        assert len(p["gpu_ids"]) == 1 and p["gpu_ids"][0] in ("0", "1"), (key, p)
        assert p["device"] == "cuda:0" and p["trained_on"] == "cpu" and run["device"] == "cpu", (key, p)
        assert p["gpu"] == 0.5 and p["node_ip"] == "127.0.0.2"
    # MLflow says the same as run.json
    _, runs, _ = child_runs(default_store_uri(out), out)
    for r in runs:
        p = trials[r.data.tags["gansearch.trial_key"]]["placement"]
        assert r.data.tags["ray.gpu_ids"] == ",".join(p["gpu_ids"]) and r.data.tags["device"] == "cuda:0"
        assert r.data.tags["device.trained_on"] == "cpu" and r.data.tags["precision"] == "fp32"
    spans = _intervals(out)
    assert _most_at_once(spans, list(spans)) <= 4
    for gpu_id in ("0", "1"):
        on_it = [k for k, run in trials.items() if run["placement"]["gpu_ids"] == [gpu_id]]
        assert on_it, f"no trial was granted GPU {gpu_id}: {Counter(r['placement']['gpu_ids'][0] for r in trials.values())}"
        assert _most_at_once(spans, on_it) <= 2, (gpu_id, {k: spans[k] for k in on_it})


def test_a_study_that_asks_for_no_gpu_trains_on_cpu_on_a_gpu_node(gpu_ray, tmp_path: Path) -> None:
    from gansearch.tracking.conventions import default_store_uri

    out = tmp_path / "cpu"
    _study(out, 0, 2)
    assert json.loads((out / "study.json").read_text())["resources"]["gpu"] == 0
    for key, run in _trials(out).items():
        assert run["placement"]["gpu_ids"] == [] and run["placement"]["device"] == "cpu", (key, run["placement"])
        assert "trained_on" not in run["placement"] and run["device"] == "cpu" and run["gpu_peak_memory_mib"] is None
    _, runs, _ = child_runs(default_store_uri(out), out)
    assert [(r.data.tags["ray.gpu_ids"], r.data.tags["device"]) for r in runs] == [("", "cpu")] * 2


def test_auto_takes_one_gpu_per_trial_where_the_cluster_has_them(gpu_ray, tmp_path: Path) -> None:
    from gansearch.search.study import run_study

    out = tmp_path / "auto"
    run_study(load(DIGITS, ["search.scheduler=none"]), DIGITS, out, num_trials=1, echo=lambda s: None)
    res = json.loads((out / "study.json").read_text())["resources"]
    assert res["gpu_setting"] == "auto" and res["gpu"] == 1 and res["max_concurrent"] == 2
    (run,) = _trials(out).values()
    assert run["placement"]["device"] == "cuda:0" and len(run["placement"]["gpu_ids"]) == 1

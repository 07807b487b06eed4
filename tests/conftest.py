"""Test-wide set-up. Its presence puts tests/ on sys.path, so `shared_files` (real-data helpers) imports everywhere.

Under CI (`CI=true`, which `.ci/run` sets) a skipped test fails the run: a skip there means a tool or data
file CI should have installed is missing (chromium, Fashion-MNIST, ray[default], the shared MNIST files),
and a whole family of tests would otherwise pass green without running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if in_ci() and skipped and exitstatus == 0:
        reasons = sorted({(str(r.longrepr[2]) if isinstance(r.longrepr, tuple) else str(r.longrepr)).removeprefix("Skipped: ")
                          for r in skipped})
        reporter.write_line(f"CI=true: {len(skipped)} tests skipped, which CI does not allow: " + "; ".join(reasons),
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: files keep their order otherwise). Under `make test`'s two xdist
    workers the long studies start at once and the many short tests fill in at the end, so the two
    workers finish together instead of one running the longest test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def start_test_ray() -> None:
    """One in-process Ray for every in-process study of the session (each `ray.init` costs 7-11 s), with
    the env a `gansearch run` gives its workers and the session's feature cache. A test that needs a Ray
    of its own shuts this one down; the next user starts it again. Stopped at the end of the session."""
    import ray

    if ray.is_initialized():
        return
    sys.path.insert(0, str(Path(__file__).parent / "search"))
    from study_helpers import cache_dir

    from gansearch.search.study import study_env

    os.environ["GANSEARCH_CACHE_DIR"] = cache_dir()
    env = {**study_env(), "GANSEARCH_CACHE_DIR": os.environ["GANSEARCH_CACHE_DIR"]}
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.2", log_to_driver=False,
             runtime_env={"env_vars": env})


@pytest.fixture
def ray_up() -> None:
    start_test_ray()


def pytest_unconfigure(config: pytest.Config) -> None:
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        ray.shutdown()


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real 4-trial digits study (local Ray, Optuna journal, MLflow sqlite) shared by the report,
    export and browser tests of a session; ~1 min on 2 CPUs. Read it, don't write into it. Under xdist
    the first worker to need it builds it in the session's shared temp folder and the other waits."""
    from filelock import FileLock

    sys.path.insert(0, str(Path(__file__).parent / "search"))
    from study_helpers import DIGITS

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this session's folder, shared by its workers (the parent of popen-gw0, gw1)
    out = base / "tiny-study" / "study"
    with FileLock(str(base / "tiny-study.lock")):
        if not (out / "summary.json").is_file():
            start_test_ray()
            from gansearch.config import load
            from gansearch.search.study import run_study

            run_study(load(DIGITS, []), DIGITS, out, num_trials=4, echo=lambda s: None)
    return out

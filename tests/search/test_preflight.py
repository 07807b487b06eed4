"""Preflight: `gansearch run` refuses a dead --address or --tracking-uri in seconds without starting Ray,
tells a Ray token mismatch apart, and checks from EVERY Ray node that the study folder is writable and
the data present (real Ray: an in-process node on 127.0.0.2, a `ray start` head for the token cases)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from gansearch.config.schema import DataConfig
from gansearch.errors import ConfigError, DataNotFoundError
from gansearch.search.preflight import check_address, check_nodes, check_tracking

TINY = Path(__file__).parent / "tiny.yaml"
GANSEARCH = str(Path(sys.executable).with_name("gansearch"))


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# `gansearch run` in a child process that reports, after main() returns, whether Ray was ever imported
RUN_AND_REPORT = """
import sys
from gansearch.cli.main import main
try:
    main(sys.argv[1:])
finally:
    print("ray imported:", "ray" in sys.modules, flush=True)
"""


def _run_cli(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true",
           "RAY_TMPDIR": str(tmp_path / "raytmp"), "HOME": str(tmp_path), **(env or {})}
    return subprocess.run([sys.executable, "-c", RUN_AND_REPORT, "run", str(TINY), "--out", str(tmp_path / "study"),
                           *extra], env=env, capture_output=True, text=True, timeout=120)


def _assert_refused_before_ray(tmp_path: Path, r: subprocess.CompletedProcess, option: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"{option}: "), r.stderr
    # Ray was never even imported (so never started), and no study folder was made
    assert r.stdout.strip().splitlines()[-1] == "ray imported: False", r.stdout
    assert not (tmp_path / "study" / "study.json").exists()


def test_cli_refuses_unreachable_address_fast(tmp_path: Path) -> None:
    r = _run_cli(tmp_path, "--address", f"127.0.0.1:{_free_port()}", "--tracking-uri", f"http://127.0.0.1:{_free_port()}")
    _assert_refused_before_ray(tmp_path, r, "--address")
    assert "cannot connect" in r.stderr


def test_cluster_study_needs_a_tracking_server(token_head, tmp_path: Path) -> None:
    """The default store is a sqlite file in the study folder: several nodes writing it over a shared mount
    is how runs get lost. With --address, --tracking-uri must be given."""
    address, token = token_head
    r = _run_cli(tmp_path, "--address", address, env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    _assert_refused_before_ray(tmp_path, r, "--tracking-uri")
    assert "must be given with --address" in r.stderr


def test_ray_address_in_the_environment_is_treated_as_address(token_head, tmp_path: Path) -> None:
    """`ray job submit` sets RAY_ADDRESS: it must get what --address gets (the tracking rule, the node
    checks), not a silent join through `ray.init()`."""
    address, token = token_head
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    flag = _run_cli(tmp_path, "--address", address, env=auth)
    by_env = _run_cli(tmp_path, env={**auth, "RAY_ADDRESS": address})
    _assert_refused_before_ray(tmp_path, by_env, "--tracking-uri")
    assert by_env.stderr == flag.stderr and by_env.returncode == flag.returncode == 2
    assert "RAY_ADDRESS" in by_env.stderr


def test_cli_refuses_dead_tracking_server_fast(tmp_path: Path) -> None:
    r = _run_cli(tmp_path, "--tracking-uri", f"http://127.0.0.1:{_free_port()}")
    _assert_refused_before_ray(tmp_path, r, "--tracking-uri")


def test_address_and_tracking_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("headnode", "host:port", "host:99999", ":6379"):
        with pytest.raises(ConfigError) as e:
            check_address(bad)
        assert e.value.path == "--address" and "host:port" in e.value.rule
    check_address(None)  # local Ray: nothing to check
    check_tracking("sqlite:////nowhere/mlflow.db")  # a local store needs no server
    probes: list[list[str]] = []  # the GCS probe (a child process) must not even be tried on a closed port
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: probes.append(cmd))
    with pytest.raises(ConfigError) as e:
        check_address(f"127.0.0.1:{_free_port()}", timeout=2)
    assert "cannot connect" in e.value.rule and "within 2s" in e.value.rule and probes == []


@pytest.fixture(scope="module")
def token_head(tmp_path_factory: pytest.TempPathFactory):
    """A real `ray start --head` with token auth on 127.0.0.2; stopped by its process group."""
    tmp = tmp_path_factory.mktemp("rh")
    # Ray's socket paths must fit in 107 bytes: under pytest's numbered tmp_path they did not once the
    # counter and the PID grew (108 bytes at pytest-109, PID 16594)
    short_temp = Path(tempfile.mkdtemp(prefix="gsr-", dir="/tmp"))
    port, token = _free_port("127.0.0.2"), uuid.uuid4().hex
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(tmp / "head.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}",
         "--num-cpus=0", "--node-ip-address=127.0.0.2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={short_temp}", "--memory=500000000", "--object-store-memory=100000000"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"--block" not in (tmp / "head.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp / "head.log").read_text()[-2000:]
            time.sleep(0.5)
        yield f"127.0.0.2:{port}", token
    finally:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its own processes (~4 s)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of its group is left
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(short_temp, ignore_errors=True)


@pytest.mark.slow
def test_token_auth_mismatch_is_named(token_head, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    address, token = token_head
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    check_address(address, timeout=5)  # the right token passes
    monkeypatch.setenv("RAY_AUTH_TOKEN", uuid.uuid4().hex)
    with pytest.raises(ConfigError) as e:
        check_address(address, timeout=5)
    assert e.value.path == "--address" and "rejected this process's token" in e.value.rule
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))  # token mode, but no token anywhere
    with pytest.raises(ConfigError) as e:
        check_address(address, timeout=5)
    assert "no token was found" in e.value.rule
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(ConfigError) as e:
        check_address(address, timeout=5)
    assert "RAY_AUTH_MODE is disabled" in e.value.rule


@pytest.mark.slow
def test_port_that_is_not_ray_is_refused() -> None:
    with socket.socket() as srv:  # accepts TCP, never speaks gRPC
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with pytest.raises(ConfigError) as e:
            check_address(f"127.0.0.1:{srv.getsockname()[1]}", timeout=1)
    assert e.value.path == "--address" and "does not answer as Ray" in e.value.rule


@pytest.fixture
def local_ray(ray_up):
    """The session's in-process Ray (tests/conftest.py): one node on 127.0.0.2."""
    yield


def test_check_nodes_probes_every_node(local_ray, tmp_path: Path) -> None:
    """One node here; on two real nodes, with a fault on the second only: tests/cluster/test_preflight_nodes.py."""
    import ray

    study = tmp_path / "study"
    study.mkdir()
    nodes = check_nodes(study, DataConfig(name="digits"))
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert {n["node_id"] for n in nodes} == alive and [n["ip"] for n in nodes] == ["127.0.0.2"]
    assert list(study.iterdir()) == []  # the probe file was removed


def test_check_nodes_refuses_unwritable_study_folder(local_ray, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    unwritable = [blocker / "study"]  # writes fail even as root
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        unwritable.append(ro)
    for folder in unwritable:
        with pytest.raises(ConfigError) as e:
            check_nodes(folder, DataConfig(name="digits"))
        assert e.value.path == "--out" and e.value.value == str(folder)
        assert "must be writable from every Ray node" in e.value.rule and "127.0.0.2" in e.value.rule


def test_check_nodes_refuses_a_node_without_the_feature_cache(local_ray, tmp_path: Path) -> None:
    """The driver trains the feature net once; a node that can't see that cache entry would train its own.
    The worker looks in the GANSEARCH_CACHE_DIR the job gave it, as `gansearch run` passes it."""
    import uuid

    from gansearch.metrics.features import default_cache_dir
    from gansearch.search.preflight import cache_entry_missing

    present, absent = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    entry = default_cache_dir() / "features" / f"preflight-test-{present}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(json.dumps({"weights_hash": present}))
    try:
        assert cache_entry_missing(present) is None and cache_entry_missing(None) is None
        check_nodes(tmp_path, DataConfig(name="digits"), feature_net_hash=present)  # the worker sees it
        with pytest.raises(ConfigError) as e:
            check_nodes(tmp_path, DataConfig(name="digits"), feature_net_hash=absent)
    finally:
        entry.unlink()
    assert e.value.path == "GANSEARCH_CACHE_DIR" and "every Ray node shares" in e.value.rule
    assert f"no cached feature net {absent}" in e.value.rule and "127.0.0.2" in e.value.rule


def test_check_nodes_refuses_missing_data(local_ray, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as e:
        check_nodes(tmp_path, DataConfig(name="mnist", root=str(tmp_path / "no-mnist-here")))
    assert "no-mnist-here" in str(e.value)

"""Preflight: `gansearch run` refuses a dead --address or --tracking-uri in seconds without starting Ray,
tells a Ray token mismatch apart, and checks from EVERY Ray node that the study folder is writable and
the data present (real Ray: an in-process node on 127.0.0.2, a `ray start` head for the token cases)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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


def _run_cli(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true",
           "RAY_TMPDIR": str(tmp_path / "raytmp"), "HOME": str(tmp_path)}
    t0 = time.monotonic()
    r = subprocess.run([GANSEARCH, "run", str(TINY), "--out", str(tmp_path / "study"), *extra],
                       env=env, capture_output=True, text=True, timeout=120)
    return r, time.monotonic() - t0


def _assert_refused_before_ray(tmp_path: Path, r: subprocess.CompletedProcess, elapsed: float, option: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"{option}: "), r.stderr
    assert elapsed < 15, f"took {elapsed:.1f}s"
    # Ray never started: its temp dir (RAY_TMPDIR) holds no session, and no study folder was made
    assert not list((tmp_path / "raytmp").glob("**/session_*"))
    assert not (tmp_path / "study" / "study.json").exists()


def test_cli_refuses_unreachable_address_fast(tmp_path: Path) -> None:
    r, elapsed = _run_cli(tmp_path, "--address", f"127.0.0.1:{_free_port()}")
    _assert_refused_before_ray(tmp_path, r, elapsed, "--address")
    assert "cannot connect" in r.stderr


def test_cli_refuses_dead_tracking_server_fast(tmp_path: Path) -> None:
    r, elapsed = _run_cli(tmp_path, "--tracking-uri", f"http://127.0.0.1:{_free_port()}")
    _assert_refused_before_ray(tmp_path, r, elapsed, "--tracking-uri")


def test_address_and_tracking_rules() -> None:
    for bad in ("headnode", "host:port", "host:99999", ":6379"):
        with pytest.raises(ConfigError) as e:
            check_address(bad)
        assert e.value.path == "--address" and "host:port" in e.value.rule
    check_address(None)  # local Ray: nothing to check
    check_tracking("sqlite:////nowhere/mlflow.db")  # a local store needs no server
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as e:
        check_address(f"127.0.0.1:{_free_port()}", timeout=2)
    assert time.monotonic() - t0 < 3 and "cannot connect" in e.value.rule


@pytest.fixture(scope="module")
def token_head(tmp_path_factory: pytest.TempPathFactory):
    """A real `ray start --head` with token auth on 127.0.0.2; stopped by its process group."""
    tmp = tmp_path_factory.mktemp("rh")
    port, token = _free_port("127.0.0.2"), uuid.uuid4().hex
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(tmp / "head.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}",
         "--num-cpus=0", "--node-ip-address=127.0.0.2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={tmp / 'r'}", "--memory=500000000", "--object-store-memory=100000000"],
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
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as e:
        check_address(address, timeout=5)
    assert "RAY_AUTH_MODE is disabled" in e.value.rule and time.monotonic() - t0 < 15


@pytest.mark.slow
def test_port_that_is_not_ray_is_refused() -> None:
    with socket.socket() as srv:  # accepts TCP, never speaks gRPC
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with pytest.raises(ConfigError) as e:
            check_address(f"127.0.0.1:{srv.getsockname()[1]}", timeout=1)
    assert e.value.path == "--address" and "does not answer as Ray" in e.value.rule


@pytest.fixture(scope="module")
def local_ray():
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=1, _node_ip_address="127.0.0.2", include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_check_nodes_probes_every_node(local_ray, tmp_path: Path) -> None:
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


def test_check_nodes_refuses_missing_data(local_ray, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as e:
        check_nodes(tmp_path, DataConfig(name="mnist", root=str(tmp_path / "no-mnist-here")))
    assert "no-mnist-here" in str(e.value)

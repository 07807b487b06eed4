"""A local MLflow server/UI on 127.0.0.1 for a study's store: started in its own process group."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gansearch.tracking.conventions import TELEMETRY_OFF


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(store_uri: str, artifacts: str | None, port: int, app_name: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if artifacts:
        cmd += ["--artifacts-destination", artifacts]
    if app_name:  # e.g. basic-auth (needs mlflow[auth]; its config from MLFLOW_AUTH_CONFIG_PATH)
        cmd += ["--app-name", app_name]
    return cmd


def start_server(store_uri: str, artifacts: str | None = None, port: int | None = None,
                 log: Path | None = None, app_name: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start `mlflow server` (telemetry off) in a new process group; stop it with stop_server."""
    port = port or free_port()
    # No job runner: the UI doesn't need its 7 extra processes (each start leaves a folder in /dev/shm).
    env = {**os.environ, **TELEMETRY_OFF, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(server_command(store_uri, artifacts, port, app_name), env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"mlflow server at {url} not ready after {timeout:.0f} s")


def stop_server(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the server's process group, SIGKILL what is left (a plain stop orphans its workers)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()

"""A real Ray cluster on one host for tests and benchmarks: `ray start --block` processes on loopback
addresses (head 127.0.0.2, more nodes on 127.0.0.3, ...), plus an `mlflow server` on 127.0.0.1.

Why real processes: a node is killed the way a machine dies (SIGKILL to every process of its session),
and the driver (`gansearch run --address`) connects the way a user's does. Every process gets
RAY_AUTH_MODE=token and the cluster's own token file (Ray 2.60 rejects a connecting process otherwise) and
is stopped by PID, never `ray stop` (which kills every Ray process on the machine by name).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

BIN = Path(sys.executable).parent
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
NODE_MEMORY = 2 * 1024**3  # two nodes on one host would each claim ~70% of RAM
OBJECT_STORE = 200 * 1024**2


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class RayNode:
    ip: str
    proc: subprocess.Popen
    log: Path
    node_id: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # this node's own variables (its workers inherit them)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class RayCluster:
    """Nodes of one cluster; `address` is what `ray.init(address=...)` / `gansearch run --address` take."""

    root: Path  # short: Ray's Unix socket paths under it must stay below ~107 characters
    log_dir: Path
    head_ip: str
    port: int
    nodes: list[RayNode] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"

    @property
    def token_path(self) -> Path:
        return self.root / "auth_token"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every process of this cluster (nodes, drivers): token auth with the cluster's
        own token (not ~/.ray/auth_token, so a driver with another HOME connects too)."""
        return {**os.environ, **RAY_ENV, "RAY_AUTH_TOKEN_PATH": str(self.token_path)}

    def _start(self, ip: str, head: bool, num_cpus: int, num_gpus: int = 0,
               env: dict[str, str] | None = None) -> RayNode:
        """`env`: variables only this node has (a machine's own set-up); the workers it starts inherit them."""
        name = f"n{len(self.nodes)}"
        temp = self.root / name
        temp.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "ray"), "start", "--block", f"--node-ip-address={ip}", f"--num-cpus={num_cpus}",
               f"--num-gpus={num_gpus}", f"--memory={NODE_MEMORY}", f"--object-store-memory={OBJECT_STORE}",
               "--disable-usage-stats", f"--temp-dir={temp}"]
        if head:
            cmd += ["--head", f"--port={self.port}", "--include-dashboard=false"]
        else:
            cmd += [f"--address={self.address}"]
        log = self.log_dir / f"ray-{name}-{ip}.log"
        proc = subprocess.Popen(cmd, env={**self.env, **(env or {})}, stdout=open(log, "ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        node = RayNode(ip, proc, log, env=dict(env or {}))
        self.nodes.append(node)
        return node

    def add_node(self, ip: str, num_cpus: int = 1, timeout: float = 90.0) -> RayNode:
        """Start one more worker node and wait until the GCS lists it alive."""
        node = self._start(ip, head=False, num_cpus=num_cpus)
        self.wait_nodes(timeout)
        return node

    def alive_nodes(self) -> list[dict]:
        """The GCS's view (`ray.nodes()`, asked from a short-lived driver so this process stays Ray-free)."""
        code = ("import json, ray; ray.init(address=%r, log_to_driver=False, logging_level='ERROR');"
                "print('NODES=' + json.dumps([{k: n[k] for k in ('NodeID', 'NodeManagerAddress', 'Alive', 'Resources')}"
                " for n in ray.nodes()]))" % self.address)
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True,
                             timeout=120, cwd=self.root)
        for line in out.stdout.splitlines():
            if line.startswith("NODES="):
                return [n for n in json.loads(line[6:]) if n["Alive"]]
        raise RuntimeError(f"ray.nodes() failed: {out.stderr[-2000:]}")

    def wait_nodes(self, timeout: float = 90.0) -> None:
        """Block until every started, still running node is alive in the GCS; record each node's id."""
        deadline = time.monotonic() + timeout
        want = {n.ip for n in self.nodes if n.alive}
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            dead = [n for n in self.nodes if not n.alive and n.node_id is None]
            if dead:
                raise RuntimeError(f"ray node {dead[0].ip} exited: {dead[0].log.read_text()[-2000:]}")
            if not _listening(self.head_ip, self.port):  # a driver would wait ~60 s for an absent GCS
                time.sleep(0.5)
                continue
            try:
                seen = {n["NodeManagerAddress"]: n["NodeID"] for n in self.alive_nodes()}
            except (RuntimeError, subprocess.TimeoutExpired):
                seen = {}
            if want <= set(seen):
                for n in self.nodes:
                    n.node_id = seen.get(n.ip, n.node_id)
                return
            time.sleep(1.0)
        raise TimeoutError(f"Ray nodes {sorted(want - set(seen))} not up after {timeout:.0f} s")

    def kill_node(self, node: RayNode) -> None:
        """The node dies like a machine: SIGKILL to every process of its session (raylet, agents, and the
        workers, which Ray puts in process groups of their own)."""
        kill_session(node.proc.pid)
        node.proc.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> None:
        """Worker nodes first, then the head: SIGTERM the `ray start --block` PID, then SIGKILL what is left
        of its session."""
        for node in reversed(self.nodes):
            if node.alive:
                try:
                    node.proc.send_signal(signal.SIGTERM)
                    node.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            kill_session(node.proc.pid)  # whatever the node left behind (workers ignoring SIGTERM)
            if node.proc.poll() is None:
                node.proc.wait(timeout=30)


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def session_pids(sid: int) -> list[int]:
    """PIDs of the processes in session `sid` (from /proc; psutil is not a dependency)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


def kill_session(sid: int, rounds: int = 5) -> None:
    """SIGKILL every process of a session started with start_new_session=True (its leader's PID is `sid`),
    by PID; a few rounds, in case one forked meanwhile."""
    for _ in range(rounds):
        pids = [p for p in session_pids(sid) if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def short_dir() -> Path:
    """A temp dir with a short path for Ray's sockets (pytest's tmp_path is too long)."""
    return Path(tempfile.mkdtemp(prefix="gsr-", dir="/tmp"))


@contextmanager
def ray_cluster(log_dir: Path, ips: tuple[str, ...] = ("127.0.0.2", "127.0.0.3"), num_cpus: int = 1,
                timeout: float = 120.0, num_gpus: int = 0,
                node_env: dict[str, dict[str, str]] | None = None) -> Iterator[RayCluster]:
    """A head on ips[0] and one worker node per further IP, `num_cpus` (and `num_gpus`: logical GPUs, Ray
    checks none) each; all stopped on exit. `node_env`: IP -> variables only that node gets, so a test can
    make one node differ from the others. Ray's logs end up in `log_dir`."""
    node_env = node_env or {}
    log_dir.mkdir(parents=True, exist_ok=True)
    root = short_dir()
    cluster = RayCluster(root, log_dir, ips[0], free_port(ips[0]))
    cluster.token_path.write_text(secrets.token_hex(32))  # what `ray get-auth-token --generate` writes
    cluster.token_path.chmod(0o600)
    try:
        head = cluster._start(ips[0], head=True, num_cpus=num_cpus, num_gpus=num_gpus, env=node_env.get(ips[0]))
        deadline = time.monotonic() + timeout
        while not _listening(cluster.head_ip, cluster.port) and head.alive and time.monotonic() < deadline:
            time.sleep(0.3)
        for ip in ips[1:]:
            cluster._start(ip, head=False, num_cpus=num_cpus, num_gpus=num_gpus, env=node_env.get(ip))
        cluster.wait_nodes(timeout)
        yield cluster
    finally:
        cluster.stop()
        for logs in root.glob("n*/session_*/logs"):  # keep the raylet/worker logs for a failing test
            shutil.copytree(logs, log_dir / f"ray-logs-{logs.parents[1].name}", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.sock", "*socket*"))
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _server(folder: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    from gansearch.tracking.server import start_server, stop_server

    folder.mkdir(parents=True, exist_ok=True)
    proc, url = start_server(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "mlartifacts"),
                             log=folder / "mlflow-server.log")
    try:
        yield proc, url
    finally:
        stop_server(proc)  # by process group


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 (sqlite store and proxied artifacts in `folder`); yields its URL."""
    from gansearch.tracking.server import wait_ready

    with _server(folder) as (proc, url):
        wait_ready(url, proc, timeout=180)
        yield url


@contextmanager
def cluster_and_server(log_dir: Path, ips: tuple[str, ...] = ("127.0.0.2", "127.0.0.3"),
                       num_cpus: int = 1) -> Iterator[tuple[RayCluster, str]]:
    """A Ray cluster and an MLflow server, started side by side (each takes ~20 s); yields (cluster, url)."""
    from gansearch.tracking.server import wait_ready

    with _server(log_dir / "mlflow-server") as (proc, url), ray_cluster(log_dir, ips, num_cpus) as cluster:
        wait_ready(url, proc, timeout=180)
        yield cluster, url


def study_env(cluster: RayCluster, home: Path) -> dict[str, str]:
    """The environment of a `gansearch run --address` driver: the cluster's, the search tests' shared
    feature cache, and a private HOME."""
    from search.study_helpers import cache_dir

    return {**cluster.env, "GANSEARCH_CACHE_DIR": cache_dir(), "HOME": str(home)}

"""Checks `gansearch run` makes before any trial starts, so a wrong address, a dead tracking server, a
study folder the workers cannot write or data a node lacks costs seconds, not a queue of failed trials.

Each failure is one `ConfigError` (or the data locator's own error) naming the option to fix.
`check_address` and `check_tracking` run before Ray starts; `check_nodes` right after `ray.init`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from gansearch.errors import ConfigError, DataNotFoundError
from gansearch.search.private_api import GCS_PROBE

AUTH_HINT = ("set RAY_AUTH_MODE=token and give the cluster's token in ~/.ray/auth_token, RAY_AUTH_TOKEN "
             "or RAY_AUTH_TOKEN_PATH")



def split_address(address: str) -> tuple[str, int]:
    """`host:port` -> (host, port); anything else is refused with an example."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--address", "must be host:port of a Ray head (e.g. 10.0.0.5:6379)", address)
    return host.strip("[]"), int(port)


def check_address(address: str | None, timeout: float = 5) -> None:
    """A `--address` must be a Ray head that accepts this process's auth settings.

    A TCP connect answers in `timeout` seconds instead of Ray's 20-30 s of retries; then one GCS call in a
    child process tells a token mismatch (RAY_AUTH_MODE) from a port that is not a Ray head."""
    if not address or address in ("auto", "local"):
        return
    if address.startswith("ray://"):  # Ray Client: only the TCP check applies
        host, port = split_address(address[len("ray://"):])
        _tcp(address, host, port, timeout)
        return
    host, port = split_address(address)
    _tcp(address, host, port, timeout)
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token" and not _token_available():
        # Ray's client aborts the process (a C++ check) when token mode has no token to send
        raise ConfigError("--address", f"needs the cluster's Ray token: RAY_AUTH_MODE is token here but no "
                          f"token was found ({AUTH_HINT})", address)
    try:
        # the GCS call gets twice the TCP timeout: a loaded head answers a connect long before a call
        # a child process (private_api.GCS_PROBE), which can be killed at our timeout; it reads
        # RAY_AUTH_MODE and the token like a driver would
        r = subprocess.run([sys.executable, "-c", GCS_PROBE, f"{host}:{port}", str(2 * timeout)],
                           capture_output=True, text=True, timeout=2 * timeout + 10, env=os.environ.copy())
        last = (r.stdout.strip().splitlines() or [""])[-1]
        result = json.loads(last) if last.startswith("{") else {"ok": False, "type": "", "msg": _crash(r)}
    except subprocess.TimeoutExpired:
        raise ConfigError("--address", f"must be a Ray head's GCS port ({host}:{port} accepts connections "
                          f"but does not answer as Ray within {2 * timeout + 10:g}s)", address) from None
    if result.get("ok"):
        return
    msg = result.get("msg", "")
    if result.get("type") == "AuthenticationError" or any(
            k in msg for k in ("InvalidAuthToken", "Unauthenticated", "authentication token")):
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        why = (f"the cluster uses token auth but RAY_AUTH_MODE is {mode} here" if mode != "token"
               else "the cluster rejected this process's token")
        raise ConfigError("--address", f"must accept this process's Ray token: {why} ({AUTH_HINT})", address)
    msg = msg or f"no answer within {2 * timeout:g}s"
    raise ConfigError("--address", f"must be a Ray head ({host}:{port} does not answer as Ray: {msg})", address)


def _token_available() -> bool:
    """Where Ray looks for a token, in its order: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path or Path.home() / ".ray" / "auth_token").expanduser().is_file()


def _crash(r: subprocess.CompletedProcess) -> str:
    """The one telling line of a probe that died in Ray's C++ code (a failed check), else the last one."""
    lines = [x.strip() for x in r.stderr.splitlines() if x.strip()]
    for x in lines:
        if "Check failed" in x:
            return x[x.index("Check failed"):][:300]
    return (lines[-1][:300] if lines else "") + f" (probe exit code {r.returncode})"


def _tcp(address: str, host: str, port: int, timeout: float) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ConfigError("--address", f"must be a reachable Ray head (cannot connect to {host}:{port} "
                          f"within {timeout:g}s: {why})", address) from None


def check_tracking(uri: str, timeout: float = 10) -> None:
    """An http(s) MLflow server must answer /health, and accept the credentials (from the URI or
    MLFLOW_TRACKING_USERNAME/PASSWORD) on an API call, before Ray starts: MLflow's own retries take minutes,
    and a wrong password would otherwise fail every trial. Other URIs (sqlite, file) need no server."""
    if not uri.startswith(("http://", "https://")):
        return
    import base64
    import urllib.error
    import urllib.request
    from urllib.parse import unquote, urlsplit, urlunsplit

    from gansearch.tracking.conventions import CREDENTIAL_ENV, redact_uri

    parts = urlsplit(uri)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])).rstrip("/")  # credentials: a header
    user, password = (unquote(parts.username), unquote(parts.password or "")) if parts.username is not None else \
        (os.environ.get(CREDENTIAL_ENV[0]), os.environ.get(CREDENTIAL_ENV[1], ""))
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()} if user else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(bare + "/health", headers=headers), timeout=timeout) as r:
            r.read()
    except OSError as e:
        raise ConfigError("--tracking-uri", f"must be a reachable MLflow server ({e})", redact_uri(uri)) from None
    api = bare + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        with urllib.request.urlopen(urllib.request.Request(api, headers=headers), timeout=timeout) as r:
            r.read()
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            who = f"user {user!r}" if user else "no credentials"
            raise ConfigError("--tracking-uri", f"must accept this process's credentials ({who}: the server answered "
                              f"{e.code} {e.reason}; give user:password in the URI or {CREDENTIAL_ENV[0]}/"
                              f"{CREDENTIAL_ENV[1]})", redact_uri(uri)) from None
        raise ConfigError("--tracking-uri", f"must be an MLflow server ({api.replace(bare, '')} answered {e.code})",
                          redact_uri(uri)) from None
    except OSError as e:
        raise ConfigError("--tracking-uri", f"must be a reachable MLflow server ({e})", redact_uri(uri)) from None


def cache_entry_missing(feature_net_hash: str | None) -> str | None:
    """Why this process would not find the feature net the driver cached (None: it would). Trials that
    missed it would each train their own classifier, and distances from different nets don't compare."""
    if feature_net_hash is None:
        return None
    from gansearch.metrics.features import default_cache_dir

    folder = default_cache_dir() / "features"
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            if json.loads(meta.read_text()).get("weights_hash") == feature_net_hash:
                return None
        except (OSError, json.JSONDecodeError):
            continue
    return f"no cached feature net {feature_net_hash} in {folder}"


def _probe(study_dir: str, data_cfg: Any, feature_net_hash: str | None = None) -> dict[str, Any]:
    """On one node: write, read back and delete a file in the study folder; look for the data and the
    driver's cached feature net."""
    import ray

    from gansearch.data.locate import locate

    out: dict[str, Any] = {"node_id": ray.get_runtime_context().get_node_id(), "write": None, "data": None,
                           "cache": cache_entry_missing(feature_net_hash)}
    probe = Path(study_dir) / f".preflight-{out['node_id'][:12]}-{os.getpid()}"
    try:
        probe.write_text("gansearch preflight\n")
        if probe.read_text() != "gansearch preflight\n":
            raise OSError("read back differs from what was written")
        probe.unlink()
    except OSError as e:
        out["write"] = f"{type(e).__name__}: {e.strerror or e}"
    if data_cfg is not None:
        try:
            locate(data_cfg)
        except (DataNotFoundError, ConfigError) as e:
            out["data"] = str(e)
    return out


def on_each_node(fn: Callable[..., Any], args: tuple[Any, ...], nodes: list[dict[str, Any]], timeout: float,
                 field: str, value: Any, silent: str, broken: str) -> Iterator[tuple[dict[str, Any], str, Any]]:
    """Run `fn(*args)` as a zero-CPU task pinned to each of `nodes` (ray.nodes() entries), all at once;
    yield (node, "node <id> <ip>", result) in the nodes' order. A node that gives no answer within
    `timeout`, or can't run `fn` (not installed, an import error), is one ConfigError(field, rule, value):
    `silent` / `broken` with {where} and {why} filled in."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=0, max_retries=0)(fn)
    refs = {n["NodeID"]: remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        node_id=n["NodeID"], soft=False)).remote(*args) for n in nodes}
    ready = set(ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)[0]) if refs else set()
    for n in nodes:
        ref, where = refs[n["NodeID"]], f"node {n['NodeID'][:12]} {n.get('NodeManagerAddress', '?')}"
        if ref not in ready:
            ray.cancel(ref, force=True)
            raise ConfigError(field, silent.format(where=where, why=f"no answer within {timeout:g}s"), value)
        try:
            result = ray.get(ref)
        except Exception as e:  # noqa: BLE001 - the node could not run the probe at all
            first = str(e).strip().splitlines()[-1][:200] if str(e).strip() else type(e).__name__
            raise ConfigError(field, broken.format(where=where, why=first), value) from None
        yield n, where, result


def check_nodes(study_dir: Path, data_cfg: Any, timeout: float = 120, feature_net_hash: str | None = None
                ) -> list[dict[str, Any]]:
    """After `ray.init`: the cluster has alive nodes, and on EACH one a zero-CPU task pinned to it can
    write the study folder, find the data and (with `feature_net_hash`, a classifier's) the feature net
    the driver cached. Returns [{node_id, ip}] of the nodes checked.

    Nodes an autoscaler adds later are not covered: they run the same setup as the ones checked."""
    import ray

    from gansearch.data.locate import locate

    if data_cfg is not None:
        locate(data_cfg)  # the driver first: its message is the familiar one
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if not nodes:
        raise ConfigError("--address", "must be a Ray cluster with alive nodes (none alive)",
                          ray.get_runtime_context().gcs_address)
    gcs = ray.get_runtime_context().gcs_address
    checked: list[dict[str, Any]] = []
    for n, where, res in on_each_node(_probe, (str(study_dir), data_cfg, feature_net_hash), nodes, timeout, "--address",
                                      gcs, "every Ray node must run a task ({where}: {why})",
                                      "every Ray node must run gansearch ({where}: {why})"):
        node_id, ip = n["NodeID"], n.get("NodeManagerAddress", "?")
        if res["write"]:
            raise ConfigError("--out", f"must be writable from every Ray node ({where}: {res['write']})",
                              str(study_dir))
        if res["data"]:
            raise DataNotFoundError(f"on Ray {where}: {res['data']}")
        if res.get("cache"):
            raise ConfigError("GANSEARCH_CACHE_DIR", f"must be a folder every Ray node shares ({where}: "
                              f"{res['cache']}; trials there would train another feature net)",
                              os.environ.get("GANSEARCH_CACHE_DIR"))
        checked.append({"node_id": node_id, "ip": ip})
    return checked


def check_gpus(gpu: float, timeout: float = 120) -> list[dict[str, Any]]:
    """When trials ask for GPUs: on EACH node that advertises GPUs to Ray, torch must be able to use them
    (a CPU-only torch, or a driver torch can't load, would fail every trial placed there). Returns the
    probes' answers, one per GPU node."""
    import ray

    from gansearch.search.devices import GPU_FIELD, gpu_probe

    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("GPU", 0) > 0]
    answers = []
    for n, where, res in on_each_node(gpu_probe, (), nodes, timeout, GPU_FIELD, gpu,
                                      "needs every node that advertises GPUs to answer a GPU probe ({where}: {why})",
                                      "needs torch on every GPU node ({where}: {why})"):
        count = n["Resources"]["GPU"]
        if not res["usable"] and not res["standin"]:
            build = "a CPU-only build" if res["cuda_build"] is None else f"built for CUDA {res['cuda_build']}"
            raise ConfigError(GPU_FIELD, f"needs a CUDA torch can use on every node that advertises GPUs ({where}: Ray "
                              f"counts {count:g} GPUs, torch {res['torch']} ({build}) can use none)", gpu)
        answers.append({"node_id": n["NodeID"], "ip": n.get("NodeManagerAddress"), **res})
    return answers

"""The every-node preflight checks on a real two-node Ray (head 127.0.0.2, a second node on 127.0.0.3, both
`ray start` processes on this host): each node is probed by a task pinned to it, and a fault that only the
second node has is refused naming that node, not the head.

On one host the nodes share a file system, so each node is made different the way two machines are:
its own variables (`ray_cluster(node_env=...)`, inherited by the workers it starts) point it at its own
feature cache and its own folder, where the plug-in looks for a flaw file; and only the head has the
CUDA stand-in (devices.STANDIN_ENV) that lets it pass for a node whose torch can use its GPU."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from ray_nodes import RayCluster, ray_cluster
from search.study_helpers import DIGITS

pytestmark = pytest.mark.slow
HEAD, SECOND = "127.0.0.2", "127.0.0.3"
DRIVER = Path(__file__).with_name("preflight_driver.py")

# A plug-in model whose copy on a node breaks (G emits one value too many) where that node's folder holds
# `flaw`, as another installed version would; each build leaves a mark naming the node that built it.
PLUGIN = '''
import os
from pathlib import Path

from torch import nn


def build(shape, z_dim=16):
    import ray

    node_dir = os.environ.get("GSTEST_NODE_DIR")
    extra = 0
    if node_dir:
        (Path(node_dir) / f"built-{ray.get_runtime_context().get_node_id()}").touch()
        extra = int((Path(node_dir) / "flaw").exists())
    n = 1
    for s in shape:
        n *= s
    g = nn.Sequential(nn.Linear(z_dim, n + extra), nn.Tanh())
    if not extra:
        g.append(nn.Unflatten(1, tuple(shape)))
    d = nn.Sequential(nn.Flatten(), nn.Linear(n, 1))
    return g, d
'''


def _drive(cluster: RayCluster, setup: dict[str, Any], log: Path) -> dict[str, Any]:
    """Run tests/cluster/preflight_driver.py against the cluster; its RESULT line, parsed."""
    r = subprocess.run([sys.executable, str(DRIVER), cluster.address, json.dumps(setup)], env=cluster.env,
                       capture_output=True, text=True, timeout=600, cwd=cluster.root)
    log.write_text(r.stdout + "\n--- stderr ---\n" + r.stderr)
    lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT=")]
    assert r.returncode == 0 and lines, r.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT="):])


def _names(rule: str, node: dict[str, str]) -> bool:
    """on_each_node names a node `node <id[:12]> <ip>`."""
    return f"node {node['node_id'][:12]} {node['ip']}" in rule


def test_every_node_is_probed_and_a_fault_on_the_second_node_is_named(tmp_path: Path) -> None:
    dirs = {ip: tmp_path / f"node-{ip}" for ip in (HEAD, SECOND)}
    for d in dirs.values():
        d.mkdir()
    node_env = {ip: {"GSTEST_NODE_DIR": str(d), "GANSEARCH_CACHE_DIR": str(d / "cache")} for ip, d in dirs.items()}
    node_env[HEAD]["GANSEARCH_TEST_CUDA_STANDIN"] = "1"
    plugin_root = tmp_path / "plugins"
    plugin_root.mkdir()
    (plugin_root / "gs_node_plugin.py").write_text(PLUGIN)
    study = tmp_path / "study"
    study.mkdir()
    setup = {"timeout": 300, "study": str(study), "net_hash": uuid.uuid4().hex[:16],
             "node_dirs": [str(dirs[HEAD]), str(dirs[SECOND])], "plugin_root": str(plugin_root),
             "plugin": "gs_node_plugin:build", "space": str(DIGITS)}
    with ray_cluster(tmp_path / "logs", (HEAD, SECOND), num_gpus=1, node_env=node_env) as cluster:
        ids = {n.ip: n.node_id for n in cluster.nodes}
        assert None not in ids.values() and len(set(ids.values())) == 2, ids
        out = _drive(cluster, setup, tmp_path / "driver.log")
        gpus_ok = _drive(cluster, {**setup, "gpus_only": True, "standin_everywhere": True}, tmp_path / "driver-gpus.log")

    node = {ip: {"node_id": ids[ip], "ip": ip} for ip in ids}
    assert sorted(out["nodes"], key=lambda n: n["ip"]) == [node[HEAD], node[SECOND]]

    # on_each_node: one answer per node, from a task that really ran on that node (its id, IP, variables)
    assert sorted((p["node_id"], p["ran"]["node_id"], p["ran"]["ip"], p["ran"]["node_dir"]) for p in out["pinned"]) == \
        sorted((ids[ip], ids[ip], ip, str(dirs[ip])) for ip in ids)
    assert all(_names(p["where"], node[p["ran"]["ip"]]) for p in out["pinned"])

    # check_nodes: both nodes checked, the probe file removed; a cache entry the second node lacks is refused there
    assert sorted(out["check_nodes"]["ok"], key=lambda n: n["ip"]) == [node[HEAD], node[SECOND]]
    assert out["study_left"] == []
    err = out["check_nodes_second_lacks_cache"]["error"]
    assert err["path"] == "GANSEARCH_CACHE_DIR" and _names(err["rule"], node[SECOND]), err
    assert f"no cached feature net {setup['net_hash']} in {dirs[SECOND] / 'cache' / 'features'}" in err["rule"]
    assert ids[HEAD][:12] not in err["rule"] and HEAD not in err["rule"], err

    # the plug-in check: built on both nodes (each left its mark); the second node's broken copy is named
    assert out["plugin"] == {"ok": None}
    for ip, d in dirs.items():
        assert (d / f"built-{ids[ip]}").exists(), sorted(p.name for p in d.iterdir())
    err = out["plugin_second_broken"]["error"]
    assert err["path"] == "model.name" and err["value"] == "gs_node_plugin:build", err
    assert f"(on Ray node {ids[SECOND][:12]} {SECOND})" in err["rule"] and "shape" in err["rule"], err
    assert ids[HEAD][:12] not in err["rule"], err

    # check_gpus: every node advertising a GPU answers; the one whose torch can't use it is named
    answers = gpus_ok["gpus"]["ok"]
    assert sorted((a["node_id"], a["ip"], a["standin"]) for a in answers) == sorted((ids[ip], ip, True) for ip in ids)
    err = out["gpus_second_unusable"]["error"]
    assert err["path"] == "search.resources_per_trial.gpu" and _names(err["rule"], node[SECOND]), err
    assert "can use none" in err["rule"] and ids[HEAD][:12] not in err["rule"], err

"""A driver for tests/cluster/test_preflight_nodes.py: joins a `ray_nodes` cluster, runs gansearch's
every-node checks (preflight.on_each_node, check_nodes, check_gpus, plugin_check.check_on_nodes) the way
`gansearch run --address` does, and prints what each returned or refused as one JSON line (`RESULT=`).

A separate process, as a user's driver is: it joins with the cluster's token, and the test process
keeps its own in-process Ray. Between checks it changes the files one node sees (its feature cache, a
flaw file its plug-in reads), so that one cluster shows both a pass on every node and a refusal on one.

    python preflight_driver.py ADDRESS SETUP_JSON
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def where_am_i() -> dict[str, Any]:
    """Run on one node: which node and IP actually ran it, and that node's own marker variable."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "node_dir": os.environ.get("GSTEST_NODE_DIR")}


def refusal(fn: Callable[[], Any]) -> dict[str, Any]:
    """{"ok": what fn returned} or {"error": the ConfigError's field, rule and value}."""
    from gansearch.errors import ConfigError

    try:
        return {"ok": fn()}
    except ConfigError as e:
        return {"error": {"path": e.path, "rule": e.rule, "value": e.value}}


def main(address: str, setup: dict[str, Any]) -> dict[str, Any]:
    import ray

    from gansearch.config import load
    from gansearch.config.schema import DataConfig
    from gansearch.search import plugin_check, preflight
    from gansearch.search.devices import STANDIN_ENV

    env_vars = {STANDIN_ENV: "1"} if setup.get("standin_everywhere") else {}
    ray.init(address=address, log_to_driver=False, runtime_env={"env_vars": env_vars} if env_vars else None)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    out: dict[str, Any] = {"nodes": [{"node_id": n["NodeID"], "ip": n["NodeManagerAddress"]} for n in nodes]}
    if setup.get("gpus_only"):
        out["gpus"] = refusal(lambda: preflight.check_gpus(1.0, timeout=setup["timeout"]))
        return out

    # on_each_node: one task per node, pinned there
    out["pinned"] = [{"node_id": n["NodeID"], "where": where, "ran": res} for n, where, res in preflight.on_each_node(
        where_am_i, (), nodes, setup["timeout"], "--address", address, "{where}: {why}", "{where}: {why}")]

    # check_nodes: the driver's feature net cached on every node passes; missing on the second node only, refused
    study, digits, net = Path(setup["study"]), DataConfig(name="digits"), setup["net_hash"]
    entries = [Path(d) / "cache" / "features" / f"preflight-{net}.json" for d in setup["node_dirs"]]
    for e in entries:
        e.parent.mkdir(parents=True, exist_ok=True)
        e.write_text(json.dumps({"weights_hash": net}))
    out["check_nodes"] = refusal(lambda: preflight.check_nodes(study, digits, timeout=setup["timeout"],
                                                               feature_net_hash=net))
    entries[-1].unlink()
    out["check_nodes_second_lacks_cache"] = refusal(
        lambda: preflight.check_nodes(study, digits, timeout=setup["timeout"], feature_net_hash=net))
    out["study_left"] = sorted(p.name for p in study.iterdir())

    # the plug-in check: builds on every node; the second node's copy is broken (a flaw file only it reads)
    sys.path.insert(0, setup["plugin_root"])
    cfg = load(Path(setup["space"]), [f"model.name={setup['plugin']}"])
    shape = plugin_check.data_shape(cfg)
    out["plugin"] = refusal(lambda: plugin_check.check_on_nodes(cfg, shape, [setup["plugin_root"]], timeout=setup["timeout"]))
    (Path(setup["node_dirs"][-1]) / "flaw").write_text("G emits one pixel too many here\n")
    out["plugin_second_broken"] = refusal(
        lambda: plugin_check.check_on_nodes(cfg, shape, [setup["plugin_root"]], timeout=setup["timeout"]))

    # check_gpus: both nodes advertise a GPU; only the head's torch "can use" it (the test stand-in)
    out["gpus_second_unusable"] = refusal(lambda: preflight.check_gpus(1.0, timeout=setup["timeout"]))
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], json.loads(sys.argv[2]))
    print("RESULT=" + json.dumps(result), flush=True)

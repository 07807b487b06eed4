"""`gansearch run --address --tracking-uri` on a real two-node Ray cluster (head 127.0.0.2 and a node on
127.0.0.3, 1 CPU each) with a real `mlflow server` on 127.0.0.1: trials run on both nodes, and each
trial is one finished MLflow child run that says which node ran it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ray_nodes import cluster_and_server, study_env
from search.study_helpers import DIGITS, child_runs, optuna_trials

pytestmark = pytest.mark.slow
N = 4


def test_trials_spread_over_both_nodes(tmp_path: Path) -> None:
    out = tmp_path / "study"
    t_up = time.monotonic()
    with cluster_and_server(tmp_path / "logs") as (cluster, url):
        print(f"2 Ray nodes + mlflow server up: {time.monotonic() - t_up:.1f} s")
        node_ids = {n.ip: n.node_id for n in cluster.nodes}
        assert len(set(node_ids.values())) == 2 and None not in node_ids.values()
        cmd = [str(Path(sys.executable).with_name("gansearch")), "run", str(DIGITS), "--address", cluster.address,
               "--tracking-uri", url, "--out", str(out), "--num-trials", str(N)]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=study_env(cluster, tmp_path), capture_output=True, text=True, timeout=300)
        print(f"gansearch run on 2 nodes: {time.monotonic() - t0:.1f} s")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert url in proc.stdout  # the report points at the server's runs table, not a local store

        c, runs, parent = child_runs(url, out)
        keys = [r.data.tags["gansearch.trial_key"] for r in runs]
        assert len(runs) == N and len(set(keys)) == N, keys  # one child run per trial, none duplicated
        assert parent.info.status == "FINISHED"
        for r in runs:
            assert r.info.status == "FINISHED", (r.data.tags, r.info.status)
            assert r.data.tags["status"] in ("completed", "stopped-early"), r.data.tags
            ip, node = r.data.tags["ray.node_ip"], r.data.tags["ray.node_id"]
            assert node_ids[ip] == node, (ip, node, node_ids)  # the node the harness started on that IP
            assert r.data.tags["ray.node_ids"] == node  # nothing died: one start each
            steps = [m.step for m in c.get_metric_history(r.info.run_id, "fd_classifier")]
            assert steps == sorted(set(steps)) and steps[0] == 0, steps  # each evaluation logged once
        used = {r.data.tags["ray.node_id"] for r in runs}
        assert used == set(node_ids.values()), (used, node_ids)  # both nodes ran trials

        trials = optuna_trials(out)
        assert len(trials) == N and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
        assert {t.user_attrs["gansearch_key"] for t in trials} == set(keys)

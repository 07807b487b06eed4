"""dashboards/grafana-gansearch.json queries only metrics that exist: Ray's own (as the installed ray package
defines or charts them) or the study's gauges from gansearch.search.metrics_export. And those gauges really
reach Prometheus through Ray's metrics agent, named as the dashboard expects."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from gansearch.search import metrics_export as mx
from gansearch.tracking import conventions as cv

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana-gansearch.json"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}
# what Ray's per-node metrics agent needs (ray[default]); without it nothing is exported
AGENT_MODULES = ("grpc", "aiohttp_cors", "prometheus_client", "opentelemetry.exporter.prometheus")


def _ray_dir() -> Path:
    spec = importlib.util.find_spec("ray")
    assert spec and spec.origin
    return Path(spec.origin).parent


def ray_metric_names() -> set[str]:
    """Names Ray exports, read from the installed package's source: the node gauges of its reporter agent
    and every metric its bundled Grafana dashboards chart (core metrics such as ray_resources live in C++)."""
    ray = _ray_dir()
    reporter = (ray / "dashboard/modules/reporter/reporter_agent.py").read_text()
    names = {"ray_" + n for n in re.findall(r'Gauge\(\s*"(\w+)"', reporter)}
    for f in (ray / "dashboard/modules/metrics/dashboards").glob("*.py"):
        names |= set(re.findall(r"\bray_\w+", f.read_text()))
    return names


def gansearch_metric_names() -> dict[str, tuple[str, ...]]:
    return {mx.PROMETHEUS_PREFIX + name: tags for name, (_, tags) in mx.GAUGES.items()}


def metrics_in(expr: str) -> dict[str, list[str]]:
    """The metric names a PromQL expression selects, each with the label matchers written in its selectors."""
    found: dict[str, list[str]] = {}
    for name, labels in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        found.setdefault(name, []).append(labels)
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', " ", expr)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # range durations
    for tok in re.findall(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", bare):
        if tok.lower() not in PROMQL_WORDS:
            found.setdefault(tok, [])
    return found


def _panels(dash: dict) -> list[dict]:
    out = []
    for p in dash["panels"]:
        out += [p] if p.get("type") != "row" else []
        out += p.get("panels", [])
    return out


def _queries(dash: dict) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    qs = []
    for p in _panels(dash):
        targets = p.get("targets", [])
        assert targets, f"panel {p['title']!r} has no query"
        for t in targets:
            assert t.get("expr", "").strip(), f"panel {p['title']!r} target {t.get('refId')} has an empty expr"
            qs.append((p["title"], t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
            qs.append((f"variable {v['name']}", m.group(1) if m else q))
    return qs


def test_metrics_in_parses_promql() -> None:
    e = 'sum by (instance, GpuIndex) (ray_node_gram_used{instance=~"$instance"} + x_total) * 1024 / on() max(y[5m])'
    assert set(metrics_in(e)) == {"ray_node_gram_used", "x_total", "y"}
    assert metrics_in('ray_gansearch_trials{status="running",study=~"$study"}') == {
        "ray_gansearch_trials": ['status="running",study=~"$study"']}


def test_ray_names_come_from_the_installed_package() -> None:
    names = ray_metric_names()
    assert {"ray_node_cpu_utilization", "ray_node_gpus_utilization", "ray_node_gram_used", "ray_resources"} <= names
    assert "ray_node_gpu_utilisation" not in names  # a typo would not pass


def test_every_dashboard_query_uses_known_metrics_and_labels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    known_ray, ours = ray_metric_names(), gansearch_metric_names()
    queries = _queries(dash)
    assert len(queries) >= 10
    used: set[str] = set()
    for where, expr in queries:
        found = metrics_in(expr)
        assert found, f"{where}: no metric in {expr!r}"
        for name, selectors in found.items():
            assert name in known_ray or name in ours, f"{where}: {name} is neither Ray's nor gansearch's"
            used.add(name)
            if name in ours:
                for sel in selectors:
                    labels = dict(re.findall(r'(\w+)\s*[=!~]+\s*"([^"]*)"', sel))
                    extra = set(labels) - set(ours[name])
                    assert not extra, f"{where}: {name} has no label {extra}"
                    if "status" in labels:
                        assert labels["status"] in cv.STATUSES, f"{where}: unknown status {labels['status']}"
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            if set(found) <= set(ours):
                by = {x.strip() for x in group.split(",")}
                assert by <= {t for n in found for t in ours[n]}, f"{where}: groups by a label it lacks: {by}"
    assert set(ours) <= used, "every exported study metric has a panel"
    assert {"ray_node_gpus_utilization", "ray_node_gram_used"} <= used, "GPU use is charted"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_study_gauges_reach_prometheus() -> None:
    """Sets the gauges in a real local Ray and scrapes its metrics agent: names, labels and values arrive."""
    missing = [m for m in AGENT_MODULES if not _importable(m)]
    if missing:
        pytest.skip(f"Ray's metrics agent needs ray[default] (missing {', '.join(missing)})")
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    port = _free_port("127.0.0.2")
    if ray.is_initialized():  # the session's shared Ray (tests/conftest.py) has no metrics port: this test needs its own
        ray.shutdown()
    temp = tempfile.mkdtemp(prefix="gsray-")  # short: Ray's socket paths must fit in 107 bytes
    ray.init(_node_ip_address="127.0.0.2", _metrics_export_port=port, include_dashboard=False, num_cpus=1,
             _temp_dir=temp, log_to_driver=False)
    try:
        m = mx.StudyMetrics("tiny", "fid")
        m.trials({"completed": 3, "stopped-early": 1}, running=2)
        m.best(1025.5)
        trials, best = "ray_gansearch_trials", "ray_gansearch_best_metric"
        want = {(trials, "status", "completed"): 3.0, (trials, "status", "running"): 2.0,
                (trials, "status", "diverged"): 0.0, (best, "metric", "fid"): 1025.5}
        got: dict[tuple[str, str, str], float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not want.items() <= got.items():
            try:
                with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                time.sleep(0.5)
                continue
            for name, labels, value in re.findall(r"^(ray_gansearch_\w+)\{([^}]*)\}\s+(\S+)", body, re.M):
                lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                assert lab.get("study") == "tiny", labels
                for key in ("status", "metric"):
                    if key in lab:
                        got[(name, key, lab[key])] = float(value)
            time.sleep(0.5)
        assert want.items() <= got.items(), got
        assert {k[0] for k in got} <= set(gansearch_metric_names())
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)

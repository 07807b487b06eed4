"""dashboards/grafana-gansearch.json queries only metrics that exist: Ray's own (as the installed ray package
defines or charts them) or the study's gauges from gansearch.search.metrics_export. And those gauges really
reach Prometheus through Ray's metrics agent, named as the dashboard expects."""

from __future__ import annotations

import importlib.util
import json
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


def _scrape(url: str) -> str | None:
    """One scrape of Ray's metrics agent, as Prometheus (and so Grafana) reads it; None while it doesn't answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def _study_gauges(body: str) -> dict[tuple[str, str, str, str], float]:
    """(name, study, label, its value) -> value of every gansearch series in a scrape."""
    got: dict[tuple[str, str, str, str], float] = {}
    for name, labels, value in re.findall(r"^(ray_gansearch_\w+)\{([^}]*)\}\s+(\S+)", body, re.M):
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        key = next(k for k in ("status", "metric") if k in lab)
        got[(name, lab["study"], key, lab[key])] = float(value)
    return got


@pytest.mark.slow
def test_a_studys_gauges_reach_prometheus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real study (run_study: Ray, Optuna, MLflow; 3 trials under ASHA) sets the gauges itself; a scrape
    of Ray's metrics agent, the endpoint a Prometheus behind Grafana scrapes, then holds each status's count
    and the best trial's value exactly as the study's records have them (summary.json, each trial's
    metrics.jsonl). No study gauge is set by hand.

    And they stay. Ray's agent drops a series that its process has not set again lately (it gets a value
    once, at the process's next export, and keeps it for two export intervals), so the study sends its
    values again and again (metrics_export.REFRESH_S). The scrape that counts is the first one after a
    clock gauge, set once when the study has returned, has been dropped: a value the study set only at its
    last event, before the clock, is gone from that scrape too. (The export interval is made 1 s here, so
    the agent keeps a series 2 s, and the clock is dropped soon after it shows.)"""
    missing = [m for m in AGENT_MODULES if not _importable(m)]
    if missing:
        pytest.skip(f"Ray's metrics agent needs ray[default] (missing {', '.join(missing)})")
    import ray
    from ray.util.metrics import Gauge
    from study_helpers import DIGITS, cache_dir, jsonl

    from gansearch.config import load
    from gansearch.search.study import run_study, study_env

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_metrics_report_interval_ms", "1000")  # the emitting processes read RAY_<setting>
    monkeypatch.setenv("GANSEARCH_CACHE_DIR", cache_dir())
    port = _free_port("127.0.0.2")
    if ray.is_initialized():  # the session's shared Ray (tests/conftest.py) has no metrics port: this test needs its own
        ray.shutdown()
    temp = tempfile.mkdtemp(prefix="gsray-")  # short: Ray's socket paths must fit in 107 bytes
    # the session Ray's set-up (tests/conftest.py start_test_ray), plus the metrics port
    ray.init(_node_ip_address="127.0.0.2", _metrics_export_port=port, include_dashboard=False, num_cpus=2,
             _temp_dir=temp, log_to_driver=False,
             runtime_env={"env_vars": {**study_env(), "GANSEARCH_CACHE_DIR": cache_dir()}})
    try:
        out = tmp_path / "gauged-study"
        cfg = load(DIGITS, ["search.scheduler=asha", "search.seed=3", "search.max_concurrent=1"])
        summary = run_study(cfg, DIGITS, out, num_trials=3, echo=lambda s: None)
        Gauge("gstest_clock", description="test only: set once, after the study's last event").set(1.0)
        # what the study's records say: trials by status, and the best trial's value (its last evaluation)
        statuses = [t["status"] for t in summary["trials"]]
        last = {t["key"]: jsonl(out / "trials" / t["key"] / "metrics.jsonl")[-1] for t in summary["trials"]}
        best = min(r["fd_classifier"] for r in last.values())
        assert summary["best_value"] == best and len(statuses) == 3 and "completed" in statuses
        trials, best_metric = "ray_gansearch_trials", "ray_gansearch_best_metric"
        want = {(trials, out.name, "status", s): float(statuses.count(s)) for s in cv.STATUSES}
        want[(best_metric, out.name, "metric", "fd_classifier")] = best

        clock_seen, body = False, None
        deadline = time.monotonic() + 180  # a bound on a hang, not on speed
        while time.monotonic() < deadline:
            body = _scrape(f"http://127.0.0.2:{port}/metrics")
            if body is not None:
                clock = re.search(r"^ray_gstest_clock\b", body, re.M) is not None
                if clock_seen and not clock:
                    break  # the clock was dropped: so was every series not set again since the study returned
                clock_seen |= clock
            time.sleep(0.5)
        else:
            pytest.fail(f"the clock gauge was {'never dropped' if clock_seen else 'never scraped'} in 180 s: "
                        "Ray's agent no longer drops a series that is not set again? (see metrics_export.REFRESH_S)")
        got = _study_gauges(body or "")
        assert want.items() <= got.items(), (want, got)
        assert {k[0] for k in got} <= set(gansearch_metric_names())
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)

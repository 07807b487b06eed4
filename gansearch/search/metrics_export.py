"""The study's own Prometheus metrics, exported by Ray's per-node metrics agent beside Ray's node metrics.

Ray prefixes every application metric with `ray_`: `gansearch_trials` is scraped as `ray_gansearch_trials`.
dashboards/grafana-gansearch.json plots them; docs/dashboards.md says how to scrape a Ray cluster."""

from __future__ import annotations

import atexit
import sys
import threading
from typing import Any, Mapping

from gansearch.tracking import conventions as cv

TRIALS = "gansearch_trials"
BEST = "gansearch_best_metric"
PROMETHEUS_PREFIX = "ray_"  # added by Ray's exporter
# name -> (description, tag keys); the dashboard test checks its queries against this table
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    TRIALS: ("Trials of a gansearch study by status (running, completed, stopped-early, diverged, failed)",
             ("study", "status")),
    BEST: ("The best trial's value (its latest evaluation) of a gansearch study's search metric", ("study", "metric")),
}

_made: dict[str, Any] = {}  # one Gauge per name and process: Ray keeps a registry, re-creating one warns

# Ray 2.60's metrics agent forgets a gauge series its process has not set again lately: the process exports a
# value once, at its next export after `set`, and the agent keeps it for two export intervals (20 s by default;
# measured: a value set once is gone from the scrape 30 s later). A study sets its gauges only when a trial
# starts, reports or ends, minutes apart for a real GAN, and never after its last trial, so Prometheus would
# mostly see nothing. Every value is therefore sent again every REFRESH_S (Ray exports at most once a second).
REFRESH_S = 0.5
_latest: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, str]] = {}  # (name, tags) -> (value, Ray job)
_latest_lock = threading.Lock()
_refresher: list[threading.Thread] = []
_stop = threading.Event()


def _gauge(name: str) -> Any:
    if name not in _made:
        from ray.util.metrics import Gauge

        description, tags = GAUGES[name]
        _made[name] = Gauge(name, description=description, tag_keys=tags)
    return _made[name]


def _current_job() -> str | None:
    """The Ray job this process is the driver of, within its Ray session (a fresh local Ray numbers its
    jobs from 1 again); None while Ray is not initialised here."""
    import ray

    if not ray.is_initialized():
        return None
    ctx = ray.get_runtime_context()
    return f"{ctx.get_session_name()}/{ctx.get_job_id()}"


def _send(name: str, value: float, tags: dict[str, str]) -> None:
    """Set the gauge and remember the value for the refresher (under the current Ray job: a later Ray of
    this process doesn't inherit it); start the refresher once per process. Under the lock the refresher
    sets under, so it never sends a value older than this one after it."""
    job = _current_job()
    with _latest_lock:
        _gauge(name).set(value, tags=tags)
        if job is None:
            return
        for old in [k for k, (_, j) in _latest.items() if j != job]:  # an earlier Ray of this process
            del _latest[old]
        _latest[(name, tuple(sorted(tags.items())))] = (value, job)
        if not _refresher:
            _refresher.append(threading.Thread(target=_refresh_forever, name="gansearch-gauges", daemon=True))
            _refresher[0].start()
            atexit.register(_stop_refresher)  # before Ray's own exit handler (atexit runs last in, first out)


def _stop_refresher() -> None:
    """At exit, before Ray shuts down: a daemon thread still inside Ray's C++ code then can crash the exit."""
    _stop.set()
    for t in _refresher:
        t.join(timeout=5)


def _refresh_forever() -> None:
    """Send the latest value of every series of the current Ray job again, every REFRESH_S, for as long
    as this process lives. Best effort, like every export here."""
    while not _stop.wait(REFRESH_S):
        try:
            job = _current_job()
            with _latest_lock:
                for (name, tags), (value, j) in _latest.items():
                    if j == job:
                        _gauge(name).set(value, tags=dict(tags))
        except Exception:  # noqa: BLE001, S112 - Ray shutting down meanwhile: try again next round
            continue


class StudyMetrics:
    """Sets the study's gauges; plain data, so Tune can pickle the callback holding it. Export is best effort:
    a study never fails because its metrics could not be exported (the first error is printed, then it stops)."""

    def __init__(self, study: str, metric: str) -> None:
        self.study, self.metric = study, metric
        self.enabled = True

    def _set(self, name: str, value: float, tags: dict[str, str]) -> None:
        if not self.enabled:
            return
        try:
            _send(name, float(value), tags)
        except Exception as e:  # Ray not initialised in this process, or its metrics agent is gone
            self.enabled = False
            print(f"warning: study metrics are not exported ({type(e).__name__}: {e})", file=sys.stdout)

    def trials(self, counts: Mapping[str, int], running: int) -> None:
        """Every status gets a value (0 too), so a panel shows a status before its first trial."""
        for status in cv.STATUSES:
            n = running if status == "running" else counts.get(status, 0)
            self._set(TRIALS, n, {"study": self.study, "status": status})

    def best(self, value: float) -> None:
        self._set(BEST, value, {"study": self.study, "metric": self.metric})

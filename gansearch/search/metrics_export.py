"""The study's own Prometheus metrics, exported by Ray's per-node metrics agent beside Ray's node metrics.

Ray prefixes every application metric with `ray_`: `gansearch_trials` is scraped as `ray_gansearch_trials`.
dashboards/grafana-gansearch.json plots them; docs/dashboards.md says how to scrape a Ray cluster."""

from __future__ import annotations

import sys
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


def _gauge(name: str) -> Any:
    if name not in _made:
        from ray.util.metrics import Gauge

        description, tags = GAUGES[name]
        _made[name] = Gauge(name, description=description, tag_keys=tags)
    return _made[name]


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
            _gauge(name).set(float(value), tags=tags)
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

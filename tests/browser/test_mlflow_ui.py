"""The MLflow UI, driven in headless Chromium, shows a study as users will see it: the study's parent run
expands to its trial runs, and comparing three of them shows their sampled params and their FID.

The expected values come from the MLflow store itself (read with MlflowClient), not from the page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from browser import keep_screenshot, page  # noqa: E402

pytestmark = pytest.mark.slow

WAIT_MS = 90_000  # one cold page load of the UI on a loaded 2-core machine
COMPARED_PARAMS = ("lr_g", "loss")
COMPARED_METRIC = "fd_classifier"


def _trial_runs(study: Path) -> tuple[str, dict[str, object]]:
    """The experiment id and the study's trial runs by name, as the MLflow store holds them."""
    from mlflow.tracking import MlflowClient

    meta = json.loads((study / "study.json").read_text())
    client = MlflowClient(tracking_uri=meta["tracking_uri"])
    children = client.search_runs([meta["experiment_id"]],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{meta['parent_run_id']}'")
    return meta["experiment_id"], {r.info.run_name: r for r in children}


def _numbers_beside(label: object) -> list[float]:
    """The values in the row of a metric's name, left to right. The metrics table is two virtualized grids
    (names, values) of absolutely placed cells that scroll separately: a row is the cells with one `top`."""
    texts = label.evaluate(
        """(a) => {
            const grids = [...document.querySelectorAll('[role=grid]')];
            const names = a.closest('[role=grid]');
            const values = grids[grids.indexOf(names) + 1];
            const top = a.closest('[style*="top"]').style.top;
            return [...values.querySelectorAll('[style*="top"]')]
                .filter(c => c.style.top === top)
                .sort((c, d) => parseFloat(c.style.left) - parseFloat(d.style.left))
                .map(c => c.textContent.trim());
        }"""
    )
    return [float(t.replace(",", "")) for t in texts]


def test_compare_three_trials_in_mlflow_ui(tiny_study: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gansearch.tracking import conventions as cv
    from gansearch.tracking.server import start_server, stop_server, wait_ready

    exp, trials = _trial_runs(tiny_study)
    assert len(trials) == 4, sorted(trials)
    chosen = sorted(trials)[:3]
    meta = json.loads((tiny_study / "study.json").read_text())
    # without it the server also starts 7 job-runner processes (GenAI jobs) that the UI does not need here
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    proc, url = start_server(meta["tracking_uri"], cv.artifact_root(tiny_study), log=tmp_path / "mlflow.log")
    try:
        with page(height=1200) as (pg, _errors):  # Chromium starts while the server does
            wait_ready(url, proc)
            pg.set_default_timeout(WAIT_MS)
            pg.goto(f"{url}/#/experiments/{exp}/runs")
            parent = pg.get_by_role("link", name="study", exact=True)
            parent.wait_for()
            close = pg.get_by_role("button", name="Close", exact=True)  # the assistant side panel, if open
            if close.count():
                close.first.click()
            # the expand (+) button sits in the parent run's name cell; the trials appear under it
            pg.get_by_role("gridcell").filter(has=parent).get_by_role("button").click()
            for name in trials:
                pg.get_by_role("link", name=name, exact=True).wait_for()
            for name in chosen:
                row = pg.get_by_role("row").filter(has=pg.get_by_role("link", name=name, exact=True))
                row.get_by_role("checkbox").check()
            compare = pg.get_by_role("button", name="Compare", exact=True)
            compare.wait_for()
            shot = tmp_path / "mlflow-runs.png"
            pg.screenshot(path=str(shot))
            keep_screenshot(shot)

            compare.click()
            pg.get_by_text(f"Comparing {len(chosen)} Runs").wait_for()
            names_row = pg.get_by_role("row").filter(has=pg.get_by_role("rowheader", name="Run Name:"))
            names_row.get_by_role("cell").last.wait_for()
            columns = [c.strip() for c in names_row.get_by_role("cell").all_inner_texts()]
            assert sorted(columns) == chosen, columns

            for param in COMPARED_PARAMS:
                row = pg.get_by_role("row").filter(has=pg.get_by_role("rowheader", name=param, exact=True)).first
                shown = [c.strip() for c in row.get_by_role("cell").all_inner_texts()]
                assert shown == [trials[n].data.params[param] for n in columns], (param, shown)

            label = pg.get_by_role("link", name=COMPARED_METRIC, exact=True)
            values = _numbers_beside(label)
            expected = [trials[n].data.metrics[COMPARED_METRIC] for n in columns]
            assert values == pytest.approx(expected, rel=1e-3), (values, expected)

            # the docs' screenshot: the params table, and the metrics that differ (the compared one among
            # them: the metrics grid shows 6 rows and its names do not follow a scroll of its values)
            pg.get_by_role("switch", name="Metrics - Show diff only").click()
            pg.get_by_role("link", name="class_kl", exact=True).wait_for(state="detached")
            pg.get_by_text("Parameters", exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
            shot = tmp_path / "mlflow-compare.png"
            pg.screenshot(path=str(shot))
            keep_screenshot(shot)
    finally:
        stop_server(proc)

"""The study report of a real (tiny) study in headless Chromium: no console errors, no network, every
plot drawn and every sample grid decoded. Saves a full-page screenshot (and copies it to
$GANSEARCH_SCREENSHOTS/report.png when that is set, for the README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import keep_screenshot, page, require_browser


@pytest.mark.slow
def test_report_renders_offline(tiny_study: Path, tmp_path: Path) -> None:
    require_browser()
    from gansearch.search.report import write_report

    out = write_report(tiny_study, tmp_path / "report.html", top_k=4)
    report = json.loads(out["json"].read_text())
    n_imgs = sum(1 for s in report["samples"] if s["path"])
    assert n_imgs >= 1
    shot = tmp_path / "report.png"
    with page(1400, 1000) as (pg, errors):
        outside: list[str] = []
        pg.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                 if not route.request.url.startswith(("file:", "data:")) else route.continue_())
        pg.goto(out["html"].as_uri(), wait_until="load")
        pg.wait_for_function("document.querySelectorAll('.plotly-graph-div').length > 0 && "
                             "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
                             timeout=60_000)
        divs = pg.eval_on_selector_all(".plotly-graph-div", "ds => ds.map(d => [d.id, !!d.querySelector('svg.main-svg'), "
                                       "d.querySelectorAll('.trace, .point, path.box, .bars .point').length])")
        imgs = pg.eval_on_selector_all("img", "is => is.map(i => [i.alt, i.complete && i.naturalWidth])")
        pg.screenshot(path=str(shot), full_page=True)
    assert errors == [] and outside == []
    assert len(divs) >= 6, divs  # importance?, marginals, budget, curves, oscillation, failures
    assert all(ok for _, ok, _ in divs), [d for d in divs if not d[1]]
    assert all(n > 0 for _, _, n in divs), [d for d in divs if not d[2]]  # each drew some data
    assert len(imgs) == n_imgs and all(w and w > 0 for _, w in imgs), imgs
    assert shot.stat().st_size > 20_000
    keep_screenshot(shot, "report.png")

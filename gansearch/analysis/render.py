"""The report as ONE self-contained HTML file: plotly.js inline once, sample grids as base64 data URIs,
so it opens offline and can be mailed or attached to an MLflow run."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gansearch.analysis import figures, pbt_figures
from gansearch.analysis.convergence import OSCILLATION, SPEED

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html.j2"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _data_uri(path: Path) -> str | None:
    if not path.exists():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def plots(report: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure's HTML div, grouped by report section."""
    metric = report["study"]["metric"]
    conv = report["convergence"]
    out: dict[str, Any] = {
        "importance": [figures.to_div(figures.importance_bar(s), f"importance-{i}")
                       for i, s in enumerate(report["importance"]) if s["importances"]],
        "marginals": [figures.to_div(figures.marginal(m), f"marginal-{m['param']}")
                      for m in report["marginals"] if m["x"]],
        "budget": [figures.to_div(figures.budget(b, m), f"budget-{m}") for m, b in report["budget"].items() if b["n"]],
        "curves": [figures.to_div(figures.top_curves(conv["top"], metric), "curves")] if conv["top"] else [],
        "oscillation": [figures.to_div(figures.oscillation(conv["oscillation"][by], by), f"oscillation-{by}")
                        for by in conv["group_by"] if conv["oscillation"][by]],
        "failures": [figures.to_div(figures.failure_bars(conv["failures"][f"by_{by}"], by), f"failures-{by}")
                     for by in conv["group_by"] if conv["failures"][f"by_{by}"]],
        "pbt": [figures.to_div(pbt_figures.schedules(report["pbt"]), "pbt-schedules"),
                figures.to_div(pbt_figures.lineage(report["pbt"]), "pbt-lineage")] if report.get("pbt") else [],
    }
    return out


def render_html(report: Mapping[str, Any], study_dir: Path) -> str:
    import jinja2
    import plotly.offline

    if not TEMPLATE.exists():
        raise FileNotFoundError(f"report template missing: {TEMPLATE} (reinstall gansearch)")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = _fmt
    samples = [dict(s, uri=_data_uri(Path(study_dir) / s["path"]) if s["path"] else None) for s in report["samples"]]
    return env.get_template(TEMPLATE.name).render(
        r=report, plots=plots(report), samples=samples, plotlyjs=plotly.offline.get_plotlyjs(),
        osc_keys=OSCILLATION, speed_keys=SPEED)


def write(report: Mapping[str, Any], study_dir: Path, html: Path, json_path: Path) -> dict[str, Path]:
    html.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False))
    html.write_text(render_html(report, study_dir), encoding="utf-8")
    return {"html": html, "json": json_path}

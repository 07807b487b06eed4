"""The report's PBT section: each member's hyperparameter schedule and the lineage of its weights.

Data: `pbt_section` reads every member's `trials/<key>/pbt.json` (written by the trial from its
checkpoint's lineage); the figures draw from report.json's plain data, like the rest of the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from gansearch.analysis.figures import LAYOUT
from gansearch.config import layout
from gansearch.config.lineage import schedule


def pbt_section(folders: Sequence[tuple[str, Path | None, int | None]], train_steps: int | None,
                log_scaled: Callable[[str], bool]) -> dict[str, Any] | None:
    """(key, folder, last step) of each trial -> {mutate, members: [{key, last_step, schedule}]}; None
    unless the study ran PBT. A schedule entry holds the step, the donor (none at step 0) and the params."""
    members, mutate = [], None
    for key, folder, last in folders:
        path = folder / layout.PBT_JSON if folder else None
        if path is None or not path.exists():
            continue
        p = json.loads(path.read_text())
        mutate = p["mutate"]
        members.append({"key": key, "last_step": last if last is not None else train_steps,
                        "schedule": schedule(p["lineage"], p["initial"])})
    if not members or mutate is None:
        return None
    return {"mutate": mutate, "log": {n: log_scaled(n) for n in mutate}, "members": members}


def schedules(section: Mapping[str, Any]) -> Any:
    """One panel per mutated hyperparameter: its value over steps for every member (a step line; a dot
    where the member copied another's weights)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    names = section["mutate"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for i, m in enumerate(section["members"]):
        color = qualitative.Plotly[i % len(qualitative.Plotly)]
        for j, name in enumerate(names):
            pts = [(s["step"], s["params"][name]) for s in m["schedule"] if name in s["params"]]
            if not pts:
                continue
            x = [p[0] for p in pts] + [m["last_step"]]
            y = [p[1] for p in pts] + [pts[-1][1]]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=color, shape="hv"), name=m["key"],
                                     legendgroup=m["key"], showlegend=j == 0), row=1, col=j + 1)
            ex = [s for s in m["schedule"][1:] if name in s["params"]]
            fig.add_trace(go.Scatter(x=[s["step"] for s in ex], y=[s["params"][name] for s in ex], mode="markers",
                                     marker=dict(color=color, size=8), legendgroup=m["key"], showlegend=False,
                                     text=[f"{m['key']} from {s['from']}" for s in ex], hoverinfo="text+y"),
                          row=1, col=j + 1)
            fig.update_yaxes(type="log" if section["log"].get(name) else "linear", row=1, col=j + 1)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title="hyperparameter schedules (PBT)", **{**LAYOUT, "height": 380})
    return fig


def lineage(section: Mapping[str, Any]) -> Any:
    """Members as rows over steps; an arrow from the donor's row to the member's at each exploit."""
    import plotly.graph_objects as go

    keys = [m["key"] for m in section["members"]]
    row = {k: i for i, k in enumerate(keys)}
    fig = go.Figure()
    for m in section["members"]:
        fig.add_trace(go.Scatter(x=[0, m["last_step"]], y=[row[m["key"]]] * 2, mode="lines", showlegend=False,
                                 line=dict(color="#999999"), hoverinfo="skip"))
        for s in m["schedule"][1:]:
            if s["from"] in row:
                fig.add_annotation(x=s["step"], y=row[m["key"]], ax=s["step"], ay=row[s["from"]], xref="x", yref="y",
                                   axref="x", ayref="y", showarrow=True, arrowhead=2, arrowcolor="#1f77b4",
                                   hovertext=f"{m['key']} copies {s['from']} at step {s['step']}")
    fig.update_yaxes(tickvals=list(range(len(keys))), ticktext=keys, autorange="reversed")
    fig.update_layout(title="lineage: an arrow from the member whose weights were copied", xaxis_title="step",
                      **{**LAYOUT, "height": max(240, 40 * len(keys) + 120)})
    return fig

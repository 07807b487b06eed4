"""The report's PBT section: the schedule that made each member's final weights and the lineage of its run.

Data: `pbt_section` reads every member's `trials/<key>/pbt.json` (written by the trial from its
checkpoint's lineage); the figures draw from report.json's plain data, like the rest of the report.
Two schedules per member (gansearch.config.lineage): `schedule`, the settings its final weights were
trained with from each step (before a copy, the donor's, recursively), and `run_schedule`, what its own
run trained with (its initial configuration, then each exploit's). The schedules figure draws the first,
the lineage figure the second's copies. An exploit copies the donor's whole configuration, so every name
that differs between members or over steps gets a panel, categoricals (as categories) included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gansearch.analysis.figures import LAYOUT
from gansearch.config import layout
from gansearch.config.lineage import run_schedule, schedule

COLUMNS = 3  # panels per row of the schedules figure


def pbt_section(folders: Sequence[tuple[str, Path | None, int | None]], train_steps: int | None,
                log_scaled: Callable[[str], bool]) -> dict[str, Any] | None:
    """(key, folder, last step) of each trial -> {mutate, names, log, members: [{key, last_step, schedule,
    run_schedule}]}; None unless the study ran PBT. A schedule entry holds the step, `from` (whose weights
    were copied there; none at step 0) and the full configuration in force from that step."""
    members, mutate = [], None
    for key, folder, last in folders:
        path = folder / layout.PBT_JSON if folder else None
        if path is None or not path.exists():
            continue
        p = json.loads(path.read_text())
        mutate = p["mutate"]
        members.append({"key": key, "last_step": last if last is not None else train_steps,
                        "schedule": p.get("schedule") or schedule(p["lineage"], p["initial"]),
                        "run_schedule": p.get("run_schedule") or run_schedule(p["lineage"], p["initial"])})
    if not members or mutate is None:
        return None
    names = list(mutate) + [n for n in _varying(members) if n not in mutate]
    return {"mutate": mutate, "names": names, "log": {n: log_scaled(n) for n in names}, "members": members}


def _varying(members: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names with more than one value (or in force only somewhere) across every member's schedules."""
    entries = [s["params"] for m in members for k in ("schedule", "run_schedule") for s in m[k]]
    names = list(dict.fromkeys(n for p in entries for n in p))
    return [n for n in names if len({json.dumps(p.get(n)) for p in entries}) > 1]


def schedules(section: Mapping[str, Any]) -> Any:
    """One panel per name: the value each member's final weights were trained with over steps (a step line;
    a dot where weights were copied, with whose). Categorical names on a category axis."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    names = section.get("names") or section["mutate"]
    rows = (len(names) + COLUMNS - 1) // COLUMNS
    cols = min(COLUMNS, len(names))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    for i, m in enumerate(section["members"]):
        color = qualitative.Plotly[i % len(qualitative.Plotly)]
        for j, name in enumerate(names):
            r, c = j // cols + 1, j % cols + 1
            pts = [(s["step"], s["params"][name]) for s in m["schedule"] if name in s["params"]]
            if not pts:
                continue
            x = [p[0] for p in pts] + [m["last_step"]]
            y = [p[1] for p in pts] + [pts[-1][1]]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"color": color, "shape": "hv"}, name=m["key"],
                                     legendgroup=m["key"], showlegend=j == 0), row=r, col=c)
            ex = [s for s in m["schedule"] if s["from"] and name in s["params"]]
            fig.add_trace(go.Scatter(x=[s["step"] for s in ex], y=[s["params"][name] for s in ex], mode="markers",
                                     marker={"color": color, "size": 8}, legendgroup=m["key"], showlegend=False,
                                     text=[f"{m['key']}'s weights: copied from {s['from']}" for s in ex],
                                     hoverinfo="text+y"), row=r, col=c)
            categorical = any(isinstance(v, str) for v in y)
            fig.update_yaxes(type="category" if categorical else "log" if section["log"].get(name) else "linear",
                             row=r, col=c)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title="hyperparameter schedules (PBT) that made each member's final weights: before a copy, "
                            "the donor's", **{**LAYOUT, "height": 80 + 300 * rows})
    return fig


def lineage(section: Mapping[str, Any]) -> Any:
    """Members as rows over steps; an arrow from the donor's row to the member's at each exploit."""
    import plotly.graph_objects as go

    keys = [m["key"] for m in section["members"]]
    row = {k: i for i, k in enumerate(keys)}
    fig = go.Figure()
    for m in section["members"]:
        fig.add_trace(go.Scatter(x=[0, m["last_step"]], y=[row[m["key"]]] * 2, mode="lines", showlegend=False,
                                 line={"color": "#999999"}, hoverinfo="skip"))
        for s in (m.get("run_schedule") or m["schedule"])[1:]:
            if s["from"] in row:
                fig.add_annotation(x=s["step"], y=row[m["key"]], ax=s["step"], ay=row[s["from"]], xref="x", yref="y",
                                   axref="x", ayref="y", showarrow=True, arrowhead=2, arrowcolor="#1f77b4",
                                   hovertext=f"{m['key']} copies {s['from']} at step {s['step']}")
    fig.update_yaxes(tickvals=list(range(len(keys))), ticktext=keys, autorange="reversed")
    fig.update_layout(title="lineage: an arrow from the member whose weights were copied", xaxis_title="step",
                      **{**LAYOUT, "height": max(240, 40 * len(keys) + 120)})
    return fig

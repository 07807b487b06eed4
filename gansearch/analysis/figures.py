"""Plotly figures of the report, one function per plot, each from report.json's plain data.
`to_div` renders one without plotly.js (the page embeds it once, inline, so the file works offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

STATUS_COLORS = {"completed": "#2ca02c", "stopped-early": "#7f7f7f", "diverged": "#d62728",
                 "failed": "#111111", "running": "#1f77b4", "None": "#bcbd22"}
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "height": 360}


def to_div(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def importance_bar(section: Mapping[str, Any]) -> Any:
    """Importance per parameter with its bootstrap interval as an error bar; marked (sparse) parameters grey."""
    import plotly.graph_objects as go

    imp, bounds, sparse = section["importances"], section.get("intervals") or {}, section.get("sparse") or {}
    names = list(imp)[::-1]
    error = None
    if all(k in bounds for k in names):
        error = {"type": "data", "symmetric": False, "color": "#333",
                 "array": [max(0.0, bounds[k][1] - imp[k]) for k in names],
                 "arrayminus": [max(0.0, imp[k] - bounds[k][0]) for k in names]}
    fig = go.Figure(go.Bar(x=[imp[k] for k in names], y=[k + (" *" if k in sparse else "") for k in names],
                           orientation="h", error_x=error,
                           marker_color=["#bbbbbb" if k in sparse else "#4c78a8" for k in names]))
    level = f"{100 * section.get('interval_level', 0.9):g}% bootstrap interval; " if error else ""
    fig.update_layout(title=f"{section['metric']} ({section['mode']}): {section['evaluator']} importance",
                      xaxis_title=f"importance (sums to 1; {level}* = active in too few trials)",
                      **{**LAYOUT, "height": 120 + 40 * max(1, len(names))})
    return fig


def marginal(points: Mapping[str, Any]) -> Any:
    """Metric vs one hyperparameter's value, one trace per status (log x for log-scaled parameters)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for status in sorted(set(points["status"]), key=str):
        idx = [i for i, s in enumerate(points["status"]) if s == status]
        fig.add_trace(go.Scatter(
            x=[points["x"][i] for i in idx], y=[points["y"][i] for i in idx], mode="markers", name=str(status),
            text=[points["key"][i] for i in idx], marker={"size": 9, "color": STATUS_COLORS.get(str(status), "#17becf")},
            hovertemplate="%{text}<br>" + points["param"] + "=%{x}<br>" + points["metric"] + "=%{y}<extra></extra>"))
    fig.update_layout(title=f"{points['metric']} vs {points['param']}", xaxis_title=points["param"],
                      yaxis_title=points["metric"], **LAYOUT)
    if points.get("log_x"):
        fig.update_xaxes(type="log")
    if points.get("categorical"):
        fig.update_xaxes(type="category")
    return fig


def budget(section: Mapping[str, Any], metric: str) -> Any:
    import plotly.graph_objects as go

    n = section["n"]
    fig = go.Figure([
        go.Scatter(x=n, y=section["hi"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
        go.Scatter(x=n, y=section["lo"], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor="rgba(76,120,168,0.25)", name="5-95% of orderings"),
        go.Scatter(x=n, y=section["mean"], mode="lines+markers", name="bootstrap mean", line={"color": "#4c78a8"}),
    ])
    if section["expected"]:  # only for i.i.d. full-budget trials
        fig.add_trace(go.Scatter(x=n, y=section["expected"], mode="lines", name="closed form (i.i.d. trials)",
                                 line={"color": "#e45756", "dash": "dot"}))
    fig.update_layout(title=f"best {metric} vs number of trials ({section['permutations']} orderings)",
                      xaxis_title="trials", yaxis_title=f"best {metric} so far", **LAYOUT)
    return fig


def top_curves(curves: Sequence[Mapping[str, Any]], metric: str) -> Any:
    """The study metric (left) and D/G losses (right) over steps, one colour per top trial; for style transfer
    the measured content (solid) and style (dashed) distances on the right."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    right, title = ("d_loss", "g_loss"), "D loss (solid), G loss (dashed)"
    if curves and "d_loss" not in curves[0]["curve"] and "content_distance" in curves[0]["curve"]:
        right, title = ("content_distance", "style_distance"), "content distance (solid), style distance (dashed)"
    fig = make_subplots(rows=1, cols=2, subplot_titles=(metric, title))
    for i, c in enumerate(curves):
        color = qualitative.Plotly[i % len(qualitative.Plotly)]
        d = c["curve"]
        fig.add_trace(go.Scatter(x=d["step"], y=d[metric], name=c["key"], legendgroup=c["key"],
                                 line={"color": color}, mode="lines+markers"), row=1, col=1)
        for k, dash in zip(right, ("solid", "dash")):
            if k in d:
                fig.add_trace(go.Scatter(x=d["step"], y=d[k], name=f"{c['key']} {k}", legendgroup=c["key"],
                                         showlegend=False, line={"color": color, "dash": dash}), row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title=f"top {len(curves)} trials", **{**LAYOUT, "height": 420})
    return fig


def oscillation(groups: Mapping[str, Mapping[str, Any]], by: str) -> Any:
    """Amplitude (left) and period (right) of the last window's loss oscillation, boxes per group."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("relative amplitude (detrended std / mean |loss|)",
                                                        "period (steps; only where significant)"))
    for col, (g_key, d_key) in ((1, ("g_rel_amplitude", "d_rel_amplitude")), (2, ("g_period", "d_period"))):
        for key, color in ((g_key, "#f58518"), (d_key, "#4c78a8")):
            xs, ys = [], []
            for group, row in groups.items():
                xs += [group] * len(row["values"][key])
                ys += row["values"][key]
            fig.add_trace(go.Box(x=xs, y=ys, name=key, marker_color=color, boxpoints="all",
                                 legendgroup=key, showlegend=True), row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=2)  # periods span a few steps to a whole window
    fig.update_layout(boxmode="group", title=f"loss oscillation per {by}", **LAYOUT)
    return fig


def failure_bars(shares: Mapping[str, Mapping[str, Any]], by: str) -> Any:
    import plotly.graph_objects as go

    groups = list(shares)
    fig = go.Figure()
    for name, color in (("diverged", "#d62728"), ("d_collapsed", "#9467bd"), ("mode_collapsed", "#ff7f0e")):
        ys = [shares[g][name] for g in groups]
        fig.add_trace(go.Bar(x=groups, y=[0 if y is None else y for y in ys], name=name, marker_color=color,
                             text=[f"{shares[g][name + '_count']}/{shares[g]['trials']}" for g in groups]))
    fig.update_layout(barmode="group", title=f"share of trials that failed, per {by}", xaxis_title=by,
                      yaxis={"title": "share of trials", "range": [0, 1.05]}, **LAYOUT)
    return fig

"""Plotly figures of the report besides the density plot: pure functions from bundle parts to
``go.Figure`` (the reference law with residuals, the sigmoids, the sensitivity forest plot and
the backtest)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densing.formatting import fmt_interval, fmt_num, fmt_params
from densing.report._style import (
    CLIPPED,
    ENVELOPE_COLOR,
    LAW_COLOR,
    MODEL_COLOR,
    arrow_trace,
    base_layout,
    clip_intervals,
    color_map,
    linear_range,
    log_ticks,
    num,
)

MAX_SIGMOID_PANELS = 12


# --- the reference law and its residuals -----------------------------------------------------


def _fit_labels(frame: dict[str, Any]) -> tuple[str, str]:
    loss_mode = str(frame.get("mode", "")).lower() == "loss"
    y_label = frame.get("fit_y_label") or (
        "conditional loss L (nats per answer token)"
        if loss_mode
        else "latent capability (loss-like; lower is better)"
    )
    x_label = frame.get("fit_x_label") or "parameters N"
    return str(y_label), f"{x_label} (log scale)"


def _fit_group_traces(
    part: pd.DataFrame, curve: pd.DataFrame | None, g: str, color: str, *, join_fitted: bool
) -> list[tuple[go.Scatter, int]]:
    """One group's observed points, fitted curve (row 1) and residuals (row 2). Without a
    curve of its own, the fitted values are joined by a line if ``join_fitted``."""
    custom = np.column_stack(
        [
            part["label"].astype(str),
            [fmt_params(v) for v in part["x"]],
            [fmt_num(v, 4) for v in part["fitted"]],
            [fmt_num(v, 3) for v in part["residual"]],
        ]
    )
    observed = go.Scatter(
        x=num(part["x"]),
        y=num(part["y"]),
        mode="markers",
        marker={"color": color, "size": 8},
        name=f"{g}: observed",
        legendgroup=g,
        customdata=custom,
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>N = %{customdata[1]}<br>observed %{y:.4g}"
            "<br>fitted %{customdata[2]}<br>residual %{customdata[3]}<extra>" + g + "</extra>"
        ),
    )
    if curve is not None and (curve["group"] == g).any():
        cpart = curve[curve["group"] == g].sort_values("x")
        cx, cy = num(cpart["x"]), num(cpart["y"])
    elif join_fitted:
        cx, cy = num(part["x"]), num(part["fitted"])
    else:
        cx = cy = np.array([])
    fitted = go.Scatter(
        x=cx,
        y=cy,
        mode="lines",
        line={"color": color, "width": 2},
        name=f"{g}: fitted law",
        legendgroup=g,
        text=[fmt_params(v) for v in cx],
        hovertemplate="N = %{text}<br>fitted %{y:.4g}<extra>" + g + "</extra>",
    )
    residual = go.Scatter(
        x=num(part["x"]),
        y=num(part["residual"]),
        mode="markers",
        marker={"color": color, "size": 7, "symbol": "circle-open", "line": {"width": 2}},
        name=f"{g}: residual",
        legendgroup=g,
        showlegend=False,
        text=part["label"].astype(str),
        hovertemplate="<b>%{text}</b><br>residual %{y:.3g}<extra>" + g + "</extra>",
    )
    return [(observed, 1), (residual, 2)] + ([(fitted, 1)] if cx.size else [])


def _shared_curves(curve: pd.DataFrame | None, groups: list[str]) -> list[go.Scatter]:
    """Curves of their own (e.g. the law shared by all groups), dashed."""
    if curve is None:
        return []
    out = []
    for g in [str(c) for c in pd.unique(curve["group"]) if str(c) not in groups]:
        part = curve[curve["group"] == g].sort_values("x")
        out.append(
            go.Scatter(
                x=num(part["x"]),
                y=num(part["y"]),
                mode="lines",
                name=g,
                line={"color": LAW_COLOR, "width": 2, "dash": "dash"},
                text=[fmt_params(v) for v in part["x"]],
                hovertemplate="N = %{text}<br>%{y:.4g}<extra>" + g + "</extra>",
            )
        )
    return out


def fit_figure(
    fit_points: pd.DataFrame,
    fit_curve: pd.DataFrame | None,
    frame: dict[str, Any],
) -> go.Figure:
    """The capability / loss law against parameters, with a residual panel underneath."""
    y_label, x_label = _fit_labels(frame)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.08
    )
    pts = fit_points.assign(group=fit_points["group"].astype(str))
    curve = None if fit_curve is None else fit_curve.assign(group=fit_curve["group"].astype(str))
    groups = [str(g) for g in pd.unique(pts["group"])]
    colors = color_map(groups)
    shared = _shared_curves(curve, groups)
    for g in groups:
        part = pts[pts["group"] == g].sort_values("x")
        for trace, row in _fit_group_traces(part, curve, g, colors[g], join_fitted=not shared):
            fig.add_trace(trace, row=row, col=1)
    for trace in shared:
        fig.add_trace(trace, row=1, col=1)
    fig.add_hline(y=0, line={"color": "#888", "width": 1}, row=2, col=1)
    base_layout(fig, height=640)
    fig.update_layout(margin={"t": 50})
    xs = num(pts["x"]) if curve is None else np.concatenate([num(pts["x"]), num(curve["x"])])
    xticks = log_ticks(xs, fmt_params)
    fig.update_xaxes(type="log", row=1, col=1, **xticks)
    fig.update_xaxes(type="log", title_text=x_label, row=2, col=1, **xticks)
    fig.update_yaxes(title_text=y_label, title_font={"size": 12}, row=1, col=1)
    fig.update_yaxes(title_text="residual", title_font={"size": 12}, row=2, col=1)
    return fig


# --- sigmoids per item -----------------------------------------------------------------------


def sigmoid_items(
    sigmoids: pd.DataFrame, sigmoid_points: pd.DataFrame | None, limit: int = MAX_SIGMOID_PANELS
) -> tuple[list[str], pd.Series]:
    """The items to draw (those linking the most models, at most ``limit``) and the number of
    models with a score on each item (every item, most first)."""
    benches = [str(b) for b in pd.unique(sigmoids["benchmark"].astype(str))]
    if sigmoid_points is not None and not sigmoid_points.empty:
        p = sigmoid_points.assign(benchmark=sigmoid_points["benchmark"].astype(str))
        counts = p.groupby("benchmark", sort=False)["model"].nunique()
    else:
        counts = pd.Series(dtype=int)
    benches += [b for b in counts.index if b not in benches]
    counts = counts.reindex(benches).fillna(0).astype(int)
    order = sorted(range(len(benches)), key=lambda i: (-counts.iloc[i], i))
    counts = counts.iloc[order]
    if len(benches) <= limit:
        return benches, counts
    return list(counts.index[:limit]), counts


def _sigmoid_panel(
    fig: go.Figure,
    b: str,
    curves: pd.DataFrame,
    points: pd.DataFrame | None,
    pos: tuple[int, int],
    first: bool,
) -> None:
    row, col = pos
    if points is not None:
        p = points[points["benchmark"] == b]
        if not p.empty:
            fig.add_trace(
                go.Scatter(
                    x=num(p["x"]),
                    y=num(p["y"]),
                    mode="markers",
                    marker={"color": MODEL_COLOR, "size": 5, "opacity": 0.7},
                    name="models (observed score)",
                    legendgroup="points",
                    showlegend=first,
                    text=p["model"].astype(str),
                    hovertemplate="<b>%{text}</b><br>x = %{x:.4g}<br>score %{y:.3f}<extra>"
                    + b
                    + "</extra>",
                ),
                row=row,
                col=col,
            )
    c = curves[curves["benchmark"] == b].sort_values("x")
    if not c.empty:
        fig.add_trace(
            go.Scatter(
                x=num(c["x"]),
                y=num(c["y"]),
                mode="lines",
                line={"color": ENVELOPE_COLOR, "width": 2},
                name="fitted sigmoid",
                legendgroup="curve",
                showlegend=first,
                hovertemplate="x = %{x:.4g}<br>sigmoid %{y:.3f}<extra>" + b + "</extra>",
            ),
            row=row,
            col=col,
        )


def sigmoid_figure(
    sigmoids: pd.DataFrame,
    sigmoid_points: pd.DataFrame | None,
    frame: dict[str, Any],
    items: list[str] | None = None,
) -> go.Figure:
    """Small multiples: one panel per item (benchmark × setting), fitted sigmoid and models."""
    loss_mode = str(frame.get("mode", "")).lower() == "loss"
    x_label = frame.get("sigmoid_x_label") or (
        "conditional loss L (nats/token)" if loss_mode else "latent capability (loss-like)"
    )
    if items is None:
        items, _ = sigmoid_items(sigmoids, sigmoid_points)
    ncols = min(3, max(1, len(items)))
    nrows = math.ceil(len(items) / ncols)
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=items,
        horizontal_spacing=0.08,
        vertical_spacing=min(0.16, 0.5 / nrows) if nrows > 1 else 0.1,
    )
    curves = sigmoids.assign(benchmark=sigmoids["benchmark"].astype(str))
    points = (
        None
        if sigmoid_points is None
        else sigmoid_points.assign(benchmark=sigmoid_points["benchmark"].astype(str))
    )
    for i, b in enumerate(items):
        row, col = i // ncols + 1, i % ncols + 1
        _sigmoid_panel(fig, b, curves, points, (row, col), i == 0)
        if row == nrows or i + ncols >= len(items):
            fig.update_xaxes(title_text=x_label, title_font={"size": 11}, row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="score", title_font={"size": 11}, row=row, col=col)
    base_layout(fig, height=max(360, 250 * nrows + 110))
    fig.update_layout(
        margin={"t": 80},
        legend={"yref": "container", "y": 0.995, "yanchor": "top"},
    )
    fig.update_annotations(font={"size": 12})
    return fig


# --- sensitivity: forest plot ----------------------------------------------------------------


def _interval_segments(y: list[str], lo: np.ndarray, hi: np.ndarray) -> tuple[list[Any], list[Any]]:
    xs: list[Any] = []
    ys: list[Any] = []
    for label, a, b in zip(y, lo, hi, strict=True):
        if np.isfinite(a) and np.isfinite(b):
            xs += [a, b, None]
            ys += [label, label, None]
    return xs, ys


def _capped_view(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """Points and interval ends, the ends capped at 3× the largest point (and at 0)."""
    p = points[np.isfinite(points)]
    cap = 3 * float(p.max()) if p.size and p.max() > 0 else math.inf
    ends = np.concatenate([lo, hi])
    ends = np.clip(ends[np.isfinite(ends)], 0, cap)
    r = linear_range(np.concatenate([p, ends])) or [0.0, 1.0]
    return r[0], r[1]


def sensitivity_labels(s: pd.DataFrame) -> list[str]:
    out = []
    for _, r in s.iterrows():
        parts = [str(r.get("reference_family", "—"))]
        if "estimator" in s.columns and pd.notna(r.get("estimator")):
            parts.append(str(r["estimator"]))
        out.append(f"<b>{r['frame']}</b><br>{' · '.join(parts)}")
    return out


def sensitivity_figure(
    sensitivity: pd.DataFrame,
    frame_name: str | None,
    paper_months: float | None,
) -> go.Figure:
    """Forest plot: doubling time and its interval under each reference frame."""
    s = sensitivity.reset_index(drop=True)
    labels = sensitivity_labels(s)
    months, lo, hi = num(s["doubling_time_months"]), num(s["lo"]), num(s["hi"])
    view = _capped_view(months, lo, hi)
    lo_c, hi_c, below, above = clip_intervals(lo, hi, view)
    is_default = (s["frame"].astype(str) == str(frame_name)).to_numpy()
    seg_x, seg_y = _interval_segments(labels, lo_c, hi_c)
    custom = np.column_stack(
        [
            s["frame"].astype(str),
            [fmt_interval(a, b) for a, b in zip(lo, hi, strict=True)],
            s["n_models"].astype(str),
        ]
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=seg_x,
            y=seg_y,
            mode="lines",
            line={"color": "#555", "width": 2},
            name="interval",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=np.where(np.isfinite(months), np.clip(months, *view), np.nan),
            y=labels,
            mode="markers",
            marker={
                "color": [ENVELOPE_COLOR if d else MODEL_COLOR for d in is_default],
                "size": 11,
                "symbol": "diamond",
            },
            name="doubling time under this frame",
            customdata=custom,
            hovertemplate=(
                "<b>%{customdata[0]}</b><br>doubling time %{x:.3g} months"
                "<br>interval %{customdata[1]}<br>models: %{customdata[2]}<extra></extra>"
            ),
        )
    )
    for mask, edge, up in ((above, view[1], True), (below, view[0], False)):
        if mask.any():
            t = arrow_trace(
                [edge] * int(mask.sum()), np.array(labels)[mask], up=up, text=list(s["frame"][mask])
            )
            t.marker.symbol = "arrow-bar-right" if up else "arrow-bar-left"
            fig.add_trace(t)
    _paper_line(fig, paper_months, view)
    base_layout(fig, height=max(260, 80 + 56 * len(s)))
    fig.update_layout(showlegend=False, margin={"l": 20, "t": 40})
    fig.update_xaxes(title_text="doubling time of maximum density (months)", range=list(view))
    fig.update_yaxes(autorange="reversed", automargin=True, tickfont={"size": 12})
    return fig


def _paper_line(fig: go.Figure, paper_months: Any, view: tuple[float, float]) -> None:
    try:
        x = float(paper_months)
    except (TypeError, ValueError):
        return
    if not view[0] <= x <= view[1]:
        return
    fig.add_vline(x=x, line={"color": "#888", "dash": "dot"})
    fig.add_annotation(
        x=x,
        y=1,
        yref="paper",
        text=f"paper: {fmt_num(x)} months",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font={"size": 11, "color": "#666"},
    )


# --- backtest: forecast against realised -----------------------------------------------------

REALISED = "realised ln ρ_max"


def _backtest_view(f: pd.DataFrame) -> tuple[float, float]:
    values = np.concatenate([num(f["forecast"]), num(f["realised"]), num(f["anchor"])])
    r = linear_range(values, pad=0.08) or [0.0, 1.0]
    return r[0], r[1]


def _backtest_panel(
    fig: go.Figure, fh: pd.DataFrame, col: int, view: tuple[float, float], colors: dict[str, str]
) -> None:
    first = col == 1
    real = fh.drop_duplicates("cutoff").sort_values("cutoff")
    fig.add_trace(
        go.Scatter(
            x=real["cutoff"],
            y=num(real["realised"]),
            mode="lines+markers",
            line={"color": LAW_COLOR, "width": 1.5},
            marker={"color": LAW_COLOR, "size": 7},
            name=REALISED,
            legendgroup="realised",
            showlegend=first,
            hovertemplate="cutoff %{x|%Y-%m-%d}<br>realised %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=col,
    )
    estimators = [str(e) for e in pd.unique(fh["estimator"])]
    for k, est in enumerate(estimators):
        e = fh[fh["estimator"] == est].sort_values("cutoff")
        shift = pd.to_timedelta((k - (len(estimators) - 1) / 2) * 9, unit="D")
        x = e["cutoff"] + shift
        y = np.clip(num(e["forecast"]), *view)
        lo_c, hi_c, below, above = clip_intervals(num(e["lo"]), num(e["hi"]), view)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                marker={"color": colors[est], "size": 7, "symbol": "diamond"},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": np.maximum(hi_c - y, 0),
                    "arrayminus": np.maximum(y - lo_c, 0),
                    "thickness": 1.2,
                    "width": 3,
                },
                name=f"forecast: {est}",
                legendgroup=est,
                showlegend=first,
                customdata=np.column_stack(
                    [
                        num(e["forecast"]),
                        [fmt_interval(a, b) for a, b in zip(e["lo"], e["hi"], strict=True)],
                    ]
                ),
                hovertemplate="cutoff %{x|%Y-%m-%d}<br>forecast %{customdata[0]:.3f}<br>interval %{customdata[1]}<extra>"
                + est
                + "</extra>",
            ),
            row=1,
            col=col,
        )
        for mask, edge, up in ((above, view[1], True), (below, view[0], False)):
            if mask.any():
                t = arrow_trace(
                    x[mask],
                    [edge] * int(mask.sum()),
                    up=up,
                    text=[est] * int(mask.sum()),
                    show=False,
                )
                fig.add_trace(t, row=1, col=col)


def backtest_figure(forecasts: pd.DataFrame) -> go.Figure:
    """Per horizon, one panel: the realised ln ρ_max at each cutoff + horizon and each
    estimator's forecast made at the cutoff, with its interval."""
    f = forecasts.assign(
        cutoff=pd.to_datetime(forecasts["cutoff"]), estimator=forecasts["estimator"].astype(str)
    )
    horizons = sorted(int(h) for h in pd.unique(f["horizon_months"]))
    fig = make_subplots(
        rows=1,
        cols=len(horizons),
        shared_yaxes=True,
        shared_xaxes="all",  # one date scale: the same ticks in every panel
        horizontal_spacing=0.04,
        subplot_titles=[f"{h} months ahead" for h in horizons],
    )
    view = _backtest_view(f)
    colors = color_map([str(e) for e in pd.unique(f["estimator"])])
    for col, h in enumerate(horizons, start=1):
        _backtest_panel(fig, f[f["horizon_months"] == h], col, view, colors)
        fig.update_xaxes(
            title_text="cutoff (when the forecast is made)", title_font={"size": 11}, row=1, col=col
        )
    base_layout(fig, height=440)
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}, margin={"t": 70, "b": 40}
    )
    fig.update_xaxes(tickformat="%b %Y", nticks=4)
    fig.update_yaxes(range=list(view))
    fig.update_yaxes(title_text="ln ρ_max", row=1, col=1)
    return fig


__all__ = [
    "CLIPPED",
    "backtest_figure",
    "fit_figure",
    "sensitivity_figure",
    "sigmoid_figure",
    "sigmoid_items",
]

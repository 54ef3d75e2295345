"""Plotly figures of the report: pure functions from bundle parts to ``go.Figure``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densing.formatting import fmt_interval, fmt_num, fmt_params, is_number

CHATGPT_RELEASE = pd.Timestamp("2022-11-30")
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
)
MODEL_COLOR = "#4c78a8"
ENVELOPE_COLOR = "#d62728"
LAW_COLOR = "#222222"
BAND_COLOR = "rgba(120, 120, 120, 0.22)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"


def _base_layout(fig: go.Figure, *, height: int) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 60},
        font={"family": FONT, "size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0},
        hoverlabel={"font": {"family": FONT}},
    )


def _num(values: Any) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def log_ticks(values: Any, formatter: Any = fmt_num) -> dict[str, Any]:
    """Readable tick positions for a log axis covering ``values``: 1-2-5 steps over up to three
    decades, every decade beyond that; labels in plain numbers (no '5', '2' minor clutter)."""
    v = _num(values)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {}
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    steps = (1, 2, 5) if hi - lo <= 3 else (1,)
    if hi - lo > 9:
        steps = (1,)
        stride = math.ceil((hi - lo) / 8)
    else:
        stride = 1
    ticks = [
        m * 10.0**k
        for k in range(lo, hi + 1, stride)
        for m in steps
        if v.min() / 1.6 <= m * 10.0**k <= v.max() * 1.6
    ]
    if len(ticks) < 2:
        return {}
    return {"tickmode": "array", "tickvals": ticks, "ticktext": [formatter(t) for t in ticks]}


def _color_map(groups: list[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}


def density_points(densities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split models into those drawable on a log density axis and those that are not."""
    rho = _num(densities["density_active"])
    dated = pd.to_datetime(densities["release_date"], errors="coerce").notna().to_numpy()
    ok = np.isfinite(rho) & (rho > 0) & dated
    return densities[ok].copy(), densities[~ok].copy()


def why_not_drawn(row: pd.Series) -> str:
    """The reason a model is absent from the density plot (for the caption)."""
    if pd.isna(pd.to_datetime(row["release_date"], errors="coerce")):
        return "no release date"
    return f"{row['status']}, no finite density"


def _density_hover(d: pd.DataFrame) -> tuple[np.ndarray, str]:
    has_total = "density_total" in d.columns
    rows = []
    for _, r in d.iterrows():
        active = r.get("active_params")
        moe = (
            is_number(active) and is_number(r["params"]) and float(active or 0) < float(r["params"])
        )
        size = (
            f"{fmt_params(active)} active / {fmt_params(r['params'])} total"
            if moe
            else fmt_params(r["params"])
        )
        extra = ""
        if has_total and is_number(r.get("density_total")) and moe:
            extra = f"<br>density vs total params: {fmt_num(r['density_total'])}"
        rows.append(
            [
                str(r["model"]),
                str(r["family"]),
                pd.Timestamp(r["release_date"]).strftime("%Y-%m-%d"),
                size,
                fmt_params(r["effective_params"]),
                fmt_num(r["density_active"]),
                fmt_interval(r["density_active_lo"], r["density_active_hi"]),
                str(r["status"]) + extra,
            ]
        )
    template = (
        "<b>%{customdata[0]}</b> (%{customdata[1]})<br>"
        "released %{customdata[2]}<br>"
        "parameters N: %{customdata[3]}<br>"
        "effective parameters N̂: %{customdata[4]}<br>"
        "density ρ: <b>%{customdata[5]}</b>  interval %{customdata[6]}<br>"
        "status: %{customdata[7]}<extra></extra>"
    )
    return np.array(rows, dtype=object), template


def _error_bars(d: pd.DataFrame, col: str = "density_active") -> dict[str, Any]:
    rho = _num(d[col])
    lo = _num(d["density_active_lo"])
    hi = _num(d["density_active_hi"])
    plus = np.where(np.isfinite(hi), np.maximum(hi - rho, 0), 0.0)
    minus = np.where(np.isfinite(lo), np.maximum(rho - lo, 0), 0.0)
    return {
        "type": "data",
        "symmetric": False,
        "array": plus,
        "arrayminus": minus,
        "thickness": 1,
        "width": 0,
    }


def density_figure(
    densities: pd.DataFrame,
    trend: dict[str, Any],
    band: pd.DataFrame | None,
) -> go.Figure:
    """Density against release date (log y), envelope highlighted, fitted law and its band."""
    fig = go.Figure()
    shown, _ = density_points(densities)
    shown["release_date"] = pd.to_datetime(shown["release_date"])
    envelope = {str(m) for m in (trend.get("envelope") or [])}
    in_env = shown["model"].astype(str).isin(envelope)
    in_range = shown["status"].astype(str) == "ok"

    if band is not None and not band.empty:
        b = band.copy()
        b["date"] = pd.to_datetime(b["date"])
        b = b.sort_values("date")
        lo, hi = _num(b["lo"]), _num(b["hi"])
        if np.isfinite(lo).any() and np.isfinite(hi).any():
            fig.add_trace(
                go.Scatter(
                    x=b["date"],
                    y=lo,
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name="law interval (lower)",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=b["date"],
                    y=hi,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=BAND_COLOR,
                    name="interval of the fitted law",
                    hoverinfo="skip",
                )
            )
        months = trend.get("doubling_time_months")
        label = "fitted law ln ρ = A·t + B"
        if is_number(months):
            label += f" (doubling every {fmt_num(months)} months)"
        fig.add_trace(
            go.Scatter(
                x=b["date"],
                y=_num(b["fit"]),
                mode="lines",
                line={"color": LAW_COLOR, "width": 2, "dash": "dash"},
                name=label,
                hovertemplate="fitted law on %{x|%Y-%m-%d}: ρ = %{y:.3g}<extra></extra>",
            )
        )

    groups = [
        (in_range & ~in_env, "models", MODEL_COLOR, "circle", 7, 0.75),
        (
            ~in_range & ~in_env,
            "out-of-range score (density is a bound)",
            "#999999",
            "triangle-up",
            8,
            0.8,
        ),
        (in_env, "envelope (new maximum density)", ENVELOPE_COLOR, "diamond", 10, 1.0),
    ]
    for mask, name, color, symbol, size, opacity in groups:
        part = shown[mask].sort_values("release_date")
        if part.empty:
            continue
        custom, template = _density_hover(part)
        is_env = name.startswith("envelope")
        fig.add_trace(
            go.Scatter(
                x=part["release_date"],
                y=_num(part["density_active"]),
                mode="lines+markers" if is_env else "markers",
                line={"color": color, "width": 1, "dash": "dot"} if is_env else None,
                marker={
                    "color": color,
                    "size": size,
                    "symbol": symbol,
                    "opacity": opacity,
                    "line": {"color": "white", "width": 0.5},
                },
                error_y={**_error_bars(part), "color": color},
                name=name,
                customdata=custom,
                hovertemplate=template,
            )
        )

    if "density_total" in shown.columns:
        active = _num(shown["active_params"])
        total = _num(shown["params"])
        moe = shown[np.isfinite(active) & np.isfinite(total) & (active < total)]
        rho_t = _num(moe["density_total"]) if not moe.empty else np.array([])
        keep = np.isfinite(rho_t) & (rho_t > 0)
        if keep.any():
            moe = moe[keep]
            fig.add_trace(
                go.Scatter(
                    x=moe["release_date"],
                    y=_num(moe["density_total"]),
                    mode="markers",
                    marker={"color": "#ff7f0e", "size": 8, "symbol": "x"},
                    name="MoE: density against total parameters",
                    text=moe["model"].astype(str),
                    hovertemplate="<b>%{text}</b><br>density vs total params: %{y:.3g}<extra></extra>",
                    visible="legendonly",
                )
            )

    dates = shown["release_date"]
    if not dates.empty and dates.min() < CHATGPT_RELEASE < dates.max():
        fig.add_vline(
            x=CHATGPT_RELEASE.value / 1e6, line={"color": "#888", "width": 1, "dash": "dot"}
        )
        fig.add_annotation(
            x=CHATGPT_RELEASE.value / 1e6,
            y=1,
            yref="paper",
            text="ChatGPT release",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#666"},
        )
    fig.add_hline(y=1, line={"color": "#aaa", "width": 1})
    _base_layout(fig, height=560)
    fig.update_xaxes(title_text="release date")
    span = [
        _num(shown["density_active"]),
        _num(shown["density_active_lo"]),
        _num(shown["density_active_hi"]),
    ]
    if band is not None:
        span += [_num(band["fit"])]
    fig.update_yaxes(
        type="log",
        title_text="capability density ρ = N̂ / N (log scale)",
        **log_ticks(np.concatenate(span)),
    )
    return fig


def fit_figure(
    fit_points: pd.DataFrame,
    fit_curve: pd.DataFrame | None,
    frame: dict[str, Any],
) -> go.Figure:
    """The capability / loss law against parameters, with a residual panel underneath."""
    loss_mode = str(frame.get("mode", "")).lower() == "loss"
    y_label = frame.get("fit_y_label") or (
        "conditional loss L (nats per answer token)"
        if loss_mode
        else "latent capability (loss-like; lower is better)"
    )
    x_label = frame.get("fit_x_label") or "parameters N (log scale)"
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.06,
    )
    groups = [str(g) for g in pd.unique(fit_points["group"].astype(str))]
    colors = _color_map(groups)
    pts = fit_points.assign(group=fit_points["group"].astype(str))
    curve = None if fit_curve is None else fit_curve.assign(group=fit_curve["group"].astype(str))
    for g in groups:
        part = pts[pts["group"] == g].sort_values("x")
        c = colors[g]
        custom = np.column_stack(
            [
                part["label"].astype(str),
                [fmt_params(v) for v in part["x"]],
                [fmt_num(v, 4) for v in part["fitted"]],
                [fmt_num(v, 3) for v in part["residual"]],
            ]
        )
        fig.add_trace(
            go.Scatter(
                x=_num(part["x"]),
                y=_num(part["y"]),
                mode="markers",
                marker={"color": c, "size": 8},
                name=f"{g}: observed",
                legendgroup=g,
                customdata=custom,
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>N = %{customdata[1]}<br>observed %{y:.4g}"
                    "<br>fitted %{customdata[2]}<br>residual %{customdata[3]}<extra>"
                    + g
                    + "</extra>"
                ),
            ),
            row=1,
            col=1,
        )
        if curve is not None and (curve["group"] == g).any():
            cpart = curve[curve["group"] == g].sort_values("x")
            cx, cy = _num(cpart["x"]), _num(cpart["y"])
        else:
            cx, cy = _num(part["x"]), _num(part["fitted"])
        fig.add_trace(
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": c, "width": 2},
                name=f"{g}: fitted law",
                legendgroup=g,
                text=[fmt_params(v) for v in cx],
                hovertemplate="N = %{text}<br>fitted %{y:.4g}<extra>" + g + "</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=_num(part["x"]),
                y=_num(part["residual"]),
                mode="markers",
                marker={"color": c, "size": 7, "symbol": "circle-open", "line": {"width": 2}},
                name=f"{g}: residual",
                legendgroup=g,
                showlegend=False,
                text=part["label"].astype(str),
                hovertemplate="<b>%{text}</b><br>residual %{y:.3g}<extra>" + g + "</extra>",
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=0, line={"color": "#888", "width": 1}, row=2, col=1)
    _base_layout(fig, height=620)
    xticks = log_ticks(pts["x"], fmt_params)
    fig.update_xaxes(type="log", row=1, col=1, **xticks)
    fig.update_xaxes(type="log", title_text=x_label, row=2, col=1, **xticks)
    fig.update_yaxes(title_text=y_label, row=1, col=1)
    fig.update_yaxes(title_text="residual (observed − fitted)", row=2, col=1)
    return fig


def sigmoid_figure(
    sigmoids: pd.DataFrame,
    sigmoid_points: pd.DataFrame | None,
    frame: dict[str, Any],
) -> go.Figure:
    """Small multiples: one panel per benchmark, fitted sigmoid and the calibration models."""
    loss_mode = str(frame.get("mode", "")).lower() == "loss"
    x_label = frame.get("sigmoid_x_label") or (
        "conditional loss L (nats/token)" if loss_mode else "latent capability (loss-like)"
    )
    benches = [str(b) for b in pd.unique(sigmoids["benchmark"].astype(str))]
    if sigmoid_points is not None:
        for b in pd.unique(sigmoid_points["benchmark"].astype(str)):
            if str(b) not in benches:
                benches.append(str(b))
    ncols = min(3, max(1, len(benches)))
    nrows = math.ceil(len(benches) / ncols)
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=benches,
        horizontal_spacing=0.07,
        vertical_spacing=0.16 if nrows > 1 else 0.1,
    )
    curves = sigmoids.assign(benchmark=sigmoids["benchmark"].astype(str))
    points = (
        None
        if sigmoid_points is None
        else sigmoid_points.assign(benchmark=sigmoid_points["benchmark"].astype(str))
    )
    for i, b in enumerate(benches):
        row, col = i // ncols + 1, i % ncols + 1
        if points is not None:
            p = points[points["benchmark"] == b]
            if not p.empty:
                fig.add_trace(
                    go.Scatter(
                        x=_num(p["x"]),
                        y=_num(p["y"]),
                        mode="markers",
                        marker={"color": MODEL_COLOR, "size": 6, "opacity": 0.7},
                        name="models (observed score)",
                        legendgroup="points",
                        showlegend=i == 0,
                        text=p["model"].astype(str),
                        hovertemplate=(
                            "<b>%{text}</b><br>x = %{x:.4g}<br>score %{y:.3f}<extra>"
                            + b
                            + "</extra>"
                        ),
                    ),
                    row=row,
                    col=col,
                )
        c = curves[curves["benchmark"] == b].sort_values("x")
        if not c.empty:
            fig.add_trace(
                go.Scatter(
                    x=_num(c["x"]),
                    y=_num(c["y"]),
                    mode="lines",
                    line={"color": ENVELOPE_COLOR, "width": 2},
                    name="fitted sigmoid",
                    legendgroup="curve",
                    showlegend=i == 0,
                    hovertemplate="x = %{x:.4g}<br>sigmoid %{y:.3f}<extra>" + b + "</extra>",
                ),
                row=row,
                col=col,
            )
        fig.update_xaxes(title_text=x_label, title_font={"size": 11}, row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="score (fraction correct)", row=row, col=col)
    _base_layout(fig, height=max(360, 300 * nrows + 90))
    fig.update_layout(
        margin={"t": 90},
        legend={"yref": "container", "y": 0.995, "yanchor": "top"},
    )
    fig.update_yaxes(range=[-0.02, 1.02])
    return fig


def sensitivity_figure(
    sensitivity: pd.DataFrame,
    frame_name: str | None,
    paper_months: float | None,
) -> go.Figure:
    """Forest plot: doubling time and its interval under each reference frame."""
    s = sensitivity.reset_index(drop=True)
    labels = [
        f"{r['frame']} · {r['reference_family']} · {_bench_text(r['benchmarks'])}"
        for _, r in s.iterrows()
    ]
    months, lo, hi = _num(s["doubling_time_months"]), _num(s["lo"]), _num(s["hi"])
    is_default = s["frame"].astype(str) == str(frame_name)
    colors = [ENVELOPE_COLOR if d else MODEL_COLOR for d in is_default]
    custom = np.column_stack(
        [
            labels,
            [fmt_interval(a, b) for a, b in zip(lo, hi, strict=True)],
            s["n_models"].astype(str),
        ]
    )
    fig = go.Figure(
        go.Scatter(
            x=months,
            y=labels,
            mode="markers",
            marker={"color": colors, "size": 11, "symbol": "diamond"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": np.where(np.isfinite(hi), np.maximum(hi - months, 0), 0.0),
                "arrayminus": np.where(np.isfinite(lo), np.maximum(months - lo, 0), 0.0),
                "thickness": 2,
                "width": 6,
                "color": "#555",
            },
            name="doubling time under this frame",
            customdata=custom,
            hovertemplate=(
                "<b>%{customdata[0]}</b><br>doubling time %{x:.3g} months"
                "<br>interval %{customdata[1]}<br>models: %{customdata[2]}<extra></extra>"
            ),
        )
    )
    if paper_months is not None and is_number(paper_months):
        fig.add_vline(x=float(paper_months), line={"color": "#888", "dash": "dot"})
        fig.add_annotation(
            x=float(paper_months),
            y=1,
            yref="paper",
            text=f"paper: {fmt_num(paper_months)} months",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 11, "color": "#666"},
        )
    _base_layout(fig, height=max(260, 70 + 48 * len(s)))
    fig.update_layout(showlegend=False, margin={"l": 20, "t": 40})
    fig.update_xaxes(title_text="doubling time of maximum density (months)", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def _bench_text(value: Any) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(str(v) for v in value)
    return str(value)

"""The report's main figure: capability density against release date.

Every catalog model that has a release date and a density or a bound is drawn, each status
with its own marker: point estimates as points, ``above_range`` as ▲ at its lower bound,
``below_range`` as ▼ at its upper bound. The y axis covers the drawn values and the fitted
law (not the ends of the intervals); intervals and the law's band are cut at the edge of the
view, and an arrow marks each interval that continues beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from densing.formatting import fmt_interval, fmt_num, fmt_params, is_number
from densing.report._style import (
    BAND_COLOR,
    ENVELOPE_COLOR,
    LAW_COLOR,
    MODEL_COLOR,
    arrow_trace,
    base_layout,
    clip_intervals,
    date_range,
    log_range,
    log_ticks,
    num,
)

CHATGPT_RELEASE = pd.Timestamp("2022-11-30")


@dataclass(frozen=True)
class Style:
    """How one group of models is drawn: its legend entry, marker symbol and colour."""

    legend: str
    symbol: str
    color: str


# what each status means (the how-to-read of the plot and of the table)
STATUS_EXPLAIN: dict[str, str] = {
    "ok": "the model's scores lie inside the range the reference family calibrates; ρ is a "
    "point estimate with its interval",
    "extrapolated": "the model's capability lies beyond the reference family's largest (or "
    "below its smallest) member, so N̂ extrapolates the reference law; ρ is still a point "
    "estimate, but less certain than an ok one",
    "uninformative": "the scores are indistinguishable from chance, or the interval is "
    "unbounded or spans more than two decades; such a model is kept off the frontier (the "
    "law's fit). Drawn as ○ at its estimate, or as △ at its lower bound when the interval has "
    "no upper end",
    "above_range": "the scores are above what the frame can express (N̂ = ∞); ρ is only a "
    "lower bound, drawn as ▲ at that bound",
    "below_range": "the scores are at or below what the frame can express (N̂ = 0); ρ is only "
    "an upper bound, drawn as ▼ at that bound",
    "insufficient_scores": "the model has no usable scores in this frame, so it has no density "
    "and cannot be drawn; it is listed under the plot and in the table",
}
STYLES: dict[str, Style] = {
    "ok": Style("ok: density with its interval", "circle", MODEL_COLOR),
    "extrapolated": Style("extrapolated: beyond the calibrated range", "square-open", "#6a3d9a"),
    "uninformative": Style(
        "uninformative: chance-level or very wide (off the frontier)", "circle-open", "#8c8c8c"
    ),
    "uninformative-lower": Style(
        "uninformative, unbounded: ρ at least this (off the frontier)",
        "triangle-up-open",
        "#8c8c8c",
    ),
    "above_range": Style("above range: ρ at least this (lower bound)", "triangle-up", "#b26a00"),
    "below_range": Style("below range: ρ at most this (upper bound)", "triangle-down", "#138a8a"),
    "lower": Style("other status: ρ at least this", "triangle-up-open", "#7f7f7f"),
    "upper": Style("other status: ρ at most this", "triangle-down-open", "#7f7f7f"),
    "other": Style("other status", "circle-dot", "#7f7f7f"),
}
POINT_STYLES = ("ok", "extrapolated", "other")  # the estimates the y axis is fitted to
ENVELOPE = "envelope (new maximum density)"
ENVELOPE_EXTRAPOLATED = "envelope model that is extrapolated"
BEYOND = "estimate beyond the plot (hover for it)"


def _pos(v: np.ndarray) -> np.ndarray:
    return np.isfinite(v) & (v > 0)


def _style_of(status: str, place: str) -> str:
    if status == "uninformative":
        return "uninformative-lower" if place == "lower" else "uninformative"
    if status in ("above_range", "below_range"):
        return status
    if place != "point":
        return place
    return status if status in STYLES else "other"


def place_models(densities: pd.DataFrame) -> pd.DataFrame:
    """Each model's position on the plot: ``y`` (NaN: cannot be drawn), ``place`` ("point" at
    ρ, "lower" at the interval's lower end, "upper" at its upper end) and ``style``."""
    d = densities.copy()
    d["release_date"] = pd.to_datetime(d["release_date"], errors="coerce")
    rho, lo, hi = (num(d[c]) for c in ("density_active", "density_active_lo", "density_active_hi"))
    status = d["status"].astype(str).to_numpy()
    unbounded = (status == "uninformative") & ~np.isfinite(hi) & _pos(lo)
    place = np.where(status == "above_range", "lower", "point").astype(object)
    place = np.where(status == "below_range", "upper", place)
    place = np.where(unbounded, "lower", place)
    # an estimate that is not a finite number falls back to whichever bound it has
    place = np.where((place == "point") & ~_pos(rho) & _pos(lo), "lower", place)
    place = np.where((place == "point") & ~_pos(rho) & ~_pos(lo) & _pos(hi), "upper", place)
    y = np.select([place == "point", place == "lower", place == "upper"], [rho, lo, hi], np.nan)
    y = np.where(_pos(y) & d["release_date"].notna().to_numpy(), y, np.nan)
    style = [_style_of(s, p) for s, p in zip(status, place, strict=True)]
    return d.assign(y=y, place=place, style=style)


def density_points(densities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split models into those drawn (with ``y``, ``place``, ``style``) and those that cannot
    be drawn."""
    d = place_models(densities)
    drawn = np.isfinite(d["y"].to_numpy(float))
    return d[drawn].copy(), d[~drawn].copy()


def why_not_drawn(row: pd.Series) -> str:
    """The reason a model is absent from the density plot."""
    if pd.isna(pd.to_datetime(row["release_date"], errors="coerce")):
        return "no release date"
    if str(row["status"]) == "insufficient_scores":
        return "no usable scores in this frame"
    return "no finite density or bound"


def _hover(d: pd.DataFrame) -> tuple[np.ndarray, str]:
    has_total = "density_total" in d.columns
    rows = []
    for _, r in d.iterrows():
        active, total = r.get("active_params"), r["params"]
        moe = is_number(active) and is_number(total) and float(active or 0) < float(total)
        size = (
            f"{fmt_params(active)} active / {fmt_params(total)} total" if moe else fmt_params(total)
        )
        extra = ""
        if has_total and moe and is_number(r.get("density_total")):
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


@dataclass(frozen=True)
class View:
    """What the plot shows: the y range in data units (ρ) and in log10, and the x range."""

    y: tuple[float, float]
    log_y: list[float]
    x: list[pd.Timestamp] | None


def _view(shown: pd.DataFrame, band: pd.DataFrame | None) -> View:
    """The y axis covers the point estimates and the law; a bound widens it only towards
    the side it bounds from within (a lower bound below the top, an upper bound above the
    bottom). Anything else beyond is drawn at the edge."""
    y = shown["y"].to_numpy(float)
    values = [y[shown["style"].isin(POINT_STYLES).to_numpy()]]
    dates = [shown["release_date"]]
    if band is not None and not band.empty:
        values.append(num(band["fit"]))
        dates.append(pd.to_datetime(band["date"]))
    core = np.concatenate(values)
    core = core[_pos(core)]
    if core.size == 0:
        core = y
    top, bottom = core.max(), core.min()
    place = shown["place"].to_numpy()
    informative = ~shown["style"].isin(["uninformative", "uninformative-lower"]).to_numpy()
    extra = y[
        informative & (((place == "lower") & (y <= top)) | ((place == "upper") & (y >= bottom)))
    ]
    log_y = log_range(np.concatenate([core, extra])) or [-1.0, 1.0]
    return View((10 ** log_y[0], 10 ** log_y[1]), log_y, date_range(pd.concat(dates)))


def _band_traces(band: pd.DataFrame, trend: dict[str, Any], view: View) -> list[go.Scatter]:
    b = band.assign(date=pd.to_datetime(band["date"])).sort_values("date")
    lo, hi = num(b["lo"]), num(b["hi"])
    traces = []
    if np.isfinite(lo).any() and np.isfinite(hi).any():
        ymin, ymax = view.y
        lo_c = np.clip(np.where(np.isfinite(lo), lo, ymin), ymin, ymax)
        hi_c = np.clip(np.where(np.isfinite(hi), hi, ymax), ymin, ymax)
        common = {"x": b["date"], "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
        traces.append(go.Scatter(y=lo_c, showlegend=False, name="law interval (lower)", **common))
        traces.append(
            go.Scatter(
                y=hi_c,
                fill="tonexty",
                fillcolor=BAND_COLOR,
                name="interval of the fitted law",
                **common,
            )
        )
    months = trend.get("doubling_time_months")
    label = "fitted law ln ρ = A·t + B"
    if is_number(months) and is_number(trend.get("A_per_day")) and float(trend["A_per_day"]) > 0:
        label += f" (doubling every {fmt_num(months)} months)"
    traces.append(
        go.Scatter(
            x=b["date"],
            y=num(b["fit"]),
            mode="lines",
            line={"color": LAW_COLOR, "width": 2, "dash": "dash"},
            name=label,
            hovertemplate="fitted law on %{x|%Y-%m-%d}: ρ = %{y:.3g}<extra></extra>",
        )
    )
    return traces


def _error_bars(part: pd.DataFrame, view: View) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Error bars of point estimates cut to the view; which continue below / above it."""
    y = part["y"].to_numpy(float)
    lo, hi = num(part["density_active_lo"]), num(part["density_active_hi"])
    is_point = (part["place"] == "point").to_numpy()
    lo = np.where(is_point, lo, np.nan)
    hi = np.where(is_point, hi, np.nan)
    lo_c, hi_c, below, above = clip_intervals(lo, hi, view.y)
    bars = {
        "type": "data",
        "symmetric": False,
        "array": np.where(np.isnan(hi), 0.0, np.maximum(hi_c - y, 0)),
        "arrayminus": np.where(np.isnan(lo), 0.0, np.maximum(y - lo_c, 0)),
        "thickness": 1,
        "width": 0,
    }
    return bars, below, above


def _split_beyond(shown: pd.DataFrame, view: View) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Models drawn inside the view (a bound beyond it on its own side sits at the edge: "at
    least the top" stays true) and models whose marker would lie beyond it."""
    y = shown["y"].to_numpy(float)
    place = shown["place"].to_numpy()
    over, under = y > view.y[1], y < view.y[0]
    at_edge = ((place == "lower") & over) | ((place == "upper") & under)
    inside = shown[~(over | under) | at_edge].copy()
    inside["y"] = np.clip(inside["y"].to_numpy(float), *view.y)
    return inside, shown[(over | under) & ~at_edge]


def _group_trace(part: pd.DataFrame, key: str, view: View) -> tuple[go.Scatter, pd.DataFrame]:
    """One legend entry of models, and those of its intervals cut at the view's edge."""
    is_env = key == "envelope"
    style = STYLES.get(key, STYLES["other"])
    color = ENVELOPE_COLOR if is_env else style.color
    bars, below, above = _error_bars(part, view)
    custom, template = _hover(part)
    trace = go.Scatter(
        x=part["release_date"],
        y=part["y"].to_numpy(float),
        mode="lines+markers" if is_env else "markers",
        line={"color": color, "width": 1, "dash": "dot"} if is_env else None,
        marker={
            "color": color,
            "size": 10 if is_env else 8,
            "symbol": ["diamond"] * len(part) if is_env else style.symbol,
            "line": {"color": color, "width": 1.5},
        },
        error_y={**bars, "color": color},
        name=ENVELOPE if is_env else style.legend,
        customdata=custom,
        hovertemplate=template,
        cliponaxis=False,  # a bound at the edge of the view shows whole
    )
    cut = pd.concat(
        [part[below].assign(edge=view.y[0], up=False), part[above].assign(edge=view.y[1], up=True)]
    )
    return trace, cut


def _model_traces(shown: pd.DataFrame, envelope: set[str], view: View) -> list[go.Scatter]:
    inside, beyond = _split_beyond(shown, view)
    in_env = inside["model"].astype(str).isin(envelope)
    groups = [(k, inside[~in_env & (inside["style"] == k)]) for k in STYLES]
    groups += [("envelope", inside[in_env])]
    traces, cut = [], []
    for key, part in groups:
        if part.empty:
            continue
        trace, clipped = _group_trace(part.sort_values("release_date"), key, view)
        traces.append(trace)
        cut.append(clipped)
    traces += _envelope_extrapolated(inside[in_env])
    traces += _arrows(pd.concat(cut) if cut else pd.DataFrame())
    traces += _beyond_trace(beyond, view)
    return traces


def _beyond_trace(beyond: pd.DataFrame, view: View) -> list[go.Scatter]:
    if beyond.empty:
        return []
    over = beyond["y"].to_numpy(float) > view.y[1]
    custom, template = _hover(beyond)
    return [
        go.Scatter(
            x=beyond["release_date"],
            y=np.where(over, view.y[1], view.y[0]),
            mode="markers",
            marker={
                "symbol": np.where(over, "arrow-up", "arrow-down").tolist(),
                "size": 10,
                "color": [STYLES.get(k, STYLES["other"]).color for k in beyond["style"]],
                "line": {"width": 0},
            },
            name=BEYOND,
            customdata=custom,
            hovertemplate=template,
            cliponaxis=False,
        )
    ]


def _envelope_extrapolated(env: pd.DataFrame) -> list[go.Scatter]:
    part = env[env["status"].astype(str) != "ok"]  # extrapolated (or, oddly, a bound)
    if part.empty:
        return []
    return [
        go.Scatter(
            x=part["release_date"],
            y=part["y"].to_numpy(float),
            mode="markers",
            marker={"symbol": "circle-open", "size": 17, "color": LAW_COLOR, "line": {"width": 1.5}},
            name=ENVELOPE_EXTRAPOLATED if (part["status"] == "extrapolated").all() else
            "envelope model that is not ok (extrapolated or a bound)",
            text=(part["model"].astype(str) + ": " + part["status"].astype(str)).tolist(),
            hovertemplate="<b>%{text}</b><extra></extra>",
        )
    ]  # fmt: skip


def _arrows(clipped: pd.DataFrame) -> list[go.Scatter]:
    out: list[go.Scatter] = []
    for up in (True, False):
        part = clipped[clipped["up"] == up] if not clipped.empty else clipped
        if part.empty:
            continue
        out.append(
            arrow_trace(
                part["release_date"],
                part["edge"].to_numpy(float),
                up=up,
                text=part["model"].astype(str).tolist(),
                show=not out,
            )
        )
    return out


def _moe_total_trace(shown: pd.DataFrame, view: View) -> list[go.Scatter]:
    """MoE models against total parameters (hidden until clicked in the legend); a value
    beyond the view sits at its edge as an arrow."""
    if "density_total" not in shown.columns:
        return []
    active, total = num(shown["active_params"]), num(shown["params"])
    rho_t = num(shown["density_total"])
    keep = np.isfinite(active) & np.isfinite(total) & (active < total)
    keep &= np.isfinite(rho_t) & (rho_t > 0)
    if not keep.any():
        return []
    moe, rho_t = shown[keep], rho_t[keep]
    y = np.clip(rho_t, *view.y)
    symbol = np.where(rho_t < view.y[0], "arrow-down", np.where(rho_t > view.y[1], "arrow-up", "x"))
    return [
        go.Scatter(
            x=moe["release_date"],
            y=y,
            mode="markers",
            marker={"color": "#ff7f0e", "size": 8, "symbol": symbol.tolist()},
            name="MoE: density against total parameters",
            text=moe["model"].astype(str),
            customdata=[fmt_num(v) for v in rho_t],
            hovertemplate="<b>%{text}</b><br>density vs total params: %{customdata}<extra></extra>",
            visible="legendonly",
        )
    ]


def _decorate(fig: go.Figure, view: View) -> None:
    if view.x is not None and view.x[0] < CHATGPT_RELEASE < view.x[1]:
        x = CHATGPT_RELEASE.value / 1e6
        fig.add_vline(x=x, line={"color": "#888", "width": 1, "dash": "dot"})
        fig.add_annotation(
            x=x,
            y=1,
            yref="paper",
            text="ChatGPT release",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#666"},
        )
    if view.y[0] < 1 < view.y[1]:
        fig.add_hline(y=1, line={"color": "#aaa", "width": 1})
    base_layout(fig, height=600)
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "font": {"size": 12}},
        margin={"b": 40},
    )
    fig.update_xaxes(title_text="release date", range=view.x)
    fig.update_yaxes(
        type="log",
        title_text="capability density ρ = N̂ / N (log scale)",
        range=view.log_y,
        **log_ticks([view.y[0], view.y[1]]),
    )


def density_figure(
    densities: pd.DataFrame,
    trend: dict[str, Any],
    band: pd.DataFrame | None,
) -> go.Figure:
    """Density against release date (log y): every drawable model by status, the envelope,
    the fitted law and its band, all within the range of the drawn values."""
    shown, _ = density_points(densities)
    view = _view(shown, band)
    fig = go.Figure()
    if band is not None and not band.empty:
        fig.add_traces(_band_traces(band, trend, view))
    envelope = {str(m) for m in (trend.get("envelope") or [])}
    fig.add_traces(_model_traces(shown, envelope, view))
    fig.add_traces(_moe_total_trace(shown, view))
    _decorate(fig, view)
    return fig

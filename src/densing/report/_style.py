"""Shared look of the report's figures: colours, layout, tick labels and axis ranges.

Axis ranges follow the data: :func:`log_range` and :func:`linear_range` pad the span of the
drawn values a little, and :func:`clip_intervals` cuts intervals at the edge of the view and
says which ones continue beyond it (drawn as arrows), so one unbounded interval never stretches
an axis over decades of empty space.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from densing.formatting import fmt_num, fmt_params

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
CLIP_COLOR = "#555555"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
PAD = 0.05  # share of the data's span added on each side of an axis
CLIPPED = "interval continues beyond the plot"

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def base_layout(fig: go.Figure, *, height: int) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 60},
        font={"family": FONT, "size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0},
        hoverlabel={"font": {"family": FONT}},
    )


def num(values: Any) -> np.ndarray:
    """Any column or list as a float array (unreadable entries → NaN)."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def color_map(groups: list[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}


def tick_text(ticks: list[float], formatter: Any = fmt_num) -> list[str]:
    """One notation per axis: plain numbers when every tick reads well that way (0.001 to
    100 000, or parameter counts), else powers of ten for every tick (10⁻⁵ … 10²)."""
    if formatter is fmt_params or all(1e-3 <= abs(t) < 1e6 for t in ticks):
        return [formatter(t) for t in ticks]
    out = []
    for t in ticks:
        k = math.log10(t)
        mant = t / 10.0 ** round(k)
        head = "" if abs(mant - 1) < 1e-9 else f"{fmt_num(mant, 2)}×"
        out.append(f"{head}10{str(round(k)).translate(_SUPERSCRIPT)}")
    return out


def log_ticks(values: Any, formatter: Any = fmt_num) -> dict[str, Any]:
    """Readable tick positions for a log axis covering ``values``: 1-2-5 steps over up to three
    decades, every decade (or every few) beyond that; one notation for all labels."""
    v = num(values)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {}
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    steps: tuple[int, ...] = (1, 2, 5) if hi - lo <= 3 else (1,)
    stride = math.ceil((hi - lo) / 8) if hi - lo > 9 else 1
    ticks = [
        m * 10.0**k
        for k in range(lo, hi + 1, stride)
        for m in steps
        if v.min() / 1.001 <= m * 10.0**k <= v.max() * 1.001
    ]
    if len(ticks) < 2:
        return {}
    return {"tickmode": "array", "tickvals": ticks, "ticktext": tick_text(ticks, formatter)}


def linear_range(values: Any, pad: float = PAD) -> list[float] | None:
    """[lo, hi] of the finite values, padded by ``pad`` of their span (None: no values)."""
    v = num(values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    return [lo - pad * span, hi + pad * span]


def log_range(values: Any, pad: float = PAD) -> list[float] | None:
    """A log axis' range (in log10 units, as plotly wants it) around the positive values."""
    v = num(values)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    lo, hi = math.log10(float(v.min())), math.log10(float(v.max()))
    span = max(hi - lo, 0.3)
    return [lo - pad * span, hi + pad * span]


def date_range(dates: Any, pad: float = PAD) -> list[pd.Timestamp] | None:
    d = pd.to_datetime(pd.Series(dates), errors="coerce").dropna()
    if d.empty:
        return None
    lo, hi = d.min(), d.max()
    span = max(hi - lo, pd.Timedelta(days=30))
    return [lo - pad * span, hi + pad * span]


def clip_intervals(
    lo: np.ndarray, hi: np.ndarray, view: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intervals cut to ``view`` (data units): (lo, hi, continues below, continues above).

    A missing or non-finite end (an unbounded interval, or a lower end of 0 on a log axis)
    that lies beyond the view counts as continuing beyond it."""
    vlo, vhi = view
    lo_c = np.where(np.isfinite(lo), lo, -np.inf)
    hi_c = np.where(np.isfinite(hi), hi, np.inf)
    below = (lo_c < vlo) & ~np.isnan(lo)
    above = (hi_c > vhi) & ~np.isnan(hi)
    return np.clip(lo_c, vlo, vhi), np.clip(hi_c, vlo, vhi), below, above


def arrow_trace(
    x: Any, y: Any, *, up: bool, text: Any, axes: dict[str, str] | None = None, show: bool = True
) -> go.Scatter:
    """Arrow heads at the edge of the view where an interval continues beyond it."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        marker={
            "symbol": "arrow-bar-up" if up else "arrow-bar-down",
            "size": 9,
            "color": CLIP_COLOR,
            "line": {"width": 0},
        },
        name=CLIPPED,
        legendgroup="clipped",
        showlegend=show,
        text=text,
        hovertemplate="<b>%{text}</b><br>" + CLIPPED + "<extra></extra>",
        cliponaxis=False,
        **(axes or {}),
    )

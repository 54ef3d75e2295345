"""Rich tables of ``densing run``, ``densing forecast`` and ``densing backtest``."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from densing.formatting import fmt_interval, fmt_num, fmt_params
from densing.units import DAYS_PER_MONTH


def leaderboard(analysis: Any, top: int) -> Table:
    run = analysis.main
    col = f"density_{run.density_basis}"
    d = run.densities
    d = d[d["in_trend"]].sort_values(col, ascending=False).head(top)
    pct = round(analysis.level * 100)
    t = Table(title=f"Densest informative models (frame {run.spec.name})", title_justify="left")
    for name, just in (
        ("#", "right"), ("model", "left"), ("released", "left"), ("N active", "right"),
        ("N total", "right"), ("N̂", "right"), (f"ρ {run.density_basis}", "right"),
        (f"{pct}% interval", "right"), ("status", "left"),
    ):  # fmt: skip
        t.add_column(name, justify=just)  # type: ignore[arg-type]
    for i, r in enumerate(d.to_dict(orient="records"), 1):
        t.add_row(
            str(i), str(r["model"]), str(r["release_date"])[:10], fmt_params(r["active_params"]),
            fmt_params(r["params"]), fmt_params(r["effective_params"]), fmt_num(r[col]),
            fmt_interval(r[f"{col}_lo"], r[f"{col}_hi"]), r["status"] + (" ◆" if r["on_envelope"] else ""),
        )  # fmt: skip
    t.caption = "◆ on the envelope (set a new maximum density when released)"
    return t


def law_table(analysis: Any) -> Table:
    run = analysis.main
    tr = run.trend
    pct = round(analysis.level * 100)
    t = Table(title=f"Densing law  ln ρ_max = A·t + B  ({run.estimator})", title_justify="left")
    for c, j in (("quantity", "left"), ("estimate", "right"), (f"{pct}% interval", "right")):
        t.add_column(c, justify=j)  # type: ignore[arg-type]
    iv = tr.intervals if tr.samples is not None else {}
    nan = (math.nan, math.nan)
    dd, a = iv.get("doubling_time_days", nan), iv.get("A_per_day", nan)
    t.add_row("A (per day)", fmt_num(tr.A_per_day, 4), fmt_interval(a[0], a[1], 4))
    t.add_row(
        "doubling time (months)", fmt_num(tr.doubling_time_months),
        fmt_interval(dd[0] / DAYS_PER_MONTH, dd[1] / DAYS_PER_MONTH),
    )  # fmt: skip
    t.add_row("doubling time (days)", fmt_num(tr.doubling_time_days), fmt_interval(*dd))
    if run.estimator == "envelope-ols":
        t.add_row("R² (envelope fit)", fmt_num(tr.fit.r2), "")
    window = run._window_dates()
    n_env = int(run.densities["on_envelope"].sum())
    fitted_on = (
        f"fitted on the {n_env} on the envelope"
        if run.estimator == "envelope-ols"
        else f"fitted by {run.estimator} regression on all of them ({n_env} on the envelope)"
    )
    t.caption = (
        f"{len(run.trend_models)} informative models ({min(window, default='?')} to "
        f"{max(window, default='?')}), {fitted_on}; the interval carries the frame's and the "
        "models' sampling uncertainty. Paper: 3.3 months (arXiv v1), 3.5 (journal)"
    )
    return t


def sensitivity_table(analysis: Any) -> Table:
    t = Table(title="Sensitivity of the doubling time to the frame", title_justify="left")
    for c in (
        "frame",
        "model",
        "reference",
        "α",
        "scores",
        "models",
        "doubling (months)",
        "interval",
        "window end",
    ):
        t.add_column(c)
    for r in analysis.sensitivity.to_dict(orient="records"):
        t.add_row(
            str(r["frame"]), str(r["model"]), str(r["reference_family"]), fmt_num(r["alpha"]),
            str(r["settings"]), str(r["n_models"]), fmt_num(r["doubling_time_months"]),
            fmt_interval(r["lo"], r["hi"]), str(r["window_end"]),
        )  # fmt: skip
    return t


def forecast_table(forecasts: Any) -> Table:
    t = Table(
        title="When should the densest models of N parameters reach a score? (on the fitted law)",
        title_justify="left",
    )
    for c in ("item", "score", "N", "needed ρ", "date", "interval"):
        t.add_column(c)
    for r in forecasts.to_dict(orient="records"):
        t.add_row(
            str(r["benchmark"]), fmt_num(r["score"]), fmt_params(r["params"]), fmt_num(r["needed_density"]),
            str(r["date"] or r["status"]), f"[{r['date_lo'] or '…'}, {r['date_hi'] or '…'}]",
        )  # fmt: skip
    t.caption = (
        "the date the fitted frontier of density reaches N̂(score)/N: when the densest models of "
        "that size should get there, not when a typical one does"
    )
    return t


def backtest_table(result: Any) -> Table:
    t = Table(title=f"Backtest of the densing law (frame {result.frame})", title_justify="left")
    for c in (
        "estimator",
        "horizon (months)",
        "forecasts",
        "MAE ln ρ_max",
        "bias",
        "coverage",
        "mean width",
    ):
        t.add_column(c, justify="left" if c == "estimator" else "right")
    for r in result.scores().to_dict(orient="records"):
        cov = r["coverage"]
        t.add_row(
            str(r["estimator"]), str(r["horizon_months"]), str(r["n"]), fmt_num(r["mae_ln_rho"]),
            fmt_num(r["bias_ln_rho"]), "—" if cov != cov else f"{cov:.2f}", fmt_num(r["mean_width_ln"]),
        )  # fmt: skip
    return t

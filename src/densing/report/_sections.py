"""The numbered sections of the report around each figure (how-to-read notes, captions and the
tables that go with a plot)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from densing.formatting import fmt_interval, fmt_num
from densing.report._bundle import ReportBundle
from densing.report._density import (
    ENVELOPE,
    ENVELOPE_EXTRAPOLATED,
    STATUS_EXPLAIN,
    density_points,
    why_not_drawn,
)
from densing.report._figures import MAX_SIGMOID_PANELS, sigmoid_items
from densing.report._html import (
    date_text,
    details,
    esc,
    howto,
    missing,
    plot_div,
    table,
    td,
    th,
)
from densing.report._style import CLIPPED

STATUS_GLYPH = {
    "ok": "●",
    "extrapolated": "□",
    "uninformative": "○",
    "above_range": "▲",
    "below_range": "▼",
    "insufficient_scores": "—",
}


def status_list() -> str:
    """Every status, its marker and what it means (the how-to-read of plot and table)."""
    lis = [
        f'<li><span class="glyph">{STATUS_GLYPH.get(k, "·")}</span> <code>{esc(k)}</code>: '
        f"{esc(text)}.</li>"
        for k, text in STATUS_EXPLAIN.items()
    ]
    return f'<ul class="statuses">{"".join(lis)}</ul>'


def _undrawn_table(hidden: pd.DataFrame) -> str:
    if hidden.empty:
        return '<p class="caption">Every model of the catalog is drawn.</p>'
    rows = [
        td(str(r["model"]))
        + td(str(r["family"]))
        + td(date_text(r["release_date"]))
        + td(str(r["status"]))
        + td(why_not_drawn(r))
        for _, r in hidden.iterrows()
    ]
    head = [th("model"), th("family"), th("release date"), th("status"), th("why not drawn")]
    reasons = hidden.apply(why_not_drawn, axis=1).value_counts()
    why = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    return details(
        f"{len(hidden)} model(s) cannot be drawn ({why}) — show the list",
        table("table-undrawn", head, rows)
        + '<p class="caption">They stay in the table of all models below.</p>',
    )


def _law_is_fitted_to(trend: dict[str, Any]) -> str:
    est = str(trend.get("estimator") or "")
    if est.startswith("quantile-"):
        q = est.removeprefix("quantile-")
        return (
            f"The headline law is a quantile regression (q = {esc(q)}) over all informative "
            "models, not a fit to the envelope."
        )
    return "The headline law is fitted to the envelope."


def density_section(bundle: ReportBundle) -> str:
    _, hidden = density_points(bundle.densities)
    band_txt = (
        "The dashed line is the fitted law and the grey band its interval (cut at the edge of "
        "the plot)."
        if bundle.band is not None
        else "The fitted-law band was not part of the inputs."
    )
    return (
        '<section id="density"><h2>1. Capability density over time</h2>'
        + howto(
            "each marker is one model, placed at its release date and its capability density "
            "ρ on a logarithmic scale (ρ = 1, the horizontal line, is the reference family). "
            f"Red diamonds are the <i>{esc(ENVELOPE)}</i>: models that set a new maximum density "
            f"when released. {_law_is_fitted_to(bundle.trend)} A straight "
            "dashed line on this log axis means exponential growth. Vertical bars are density "
            f"intervals; an arrow at the edge of the plot means <i>{esc(CLIPPED)}</i> (the axis "
            "covers the models, not the ends of their intervals). A black ring marks an "
            f"<i>{esc(ENVELOPE_EXTRAPOLATED)}</i>. Hover a marker for the model, its size, density "
            "and interval; click legend entries to hide or show groups. Each model has one "
            "status:" + status_list()
        )
        + plot_div("plot-density", "capability density against release date")
        + f'<p class="caption">{band_txt}</p>'
        + _undrawn_table(hidden)
        + "</section>"
    )


def fit_section(bundle: ReportBundle) -> str:
    loss = str(bundle.frame.get("mode", "")).lower() == "loss"
    what = "loss law" if loss else "capability law"
    head = f'<section id="fit"><h2>2. The reference {what} and its residuals</h2>'
    if bundle.fit_points is None:
        return head + missing(f"The {what} fit") + "</section>"
    quantity = (
        "conditional loss of the reference runs"
        if loss
        else "latent capability of the reference-family members"
    )
    return (
        head
        + howto(
            f"the top panel shows the {quantity} (points) against parameters N on a log axis, "
            "with the fitted power law (lines), one colour per group. The bottom panel shows "
            "residuals (observed − fitted): they should scatter around zero without a trend; a "
            "curve or a fan shape means the law's form does not fit these data."
        )
        + plot_div("plot-fit", f"{what} fit with residuals")
        + '<p class="caption">This law turns a capability into an effective parameter size N̂: '
        "a target model's N̂ is the N at which the law reaches that model's capability.</p>"
        "</section>"
    )


def _items_table(counts: pd.Series) -> str:
    rows = [td(str(item)) + td(str(int(n)), num=True, sort=int(n)) for item, n in counts.items()]
    return table(
        "table-items",
        [th("item (benchmark @ setting)"), th("models with a score", num=True)],
        rows,
        cls="sortable",
    )


def sigmoid_section(bundle: ReportBundle) -> str:
    head = (
        '<section id="sigmoids"><h2>3. From capability to benchmark score: a sigmoid per item</h2>'
    )
    if bundle.sigmoids is None:
        return head + missing("The per-benchmark sigmoid fit") + "</section>"
    loss = str(bundle.frame.get("mode", "")).lower() == "loss"
    x = "conditional loss" if loss else "latent capability"
    shown, counts = sigmoid_items(bundle.sigmoids, bundle.sigmoid_points)
    n_all = len(counts)
    if n_all > len(shown):
        sel = (
            f'<p class="caption">Showing the {len(shown)} of {n_all} items that link the most '
            f"models (at most {MAX_SIGMOID_PANELS} panels). Every item and how many models it "
            "links:</p>" + details(f"all {n_all} items", _items_table(counts))
        )
    else:
        sel = details(f"how many models each of the {n_all} items links", _items_table(counts))
    return (
        head
        + howto(
            f"one panel per item (a benchmark under one setting). Each point is a model's "
            f"observed score against its {x}; the red curve is the fitted sigmoid that maps one "
            "to the other. Items with many models tie the frame together. Scores near the flat "
            "ends (chance level or the ceiling) carry little information about capability, "
            "which is why such models get wide intervals or a bound status."
        )
        + plot_div("plot-sigmoids", "sigmoid fits per item")
        + sel
        + "</section>"
    )


def _sensitivity_rows(s: pd.DataFrame, frame_name: str) -> list[str]:
    rows = []
    for _, r in s.iterrows():
        kind = " · ".join(str(r[c]) for c in ("model", "settings") if c in s and pd.notna(r[c]))
        ref = str(r["reference_family"])
        if "alpha" in s and pd.notna(r["alpha"]):
            ref += f" (α = {fmt_num(r['alpha'])})"
        law = " · ".join(
            str(r[c]) for c in ("estimator", "density_basis") if c in s and pd.notna(r[c])
        )
        cells = [
            f'<td class="wrap"><b>{esc(r["frame"])}</b>'
            + (f'<br><span class="sub">{esc(kind)}</span>' if kind else "")
            + "</td>",
            f'<td class="wrap">{esc(ref)}</td>',
            f'<td class="wrap">{esc(r["benchmarks"] if isinstance(r["benchmarks"], str) else ", ".join(map(str, r["benchmarks"])))}</td>',
            f'<td class="wrap">{esc(law or "—")}</td>',
            td(fmt_num(r["n_models"]), num=True),
            td(fmt_num(r["doubling_time_months"]), num=True),
            td(fmt_interval(r["lo"], r["hi"]), num=True),
        ]
        if "window_end" in s:
            cells.append(td(date_text(r["window_end"]) if pd.notna(r["window_end"]) else "—"))
        hl = ' class="highlight"' if str(r["frame"]) == frame_name else ""
        rows.append(f"<tr{hl}>{''.join(cells)}</tr>")
    return rows


def sensitivity_section(bundle: ReportBundle) -> str:
    head = (
        '<section id="sensitivity"><h2>4. Sensitivity: the doubling time under other '
        "reference frames</h2>"
    )
    s = bundle.sensitivity
    if s is None or s.empty:
        return head + missing("The sensitivity analysis") + "</section>"
    cols = [
        th("frame"),
        th("reference family"),
        th("benchmarks"),
        th("frontier · density basis"),
        th("models", num=True),
        th("doubling (months)", num=True),
        th("interval (months)", num=True),
    ]
    if "window_end" in s:
        cols.append(th("law's window ends"))
    body = table(
        "table-sensitivity", cols, _sensitivity_rows(s, str(bundle.frame.get("name"))), cls="fit"
    )
    return (
        head
        + howto(
            "density is always relative to a reference frame (a reference family and a set of "
            "benchmark items), and the growth rate depends on that choice. Each row refits "
            "everything under another frame; the bars are the doubling-time intervals, and an "
            "arrow means the interval continues beyond the plot. Overlapping bars mean the "
            "conclusion does not hinge on the frame. The frame used in the rest of this report "
            "is highlighted in red."
        )
        + plot_div("plot-sensitivity", "doubling time under several reference frames")
        + body
        + "</section>"
    )


def _backtest_rows(scores: list[dict[str, Any]]) -> list[str]:
    rows = []
    for r in scores:
        cov = r.get("coverage")
        rows.append(
            td(str(r.get("estimator")))
            + td(fmt_num(r.get("horizon_months")), num=True)
            + td(fmt_num(r.get("n")), num=True)
            + td(fmt_num(r.get("mae_ln_rho")), num=True)
            + td(fmt_num(r.get("bias_ln_rho")), num=True)
            + td(fmt_num(cov) if cov is not None else "—", num=True)
            + td(fmt_num(r.get("mean_width_ln")), num=True)
        )
    return rows


def _by_horizon(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score rows grouped by horizon, so the estimators of one horizon sit together."""
    return sorted(
        scores, key=lambda r: (float(r.get("horizon_months") or 0), str(r.get("estimator")))
    )


def backtest_section(bundle: ReportBundle) -> str:
    b = bundle.backtest
    if not b:
        return ""
    head = '<section id="backtest"><h2>5. Backtest: does the law forecast the frontier?</h2>'
    level = b.get("level")
    level_txt = f"{fmt_num(100 * float(level))}%" if level is not None else ""
    cols = [
        th("estimator"),
        th("horizon (months)", num=True),
        th("forecasts", num=True),
        th("mean abs. error (ln ρ)", num=True),
        th("bias (ln ρ)", num=True),
        th(f"coverage of {level_txt} intervals", num=True),
        th("mean interval width (ln ρ)", num=True),
    ]
    skipped = b.get("skipped") or []
    skip_txt = f" Skipped cutoffs: {esc('; '.join(map(str, skipped)))}." if skipped else ""
    return (
        head
        + howto(
            "at each cutoff, the frame and the law are refitted on the models released before "
            "it, and each frontier estimator forecasts the maximum density ρ<sub>max</sub> "
            "3, 6 and 12 months later; black is what was then released. Errors are in ln ρ: "
            "a mean absolute error of 0.5 means forecasts off by a factor of about 1.6. A "
            f"well-calibrated estimator's {esc(level_txt)} intervals cover the realised value "
            f"about {esc(level_txt)} of the time. <i>no-growth</i> is the baseline that "
            "forecasts today's maximum (A = 0)."
        )
        + plot_div("plot-backtest", "backtest forecasts against realised maximum density")
        + table("table-backtest", cols, _backtest_rows(_by_horizon(b.get("scores") or [])))
        + f'<p class="caption">Frame {esc(b.get("frame"))}; {esc(fmt_num(b.get("n_resamples")))} '
        f"resamples per cutoff; density basis {esc(b.get('density_basis', 'active'))}.{skip_txt}"
        "</p></section>"
    )

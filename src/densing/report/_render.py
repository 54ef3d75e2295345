"""Assemble the self-contained, offline HTML report from a :class:`ReportBundle`."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

import densing
from densing.formatting import fmt_interval, fmt_num, fmt_params, is_number, pair
from densing.report._bundle import DENSITY_COLUMNS, ReportBundle
from densing.report._figures import (
    density_figure,
    density_points,
    fit_figure,
    sensitivity_figure,
    sigmoid_figure,
    why_not_drawn,
)
from densing.units import DAYS_PER_MONTH

SEGMENT_LABELS = {"before": "before ChatGPT", "after": "after ChatGPT"}
PLOT_IDS = ("plot-density", "plot-fit", "plot-sigmoids", "plot-sensitivity")


def _asset(name: str) -> str:
    return resources.files("densing.report").joinpath("assets", name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _script_safe(text: str) -> str:
    """Make text safe inside a <script> element (no early '</script>')."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _json_safe(text: str) -> str:
    """JSON text for an application/json script block: escape markup characters."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _months_per_day(trend: dict[str, Any]) -> float:
    d, m = trend.get("doubling_time_days"), trend.get("doubling_time_months")
    if is_number(d) and is_number(m) and float(d or 0) != 0:
        return float(m or 0) / float(d or 1)
    return 1.0 / DAYS_PER_MONTH


def _doubling_months_interval(trend: dict[str, Any]) -> tuple[Any, Any]:
    intervals = trend.get("intervals") or {}
    if "doubling_time_months" in intervals:
        return pair(intervals["doubling_time_months"])
    lo, hi = pair(intervals.get("doubling_time_days"))
    f = _months_per_day(trend)
    return (
        float(lo) * f if is_number(lo) else lo,
        float(hi) * f if is_number(hi) else hi,
    )


def _card(key: str, value: str, interval: str = "") -> str:
    extra = f'<div class="i">{_e(interval)}</div>' if interval else ""
    return f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>{extra}</div>'


def _howto(text: str) -> str:
    return f'<p class="howto"><b>How to read this:</b> {text}</p>'


def _plot_div(plot_id: str, label: str) -> str:
    return (
        f'<div id="{plot_id}" class="plot densing-plot" role="img" aria-label="{_e(label)}"></div>'
    )


def _missing(what: str) -> str:
    return f'<p class="note">{_e(what)} was not part of the inputs of this report, so it is not shown.</p>'


def _bench_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "—" if value is None else str(value)


def _headline(bundle: ReportBundle) -> str:
    t = bundle.trend
    intervals = t.get("intervals") or {}
    level = t.get("interval_level")
    level_txt = (
        f"{fmt_num(100 * float(level or 0), 3)}% interval" if is_number(level) else "interval"
    )
    m_lo, m_hi = _doubling_months_interval(t)
    a_lo, a_hi = pair(intervals.get("A_per_day"))
    months = t.get("doubling_time_months")
    growing = is_number(t.get("A_per_day")) and float(t["A_per_day"]) > 0
    cards = [
        _card(
            "doubling time of maximum density",
            f"{fmt_num(months)} months" if growing else "no doubling (A ≤ 0)",
            f"{level_txt} {fmt_interval(m_lo, m_hi)}; {fmt_num(t.get('doubling_time_days'))} days",
        ),
        _card(
            "growth rate A (ln ρ per day)",
            fmt_num(t.get("A_per_day")),
            f"{level_txt} {fmt_interval(a_lo, a_hi)}",
        ),
        _card("R² of the law fit", fmt_num(t.get("r2")), ""),
        _card(
            "models in the law fit",
            fmt_num(t.get("n_models")),
            f"envelope: {len(t.get('envelope') or [])} models; catalog: {len(bundle.densities)}",
        ),
    ]
    out = [f'<div class="cards">{"".join(cards)}</div>']
    origin = t.get("reference_date")
    out.append(
        '<p class="caption">The law is ln ρ<sub>max</sub>(t) = A·t + B with t in days'
        + (f" since {_e(origin)}" if origin else "")
        + f"; B = {_e(fmt_num(t.get('B')))}. Doubling time = ln 2 / A.</p>"
    )
    if t.get("segments"):
        out.append(_segments_table(t["segments"], level_txt))
    if bundle.paper_comparison:
        out.append(_paper_table(bundle.paper_comparison, t))
    return "\n".join(out)


def _segments_table(segments: dict[str, Any], level_txt: str) -> str:
    rows = []
    for name, seg in segments.items():
        if not isinstance(seg, dict):
            continue
        iv = seg.get("intervals") or {}
        m_lo, m_hi = _doubling_months_interval(seg)
        a_lo, a_hi = pair(iv.get("A_per_day"))
        rows.append(
            "<tr>"
            f"<td>{_e(SEGMENT_LABELS.get(str(name), name))}</td>"
            f'<td class="num">{_e(fmt_num(seg.get("n_models")))}</td>'
            f'<td class="num">{_e(fmt_num(seg.get("A_per_day")))}</td>'
            f'<td class="num">{_e(fmt_interval(a_lo, a_hi))}</td>'
            f'<td class="num">{_e(fmt_num(seg.get("doubling_time_months")))}</td>'
            f'<td class="num">{_e(fmt_interval(m_lo, m_hi))}</td>'
            f'<td class="num">{_e(fmt_num(seg.get("r2")))}</td>'
            "</tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>The law before and after ChatGPT (30 Nov 2022)</h3>"
        '<table id="table-segments"><thead><tr><th>period</th><th class="num">models</th>'
        f'<th class="num">A per day</th><th class="num">{_e(level_txt)}</th>'
        f'<th class="num">doubling (months)</th><th class="num">{_e(level_txt)}</th>'
        '<th class="num">R²</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _paper_table(paper: dict[str, Any], trend: dict[str, Any]) -> str:
    columns = {k: v for k, v in paper.items() if isinstance(v, dict)}
    if not columns:
        columns = {"paper": paper}
    notes = [f"{_e(k)}: {_e(v)}" for k, v in paper.items() if isinstance(v, str)]
    keys: list[str] = []
    for col in columns.values():
        for k, v in col.items():
            if k not in keys and not isinstance(v, str | dict):
                keys.append(k)
    if not keys:
        return ""
    head = "".join(f'<th class="num">{_e(c)}</th>' for c in columns)
    rows = []
    for k in keys:
        ours = trend.get(k)
        cells = "".join(
            f'<td class="num">{_e(_fmt_any(col.get(k)))}</td>' for col in columns.values()
        )
        rows.append(f'<tr><td>{_e(k)}</td><td class="num">{_e(_fmt_any(ours))}</td>{cells}</tr>')
    note_html = f'<p class="caption">{"; ".join(notes)}</p>' if notes else ""
    return (
        "<h3>Compared with the published densing law (Xiao et al., 2024/2025)</h3>"
        '<table id="table-paper"><thead><tr><th>quantity</th><th class="num">this report</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + note_html
    )


def _fmt_any(v: Any) -> str:
    if isinstance(v, list | tuple) and len(v) == 2:
        return fmt_interval(v[0], v[1])
    return fmt_num(v) if v is None or is_number(v) or isinstance(v, float) else str(v)


def _method(bundle: ReportBundle) -> str:
    f = bundle.frame
    mode = str(f.get("mode", "—"))
    mode_txt = {
        "score": "score mode — fitted from published benchmark scores only",
        "loss": "loss mode — the paper's method (loss law, then loss-to-score sigmoid)",
    }.get(mode, mode)
    d0 = f.get("D0")
    d0_txt = f"{fmt_params(d0)} tokens" if is_number(d0) else ("—" if d0 is None else str(d0))
    items = [
        ("reference frame", str(f.get("name"))),
        ("mode", mode_txt),
        ("reference family", str(f.get("reference_family", "—"))),
        ("benchmarks", _bench_text(f.get("benchmarks"))),
        ("token budget D0 for N̂", d0_txt),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    note = f.get("method_note")
    note_html = f"<p>{_e(note)}</p>" if note else ""
    return (
        '<section class="method" id="method"><h3>Method and reference frame</h3>'
        "<p>A model's <b>effective parameter size</b> N̂ is the number of parameters a model of "
        "the reference family would need to reach the same benchmark performance; its "
        "<b>capability density</b> is ρ = N̂ / N, where N is its actual (for mixture-of-experts: "
        "activated) parameter count. ρ &gt; 1 means the model does more than a reference model "
        "of its size. Every density here is relative to this frame:</p>"
        f"<dl>{dl}</dl>{note_html}</section>"
    )


def _density_section(bundle: ReportBundle) -> str:
    _, hidden = density_points(bundle.densities)
    if hidden.empty:
        hidden_txt = "All models with a density are drawn."
    else:
        listed = ", ".join(f"{r['model']} ({why_not_drawn(r)})" for _, r in hidden.iterrows())
        hidden_txt = (
            f"{len(hidden)} model(s) cannot be drawn (no finite density or no release date): "
            f"{_e(listed)}. They are listed in the table of all models."
        )
    band_txt = (
        "The dashed line is the fitted law and the grey band its interval."
        if bundle.band is not None
        else "The fitted-law band was not part of the inputs."
    )
    return (
        '<section id="density"><h2>1. Capability density over time</h2>'
        + _howto(
            "each point is one model, placed at its release date and its capability density "
            "ρ on a logarithmic scale (ρ = 1, the horizontal line, is the reference family). "
            "Red diamonds are the <i>envelope</i>: models that set a new maximum density when "
            "released; the densing law is fitted to them. A straight dashed line on this log "
            "axis means exponential growth. Vertical bars are the density intervals; hover a "
            "point for the model, its size, density and interval; click legend entries to hide "
            "or show groups."
        )
        + _plot_div("plot-density", "capability density against release date")
        + f'<p class="caption">{band_txt} Triangles mark models whose scores lie outside the '
        f"calibrated range, so their density is only a bound. {hidden_txt}</p></section>"
    )


def _fit_section(bundle: ReportBundle) -> str:
    loss = str(bundle.frame.get("mode", "")).lower() == "loss"
    what = "loss law" if loss else "capability law"
    head = f'<section id="fit"><h2>2. The reference {what} and its residuals</h2>'
    if bundle.fit_points is None:
        return head + _missing(f"The {what} fit") + "</section>"
    quantity = (
        "conditional loss of the reference runs"
        if loss
        else "latent capability of the reference-family members"
    )
    return (
        head
        + _howto(
            f"the top panel shows the {quantity} (points) against parameters N on a log axis, "
            "with the fitted power law (lines), one colour per group. The bottom panel shows "
            "residuals (observed − fitted): they should scatter around zero without a trend; a "
            "curve or a fan shape means the law's form does not fit these data."
        )
        + _plot_div("plot-fit", f"{what} fit with residuals")
        + '<p class="caption">This law turns a capability into an effective parameter size N̂: '
        "a target model's N̂ is the N at which the law reaches that model's capability.</p>"
        "</section>"
    )


def _sigmoid_section(bundle: ReportBundle) -> str:
    head = '<section id="sigmoids"><h2>3. From capability to benchmark score: sigmoids per benchmark</h2>'
    if bundle.sigmoids is None:
        return head + _missing("The per-benchmark sigmoid fit") + "</section>"
    loss = str(bundle.frame.get("mode", "")).lower() == "loss"
    x = "conditional loss" if loss else "latent capability"
    return (
        head
        + _howto(
            f"one panel per benchmark. Each point is a model's observed score against its {x}; "
            "the red curve is the fitted sigmoid that maps one to the other. Scores near the "
            "flat ends (chance level or the ceiling) carry little information about capability, "
            "which is why such models get wide intervals or an out-of-range status."
        )
        + _plot_div("plot-sigmoids", "sigmoid fits per benchmark")
        + "</section>"
    )


def _sensitivity_section(bundle: ReportBundle) -> str:
    head = '<section id="sensitivity"><h2>4. Sensitivity: the doubling time under other reference frames</h2>'
    if bundle.sensitivity is None or bundle.sensitivity.empty:
        return head + _missing("The sensitivity analysis") + "</section>"
    s = bundle.sensitivity
    extra = [c for c in ("A_per_day", "r2") if c in s.columns]
    rows = []
    for _, r in s.iterrows():
        cls = ' class="highlight"' if str(r["frame"]) == str(bundle.frame.get("name")) else ""
        cells = [
            f"<td>{_e(r['frame'])}</td>",
            f"<td>{_e(r['reference_family'])}</td>",
            f"<td>{_e(_bench_text(_as_list(r['benchmarks'])))}</td>",
            f'<td class="num">{_e(fmt_num(r["n_models"]))}</td>',
            f'<td class="num">{_e(fmt_num(r["doubling_time_months"]))}</td>',
            f'<td class="num">{_e(fmt_interval(r["lo"], r["hi"]))}</td>',
        ]
        cells += [f'<td class="num">{_e(fmt_num(r[c]))}</td>' for c in extra]
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    extra_head = "".join(
        f'<th class="num">{_e({"A_per_day": "A per day", "r2": "R²"}[c])}</th>' for c in extra
    )
    table = (
        '<table id="table-sensitivity"><thead><tr><th>frame</th><th>reference family</th>'
        '<th>benchmarks</th><th class="num">models</th><th class="num">doubling (months)</th>'
        f'<th class="num">interval (months)</th>{extra_head}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
    return (
        head
        + _howto(
            "density is always relative to a reference frame (a reference family and a set of "
            "benchmarks), and the paper itself warns that the growth rate depends on that choice. "
            "Each row refits everything under another frame; the bars are the doubling-time "
            "intervals. Overlapping bars mean the conclusion does not hinge on the frame. The "
            "frame used in the rest of this report is highlighted in red."
        )
        + _plot_div("plot-sensitivity", "doubling time under several reference frames")
        + table
        + "</section>"
    )


def _as_list(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _extra_columns(d: pd.DataFrame) -> list[str]:
    known = {*DENSITY_COLUMNS, "density_total"}
    return [c for c in d.columns if c not in known]


def _date_text(v: Any) -> str:
    return "—" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def _sort_attr(v: Any) -> str:
    if v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if is_number(v):
        return repr(float(v))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _models_section(bundle: ReportBundle) -> str:
    d = bundle.densities.copy()
    d["release_date"] = pd.to_datetime(d["release_date"])
    d = d.assign(_rho=pd.to_numeric(d["density_active"], errors="coerce")).sort_values(
        "_rho", ascending=False, na_position="last", kind="stable"
    )
    envelope = {str(m) for m in (bundle.trend.get("envelope") or [])}
    has_total = "density_total" in d.columns
    extra = _extra_columns(d.drop(columns="_rho"))
    header = [
        ("model", False),
        ("family", False),
        ("release date", False),
        ("params N", True),
        ("active params", True),
        ("effective params N̂", True),
        ("density ρ", True),
        ("ρ interval", True),
    ]
    if has_total:
        header.append(("ρ vs total params (MoE)", True))
    header += [("status", False), ("frame", False)]
    header += [(c, True) for c in extra]
    ths = "".join(f'<th{" class=num" if num else ""} scope="col">{_e(h)}</th>' for h, num in header)
    rows = []
    for _, r in d.iterrows():
        status = str(r["status"])
        cells = [
            f"<td>{_e(r['model'])}</td>",
            f"<td>{_e(r['family'])}</td>",
            f'<td data-sort="{_sort_attr(r["release_date"])}">{_e(_date_text(r["release_date"]))}</td>',
            f'<td class="num" data-sort="{_sort_attr(r["params"])}">{_e(fmt_params(r["params"]))}</td>',
            f'<td class="num" data-sort="{_sort_attr(r["active_params"])}">{_e(fmt_params(r["active_params"]))}</td>',
            f'<td class="num" data-sort="{_sort_attr(r["effective_params"])}">{_e(fmt_params(r["effective_params"]))}</td>',
            f'<td class="num" data-sort="{_sort_attr(r["density_active"])}">{_e(fmt_num(r["density_active"]))}</td>',
            f'<td class="num" data-sort="{_sort_attr(r["density_active_lo"])}">{_e(fmt_interval(r["density_active_lo"], r["density_active_hi"]))}</td>',
        ]
        if has_total:
            cells.append(
                f'<td class="num" data-sort="{_sort_attr(r["density_total"])}">{_e(fmt_num(r["density_total"]))}</td>'
            )
        scls = "status-ok" if status == "ok" else "status-flag"
        cells += [f'<td class="{scls}">{_e(status)}</td>', f"<td>{_e(r['frame'])}</td>"]
        for c in extra:
            v = r[c]
            shown = fmt_num(v) if (is_number(v) or v is None or isinstance(v, float)) else str(v)
            cells.append(f'<td class="num" data-sort="{_e(_sort_attr(v))}">{_e(shown)}</td>')
        rcls = ' class="envelope"' if str(r["model"]) in envelope else ""
        rows.append(f"<tr{rcls}>{''.join(cells)}</tr>")
    n_flag = int((d["status"].astype(str) != "ok").sum())
    return (
        '<section id="models"><h2>5. All models</h2>'
        + _howto(
            "one row per model, densest first. Click a column heading to sort by it (click again "
            "to reverse); type in the box to filter rows. Rows with a red left edge are on the "
            "envelope. A status other than <i>ok</i> means the model's score lies outside the "
            "range the frame can invert (above_range: better than the frame can express, so ρ is "
            "a lower bound; below_range: at or below chance, so ρ is an upper bound or undefined)."
        )
        + '<input class="filter" type="search" data-table="table-models" '
        'placeholder="filter models, families, status…" aria-label="filter the table of models">'
        + f'<div class="table-wrap"><table id="table-models" class="sortable"><thead><tr>{ths}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody></table></div>"
        + f'<p class="caption">{len(d)} models; {n_flag} with a status other than ok. '
        "Parameter counts: K = 10³, M = 10⁶, B = 10⁹, T = 10¹². Missing values are shown as —.</p>"
        "</section>"
    )


def build_figures(bundle: ReportBundle) -> dict[str, Any]:
    """The report's plotly figures, keyed by the id of the div that shows them."""
    figs: dict[str, Any] = {
        "plot-density": density_figure(bundle.densities, bundle.trend, bundle.band)
    }
    if bundle.fit_points is not None:
        figs["plot-fit"] = fit_figure(bundle.fit_points, bundle.fit_curve, bundle.frame)
    if bundle.sigmoids is not None:
        figs["plot-sigmoids"] = sigmoid_figure(bundle.sigmoids, bundle.sigmoid_points, bundle.frame)
    if bundle.sensitivity is not None and not bundle.sensitivity.empty:
        paper = bundle.paper_comparison or {}
        months = paper.get("doubling_time_months")
        if months is None:
            months = next(
                (v.get("doubling_time_months") for v in paper.values() if isinstance(v, dict)),
                None,
            )
        figs["plot-sensitivity"] = sensitivity_figure(
            bundle.sensitivity, bundle.frame.get("name"), months
        )
    return figs


def render_html(bundle: ReportBundle) -> str:
    """The complete report as one HTML string (plotly.js inline, no network access)."""
    version = bundle.densing_version or densing.__version__
    generated = bundle.generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    frame_name = str(bundle.frame.get("name"))
    title = f"Capability density and the densing law — frame {frame_name}"
    body = "\n".join(
        [
            "<header><h1>Capability density and the densing law</h1>"
            f'<p class="subtitle">Reference frame <b>{_e(frame_name)}</b> · '
            f"{len(bundle.densities)} models · generated {_e(generated)} by densing "
            f"{_e(version)}</p></header>",
            '<section id="summary"><h2 style="border-top:none;margin-top:8px">Summary</h2>'
            "<p>How fast is the <i>maximum</i> capability density of released models growing? "
            "The densing law (Xiao et al., arXiv 2412.04315) fits ln ρ<sub>max</sub> = A·t + B "
            "to the models that set a new maximum. Every number below carries an interval.</p>"
            + _headline(bundle)
            + "</section>",
            _method(bundle),
            _density_section(bundle),
            _fit_section(bundle),
            _sigmoid_section(bundle),
            _sensitivity_section(bundle),
            _models_section(bundle),
            f"<footer>Self-contained report: all data and the plotting library (plotly.js) are "
            f"embedded in this file; it makes no network requests. densing {_e(version)}, "
            f"{_e(generated)}.</footer>",
        ]
    )
    figs = build_figures(bundle)
    fig_json = (
        "{"
        + ",".join(f'"{k}":' + pio.to_json(fig, validate=False) for k, fig in figs.items())
        + "}"
    )
    return Template(_asset("report.html")).substitute(
        version=_e(version),
        title=_e(title),
        css=_asset("report.css"),
        plotlyjs=_script_safe(get_plotlyjs()),
        body=body,
        figures=_json_safe(fig_json),
        js=_script_safe(_asset("report.js")),
    )


def render_report(bundle: ReportBundle, out_path: str | Path) -> Path:
    """Write the report to ``out_path`` (one offline HTML file) and return its path."""
    p = Path(out_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(bundle), encoding="utf-8")
    return p

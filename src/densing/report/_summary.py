"""The report's summary: the headline law, its caveats, the other frontier estimators, the
before/after-ChatGPT comparison, the paper's numbers and the method note."""

from __future__ import annotations

from typing import Any

from densing.formatting import fmt_interval, fmt_num, fmt_params, is_number, pair
from densing.report._bundle import ReportBundle
from densing.report._html import bench_text, card, details, esc, table, td, th
from densing.units import DAYS_PER_MONTH

SEGMENT_LABELS = {"before": "before ChatGPT", "after": "after ChatGPT"}
MIN_ENVELOPE = 5


def _months_per_day(trend: dict[str, Any]) -> float:
    d, m = trend.get("doubling_time_days"), trend.get("doubling_time_months")
    if is_number(d) and is_number(m) and float(d or 0) != 0:
        return float(m or 0) / float(d or 1)
    return 1.0 / DAYS_PER_MONTH


def doubling_months_interval(trend: dict[str, Any]) -> tuple[Any, Any]:
    intervals = trend.get("intervals") or {}
    if "doubling_time_months" in intervals:
        return pair(intervals["doubling_time_months"])
    lo, hi = pair(intervals.get("doubling_time_days"))
    f = _months_per_day(trend)
    return (
        float(lo) * f if is_number(lo) else lo,
        float(hi) * f if is_number(hi) else hi,
    )


def level_text(trend: dict[str, Any]) -> str:
    level = trend.get("interval_level")
    return f"{fmt_num(100 * float(level or 0), 3)}% interval" if is_number(level) else "interval"


def _window_text(trend: dict[str, Any]) -> str:
    first, last = pair(trend.get("window"))
    return f"models released {first} to {last}" if first and last else ""


def headline(bundle: ReportBundle) -> str:
    t = bundle.trend
    level_txt = level_text(t)
    m_lo, m_hi = doubling_months_interval(t)
    a_lo, a_hi = pair((t.get("intervals") or {}).get("A_per_day"))
    growing = is_number(t.get("A_per_day")) and float(t["A_per_day"]) > 0
    estimator = t.get("estimator")
    cards = [
        card(
            "doubling time of maximum density (the headline law)",
            f"{fmt_num(t.get('doubling_time_months'))} months"
            if growing
            else "no doubling (A ≤ 0)",
            f"{level_txt} {fmt_interval(m_lo, m_hi)}; {fmt_num(t.get('doubling_time_days'))} days",
            "the interval includes the frame's uncertainty",
        ),
        card(
            "growth rate A (ln ρ per day)",
            fmt_num(t.get("A_per_day")),
            f"{level_txt} {fmt_interval(a_lo, a_hi)}",
        ),
        card("R² of the law fit", fmt_num(t.get("r2"))),
        card(
            "models in the law fit",
            fmt_num(t.get("n_models")),
            f"envelope: {len(t.get('envelope') or [])} models; catalog: {len(bundle.densities)}",
        ),
    ]
    origin = t.get("reference_date")
    what = [
        f"frame <b>{esc(bundle.frame.get('name'))}</b>",
        f"frontier estimator <b>{esc(estimator)}</b>" if estimator else "",
        esc(_window_text(t)),
    ]
    out = [
        f'<div class="cards" id="headline">{"".join(cards)}</div>',
        '<p class="caption">The headline law: '
        + ", ".join(w for w in what if w)
        + ". It is ln ρ<sub>max</sub>(t) = A·t + B with t in days"
        + (f" since {esc(origin)}" if origin else "")
        + f"; B = {esc(fmt_num(t.get('B')))}; doubling time = ln 2 / A. Its {esc(level_txt)} "
        "comes from a bootstrap that refits the reference frame in every replicate, so it "
        "carries the frame's uncertainty as well as the scatter of the models.</p>",
        caveat_box(bundle),
        estimators_table(t),
    ]
    if t.get("segments"):
        out.append(segments_table(t["segments"], level_txt, t.get("segments_note")))
    if bundle.paper_comparison:
        out.append(paper_table(bundle.paper_comparison, t))
    return "\n".join(o for o in out if o)


def _envelope_flags(bundle: ReportBundle) -> tuple[int, int, int]:
    """Envelope size, and how many of its models are chance-level / extrapolated."""
    env = {str(m) for m in (bundle.trend.get("envelope") or [])}
    d = bundle.densities[bundle.densities["model"].astype(str).isin(env)]
    status = d["status"].astype(str)
    chance = status == "uninformative"
    if "at_chance" in d.columns:
        chance |= d["at_chance"].fillna(False).astype(bool)
    n_extra = bundle.trend.get("n_extrapolated_on_envelope")
    extrapolated = (
        int(n_extra or 0) if is_number(n_extra) else int((status == "extrapolated").sum())
    )
    return len(env), int(chance.sum()), extrapolated


def caveats(bundle: ReportBundle) -> list[str]:
    """The analysis' own caveats, plus what the report sees in the envelope itself."""
    given = [str(c) for c in (bundle.trend.get("caveats") or []) if str(c).strip()]
    text = " ".join(given).lower()
    n_env, n_chance, n_extra = _envelope_flags(bundle)
    if n_env < MIN_ENVELOPE and "envelope has only" not in text:
        given.append(
            f"the envelope has only {n_env} models (fewer than {MIN_ENVELOPE}): the law is "
            "fitted to very few points"
        )
    if n_chance and "chance" not in text:
        given.append(
            f"{n_chance} envelope model(s) score at chance level (or are otherwise "
            "uninformative): their density says little about the frontier"
        )
    if n_extra and "extrapolated" not in text:
        given.append(
            f"{n_extra} of {n_env} envelope models are extrapolated beyond the reference "
            "family's calibrated range"
        )
    return given


def caveat_box(bundle: ReportBundle) -> str:
    items = caveats(bundle)
    if not items:
        return ""
    lis = "".join(f"<li>{esc(c[:1].upper() + c[1:])}.</li>" for c in items)
    return (
        '<div class="caveat" id="caveats" role="note"><b>Read the headline with care.</b> '
        f"<ul>{lis}</ul></div>"
    )


def estimators_table(trend: dict[str, Any]) -> str:
    est = trend.get("estimators")
    if not isinstance(est, dict) or len(est) < 2:
        return ""
    level_txt = level_text(trend)
    rows = []
    for name, e in est.items():
        if not isinstance(e, dict):
            continue
        lo, hi = doubling_months_interval(e)
        used = name == trend.get("estimator")
        rows.append(
            f"<tr{' class=highlight' if used else ''}>"
            + td(f"{name}{' (headline)' if used else ''}")
            + td(fmt_num(e.get("A_per_day")), num=True)
            + td(fmt_num(e.get("doubling_time_months")), num=True)
            + td(fmt_interval(lo, hi), num=True)
            + "</tr>"
        )
    head = [
        th("frontier estimator"),
        th("A per day", num=True),
        th("doubling (months)", num=True),
        th(level_txt, num=True),
    ]
    return (
        "<h3>The same models under each frontier estimator</h3>"
        f'<p class="caption">{esc(_estimator_note(list(est)))} The highlighted row is the '
        "headline.</p>" + table("table-estimators", head, rows)
    )


def _estimator_note(names: list[str]) -> str:
    out = []
    for n in names:
        if n.startswith("envelope"):
            out.append(f"{n} fits the models that set a new maximum (the paper's method)")
        elif n.startswith("quantile-"):
            q = n.removeprefix("quantile-")
            out.append(f"{n} is a quantile regression at q = {q} over all informative models")
    return "; ".join(out) + "." if out else ""


def segments_table(segments: dict[str, Any], level_txt: str, note: Any = None) -> str:
    rows = []
    for name, seg in segments.items():
        if not isinstance(seg, dict):
            continue
        m_lo, m_hi = doubling_months_interval(seg)
        a_lo, a_hi = pair((seg.get("intervals") or {}).get("A_per_day"))
        cells = [
            td(SEGMENT_LABELS.get(str(name), str(name))),
            td(fmt_num(seg.get("n_models")), num=True),
            td(fmt_num(seg.get("A_per_day")), num=True),
            td(fmt_interval(a_lo, a_hi), num=True),
            td(fmt_num(seg.get("doubling_time_months")), num=True),
            td(fmt_interval(m_lo, m_hi), num=True),
            td(fmt_num(seg.get("r2")), num=True),
        ]
        rows.append("".join(cells))
    if not rows:
        return ""
    fixed = f"{level_txt}, frame held fixed"
    head = [
        th("period"),
        th("models", num=True),
        th("A per day", num=True),
        th(fixed, num=True),
        th("doubling (months)", num=True),
        th(fixed, num=True),
        th("R²", num=True),
    ]
    return (
        '<h3 id="segments">A separate comparison: the envelope before and after ChatGPT '
        "(30 Nov 2022)</h3>"
        '<p class="caption segments-note">These rows are <b>not</b> a second interval for the '
        "headline number. Each refits the envelope on its side of the break, on a different "
        "set of models, with the reference frame held fixed: their intervals leave out the "
        "frame's uncertainty, so they are narrower than the headline's. Compare them with each "
        "other, not with the headline."
        + (f" Fitted on: {esc(note)}" if note else "")
        + "</p>"
        + table("table-segments", head, rows)
    )


def _fmt_any(v: Any) -> str:
    if isinstance(v, list | tuple) and len(v) == 2:
        return fmt_interval(v[0], v[1])
    return fmt_num(v) if v is None or is_number(v) or isinstance(v, float) else str(v)


def paper_table(paper: dict[str, Any], trend: dict[str, Any]) -> str:
    columns = {k: v for k, v in paper.items() if isinstance(v, dict)} or {"paper": paper}
    notes = [f"{esc(k)}: {esc(v)}" for k, v in paper.items() if isinstance(v, str)]
    keys: list[str] = []
    for col in columns.values():
        keys += [k for k, v in col.items() if k not in keys and not isinstance(v, str | dict)]
    if not keys:
        return ""
    head = [th("quantity"), th("this report (headline)", num=True)]
    head += [th(str(c), num=True) for c in columns]
    rows = [
        td(k)
        + td(_fmt_any(trend.get(k)), num=True)
        + "".join(td(_fmt_any(col.get(k)), num=True) for col in columns.values())
        for k in keys
    ]
    note_html = f'<p class="caption">{"; ".join(notes)}</p>' if notes else ""
    return (
        "<h3>Compared with the published densing law (Xiao et al., 2024/2025)</h3>"
        + table("table-paper", head, rows)
        + note_html
    )


def method(bundle: ReportBundle) -> str:
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
        ("benchmarks", bench_text(f.get("benchmarks"))),
        ("token budget D0 for N̂", d0_txt),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    benches = f.get("benchmarks")
    if isinstance(benches, list | tuple) and len(benches) > 8:
        # a stitched frame has dozens of items: name the count, list them on demand
        listed = details(f"{len(benches)} benchmark × setting items", esc(bench_text(benches)))
        dl = dl.replace(f"<dd>{esc(bench_text(benches))}</dd>", f"<dd>{listed}</dd>")
    note = f.get("method_note")
    note_html = f'<p class="method-note">{esc(note)}</p>' if note else ""
    return (
        '<section class="method" id="method"><h3>Method and reference frame</h3>'
        "<p>A model's <b>effective parameter size</b> N̂ is the number of parameters a model of "
        "the reference family would need to reach the same benchmark performance; its "
        "<b>capability density</b> is ρ = N̂ / N, where N is its actual (for mixture-of-experts: "
        "activated) parameter count. ρ &gt; 1 means the model does more than a reference model "
        "of its size. Every density here is relative to this frame:</p>"
        f"<dl>{dl}</dl>{note_html}</section>"
    )

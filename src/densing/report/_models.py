"""The table of every model: one row per model, readable column titles, sortable, filterable
by model name, with the model column kept in view while scrolling sideways."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from densing.formatting import fmt_interval, fmt_num, fmt_params, is_number
from densing.report._bundle import DENSITY_COLUMNS, ReportBundle
from densing.report._html import date_text, esc, howto, td, th
from densing.report._sections import status_list

# extra columns the analysis writes, and how the table titles them
EXTRA_TITLES = {
    "theta": ("capability θ", "the model's latent capability (loss-like, lower is better)"),
    "n_benchmarks": ("benchmarks scored", "benchmarks with a score the frame used"),
    "n_reported_scores": ("developer-reported scores", "scores as reported by the developer"),
    "at_chance": ("at chance", "scores indistinguishable from chance level"),
    "unbounded": ("unbounded interval", "the density interval has an infinite end"),
    "on_envelope": ("on envelope", "sets a new maximum density when released"),
    "in_trend": ("in the law's fit", "one of the models the headline law is fitted to"),
}
# shown elsewhere in the row (as an interval) or saying nothing the row does not
HIDDEN = {
    "effective_params_lo",
    "effective_params_hi",
    "density_total",
    "density_total_lo",
    "density_total_hi",
    "finite_density",
}


def _title(col: str) -> tuple[str, str]:
    if col in EXTRA_TITLES:
        return EXTRA_TITLES[col]
    if col.startswith("density_"):
        bench = col.removeprefix("density_")
        return f"ρ from {bench}", f"density from the {bench} scores alone"
    return col.replace("_", " "), col


def _extra_columns(d: pd.DataFrame) -> list[str]:
    known = {*DENSITY_COLUMNS, *HIDDEN}
    return [c for c in d.columns if c not in known and not c.startswith("_")]


def _cell(v: Any) -> str:
    if isinstance(v, bool) or (hasattr(v, "dtype") and str(getattr(v, "dtype", "")) == "bool"):
        return td("yes" if bool(v) else "no", sort=int(bool(v)))
    if is_number(v) or v is None or isinstance(v, float):
        return td(fmt_num(v), num=True, sort=v)
    return td(str(v), sort=v)


def _columns(d: pd.DataFrame) -> list[tuple[str, bool, str]]:
    has_total = "density_total" in d.columns
    head = [
        ("model", False, "model id"),
        ("family", False, ""),
        ("release date", False, ""),
        ("params N", True, "total parameters"),
        ("active params", True, "activated parameters (mixture-of-experts)"),
        ("effective params N̂", True, "parameters a reference model would need"),
        ("density ρ", True, "ρ = N̂ / active parameters"),
        ("ρ interval", True, "interval of ρ (a bound: one end is 0 or ∞)"),
    ]
    if has_total:
        head += [("ρ vs total (MoE)", True, "ρ = N̂ / total parameters")]
    head += [("status", False, "see the list of statuses above")]
    if d["frame"].astype(str).nunique() > 1:
        head += [("frame", False, "")]
    return head


def _row(r: pd.Series, cols: list[str], extra: list[str], envelope: set[str]) -> str:
    status = str(r["status"])
    cells = [
        f'<th scope="row">{esc(r["model"])}</th>',
        td(str(r["family"])),
        td(date_text(r["release_date"]), sort=r["release_date"]),
        td(fmt_params(r["params"]), num=True, sort=r["params"]),
        td(fmt_params(r["active_params"]), num=True, sort=r["active_params"]),
        td(fmt_params(r["effective_params"]), num=True, sort=r["effective_params"]),
        td(fmt_num(r["density_active"]), num=True, sort=r["density_active"]),
        td(
            fmt_interval(r["density_active_lo"], r["density_active_hi"]),
            num=True,
            sort=r["density_active_lo"],
        ),
    ]
    if "ρ vs total (MoE)" in cols:
        cells.append(td(fmt_num(r["density_total"]), num=True, sort=r["density_total"]))
    cells.append(td(status, cls="status-ok" if status == "ok" else "status-flag"))
    if "frame" in cols:
        cells.append(td(str(r["frame"])))
    cells += [_cell(r[c]) for c in extra]
    rcls = ' class="envelope"' if str(r["model"]) in envelope else ""
    return f"<tr{rcls}>{''.join(cells)}</tr>"


def models_section(bundle: ReportBundle, number: int) -> str:
    d = bundle.densities.copy()
    d["release_date"] = pd.to_datetime(d["release_date"])
    # densest first among the point estimates; bounds and uninformative models after them,
    # models without a density last
    rank = d["status"].astype(str).map({"ok": 0, "extrapolated": 0}).fillna(1)
    rho = pd.to_numeric(d["density_active"], errors="coerce")
    rank = rank.where(np.isfinite(rho), 2)
    d = d.assign(_rank=rank, _rho=rho).sort_values(
        ["_rank", "_rho"], ascending=[True, False], na_position="last", kind="stable"
    )
    envelope = {str(m) for m in (bundle.trend.get("envelope") or [])}
    extra = _extra_columns(d)
    columns = _columns(d)
    head = [th(t, num=n, title=tip) for t, n, tip in columns]
    head += [th(_title(c)[0], title=_title(c)[1]) for c in extra]
    names = [c[0] for c in columns]
    rows = [_row(r, names, extra, envelope) for _, r in d.iterrows()]
    n_flag = int((d["status"].astype(str) != "ok").sum())
    return (
        f'<section id="models"><h2>{number}. All models</h2>'
        + howto(
            "one row per model: models with a point estimate (ok, extrapolated) densest first, "
            "then bounds and uninformative models, then those without a density. Click a column heading to sort by it (click again "
            "to reverse); type in the box to filter rows by model name. The model column stays "
            "in view when you scroll the table sideways. Rows with a red left edge are on the "
            "envelope. The statuses:" + status_list()
        )
        + '<input class="filter" type="search" data-table="table-models" '
        'placeholder="filter by model name…" aria-label="filter the table by model name">'
        + '<div class="table-wrap"><table id="table-models" class="sortable">'
        + f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        + f'<p class="caption">{len(d)} models; {n_flag} with a status other than ok. '
        "Parameter counts: K = 10³, M = 10⁶, B = 10⁹, T = 10¹². Missing values are shown as —.</p>"
        "</section>"
    )

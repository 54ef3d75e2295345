"""Small HTML building blocks of the report (escaping, cards, notes, tables)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from densing.formatting import is_number


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def card(key: str, value: str, interval: str = "", note: str = "") -> str:
    extra = f'<div class="i">{esc(interval)}</div>' if interval else ""
    extra += f'<div class="n">{esc(note)}</div>' if note else ""
    return (
        f'<div class="card"><div class="k">{esc(key)}</div><div class="v">{esc(value)}</div>'
        f"{extra}</div>"
    )


def howto(text: str) -> str:
    """A 'how to read this' note (``text`` is trusted HTML written by the report)."""
    return f'<div class="howto"><b>How to read this:</b> {text}</div>'


def plot_div(plot_id: str, label: str) -> str:
    return (
        f'<div id="{plot_id}" class="plot densing-plot" role="img" aria-label="{esc(label)}"></div>'
    )


def missing(what: str) -> str:
    return (
        f'<p class="note">{esc(what)} was not part of the inputs of this report, so it is not '
        "shown.</p>"
    )


def bench_text(value: Any) -> str:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "—" if value is None else str(value)


def date_text(v: Any) -> str:
    return "—" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def sort_attr(v: Any) -> str:
    """The value a sortable table sorts a cell by (numbers as repr, dates ISO, else text)."""
    if v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if is_number(v):
        return repr(float(v))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def td(text: str, *, num: bool = False, sort: Any = None, cls: str = "") -> str:
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    attrs = f' class="{classes}"' if classes else ""
    if sort is not None:
        attrs += f' data-sort="{esc(sort_attr(sort))}"'
    return f"<td{attrs}>{esc(text)}</td>"


def th(text: str, *, num: bool = False, title: str = "") -> str:
    attrs = ' class="num"' if num else ""
    if title:
        attrs += f' title="{esc(title)}"'
    return f'<th{attrs} scope="col">{esc(text)}</th>'


def table(table_id: str, head: Sequence[str], rows: Sequence[str], *, cls: str = "") -> str:
    """A table from header cells and row HTML (each row the inner HTML of a <tr>)."""
    attrs = f' class="{cls}"' if cls else ""
    return (
        f'<div class="table-scroll"><table id="{table_id}"{attrs}><thead><tr>{"".join(head)}'
        "</tr></thead><tbody>"
        + "".join(f"<tr>{r}</tr>" if not r.startswith("<tr") else r for r in rows)
        + "</tbody></table></div>"
    )


def details(summary: str, body: str, *, open_: bool = False) -> str:
    return (
        f'<details class="more"{" open" if open_ else ""}><summary>{esc(summary)}</summary>'
        f"{body}</details>"
    )

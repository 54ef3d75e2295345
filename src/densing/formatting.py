"""The one number formatter of densing: CLI tables, summaries and the report use it.

Numbers are never truncated: a value is shown with ``digits`` significant digits (scientific
notation below 1e-3 and from 1e6 on), infinities are spelled out, missing values are '—'.
"""

from __future__ import annotations

import math
from typing import Any


def is_number(x: Any) -> bool:
    try:
        return x is not None and not isinstance(x, bool | str) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_params(x: Any) -> str:
    """7.24e9 → '7.24B', 3.5e8 → '350M'; missing → '—'."""
    if not is_number(x):
        return "—"
    v = float(x)
    if abs(v) >= 1e15:
        return fmt_num(v)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= scale:
            return f"{fmt_num(v / scale)}{suffix}"
    return fmt_num(v)


def fmt_num(x: Any, digits: int = 3) -> str:
    """Significant-digit formatting; missing → '—', infinities spelled out."""
    if isinstance(x, str):
        return {"inf": "∞", "-inf": "−∞", "nan": "—"}.get(x.strip().lower(), x)
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        return f"{v:.{max(digits - 1, 0)}e}".replace("e-0", "e-").replace("e+0", "e+")
    r = float(f"{v:.{digits}g}")  # rounded to ``digits`` significant digits
    if abs(r) >= 10**digits:  # 1050 → '1050', not '1.05e+03'
        return f"{r:.0f}"
    return f"{v:.{digits}g}"


def fmt_interval(lo: Any, hi: Any, digits: int = 3) -> str:
    if not is_number(lo) and not is_number(hi):
        return "—"
    return f"[{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"


def pair(value: Any) -> tuple[Any, Any]:
    """An interval given as [lo, hi] (or a dict with lo/hi) → (lo, hi); else (None, None)."""
    if isinstance(value, dict):
        return value.get("lo"), value.get("hi")
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


def fmt_months(days: Any, digits: int = 3) -> str:
    """A duration in days shown in months (of :data:`densing.units.DAYS_PER_MONTH`)."""
    from densing.units import DAYS_PER_MONTH

    return fmt_num(float(days) / DAYS_PER_MONTH, digits) if is_number(days) else fmt_num(days)

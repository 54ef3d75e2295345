"""Per-benchmark sigmoid settings: fixed floor and ceiling, robust loss, ``f_scale``.

Settings come from (highest priority first) the explicit ``floors`` / ``ceilings`` maps (the
CLI's ``--floor`` / ``--ceiling``), a benchmark-settings file (YAML or a table, see
:func:`read_benchmark_settings`), and the defaults (``sigmoid_loss``, ``f_scale``,
``default_ceiling``). A fixed floor above, or a fixed ceiling below, any calibration score is
an error naming the benchmark and the offending rows: the sigmoid could not pass through them
and would silently collapse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from densing.errors import DensingInputError
from densing.io import read_table

SIGMOID_LOSSES = ("soft_l1", "linear", "huber")
SETTING_KEYS = ("floor", "ceiling", "sigmoid_loss", "f_scale")


@dataclass(frozen=True)
class SigmoidSettings:
    """How one benchmark's sigmoid is fitted."""

    floor: float | None = None
    ceiling: float | None = None
    loss: str = "soft_l1"
    f_scale: float = 0.05


def _check_value(key: str, v: Any, where: dict[str, Any]) -> Any:
    """One setting value, validated; ``where`` names the file/row/column for errors."""
    if key == "sigmoid_loss":
        if str(v) not in SIGMOID_LOSSES:
            raise DensingInputError(f"sigmoid_loss '{v}' must be one of {SIGMOID_LOSSES}", **where)
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise DensingInputError(f"{key} '{v}' is not a number", **where) from None
    ok = {
        "floor": 0 <= f < 1,
        "ceiling": 0 < f <= 1,
        "f_scale": np.isfinite(f) and f > 0,
    }[key]
    if not ok:
        rng = {"floor": "in [0, 1)", "ceiling": "in (0, 1]", "f_scale": "> 0"}[key]
        raise DensingInputError(f"{key} {v} must be {rng}", **where)
    return f


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _from_records(records: list[tuple[str, dict[str, Any], int | None]], file: str) -> dict:
    out: dict[str, dict[str, Any]] = {}
    for bench, entry, row in records:
        if bench in out:
            raise DensingInputError(f"benchmark '{bench}' is given twice", file=file, row=row)
        clean: dict[str, Any] = {}
        for key, v in entry.items():
            where: dict[str, Any] = {"file": file, "row": row, "column": key}
            if key not in SETTING_KEYS:
                raise DensingInputError(
                    f"unknown setting '{key}' for benchmark '{bench}'; expected {SETTING_KEYS}",
                    **where,
                )
            if not _blank(v):
                clean[key] = _check_value(key, v, where)
        out[bench] = clean
    return out


def read_benchmark_settings(path: str | Path) -> dict[str, dict[str, Any]]:
    """Settings per benchmark from a YAML file or a table (CSV / TSV / Parquet / JSON).

    YAML: ``{benchmark: {floor: 0.25, ceiling: 1.0, sigmoid_loss: huber, f_scale: 0.02}}``.
    Table: a ``benchmark`` column and any of ``floor, ceiling, sigmoid_loss, f_scale`` (a blank
    cell leaves that setting to the default).
    """
    p = Path(path)
    file = str(p)
    if p.suffix.lower() in (".yaml", ".yml"):
        if not p.is_file():
            raise DensingInputError("file not found", file=file)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DensingInputError(
                f"not valid YAML ({exc})".replace("\n", " "), file=file
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise DensingInputError(
                "expected a mapping benchmark → {floor, ceiling, sigmoid_loss, f_scale}", file=file
            )
        return _from_records([(str(b), dict(v), None) for b, v in data.items()], file)
    df = read_table(p)
    if "benchmark" not in df.columns:
        raise DensingInputError(
            f"missing column 'benchmark'; the table has {list(map(str, df.columns))}",
            file=file,
            column="benchmark",
        )
    records: list[tuple[str, dict[str, Any], int | None]] = []
    for i, row in enumerate(df.to_dict(orient="records")):
        rec = {str(k): v for k, v in row.items()}
        bench = rec.pop("benchmark")
        if _blank(bench):
            raise DensingInputError("missing value", file=file, row=i + 1, column="benchmark")
        records.append((str(bench).strip(), rec, i + 1))
    return _from_records(records, file)


def resolve_settings(
    benches: list[str],
    cal: pd.DataFrame,
    *,
    floors: Mapping[str, float] | None = None,
    ceilings: Mapping[str, float] | None = None,
    file_settings: Mapping[str, Mapping[str, Any]] | None = None,
    default_ceiling: float | None = None,
    sigmoid_loss: str = "soft_l1",
    f_scale: float = 0.05,
) -> tuple[dict[str, SigmoidSettings], list[str]]:
    """Settings of every benchmark (explicit > file > defaults) and notes for the report."""
    if sigmoid_loss not in SIGMOID_LOSSES:
        raise DensingInputError(f"sigmoid loss '{sigmoid_loss}' must be one of {SIGMOID_LOSSES}")
    _check_value("f_scale", f_scale, {})
    if default_ceiling is not None:
        _check_value("ceiling", default_ceiling, {})
    for label, m in (("floor", floors), ("ceiling", ceilings), ("settings", file_settings)):
        for b in m or {}:
            if b not in benches:
                raise DensingInputError(
                    f"{label} given for unknown benchmark '{b}'; known: {benches}"
                )
    out: dict[str, SigmoidSettings] = {}
    notes: list[str] = []
    for b in benches:
        fs = dict((file_settings or {}).get(b, {}))
        s = SigmoidSettings(
            floor=fs.get("floor"),
            ceiling=fs.get("ceiling"),
            loss=fs.get("sigmoid_loss", sigmoid_loss),
            f_scale=float(fs.get("f_scale", f_scale)),
        )
        if floors and b in floors:
            s = replace(s, floor=_check_value("floor", floors[b], {"column": f"floor of {b}"}))
        if ceilings and b in ceilings:
            c = _check_value("ceiling", ceilings[b], {"column": f"ceiling of {b}"})
            s = replace(s, ceiling=c)
        if s.ceiling is None and default_ceiling is not None:
            top = float(cal.loc[cal["benchmark"] == b, "score"].max())
            if top <= default_ceiling:
                s = replace(s, ceiling=float(default_ceiling))
            else:
                notes.append(
                    f"{b}: a calibration score ({top:g}) exceeds the default ceiling "
                    f"{default_ceiling:g}: its ceiling is fitted"
                )
        if s.floor is not None and s.ceiling is not None and not s.floor < s.ceiling:
            raise DensingInputError(
                f"benchmark '{b}': floor {s.floor:g} must be below ceiling {s.ceiling:g}"
            )
        out[b] = s
    return out, notes


def check_fixed_against_scores(
    bench: str, settings: SigmoidSettings, cal: pd.DataFrame, file: str | None
) -> None:
    """Refuse a fixed floor above (or ceiling below) calibration scores, naming the rows."""
    for name, value, bad in (
        ("floor", settings.floor, lambda s, v: s < v),
        ("ceiling", settings.ceiling, lambda s, v: s > v),
    ):
        if value is None:
            continue
        off = cal[bad(cal["score"].to_numpy(float), value)]
        if off.empty:
            continue
        shown = "; ".join(
            f"row {int(r['_row'])} ({r['run']}, loss {r['loss']:.4g}, score {r['score']:.4g})"
            for _, r in off.head(5).iterrows()
        )
        more = f" and {len(off) - 5} more" if len(off) > 5 else ""
        side = "above" if name == "floor" else "below"
        raise DensingInputError(
            f"benchmark '{bench}': the fixed {name} {value:g} is {side} {len(off)} calibration "
            f"score(s): {shown}{more}; change the {name} or leave it free",
            file=file,
        )

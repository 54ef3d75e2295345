"""Reading user tables (CSV / Parquet / JSON) and validating their columns.

Every check raises :class:`~densing.errors.DensingInputError` naming the file,
the 1-based data row (the header is not counted) and the column. Nothing is
dropped silently: a bad value is an error, not a skipped row.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from densing.errors import DensingInputError

TABLE_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet, JSON (records) or JSONL file into a DataFrame.

    The file name is kept in ``df.attrs["source"]`` so later checks can name it.
    """
    p = Path(path)
    if not p.exists():
        raise DensingInputError("file not found", file=str(p))
    if p.is_dir():
        raise DensingInputError("expected a file, got a directory", file=str(p))
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p)
        elif suffix == ".tsv":
            df = pd.read_csv(p, sep="\t")
        elif suffix in {".parquet", ".pq"}:
            df = pd.read_parquet(p)
        elif suffix == ".jsonl":
            df = pd.read_json(p, lines=True)
        elif suffix == ".json":
            df = pd.read_json(p, orient="records")
        else:
            raise DensingInputError(
                f"unsupported file type '{suffix}'; expected one of {sorted(TABLE_SUFFIXES)}",
                file=str(p),
            )
    except DensingInputError:
        raise
    except Exception as exc:  # parser errors from pandas/pyarrow
        raise DensingInputError(f"could not parse file: {exc}", file=str(p)) from exc
    if df.empty:
        raise DensingInputError("the table has no data rows", file=str(p))
    df.attrs["source"] = str(p)
    return df


def source_of(df: pd.DataFrame) -> str | None:
    return df.attrs.get("source")


def require_columns(
    df: pd.DataFrame, columns: Sequence[str], *, file: str | None = None, what: str = "the table"
) -> None:
    """Fail if any of ``columns`` is missing, listing what the table (``what``) does have."""
    file = file or source_of(df)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DensingInputError(
            f"missing column(s) {missing}; {what} has {list(map(str, df.columns))}",
            file=file,
            column=missing[0],
        )


def _row_of(position: int) -> int:
    return int(position) + 1


def _cell_error(message: str, file: str | None, position: int, column: str) -> DensingInputError:
    """The one-line error of the cell at 0-based ``position`` of ``column``."""
    return DensingInputError(message, file=file, row=_row_of(position), column=column)


def numeric_column(
    df: pd.DataFrame,
    column: str,
    *,
    positive: bool = False,
    allow_missing: bool = False,
    file: str | None = None,
) -> np.ndarray:
    """Return ``df[column]`` as float64, checking every value is finite (and > 0)."""
    file = file or source_of(df)
    require_columns(df, [column], file=file)
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    missing = raw.isna().to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (missing & (not allow_missing)) | (~missing & ~np.isfinite(values))
        if positive:
            bad |= ~missing & (values <= 0)
    if bad.any():  # the first offending row, in table order, says what is wrong with it
        i = int(np.argmax(bad))
        orig, v = raw.tolist()[i], values[i]
        if missing[i]:
            raise _cell_error("missing value; expected a number", file, i, column)
        if np.isnan(v):
            raise _cell_error(f"'{orig}' is not a number", file, i, column)
        if not np.isfinite(v):
            raise _cell_error(f"value {orig!r} is not finite", file, i, column)
        raise _cell_error(f"value {orig!r} must be > 0", file, i, column)
    return values


def score_column(
    df: pd.DataFrame, column: str, *, allow_missing: bool = False, file: str | None = None
) -> np.ndarray:
    """Scores as fractions in [0, 1]; percentages (0-100) are detected and refused."""
    file = file or source_of(df)
    values = numeric_column(df, column, allow_missing=allow_missing, file=file)
    finite = values[np.isfinite(values)]
    if finite.size and finite.max() > 1.0:
        i = int(np.nanargmax(values))
        if finite.min() >= 0 and finite.max() <= 100:
            raise _cell_error(
                f"score {values[i]:g} is above 1: the column looks like percentages (0-100); "
                "give scores as fractions in [0, 1] (divide by 100)",
                file,
                i,
                column,
            )
        raise _cell_error(f"score {values[i]:g} is outside [0, 1]", file, i, column)
    if finite.size and finite.min() < 0:
        i = int(np.nanargmin(values))
        raise _cell_error(f"score {values[i]:g} is outside [0, 1]", file, i, column)
    return values


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_iso_date(value: object) -> _dt.date | None:
    """``YYYY-MM-DD`` (a real calendar date) → date; anything else (``01-05-2024``, ``2024``,
    ``May 1, 2024``, ``20240501``, ``2024/05/01``, ``2024-13-01``) → None. Dates and
    timestamps pass through."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = str(value).strip()
    if not _ISO_DATE.match(text):
        return None
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        return None


def date_column(df: pd.DataFrame, column: str, *, file: str | None = None) -> pd.Series:
    """Parse ISO dates (YYYY-MM-DD only); any other value is an error naming row and column."""
    file = file or source_of(df)
    require_columns(df, [column], file=file)
    out = []
    for i, v in enumerate(df[column].tolist()):
        if _blank(v):
            raise _cell_error("missing date; expected an ISO date YYYY-MM-DD", file, i, column)
        day = parse_iso_date(v)
        if day is None:
            raise _cell_error(
                f"'{v}' is not an ISO date; expected YYYY-MM-DD (e.g. 2024-05-01)", file, i, column
            )
        out.append(pd.Timestamp(day))
    return pd.Series(pd.DatetimeIndex(out), index=df.index, name=column)


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def text_column(
    df: pd.DataFrame, column: str, *, file: str | None = None, what: str = "value"
) -> np.ndarray:
    """A required text column: every row non-blank; values stripped."""
    file = file or source_of(df)
    require_columns(df, [column], file=file)
    vals = df[column].tolist()
    for i, v in enumerate(vals):
        if _blank(v):
            raise _cell_error(f"missing {what}", file, i, column)
    return np.array([str(v).strip() for v in vals], dtype=object)


def id_column(df: pd.DataFrame, column: str, *, file: str | None = None) -> list[str]:
    """Model ids: present, non-empty and unique."""
    file = file or source_of(df)
    ids = [str(v) for v in text_column(df, column, file=file, what="model id")]
    seen: dict[str, int] = {}
    for i, key in enumerate(ids):
        if key in seen:
            raise _cell_error(
                f"duplicated model id '{key}' (first seen in row {seen[key]})", file, i, column
            )
        seen[key] = _row_of(i)
    return ids


def label_column(df: pd.DataFrame, column: str, *, file: str | None = None) -> np.ndarray:
    """Group labels (e.g. a model family): every row must have one; returned as strings."""
    return text_column(df, column, file=file, what="group label").astype(str)


def check_output_file(
    path: str | Path,
    *,
    option: str = "--out",
    suffixes: Sequence[str] | None = None,
) -> Path:
    """Refuse an output file path before any work starts: a directory, a suffix the command
    cannot write, a missing or unwritable parent folder. Returns the path."""
    p = Path(path)
    if p.is_dir():
        raise DensingInputError(f"{option} is a directory; expected a file path", file=str(p))
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise DensingInputError(
            f"{option}: unsupported suffix '{p.suffix}'; expected one of {', '.join(suffixes)}",
            file=str(p),
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DensingInputError(
            f"{option}: the folder {str(parent)!r} does not exist (create it first)", file=str(p)
        )
    if not os.access(parent, os.W_OK):
        raise DensingInputError(
            f"{option}: the folder {str(parent)!r} is not writable", file=str(p)
        )
    return p

"""Users' tables of models and scores (CSV / TSV / Parquet / JSON / JSONL), in two layouts.

* **wide**: one row per model; a score per benchmark column (``mmlu``) with optional
  ``<benchmark>_shots``, ``_setting``, ``_source``, ``_cot`` columns.
* **long** (it has a ``benchmark`` column): one row per score — ``benchmark``, ``score``,
  ``shots``, ``cot``, ``setting``, ``source`` — plus the model's columns, repeated on each of
  its rows (a model's rows must agree on them; a row with neither benchmark nor score is a model
  without scores). ``densing catalog export`` writes this layout by default.

Column names are case-insensitive. ``source`` is the default source of every value of its row
(in the long layout the model's own fields take it from the model's first row). A source cell
is a known key or a citation (text with a space, or a URL). Rows become
:class:`~densing.catalog._records.RawModel` records in the family-file shape, with a map from
field paths to the table's columns (and rows) so that problems name what the user wrote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing.catalog._records import Problems, RawModel, SourceRead
from densing.catalog.schema import (
    BENCHMARKS,
    MODEL_FIELDS,
    SourceEntry,
    canonical_benchmark,
    suggest,
)
from densing.errors import DensingInputError
from densing.io import read_table

#: Model columns of a user table: the model's fields, ``source`` (the default source of every
#: value in the row) and ``setting`` (the default setting of its scores).
MODEL_COLUMNS = (*MODEL_FIELDS, "source", "setting")
#: Columns of one score in the long layout (with ``setting`` and ``source``).
LONG_FIELDS = ("benchmark", "score", "shots", "cot")
SCORE_SUFFIXES = ("shots", "setting", "source", "cot")
REQUIRED = ("id", "family", "params", "release_date")
# model columns whose values must agree on every row of one model in the long layout
_SHARED = MODEL_FIELDS[1:]


def cell(v: Any) -> Any:
    """Table cell → Python value; empty / NaN → None; strings stripped."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def _show(v: Any) -> str:
    return "empty" if v is None else f"{v:g}" if isinstance(v, float) else repr(v)


def _columns(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Lower-case column names; two names equal but for case are refused."""
    rename: dict[Any, str] = {}
    for c in df.columns:
        norm = str(c).strip().lower()
        if norm in rename.values():
            raise DensingInputError(
                f"column '{c}' appears twice (names are case-insensitive)", file=file, column=str(c)
            )
        rename[c] = norm
    return df.rename(columns=rename)


def _allowed(long: bool) -> set[str]:
    if long:
        return set(MODEL_COLUMNS) | set(LONG_FIELDS)
    return (
        set(MODEL_COLUMNS)
        | {f"{b}_{x}" for b in BENCHMARKS for x in SCORE_SUFFIXES}
        | set(BENCHMARKS)
    )


def _unknown_column(c: str, long: bool) -> str:
    what = (
        "score columns " + ", ".join(LONG_FIELDS) + " (long layout)"
        if long
        else "benchmark columns like 'mmlu', 'mmlu_source', 'mmlu_setting', 'mmlu_shots', "
        "'mmlu_cot' (wide layout; benchmarks: " + ", ".join(BENCHMARKS) + ")"
    )
    return (
        f"unknown column '{c}'{suggest(c, sorted(_allowed(long)))}; expected model fields "
        f"({', '.join(MODEL_COLUMNS)}) or {what}"
    )


def _check_columns(columns: list[str], long: bool, file: str, problems: Problems) -> None:
    allowed = _allowed(long)
    for c in columns:
        if c not in allowed:
            problems.add(_unknown_column(c, long), file=file, column=c)
    required = REQUIRED + (("benchmark", "score") if long else ())
    missing = [c for c in required if c not in columns]
    if missing:
        problems.add(f"missing required column(s) {missing}", file=file, column=missing[0])
    if "params_source" not in columns and "source" not in columns:
        problems.add(
            "no source column: add 'source' (used for every value of the row) or "
            "'params_source' / 'date_source' / '<benchmark>_source'",
            file=file,
            column="source",
        )


@dataclass
class _Rows:
    """Turns the rows of one table into model mappings; collects citations as new sources."""

    file: str
    known: Mapping[str, SourceEntry]
    problems: Problems
    new_sources: dict[str, SourceEntry] = field(default_factory=dict)

    def source_key(self, value: Any) -> str | None:
        """A known key, or a free citation (text with spaces, or a URL) as a new source."""
        if value is None:
            return None
        text = str(value).strip()
        if text not in self.known and ("://" in text or re.search(r"\s", text)):
            url = text if re.match(r"^https?://\S+$", text) else None
            self.new_sources.setdefault(text, SourceEntry(citation=text, url=url))
        return text  # an unknown single word stays a key: the rules report it

    def field_source(self, r: dict[str, Any], name: str, cols: dict[str, str]) -> str | None:
        """The source of one value: its own column, else the row's ``source``."""
        own = r.get(name)
        cols[name] = name if own is not None or r.get("source") is None else "source"
        return self.source_key(own if own is not None else r.get("source"))

    def model(self, row: int, r: dict[str, Any]) -> RawModel:
        """The model fields of one row (no scores yet)."""
        cols: dict[str, str] = {}
        arch = r.get("arch") or "dense"
        active = r.get("active_params")
        if active is None and arch == "dense":
            active, cols["active_params"] = r.get("params"), "params"
        tokens = r.get("tokens")
        model: dict[str, Any] = {
            "id": None if r.get("id") is None else str(r["id"]),
            "params": r.get("params"),
            "active_params": active,
            "params_source": self.field_source(r, "params_source", cols),
            "tokens": tokens,
            "tokens_source": (
                self.field_source(r, "tokens_source", cols)
                if tokens is not None
                else self.source_key(r.get("tokens_source"))
            ),
            "release_date": r.get("release_date"),
            "date_source": self.field_source(r, "date_source", cols),
            "arch": arch,
            "notes": r.get("notes") or "",
            "derived_from": None if r.get("derived_from") is None else str(r["derived_from"]),
            "scores": [],
        }
        if tokens is None:
            cols["tokens_source"] = "tokens_source"
        for name in ("active_params", "params_source", "date_source"):
            if model[name] is None:
                del model[name]  # reported as a missing field
        family = "" if r.get("family") is None else str(r["family"])
        return RawModel(model, self.file, row, family, builtin=False, columns=cols)

    def add_score(self, m: RawModel, row: int, score: dict[str, Any], cols: dict[str, str]) -> None:
        """Append one score and map its field paths to the table's columns and row."""
        k = len(m.raw["scores"])
        m.raw["scores"].append({f: v for f, v in score.items() if v is not None})
        for f, c in cols.items():
            m.columns[f"scores[{k}].{f}"] = c
            m.rows[f"scores[{k}].{f}"] = row

    def wide_scores(self, m: RawModel, row: int, r: dict[str, Any]) -> None:
        for b in BENCHMARKS:
            if r.get(b) is None:
                for extra in SCORE_SUFFIXES:
                    if r.get(f"{b}_{extra}") is not None:
                        msg = f"{b}_{extra} is given but the score column '{b}' is empty"
                        self.problems.add(msg, file=self.file, row=row, column=f"{b}_{extra}")
                continue
            cols = {f: f"{b}_{f}" for f in SCORE_SUFFIXES} | {"benchmark": b, "score": b}
            setting = r.get(f"{b}_setting")
            if setting is None:
                cols["setting"] = "setting"
            score = {
                "benchmark": b,
                "score": r[b],
                "shots": r.get(f"{b}_shots"),
                "cot": r.get(f"{b}_cot"),
                "setting": setting or r.get("setting") or "reported",
                "source": self.field_source(r, f"{b}_source", cols),
            }
            cols["source"] = cols.pop(f"{b}_source")
            self.add_score(m, row, score, cols)

    def long_score(self, m: RawModel, row: int, r: dict[str, Any]) -> None:
        bench, value = r.get("benchmark"), r.get("score")
        if bench is None and value is None:
            return  # a model without scores
        if bench is None or value is None:
            empty, given = ("benchmark", "score") if bench is None else ("score", "benchmark")
            msg = f"{m.label}: the row has a {given} but its {empty} is empty"
            self.problems.add(msg, file=self.file, row=row, column=empty)
            return
        try:
            bench = canonical_benchmark(str(bench))
        except DensingInputError:
            bench = str(bench)  # the schema reports it with the suggestion
        cols = {f: f for f in (*LONG_FIELDS, "setting", "source")}
        score = {
            "benchmark": bench,
            "score": value,
            "shots": r.get("shots"),
            "cot": r.get("cot"),
            "setting": r.get("setting") or "reported",
            "source": self.field_source(r, "source", cols),
        }
        self.add_score(m, row, score, cols)

    def same_model(self, first: tuple[int, dict[str, Any]], row: int, r: dict[str, Any]) -> None:
        """A later row of a model must repeat the model's columns of its first row."""
        first_row, f = first
        for c in _SHARED:
            if r.get(c) != f.get(c):
                self.problems.add(
                    f"model '{r.get('id')}': {c} {_show(r.get(c))} differs from {_show(f.get(c))} "
                    f"in row {first_row}; a model's columns must be the same on each of its rows",
                    file=self.file,
                    row=row,
                    column=c,
                )


def _wide_models(rows: list[dict[str, Any]], reader: _Rows) -> list[RawModel]:
    out = []
    for i, r in enumerate(rows):
        m = reader.model(i + 1, r)
        reader.wide_scores(m, i + 1, r)
        out.append(m)
    return out


def _long_models(rows: list[dict[str, Any]], reader: _Rows) -> list[RawModel]:
    models: dict[Any, RawModel] = {}
    first: dict[Any, tuple[int, dict[str, Any]]] = {}
    for i, r in enumerate(rows):
        key = r.get("id") if r.get("id") is not None else ("<no id>", i)
        if key in models:
            reader.same_model(first[key], i + 1, r)
        else:
            models[key], first[key] = reader.model(i + 1, r), (i + 1, r)
        reader.long_score(models[key], i + 1, r)
    return list(models.values())


def read_user_table(
    path: Path, *, known_sources: Mapping[str, SourceEntry], problems: Problems
) -> SourceRead:
    """The models of a user table (wide or long layout) and the citations it introduces."""
    file = str(path)
    df = _columns(read_table(path), file)
    long = "benchmark" in df.columns
    n_before = len(problems)
    _check_columns([str(c) for c in df.columns], long, file, problems)
    if len(problems) > n_before:
        return SourceRead()
    rows = [{str(k): cell(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]
    reader = _Rows(file, known_sources, problems)
    models = _long_models(rows, reader) if long else _wide_models(rows, reader)
    for m in models:
        if not m.family:
            msg = f"{m.label}: missing family; expected a family display name"
            problems.add(msg, file=file, row=m.row, column="family")
    kept = [m for m in models if m.family]
    return SourceRead(models=kept, sources=reader.new_sources)

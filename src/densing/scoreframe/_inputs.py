"""Typed, validated inputs of a score-frame fit (models table + wide score matrix)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.io import id_column, numeric_column, require_columns, source_of

# Chance-level floors d_b for well-known benchmarks (lower-cased name or alias → floor).
# ARC-Challenge (harness acc_norm) is deliberately *free*: the set was adversarially filtered
# and small models score below the nominal 0.25 (0.20-0.23 in the ObsScaling data).
DEFAULT_FLOORS: dict[str, float | None] = {
    "mmlu": 0.25,
    "hellaswag": 0.25,
    "winogrande": 0.5,
    "winograd": 0.5,
    "gsm8k": 0.0,
    "humaneval": 0.0,
    "arc_challenge": None,
    "arc-c": None,
    "truthfulqa": None,
    "xwinograd": None,
}


@dataclass(frozen=True)
class PreparedInputs:
    """Models (one row each) and their scores as an (n × B) matrix, NaN = not observed."""

    ids: tuple[str, ...]
    family: np.ndarray  # (n,) str
    params: np.ndarray  # (n,) raw parameter counts
    active: np.ndarray  # (n,) activated parameters (= params for dense models)
    tokens: np.ndarray  # (n,) training tokens, NaN = unknown
    items: tuple[str, ...]  # the score columns (benchmarks, or benchmark × setting items)
    Y: np.ndarray  # (n, B)
    floors: np.ndarray  # (B,) fixed sigmoid floor d, NaN = free
    min_benchmarks: int
    source: str | None

    @property
    def n_obs(self) -> np.ndarray:
        return (~np.isnan(self.Y)).sum(axis=1)

    @property
    def usable(self) -> np.ndarray:
        """Models with enough scores to enter the fit."""
        return self.n_obs >= self.min_benchmarks


def floor_for(name: str, floors: Mapping[str, float | None] | None) -> float | None:
    """The fixed floor of a score column: the user's, else the default for its benchmark.

    An item name ``bench@setting`` falls back to its benchmark's default floor.
    """
    if floors is not None and name in floors:
        v = floors[name]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    return DEFAULT_FLOORS.get(name.split("@", 1)[0].lower())


def _model_columns(models: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(ids, params, active params, tokens) with one-line errors naming file/row/column."""
    src = source_of(models)
    require_columns(models, ["id", "family", "params"], file=src)
    ids = id_column(models, "id", file=src)
    params = numeric_column(models, "params", positive=True, file=src)
    if params.max() < 1e6:
        raise DensingInputError(
            f"parameter counts look like billions (largest is {params.max():g}); "
            "give raw counts (e.g. 7e9)",
            file=src,
            column="params",
        )
    active = params.copy()
    if "active_params" in models.columns:
        a = numeric_column(models, "active_params", allow_missing=True, file=src)
        bad = np.isfinite(a) & ((a <= 0) | (a > params * (1 + 1e-9)))
        if bad.any():
            raise DensingInputError(
                "active_params must be > 0 and ≤ params",
                file=src,
                row=int(np.flatnonzero(bad)[0]) + 1,
                column="active_params",
            )
        active = np.where(np.isfinite(a), a, params)
    tokens = np.full(len(ids), np.nan)
    if "tokens" in models.columns:
        tokens = numeric_column(models, "tokens", allow_missing=True, file=src)
        bad = np.isfinite(tokens) & (tokens <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DensingInputError("tokens must be > 0", file=src, row=i + 1, column="tokens")
        if np.isfinite(tokens).any() and np.nanmax(tokens) < 1e6:
            raise DensingInputError(
                f"token counts look like trillions (largest is {np.nanmax(tokens):g}); "
                "give raw counts (e.g. 2e12)",
                file=src,
                column="tokens",
            )
    return ids, params, active, tokens


def _score_table(scores: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """Wide scores indexed by model id; every id must be a model of the models table."""
    src = source_of(scores)
    sc = scores.set_index("id") if "id" in scores.columns else scores.copy()
    sc.index = pd.Index([str(v).strip() for v in sc.index])
    if sc.index.has_duplicates:
        dup = sc.index[sc.index.duplicated()][0]
        raise DensingInputError(f"duplicated model id '{dup}' in the scores table", file=src)
    known = set(ids)
    unknown = [i for i in sc.index if i not in known]
    if unknown:
        raise DensingInputError(
            f"{len(unknown)} scored model(s) are not in the models table, e.g. '{unknown[0]}'",
            file=src,
            row=list(sc.index).index(unknown[0]) + 1,
            column="id",
        )
    return sc


def _score_values(raw: pd.Series, src: str | None, column: str) -> np.ndarray:
    """One score column as floats in [0, 1] (NaN = not observed)."""
    col = pd.to_numeric(raw, errors="coerce")
    badnum = col.isna() & raw.notna()
    if badnum.any():
        r = int(np.flatnonzero(badnum.to_numpy())[0])
        raise DensingInputError(
            f"'{raw.iloc[r]}' is not a score", file=src, row=r + 1, column=column
        )
    v = col.to_numpy(float)
    if np.isinf(v).any():
        r = int(np.flatnonzero(np.isinf(v))[0])
        raise DensingInputError("score is not finite", file=src, row=r + 1, column=column)
    fin = v[np.isfinite(v)]
    if fin.size and (fin.max() > 1 or fin.min() < 0):
        r = int(np.nanargmax(v)) if fin.max() > 1 else int(np.nanargmin(v))
        msg = f"score {v[r]:g} is outside [0, 1]"
        if fin.min() >= 0 and fin.max() <= 100:
            msg = (
                f"score {v[r]:g} is above 1: the column looks like percentages (0-100); "
                "give scores as fractions in [0, 1] (divide by 100)"
            )
        raise DensingInputError(msg, file=src, row=r + 1, column=column)
    return v


def _columns(sc: pd.DataFrame, benchmarks: Sequence[str] | None, src: str | None) -> list[str]:
    if benchmarks is None:
        cols = [str(c) for c in sc.columns]
    else:
        cols = [str(b) for b in benchmarks]
        missing = [b for b in cols if b not in sc.columns]
        if missing:
            raise DensingInputError(
                f"unknown benchmark '{missing[0]}'; the scores table has "
                f"{list(map(str, sc.columns))}",
                file=src,
                column=missing[0],
            )
    if not cols:
        raise DensingInputError("no benchmarks to fit", file=src)
    return cols


def _floor_array(items: Sequence[str], floors: Mapping[str, float | None] | None) -> np.ndarray:
    if floors:
        bad = [k for k in floors if k not in items]
        if bad:
            raise DensingInputError(
                f"floor given for unknown benchmark '{bad[0]}' (benchmarks: {list(items)})",
                column=bad[0],
            )
    out = np.array([np.nan if (f := floor_for(b, floors)) is None else f for b in items])
    for b, f in zip(items, out, strict=True):
        if not np.isnan(f) and not 0 <= f < 1:
            raise DensingInputError(f"floor {f:g} for '{b}' must be in [0, 1)", column=b)
    return out


def prepare(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    benchmarks: Sequence[str] | None,
    floors: Mapping[str, float | None] | None,
    min_benchmarks: int,
) -> PreparedInputs:
    """Validate the models and scores tables into :class:`PreparedInputs`."""
    if min_benchmarks < 1:
        raise DensingInputError("min_benchmarks must be ≥ 1")
    ids, params, active, tokens = _model_columns(models)
    sc = _score_table(scores, ids)
    src = source_of(scores)
    items = _columns(sc, benchmarks, src)
    Y = np.full((len(ids), len(items)), np.nan)
    pos = {m: k for k, m in enumerate(ids)}
    rows = np.array([pos[i] for i in sc.index], dtype=int)
    for j, b in enumerate(items):
        Y[rows, j] = _score_values(sc[b], src, b)
    return PreparedInputs(
        ids=tuple(ids),
        family=np.array([str(v) for v in models["family"].tolist()]),
        params=params,
        active=active,
        tokens=tokens,
        items=tuple(items),
        Y=Y,
        floors=_floor_array(items, floors),
        min_benchmarks=min_benchmarks,
        source=source_of(models),
    )

"""Input tables of a loss frame: reference runs and calibration points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.io import numeric_column, require_columns, score_column, source_of


def str_column(df: pd.DataFrame, col: str, file: str | None) -> np.ndarray:
    """A required text column: no blank cell, values stripped."""
    require_columns(df, [col], file=file)
    vals = df[col].tolist()
    for i, v in enumerate(vals):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            raise DensingInputError("missing value", file=file, row=i + 1, column=col)
    return np.array([str(v).strip() for v in vals], dtype=object)


def _first_duplicate(df: pd.DataFrame, keys: list[str]) -> int | None:
    dup = df.duplicated(keys)
    return int(np.flatnonzero(dup.to_numpy())[0]) if dup.any() else None


def reference_table(df: pd.DataFrame, uses_tokens: bool) -> pd.DataFrame:
    """``model, params, tokens, benchmark, loss`` (tokens = 1 for forms without a D term)."""
    file = source_of(df)
    if uses_tokens and "tokens" not in df.columns:
        raise DensingInputError(
            "missing column 'tokens' (training tokens of each reference run); "
            "`densing eval export` writes model, benchmark, loss, params — add a tokens column, "
            f"or use the 'power-n' form; the table has {list(map(str, df.columns))}",
            file=file,
            column="tokens",
        )
    require_columns(df, ["model", "params", "benchmark", "loss"], file=file)
    out = pd.DataFrame(
        {
            "model": str_column(df, "model", file),
            "benchmark": str_column(df, "benchmark", file),
            "params": numeric_column(df, "params", positive=True, file=file),
            "tokens": numeric_column(df, "tokens", positive=True, file=file)
            if uses_tokens
            else np.ones(len(df)),
            "loss": numeric_column(df, "loss", positive=True, file=file),
        }
    )
    i = _first_duplicate(out, ["model", "benchmark", "params", "tokens"])
    if i is not None:
        raise DensingInputError(
            f"duplicated reference run (model '{out['model'][i]}', benchmark "
            f"'{out['benchmark'][i]}', same params and tokens)",
            file=file,
            row=i + 1,
            column="model",
        )
    return out


def calibration_table(df: pd.DataFrame) -> pd.DataFrame:
    """``model, benchmark, loss, score`` (scores as fractions in [0, 1])."""
    file = source_of(df)
    require_columns(df, ["model", "benchmark", "loss", "score"], file=file)
    out = pd.DataFrame(
        {
            "model": str_column(df, "model", file),
            "benchmark": str_column(df, "benchmark", file),
            "loss": numeric_column(df, "loss", positive=True, file=file),
            "score": score_column(df, "score", file=file),
        }
    )
    i = _first_duplicate(out, ["model", "benchmark"])
    if i is not None:
        raise DensingInputError(
            f"duplicated calibration point (model '{out['model'][i]}', benchmark "
            f"'{out['benchmark'][i]}')",
            file=file,
            row=i + 1,
            column="model",
        )
    return out

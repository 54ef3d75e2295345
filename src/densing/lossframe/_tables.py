"""Input tables of a loss frame: reference runs and calibration points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.io import numeric_column, require_columns, score_column, source_of, text_column


def _refuse_duplicates(out: pd.DataFrame, keys: list[str], what: str, file: str | None) -> None:
    dup = out.duplicated(keys)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DensingInputError(
            f"duplicated {what} (model '{out['model'][i]}', benchmark '{out['benchmark'][i]}'"
            + (", same params and tokens)" if "tokens" in keys else ")"),
            file=file,
            row=i + 1,
            column="model",
        )


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
            "model": text_column(df, "model", file=file),
            "benchmark": text_column(df, "benchmark", file=file),
            "params": numeric_column(df, "params", positive=True, file=file),
            "tokens": numeric_column(df, "tokens", positive=True, file=file)
            if uses_tokens
            else np.ones(len(df)),
            "loss": numeric_column(df, "loss", positive=True, file=file),
        }
    )
    _refuse_duplicates(out, ["model", "benchmark", "params", "tokens"], "reference run", file)
    return out


def calibration_table(df: pd.DataFrame) -> pd.DataFrame:
    """``model, benchmark, loss, score`` (scores as fractions in [0, 1])."""
    file = source_of(df)
    require_columns(df, ["model", "benchmark", "loss", "score"], file=file)
    out = pd.DataFrame(
        {
            "model": text_column(df, "model", file=file),
            "benchmark": text_column(df, "benchmark", file=file),
            "loss": numeric_column(df, "loss", positive=True, file=file),
            "score": score_column(df, "score", file=file),
        }
    )
    _refuse_duplicates(out, ["model", "benchmark"], "calibration point", file)
    return out

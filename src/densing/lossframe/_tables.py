"""Input tables of a loss frame: reference runs and calibration points.

Both tables may describe *checkpoints of training runs*: with a ``run`` column, several rows of
one run (and benchmark) are its checkpoints, ordered by ``step`` (or, without a step column, by
``tokens``). Without a ``run`` column every row is its own run, as before: a reference run is
identified by ``model`` + ``params`` + ``tokens`` and a calibration point by ``model``.

Every validated table keeps ``_row`` (the 1-based data row of the user's file), so later checks
(a floor above a score, ...) can name the rows they refuse; ``run`` is the resampling unit of
the bootstrap (the model for a table without a run column).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.io import numeric_column, require_columns, score_column, source_of, text_column


def _first_duplicate(df: pd.DataFrame, keys: list[str]) -> int | None:
    dup = df.duplicated(keys)
    return int(np.flatnonzero(dup.to_numpy())[0]) if dup.any() else None


def _order_column(df: pd.DataFrame, file: str | None) -> tuple[str | None, np.ndarray | None]:
    """The checkpoint order of a run table: ``step`` if present, else ``tokens``, else none."""
    for col in ("step", "tokens"):
        if col in df.columns:
            vals = numeric_column(df, col, file=file)
            bad = np.flatnonzero(vals < 0)
            if bad.size:
                raise DensingInputError(
                    f"value {vals[bad[0]]:g} must be >= 0",
                    file=file,
                    row=int(bad[0]) + 1,
                    column=col,
                )
            return col, vals
    return None, None


def _identity(df: pd.DataFrame, file: str | None) -> dict[str, np.ndarray]:
    """``run`` (the cluster) and ``model`` columns: a run table, or one model per row."""
    if "run" in df.columns:
        run = text_column(df, "run", file=file)
        model = text_column(df, "model", file=file) if "model" in df.columns else run
        return {"run": run, "model": model}
    model = text_column(df, "model", file=file)
    return {"run": model, "model": model}


def _check_checkpoints(out: pd.DataFrame, order_col: str | None, file: str | None) -> None:
    """Checkpoints of one run and benchmark need distinct positions in the run."""
    keys = ["run", "benchmark"] + (["order"] if order_col else [])
    i = _first_duplicate(out, keys)
    if i is None:
        return
    run, bench = out["run"].iloc[i], out["benchmark"].iloc[i]
    if order_col is None:
        msg = (
            f"run '{run}' has several rows for benchmark '{bench}': add a step (or tokens) "
            "column to order its checkpoints"
        )
    else:
        msg = f"duplicated checkpoint (run '{run}', benchmark '{bench}', same {order_col})"
    raise DensingInputError(msg, file=file, row=i + 1, column=order_col or "run")


def _check_constant(out: pd.DataFrame, col: str, file: str | None) -> None:
    first = out.groupby("run", sort=False)[col].transform("first").to_numpy(float)
    bad = np.flatnonzero(~np.isclose(out[col].to_numpy(float), first, rtol=1e-9))
    if bad.size:
        i = int(bad[0])
        raise DensingInputError(
            f"run '{out['run'].iloc[i]}' has {col} {out[col].iloc[i]:g} here but {first[i]:g} "
            "in an earlier row (one run has one size)",
            file=file,
            row=i + 1,
            column=col,
        )


def _finish(
    out: pd.DataFrame, df: pd.DataFrame, keys: list[str], what: str, file: str | None
) -> pd.DataFrame:
    """Row numbers and checkpoint order; a table without runs has one row per run (``keys``
    unique), a table with runs distinct checkpoints per run and benchmark."""
    out["_row"] = np.arange(1, len(df) + 1)
    out["has_runs"] = "run" in df.columns
    if "run" in df.columns:
        order_col, order = _order_column(df, file)
        out["order"] = order if order is not None else 0.0
        _check_checkpoints(out, order_col, file)
        return out
    out["order"] = 0.0
    i = _first_duplicate(out, keys)
    if i is not None:
        same = ", same params and tokens" if "tokens" in keys else ""
        raise DensingInputError(
            f"duplicated {what} (model '{out['model'][i]}', benchmark '{out['benchmark'][i]}'"
            f"{same}); checkpoints of one run need a run column (and a step column)",
            file=file,
            row=i + 1,
            column="model",
        )
    return out


def reference_table(df: pd.DataFrame, uses_tokens: bool) -> pd.DataFrame:
    """``run, model, params, tokens, benchmark, loss, order, has_runs, _row``.

    ``tokens`` = 1 for forms without a D term. With a ``run`` column several checkpoints per
    run are legal (see :mod:`densing.lossframe._runs` for how the law uses them).
    """
    file = source_of(df)
    if uses_tokens and "tokens" not in df.columns:
        raise DensingInputError(
            "missing column 'tokens' (training tokens of each reference run); "
            "`densing eval export` writes model, benchmark, loss, params — add a tokens column, "
            f"or use the 'power-n' form; the table has {list(map(str, df.columns))}",
            file=file,
            column="tokens",
        )
    require_columns(df, ["params", "benchmark", "loss"], file=file)
    has_runs = "run" in df.columns
    out = pd.DataFrame(
        {
            **_identity(df, file),
            "benchmark": text_column(df, "benchmark", file=file),
            "params": numeric_column(df, "params", positive=True, file=file),
            "tokens": numeric_column(df, "tokens", positive=True, file=file)
            if uses_tokens
            else np.ones(len(df)),
            "loss": numeric_column(df, "loss", positive=True, file=file),
        }
    )
    out = _finish(out, df, ["model", "benchmark", "params", "tokens"], "reference run", file)
    if has_runs:
        _check_constant(out, "params", file)
    return out


def calibration_table(df: pd.DataFrame) -> pd.DataFrame:
    """``run, model, benchmark, loss, score, order, has_runs, _row`` (scores in [0, 1]).

    Losses may be 0 (a perfect model); with a ``run`` column several checkpoints per run are
    legal, ordered by ``step`` (or ``tokens``).
    """
    file = source_of(df)
    require_columns(df, ["benchmark", "loss", "score"], file=file)
    loss = numeric_column(df, "loss", file=file)
    bad = np.flatnonzero(loss < 0)
    if bad.size:
        raise DensingInputError(
            f"loss {loss[bad[0]]:g} must be >= 0", file=file, row=int(bad[0]) + 1, column="loss"
        )
    out = pd.DataFrame(
        {
            **_identity(df, file),
            "benchmark": text_column(df, "benchmark", file=file),
            "loss": loss,
            "score": score_column(df, "score", file=file),
        }
    )
    return _finish(out, df, ["model", "benchmark"], "calibration point", file)

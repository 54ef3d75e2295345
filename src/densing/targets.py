"""Target tables (the user's models to place in a frame), shared by every frame kind.

A targets table is long (``model, params, [active_params], benchmark, score``) or wide
(``model, params, [active_params]`` and one score column per benchmark). The columns in
:data:`TARGET_META_COLUMNS` are never benchmarks; any other column must be one of the frame's
benchmarks, otherwise the error names the file and column and lists the frame's benchmarks.
A blank ``active_params`` means a dense model (activated = total).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.io import (
    id_column,
    numeric_column,
    require_columns,
    score_column,
    source_of,
    text_column,
)

#: Columns of a targets table that are not benchmarks (one list for every frame kind).
TARGET_META_COLUMNS: tuple[str, ...] = (
    "model",
    "params",
    "active_params",
    "tokens",
    "family",
    "release_date",
    "notes",
    "source",
    "setting",
    "shots",
)


def _sizes(df: pd.DataFrame, file: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(params, active params) per row; active = params where blank or absent."""
    N = numeric_column(df, "params", positive=True, file=file)
    if "active_params" not in df.columns:
        return N, N.copy()
    A = numeric_column(df, "active_params", positive=True, allow_missing=True, file=file)
    A = np.where(np.isnan(A), N, A)
    bad = np.flatnonzero(A > N * (1 + 1e-9))
    if bad.size:
        raise DensingInputError(
            f"active_params {A[bad[0]]:g} exceeds params {N[bad[0]]:g}; expected active_params "
            "<= params",
            file=file,
            row=int(bad[0]) + 1,
            column="active_params",
        )
    return N, A


def _check_consistent(out: pd.DataFrame, col: str, file: str | None) -> None:
    first: dict[str, float] = {}
    for i, (m, v) in enumerate(zip(out["model"], out[col], strict=True)):
        if m in first and not np.isclose(first[m], v, rtol=1e-9):
            raise DensingInputError(
                f"model '{m}' has {col} {v:g} here but {first[m]:g} in an earlier row",
                file=file,
                row=i + 1,
                column=col,
            )
        first.setdefault(m, v)


def _long(df: pd.DataFrame, known: list[str], file: str | None) -> pd.DataFrame:
    models = text_column(df, "model", file=file)
    N, A = _sizes(df, file)
    lower = {b.lower(): b for b in known}
    bench = text_column(df, "benchmark", file=file)
    for i, b in enumerate(bench):
        if b.lower() not in lower:
            raise DensingInputError(
                f"unknown benchmark '{b}'; the frame has {known}",
                file=file,
                row=i + 1,
                column="benchmark",
            )
        bench[i] = lower[b.lower()]
    S = score_column(df, "score", file=file)
    out = pd.DataFrame(
        {"model": models, "params": N, "active_params": A, "benchmark": bench, "score": S}
    )
    dup = out.duplicated(["model", "benchmark"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DensingInputError(
            f"duplicated target (model '{models[i]}', benchmark '{bench[i]}')",
            file=file,
            row=i + 1,
            column="model",
        )
    _check_consistent(out, "params", file)
    _check_consistent(out, "active_params", file)
    return out


def _wide(df: pd.DataFrame, known: list[str], file: str | None) -> pd.DataFrame:
    lower = {b.lower(): b for b in known}
    cols = [str(c) for c in df.columns if str(c) not in TARGET_META_COLUMNS]
    for c in cols:
        if c.lower() not in lower:
            raise DensingInputError(
                f"unknown benchmark column '{c}'; the frame has {known} "
                f"(non-benchmark columns allowed: {list(TARGET_META_COLUMNS)})",
                file=file,
                column=c,
            )
    if not cols:
        raise DensingInputError(
            f"no score columns: give long columns 'benchmark' and 'score', or one column per "
            f"benchmark of the frame {known}",
            file=file,
        )
    models = np.array(id_column(df, "model", file=file), dtype=object)
    N, A = _sizes(df, file)
    parts = [
        pd.DataFrame(
            {
                "model": models,
                "params": N,
                "active_params": A,
                "benchmark": lower[c.lower()],
                "score": score_column(df, c, allow_missing=True, file=file),
            }
        )
        for c in cols
    ]
    return pd.concat(parts, ignore_index=True)


def parse_targets(df: pd.DataFrame, benchmarks: Sequence[str]) -> pd.DataFrame:
    """Validate a targets table (long or wide) into long form.

    Returns ``model, params, active_params, benchmark, score`` (score NaN for a blank wide
    cell; benchmark names matched case-insensitively and given in the frame's spelling).
    """
    file = source_of(df)
    require_columns(df, ["model", "params"], file=file)
    if "benchmark" in df.columns and "score" in df.columns:
        out = _long(df, list(benchmarks), file)
    else:
        out = _wide(df, list(benchmarks), file)
    out.attrs["source"] = file
    return out


def targets_wide(
    long: pd.DataFrame, benchmarks: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(wide scores indexed by model in first-seen order, params, active params)."""
    order = list(dict.fromkeys(long["model"]))
    wide = long.pivot(index="model", columns="benchmark", values="score")
    wide = wide.reindex(index=order, columns=list(benchmarks))
    first = long.drop_duplicates("model").set_index("model").loc[order]
    return wide, first["params"].to_numpy(float), first["active_params"].to_numpy(float)


def density_columns(
    effective: np.ndarray, lo: np.ndarray, hi: np.ndarray, params: np.ndarray, active: np.ndarray
) -> dict[str, np.ndarray]:
    """The density columns of every output: against activated and total parameters."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "density_active": effective / active,
            "density_active_lo": lo / active,
            "density_active_hi": hi / active,
            "density_total": effective / params,
            "density_total_lo": lo / params,
            "density_total_hi": hi / params,
        }


__all__ = ["TARGET_META_COLUMNS", "density_columns", "parse_targets", "targets_wide"]

"""The forward question: by when should a model of N parameters reach score S?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from densing.analysis.run import FrameRun
from densing.errors import DensingInputError
from densing.sigmoid import sigmoid_inverse

DEFAULT_FORECASTS: tuple[tuple[str, float, float], ...] = (
    ("mmlu", 0.60, 1e9),
    ("mmlu", 0.70, 3e9),
    ("hellaswag", 0.80, 1e9),
)
_EMPTY = {"date": None, "date_lo": None, "date_hi": None}


def resolve_item(run: FrameRun, bench: str) -> str:
    """``bench`` as a column of the frame: itself, or (stitched frames) the item of that
    benchmark observed for the most models."""
    f = run.frame
    if bench in f.benchmarks:
        return bench
    info = f.item_info
    if info is not None:
        cand = info[(info["benchmark"].str.lower() == bench.lower()) & info["used"]]
        if len(cand):
            return str(cand.sort_values("n_models", ascending=False)["item"].iloc[0])
    raise DensingInputError(
        f"benchmark '{bench}' is not in frame {run.spec.name}: {list(f.benchmarks)[:12]}"
    )


def _one(run: FrameRun, bench: str, score: float, n: float, level: float) -> dict[str, Any]:
    f = run.frame
    s = f.sigmoids.loc[bench]
    row: dict[str, Any] = {"benchmark": bench, "score": score, "params": n}
    th, st = sigmoid_inverse(np.array([score]), s["c"], s["d"], s["gamma"], s["l"])
    if st[0] != "ok":
        return (
            row
            | {
                "status": "outside sigmoid range",
                "needed_effective_params": math.nan,
                "needed_density": math.nan,
            }
            | _EMPTY
        )
    n_hat, status = f.invert(th)
    rho = float(n_hat[0]) / n
    row.update(needed_effective_params=float(n_hat[0]), needed_density=rho, status=str(status[0]))
    if not (np.isfinite(rho) and rho > 0):
        return row | _EMPTY
    d, lo, hi = run.trend.forecast_date(rho, level)
    return row | {"date": d, "date_lo": lo, "date_hi": hi}


def forecast_table(
    run: FrameRun, targets: Sequence[tuple[str, float, float]], level: float
) -> pd.DataFrame:
    """By when should a model of N parameters reach score S on benchmark b?

    The score is mapped through the benchmark's sigmoid to the capability θ, θ to the
    reference-law size N̂(S), and the needed density N̂/N to a date on the fitted law.
    The interval is the densing-law bootstrap's (the frame's own uncertainty about θ(S)
    is not added).
    """
    rows = [_one(run, resolve_item(run, b), score, n, level) for b, score, n in targets]
    return pd.DataFrame(rows)

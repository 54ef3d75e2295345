"""Runs and checkpoints: what the loss law and the sigmoid see of a run table.

* **The law** is a law of *finished* runs: each run contributes one point per benchmark, the mean
  loss of its last ``final_k`` checkpoints, at the run's final token count (its budget).
  Intermediate checkpoints are not finished runs of a shorter budget (the learning-rate
  schedule has not ended), so they do not enter the law.
* **The sigmoid** maps loss to score at any point of training: every checkpoint is a
  calibration point, except those in the first ``drop_first`` fraction of each run (step, or
  tokens, at most that fraction of the run's last), optionally smoothed by a trailing mean
  over ``smooth`` checkpoints (loss and score alike).
* **The bootstrap** resamples runs (clusters), never single checkpoints: checkpoints of one
  run are correlated, and resampling them one by one makes intervals far too narrow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.lossframe._tables import reference_table

RESAMPLE_UNITS = ("runs", "checkpoints")


@dataclass(frozen=True)
class CheckpointOptions:
    """How checkpoints of runs are used (see the module docstring)."""

    final_k: int = 1  # law: mean loss of the last k checkpoints of each run
    drop_first: float = 0.0  # sigmoid: drop checkpoints in the first fraction of each run
    smooth: int = 1  # sigmoid: trailing mean over this many checkpoints (1 = none)

    def __post_init__(self) -> None:
        if int(self.final_k) != self.final_k or self.final_k < 1:
            raise DensingInputError(f"final_k {self.final_k} must be an integer >= 1")
        if not 0 <= self.drop_first < 1:
            raise DensingInputError(f"drop_first {self.drop_first} must be in [0, 1)")
        if int(self.smooth) != self.smooth or self.smooth < 1:
            raise DensingInputError(f"smooth {self.smooth} must be an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def law_points(ref: pd.DataFrame, final_k: int) -> pd.DataFrame:
    """One point per (run, benchmark): the mean loss of the run's last ``final_k`` checkpoints,
    at the last checkpoint's tokens. Tables without runs pass through (one row = one run).

    Adds ``n_checkpoints`` (how many checkpoints the run has for this benchmark).
    """
    if not bool(ref["has_runs"].iloc[0]):
        return ref.assign(n_checkpoints=1)
    ordered = ref.sort_values(["benchmark", "run", "order"], kind="stable")
    g = ordered.groupby(["benchmark", "run"], sort=False)
    last = g.tail(final_k)
    gl = last.groupby(["benchmark", "run"], sort=False)
    out = gl.tail(1).copy()
    out["loss"] = gl["loss"].mean().to_numpy()
    out["n_checkpoints"] = g.size().to_numpy()
    return out.sort_values("_row").reset_index(drop=True)


def reference_run_points(df: pd.DataFrame, final_k: int = 1) -> pd.DataFrame:
    """The points the frame's law is fitted on, from a reference table as ``fit_loss_frame``
    reads it: one row per (run, benchmark) with ``params``, ``tokens``, ``loss``."""
    if final_k < 1:
        raise DensingInputError(f"final_k {final_k} must be >= 1")
    return law_points(reference_table(df, uses_tokens=True), final_k)


def _trailing_mean(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean within runs: ``values`` sorted by (run, order); ``starts``: each row's run
    start index. The window never reaches into the previous run."""
    c = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(values.size)
    lo = np.maximum(idx - window + 1, starts)
    return (c[idx + 1] - c[lo]) / (idx + 1 - lo)


def sigmoid_points(cal: pd.DataFrame, options: CheckpointOptions) -> pd.DataFrame:
    """Calibration points after dropping early checkpoints and smoothing (runs only)."""
    if not bool(cal["has_runs"].iloc[0]) or (options.drop_first == 0 and options.smooth == 1):
        return cal
    c = cal.sort_values(["benchmark", "run", "order"], kind="stable").reset_index(drop=True)
    last = c.groupby(["benchmark", "run"], sort=False)["order"].transform("max").to_numpy()
    c = c[c["order"].to_numpy() > options.drop_first * last] if options.drop_first else c
    c = c.reset_index(drop=True)
    if options.smooth > 1 and len(c):
        key = c["benchmark"].astype(str) + "\x00" + c["run"].astype(str)
        new_run = np.r_[True, key.to_numpy()[1:] != key.to_numpy()[:-1]]
        starts = np.maximum.accumulate(np.where(new_run, np.arange(len(c)), 0))
        for col in ("loss", "score"):
            c[col] = _trailing_mean(c[col].to_numpy(float), starts, options.smooth)
    return c


def resample_groups(points: pd.DataFrame, unit: str) -> np.ndarray | None:
    """Bootstrap resampling units: runs (clusters) or single checkpoints (``None``)."""
    if unit not in RESAMPLE_UNITS:
        raise DensingInputError(
            f"unknown resampling unit '{unit}'; expected one of {RESAMPLE_UNITS}"
        )
    return points["run"].to_numpy() if unit == "runs" else None

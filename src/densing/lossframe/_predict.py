"""Forward predictions of a loss frame: (N, D) → loss → score, with both interval kinds.

For every target and benchmark: the point loss (law) and score (sigmoid); the *bootstrap*
interval (percentiles over the replicates: parameter uncertainty, conditional on the form and
on no extrapolation); the *predictive* interval (the replicates plus the out-of-sample error of
:mod:`densing.lossframe._predictive`, growing with the distance beyond the data); and how far
the target lies beyond the reference runs (decades of N and D) and its loss beyond the
calibration range (loss units). Any distance > 0 gives status ``extrapolated``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from densing.io import id_column, numeric_column, source_of
from densing.laws import LawForm
from densing.lossframe._predictive import (
    box_distance,
    decades_outside,
    outside,
    predictive_draws,
)
from densing.sigmoid import sigmoid_value
from densing.status import Status

if TYPE_CHECKING:
    from densing.lossframe.frame import BenchmarkFrame, LossFrame

PREDICT_COLUMNS = (
    "benchmark", "params", "tokens", "loss", "loss_lo", "loss_hi", "loss_pred_lo",
    "loss_pred_hi", "score", "score_lo", "score_hi", "score_pred_lo", "score_pred_hi",
    "params_outside_decades", "tokens_outside_decades", "loss_outside_calibration", "status",
)  # fmt: skip


def law_matrix(form: LawForm, P: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Loss of every parameter row of ``P`` (R × p, ``form.param_names`` order) at every
    (N, D): an (R, n) array; rows with a NaN parameter give NaN."""
    k = len(form.terms)
    logv = {"N": np.log(N), "D": np.log(D)}
    out = np.zeros((P.shape[0], N.size))
    for i, (t, e) in enumerate(zip(form.terms, form.exponent_index, strict=True)):
        if t.var is None or e is None:
            out += P[:, i, None]
        else:
            out += P[:, i, None] * np.exp(-P[:, k + e, None] * logv[t.var][None, :])
    return out


def _quantiles(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles over the rows (replicates or draws); a row with a NaN (a failed replicate)
    is left out."""
    a = (1.0 - level) / 2.0
    x = x[~np.isnan(x).any(axis=1)]
    if x.shape[0] == 0:
        nan = np.full(x.shape[1], np.nan)
        return nan, nan.copy()
    lo, hi = np.quantile(x, [a, 1.0 - a], axis=0)
    return lo, hi


def _intervals(
    bf: BenchmarkFrame, form: LawForm, N: np.ndarray, D: np.ndarray, loss: np.ndarray,
    level: float, stream: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Bootstrap and predictive intervals of loss and score (NaN where unavailable)."""
    n = N.size
    nan = np.full(n, np.nan)
    out = {k: nan.copy() for k in ("loss_lo", "loss_hi", "score_lo", "score_hi")}
    out.update({k: nan.copy() for k in ("loss_pred_lo", "loss_pred_hi")})
    out.update({k: nan.copy() for k in ("score_pred_lo", "score_pred_hi")})
    sig_point = np.array([list(bf.sigmoid.params.values())])
    if bf.n_resamples and bf.sigmoid_samples is not None and bf.law_samples is not None:
        lb = law_matrix(form, bf.law_samples, N, D)
        sp = bf.sigmoid_samples
        sb = sigmoid_value(lb, *(sp[:, j, None] for j in range(4)))
        out["loss_lo"], out["loss_hi"] = _quantiles(lb, level)
        out["score_lo"], out["score_hi"] = _quantiles(sb, level)
        loss_rep, sig_rep = lb, sp
    else:
        loss_rep, sig_rep = loss[None, :], sig_point
    if bf.law_error is None or bf.sigmoid_error is None:
        return out
    dist = box_distance(N, D, bf.reference_box)
    law_sigma = bf.law_error.sigma(dist)
    ls, ss = predictive_draws(
        loss_rep, sig_rep, np.nan_to_num(law_sigma, nan=0.0), bf.sigmoid_error,
        bf.calibration_range, bf.sigmoid.fractional, stream,
    )  # fmt: skip
    unknown = ~np.isfinite(law_sigma)  # beyond the data with no measured extrapolation error
    for name, draws in (("loss", ls), ("score", ss)):
        lo, hi = _quantiles(draws, level)
        out[f"{name}_pred_lo"] = np.where(unknown, np.nan, lo)
        out[f"{name}_pred_hi"] = np.where(unknown, np.nan, hi)
    return out


def predict_rows(
    frame: LossFrame,
    N: np.ndarray,
    D: np.ndarray,
    level: float,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (target, benchmark), targets in input order."""
    parts = []
    Dl = D if frame.form.uses_tokens else np.ones_like(D)  # the law's D (1 without a D term)
    for k, bf in enumerate(frame.fits):
        P = np.array([[bf.law_params[p] for p in frame.form.param_names]])
        loss = law_matrix(frame.form, P, N, D)[0]
        cols: dict[str, Any] = {
            "benchmark": bf.benchmark,
            "params": N,
            "tokens": D,
            "loss": loss,
            "score": bf.sigmoid.predict(loss),
        }
        cols.update(_intervals(bf, frame.form, N, Dl, loss, level, k))
        box = bf.reference_box
        cols["params_outside_decades"] = decades_outside(N, *box["params"])
        cols["tokens_outside_decades"] = decades_outside(Dl, *box["tokens"])
        cols["loss_outside_calibration"] = outside(loss, *bf.calibration_range)
        far = (
            (cols["params_outside_decades"] > 0)
            | (cols["tokens_outside_decades"] > 0)
            | (cols["loss_outside_calibration"] > 0)
        )
        cols["status"] = np.where(far, Status.EXTRAPOLATED.value, Status.OK.value)
        df = pd.DataFrame(cols)[list(PREDICT_COLUMNS)]
        df.insert(0, "_t", np.arange(N.size))
        df.insert(1, "_b", k)
        if names is not None:
            df.insert(0, "name", names)
        parts.append(df)
    out = pd.concat(parts, ignore_index=True).sort_values(["_t", "_b"], kind="stable")
    return out.drop(columns=["_t", "_b"]).reset_index(drop=True)


def parse_predict_targets(df: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``name`` (or ``model``), ``params``, ``tokens`` of a batch-prediction table."""
    file = source_of(df)
    col = "name" if "name" in df.columns or "model" not in df.columns else "model"
    names = id_column(df, col, file=file)
    N = numeric_column(df, "params", positive=True, file=file)
    D = numeric_column(df, "tokens", positive=True, file=file)
    return names, N, D

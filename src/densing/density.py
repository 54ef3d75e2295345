"""Effective parameter size and capability density (the inversion step of loss mode).

Pure, vectorised functions:

* :func:`effective_params` inverts a fitted loss law at a token budget ``D0`` for N:
  for any additive form with exactly one N term ``C·N^−x``,
  ``N̂ = ((L − floor(D0)) / C)^(−1/x)`` where ``floor(D0)`` is the sum of every other
  term at ``D0`` (``E + B·D0^−β`` for Chinchilla, ``b·D0^−β`` for the Densing form,
  ``E`` for ``power-n``) — the lowest loss the reference family reaches at ``D0``.
* :func:`density` is ``ρ = N̂ / N``.
* :func:`estimate_density` chains score → loss → N̂ → ρ with a status per target.
* :func:`aggregate_effective_params` combines benchmarks.

Statuses (never a silent NaN):

``ok``
    finite ``N̂``.
``above_range``
    the score is at or above the sigmoid's top (loss −inf), or the implied loss is at
    or below the reference family's reachable floor at ``D0``: no finite reference
    model matches it; ``N̂ = inf``.
``below_range``
    the score is at or below the sigmoid's bottom ``d`` (loss +inf): ``N̂ = 0``.
``failed``
    a bootstrap replicate whose fit failed (NaN parameters); ``N̂`` NaN. Only
    appears inside replicate arrays, never in a point estimate.
``mixed``
    aggregate only: no benchmark is ``ok`` and the benchmarks disagree
    (some above, some below range); ``N̂`` NaN.
``no_score``
    a target row without a score for this benchmark (wide tables with blank cells).

Aggregation across benchmarks: the geometric mean of the per-benchmark ``N̂`` over
the benchmarks with status ``ok`` (the mean of ``ln N̂``); if none is ``ok``, the
aggregate takes the common out-of-range status when all agree (``above_range`` →
``inf``, ``below_range`` → ``0``), otherwise ``mixed``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from densing._json import to_jsonable
from densing.errors import DensingInputError, FitError
from densing.laws import LawForm, get_form
from densing.sigmoid import SigmoidFit
from densing.status import Status
from densing.units import DEFAULT_D0

STATUSES: tuple[str, ...] = tuple(
    str(s)
    for s in (
        Status.OK,
        Status.ABOVE_RANGE,
        Status.BELOW_RANGE,
        Status.FAILED,
        Status.MIXED,
        Status.NO_SCORE,
    )
)


def _n_term(form: LawForm) -> int:
    idx = [i for i, t in enumerate(form.terms) if t.var == "N"]
    if len(idx) != 1:
        raise FitError(
            f"the '{form.name}' form has {len(idx)} N terms; inversion for N needs exactly one"
        )
    return idx[0]


def _param(params: dict[str, Any], name: str) -> np.ndarray:
    return np.asarray(params[name], dtype=float)


def law_floor(law_form: str | LawForm, params: dict[str, Any], D0: float = DEFAULT_D0):
    """Loss the reference family reaches as N → ∞ at ``D0`` (sum of the non-N terms).

    ``params`` values may be arrays (e.g. one per bootstrap replicate); they broadcast.
    """
    form = get_form(law_form)
    k = _n_term(form)
    total = np.zeros(())
    for i, t in enumerate(form.terms):
        if i == k:
            continue
        C = _param(params, t.coef)
        if t.var is None:
            total = total + C
        elif t.var == "D" and t.exponent is not None:
            total = total + C * float(D0) ** (-_param(params, t.exponent))
    return total


def effective_params(
    law_form: str | LawForm,
    params: dict[str, Any],
    loss,
    D0: float = DEFAULT_D0,
) -> tuple[np.ndarray, np.ndarray]:
    """Invert the law at ``D0`` for N: ``(N̂, status)`` arrays (broadcast over inputs).

    ``loss`` +inf → ``below_range`` (N̂ = 0); −inf, or a loss at or below the reachable
    floor → ``above_range`` (N̂ = inf); NaN loss or NaN parameters → ``failed``.
    """
    if not np.isfinite(D0) or D0 <= 0:
        raise DensingInputError(f"D0 must be a finite number > 0, got {D0!r}")
    form = get_form(law_form)
    k = _n_term(form)
    term = form.terms[k]
    C = _param(params, term.coef)
    x = _param(params, str(term.exponent))
    L = np.asarray(loss, dtype=float)
    floor = law_floor(form, params, D0)
    L, C, x, floor = np.broadcast_arrays(L, C, x, floor)
    n_hat = np.full(L.shape, np.nan)
    status = np.full(L.shape, "failed", dtype=object)
    valid = np.isfinite(C) & np.isfinite(x) & np.isfinite(floor) & (C > 0) & (x > 0)
    nan_loss = np.isnan(L)
    good = valid & ~nan_loss
    below = good & np.isposinf(L)
    excess = np.where(good & np.isfinite(L), L - floor, np.nan)
    above = good & (np.isneginf(L) | (np.isfinite(L) & (excess <= 0)))
    ok = good & np.isfinite(L) & (excess > 0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # log-space: ln N̂ = −(ln excess − ln C)/x
        log_n = -(np.log(np.where(ok, excess, 1.0)) - np.log(np.where(ok, C, 1.0))) / np.where(
            ok, x, 1.0
        )
        vals = np.exp(log_n)
    n_hat[ok] = vals[ok]
    status[ok] = "ok"
    n_hat[above] = np.inf
    status[above] = "above_range"
    n_hat[below] = 0.0
    status[below] = "below_range"
    # numerical edges: an "ok" N̂ that overflowed or underflowed is out of range
    over = ok & np.isposinf(n_hat)
    under = ok & (n_hat == 0)
    status[over] = "above_range"
    status[under] = "below_range"
    return n_hat, status.astype(str)


def density(N_hat, N) -> np.ndarray:
    """Capability density ``ρ = N̂ / N`` (inf / 0 / NaN pass through from ``N̂``)."""
    N = np.asarray(N, dtype=float)
    if np.any(~np.isfinite(N) | (N <= 0)):
        raise DensingInputError("parameter counts must be finite numbers > 0")
    return np.asarray(N_hat, dtype=float) / N


def aggregate_effective_params(N_hat, status, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Combine benchmarks along ``axis``: geometric mean of ``N̂`` over ``ok`` entries.

    With no ``ok`` entry: the shared out-of-range status if all agree (``above_range``
    → inf, ``below_range`` → 0, ``failed`` → NaN), ``mixed`` (NaN) otherwise. Entries
    with status ``no_score`` are ignored; all ``no_score`` stays ``no_score``.
    """
    N_hat = np.moveaxis(np.asarray(N_hat, dtype=float), axis, 0)
    status = np.moveaxis(np.asarray(status, dtype=object), axis, 0)
    ok = status == "ok"
    n_ok = ok.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(ok, np.log(np.where(ok, N_hat, 1.0)), 0.0)
        mean_log = logs.sum(axis=0) / np.maximum(n_ok, 1)
    out = np.where(n_ok > 0, np.exp(mean_log), np.nan)
    out_status = np.where(n_ok > 0, "ok", "mixed").astype(object)
    present = status != "no_score"
    for st, value in (
        ("above_range", np.inf),
        ("below_range", 0.0),
        ("failed", np.nan),
    ):
        all_st = (n_ok == 0) & np.all((status == st) | ~present, axis=0) & present.any(axis=0)
        out = np.where(all_st, value, out)
        out_status = np.where(all_st, st, out_status)
    none = ~present.any(axis=0)
    out_status = np.where(none, "no_score", out_status)
    # an aggregate that over/underflowed is out of range, not "ok"
    out_status = np.where((out_status == "ok") & np.isposinf(out), "above_range", out_status)
    out_status = np.where((out_status == "ok") & (out == 0), "below_range", out_status)
    return out, out_status.astype(str)


@dataclass(frozen=True)
class DensityEstimate:
    """Per-target result of score → loss → N̂ → ρ under one benchmark's frame."""

    score: np.ndarray
    loss: np.ndarray  # implied conditional loss (±inf out of the sigmoid's range)
    effective_params: np.ndarray
    params: np.ndarray
    density: np.ndarray
    status: np.ndarray
    D0: float
    active_params: np.ndarray | None = None
    density_active: np.ndarray | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "score": self.score,
            "loss": self.loss,
            "params": self.params,
            "effective_params": self.effective_params,
            "density": self.density,
            "status": self.status,
            "D0": self.D0,
        }
        if self.active_params is not None:
            out["active_params"] = self.active_params
            out["density_active"] = self.density_active
        return to_jsonable(out)


def estimate_density(
    score,
    params,
    *,
    law_form: str | LawForm,
    law_params: dict[str, Any],
    sigmoid: SigmoidFit,
    D0: float = DEFAULT_D0,
    active_params=None,
) -> DensityEstimate:
    """Score → implied loss (sigmoid inverse) → N̂ (law at ``D0``) → ρ = N̂ / N.

    ``params`` is the total parameter count; for mixture-of-experts models pass the
    activated count as ``active_params`` and both densities are reported
    (``density`` against total, ``density_active`` against activated).
    """
    S = np.atleast_1d(np.asarray(score, dtype=float))
    N = np.broadcast_to(np.asarray(params, dtype=float), S.shape).astype(float)
    inv = sigmoid.inverse(S)
    n_hat, st = effective_params(law_form, law_params, inv.loss, D0)
    # out-of-sigmoid-range statuses come from the sigmoid inverse
    status = np.where(inv.status != "ok", inv.status, st).astype(str)
    rho = density(n_hat, N)
    act = dens_act = None
    if active_params is not None:
        act = np.broadcast_to(np.asarray(active_params, dtype=float), S.shape).astype(float)
        dens_act = density(n_hat, act)
    return DensityEstimate(
        score=S,
        loss=inv.loss,
        effective_params=n_hat,
        params=N,
        density=rho,
        status=status,
        D0=float(D0),
        active_params=act,
        density_active=dens_act,
    )


def log_interval(samples: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of positive quantities that may be 0 or inf (NaN excluded).

    Works on ``ln`` values with ±inf replaced by ±1e300 so that interpolation next to an
    infinite replicate stays infinite instead of becoming NaN.
    """
    x = np.asarray(samples, dtype=float)
    with np.errstate(divide="ignore"):
        lx = np.log(x)
    lx = np.where(np.isposinf(lx), 1e300, np.where(np.isneginf(lx), -1e300, lx))
    a = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices → NaN bounds
        q = np.nanquantile(lx, [a, 1.0 - a], axis=axis) if np.any(~np.isnan(lx)) else None
    if q is None:
        shape = np.delete(np.array(x.shape), axis)
        nan = np.full(tuple(shape), np.nan)
        return nan, nan.copy()
    lo, hi = q

    def back(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        return np.where(v >= 1e299, np.inf, np.where(v <= -1e299, 0.0, np.exp(v)))

    with np.errstate(over="ignore"):
        return back(lo), back(hi)

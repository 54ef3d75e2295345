"""Score-mode reference frames: effective parameters from published scores alone.

No conditional losses are known in score mode, so the frame is a small latent-variable model
fitted jointly on every observed (model, benchmark) score:

* every model ``m`` has one latent, loss-like capability ``θ_m`` (lower is better), shared by
  all benchmarks;
* every benchmark ``b`` maps capability to score with a sigmoid
  ``S_mb = d_b + c_b / (1 + exp(-γ_b (θ_m - l_b)))`` with ``γ_b < 0``, ``d_b ≥ 0`` (optionally
  fixed at the chance level) and ``c_b + d_b ≤ 1``;
* the members of the *reference family* do not get free capabilities: theirs are tied to a
  power law in parameters, ``θ = E + A·N^(-α)`` (the family trained on one token budget), or
  ``θ = E + A·N^(-α) + B·D^(-β)`` when the family's budget varies with size.

The latent scale is identified only up to an affine map (``θ → aθ + b`` is absorbed by
``E, A, l_b, γ_b``), so the gauge is fixed at ``E = 0`` and ``A = 1`` with ``N`` counted in
billions of parameters: on the reference family ``θ = (N / 1e9)^(-α)``. Effective parameters
do not depend on that choice. Missing scores are absent cells (never imputed); the loss is
``soft_l1`` (robust) on score residuals.

A model's effective parameter count ``N̂`` is the reference law inverted at the model's *own*
capability ``θ̂`` (fitted from its own scores under the fitted sigmoids; for reference members
this is not the law-tied value, which makes ``ρ ≈ 1`` for them a real check). The joint ``θ̂``
over all observed benchmarks is the aggregate; per-benchmark values invert each sigmoid alone.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import least_squares

from densing._json import to_jsonable
from densing.bootstrap import (
    BootstrapSpec,
    parallel_replicates,
    percentile_interval,
    replicate_seeds,
    resample_indices,
)
from densing.errors import DensingInputError, FitError

FORMAT_VERSION = 1
FRAME_KIND = "densing.score_frame"
PARAM_UNIT = 1e9  # the gauge: N is counted in billions of parameters
TOKEN_UNIT = 1e12  # D is counted in trillions of tokens
DEFAULT_F_SCALE = 0.03  # soft_l1 scale, in score units
DEFAULT_BETA = 0.3  # token exponent when the law has a D term (fixed, see README)
ALPHA_GRID_UP = (0.45, 0.7, 1.1, 1.7)
ALPHA_GRID_DOWN = (0.2, 0.12, 0.07, 0.035)
ALPHA_BOUNDS = (0.01, 3.0)
LOGK_BOUNDS = (-6.0, 8.0)

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

STATUSES = ("ok", "extrapolated", "above_range", "below_range", "insufficient_scores")


# --------------------------------------------------------------------------------------------
# the sigmoid and its inverse (vectorised; k = -γ > 0, c = u (1 - d))
# --------------------------------------------------------------------------------------------


def _expit(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def sigmoid_score(theta: np.ndarray, mid: float, gamma: float, c: float, d: float) -> np.ndarray:
    """``d + c / (1 + exp(-γ (θ - l)))`` with ``l = mid`` (γ < 0: higher θ, lower score)."""
    return d + c * _expit(gamma * (np.asarray(theta, dtype=float) - mid))


def sigmoid_theta(score: np.ndarray, mid: float, gamma: float, c: float, d: float) -> np.ndarray:
    """Inverse of :func:`sigmoid_score`; NaN outside the open range (d, c + d)."""
    s = np.asarray(score, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (s - d) / c
        out = mid + np.log(frac / (1.0 - frac)) / gamma
    return np.where((frac > 0) & (frac < 1), out, np.nan)


def _soft_l1(r: np.ndarray, f: float) -> np.ndarray:
    return 2.0 * f * f * (np.sqrt(1.0 + (r / f) ** 2) - 1.0)


# --------------------------------------------------------------------------------------------
# the numerical core (arrays only; used by the point fit and by every bootstrap replicate)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """One fitting problem: instances (rows) × benchmarks, NaN = not observed."""

    Y: np.ndarray  # (n, B)
    is_ref: np.ndarray  # (n,) bool
    x_ref: np.ndarray  # (n,) ln(N / PARAM_UNIT) (used for reference rows)
    z_ref: np.ndarray  # (n,) ln(D / TOKEN_UNIT) (used for reference rows with a D term)
    floors: np.ndarray  # (B,) fixed d_b, NaN = free
    with_tokens: bool
    beta: float
    f_scale: float
    alpha_fixed: float | None = None


@dataclass(frozen=True)
class _Solution:
    theta: np.ndarray  # (n,) fitted θ of each instance (law-tied for reference rows)
    alpha: float
    bcoef: float
    sig: np.ndarray  # (B, 4): l, logk, u, d
    cost: float
    nfev: int
    success: bool
    message: str
    theta_bounds: tuple[float, float]


def _law_theta(x: np.ndarray, z: np.ndarray, alpha: float, bcoef: float, beta: float, wt: bool):
    th = np.exp(-alpha * x)
    if wt:
        th = th + bcoef * np.exp(-beta * z)
    return th


def _sig_eval(theta: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Scores for θ (any shape) × benchmarks (last axis); sig rows (l, logk, u, d)."""
    mid, logk, u, d = sig[:, 0], sig[:, 1], sig[:, 2], sig[:, 3]
    k = np.exp(logk)
    c = u * (1.0 - d)
    return d + c * _expit(k * (mid - theta[..., None]))


def _theta_given_sigmoids(
    Y: np.ndarray,
    sig: np.ndarray,
    bounds: tuple[float, float],
    f_scale: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's own θ: global grid search then three zoom-ins (robust loss, observed cells).

    ``weights`` (n × B, e.g. bootstrap counts of each row's cells) multiply each cell's loss.
    """
    n = Y.shape[0]
    lo, hi = bounds
    obs = ~np.isnan(Y)
    Yz = np.where(obs, Y, 0.0)
    W = obs.astype(float) if weights is None else np.where(obs, weights, 0.0)
    grid = np.broadcast_to(np.linspace(lo, hi, 481), (n, 481))
    step = (hi - lo) / 480
    best = np.full(n, np.nan)
    for _ in range(4):
        S = _sig_eval(grid, sig)  # (n, G, B)
        cost = (W[:, None, :] * _soft_l1(S - Yz[:, None, :], f_scale)).sum(axis=2)
        j = np.argmin(cost, axis=1)
        best = grid[np.arange(n), j]
        grid = np.clip(best[:, None] + np.linspace(-step, step, 41)[None, :], lo, hi)
        step = step / 20
    return best


def _fit_sigmoids_given_theta(
    theta: np.ndarray, Y: np.ndarray, floors: np.ndarray, f_scale: float, start: np.ndarray | None
) -> np.ndarray:
    B = Y.shape[1]
    out = np.zeros((B, 4))
    for b in range(B):
        m = ~np.isnan(Y[:, b])
        t, y = theta[m], Y[m, b]
        fixed = not np.isnan(floors[b])
        if start is not None:
            p0 = start[b].copy()
        else:
            sd = max(np.std(t), 1e-3)
            d0 = floors[b] if fixed else max(0.0, float(np.min(y)) - 0.01)
            top = float(np.max(y))
            u0 = min(0.99, max(0.05, (top - d0 + 0.05) / max(1 - d0, 1e-6)))
            p0 = np.array([float(np.median(t)), math.log(3.0 / sd), u0, d0])
        if fixed:
            p0[3] = floors[b]

        def res(p, t=t, y=y, fixed=fixed, b=b):
            q = p if not fixed else np.r_[p, floors[b]]
            return _sig_eval(t, q[None, :])[:, 0] - y

        x0 = p0 if not fixed else p0[:3]
        lb = [-np.inf, LOGK_BOUNDS[0], 1e-4] + ([] if fixed else [0.0])
        ub = [np.inf, LOGK_BOUNDS[1], 1.0] + ([] if fixed else [0.999])
        x0 = np.clip(x0, np.array(lb) + 1e-9, np.array(ub) - 1e-9)
        r = least_squares(res, x0, bounds=(lb, ub), loss="soft_l1", f_scale=f_scale, max_nfev=200)
        out[b] = r.x if not fixed else np.r_[r.x, floors[b]]
    return out


def _joint(
    prob: _Problem,
    theta0: np.ndarray,
    alpha0: float,
    b0: float,
    sig0: np.ndarray,
    bounds: tuple[float, float],
    max_nfev: int = 400,
    fix_alpha: bool = False,
    ftol: float = 1e-7,
) -> _Solution:
    """Joint least-squares polish of all parameters with an analytic sparse Jacobian."""
    Y, is_ref = prob.Y, prob.is_ref
    n, B = Y.shape
    wt = prob.with_tokens
    free_rows = np.flatnonzero(~is_ref)
    nf = free_rows.size
    free_pos = np.full(n, -1)
    free_pos[free_rows] = np.arange(nf)
    rows, cols = np.nonzero(~np.isnan(Y))
    y = Y[rows, cols]
    ncell = y.size
    fixed = ~np.isnan(prob.floors)
    # parameter layout: θ_free | α | (Bcoef) | per benchmark l, logk, u, (d)
    i_alpha = nf
    i_b = nf + 1 if wt else -1
    off = nf + (2 if wt else 1)
    bench_idx = np.zeros((B, 4), dtype=int)
    pos = off
    for b in range(B):
        k = 3 if fixed[b] else 4
        bench_idx[b, :k] = np.arange(pos, pos + k)
        bench_idx[b, 3] = bench_idx[b, 3] if k == 4 else -1
        pos += k
    npar = pos
    cell_ref = is_ref[rows]
    cell_free = free_pos[rows]
    xr, zr = prob.x_ref[rows], prob.z_ref[rows]

    def unpack(p):
        sig = np.empty((B, 4))
        for b in range(B):
            sig[b, :3] = p[bench_idx[b, :3]]
            sig[b, 3] = prob.floors[b] if fixed[b] else p[bench_idx[b, 3]]
        return sig

    def cell_theta(p):
        th = np.empty(ncell)
        th[~cell_ref] = p[cell_free[~cell_ref]]
        th[cell_ref] = _law_theta(
            xr[cell_ref], zr[cell_ref], p[i_alpha], p[i_b] if wt else 0.0, prob.beta, wt
        )
        return th

    def fun(p):
        sig = unpack(p)
        th = cell_theta(p)
        s = sig[cols]
        k = np.exp(s[:, 1])
        c = s[:, 2] * (1 - s[:, 3])
        return s[:, 3] + c * _expit(k * (s[:, 0] - th)) - y

    # Jacobian sparsity: each cell touches its θ (or α, Bcoef), and its benchmark's parameters
    jr, jc = [], []
    ar = np.arange(ncell)
    jr.append(ar)
    jc.append(np.where(cell_ref, i_alpha, cell_free))
    if wt:
        jr.append(ar)
        jc.append(np.where(cell_ref, i_b, cell_free))  # duplicate entry for free rows: 0 data
    for j in range(4):
        idx = bench_idx[cols, j]
        jr.append(ar)
        jc.append(np.where(idx >= 0, idx, bench_idx[cols, 0]))
    JR = np.concatenate(jr)
    JC = np.concatenate(jc)

    def jac(p):
        sig = unpack(p)
        th = cell_theta(p)
        s = sig[cols]
        k = np.exp(s[:, 1])
        c = s[:, 2] * (1 - s[:, 3])
        e = _expit(k * (s[:, 0] - th))
        g = c * e * (1 - e)
        dth = -g * k
        parts = []
        a = p[i_alpha]
        dalpha = np.where(cell_ref, dth * (-xr * np.exp(-a * xr)), dth)
        parts.append(dalpha)
        if wt:
            parts.append(np.where(cell_ref, dth * np.exp(-prob.beta * zr), 0.0))
        parts.append(g * k)  # l
        parts.append(g * k * (s[:, 0] - th))  # logk
        parts.append((1 - s[:, 3]) * e)  # u
        parts.append(np.where(bench_idx[cols, 3] >= 0, 1 - s[:, 2] * e, 0.0))  # d
        data = np.concatenate(parts)
        return sparse.csr_matrix((data, (JR, JC)), shape=(ncell, npar))

    p0 = np.zeros(npar)
    lb = np.full(npar, -np.inf)
    ub = np.full(npar, np.inf)
    p0[:nf] = np.clip(theta0[free_rows], bounds[0], bounds[1])
    lb[:nf], ub[:nf] = bounds
    p0[i_alpha] = alpha0
    lb[i_alpha], ub[i_alpha] = (
        (alpha0 * (1 - 1e-7), alpha0 * (1 + 1e-7)) if fix_alpha else ALPHA_BOUNDS
    )
    if wt:
        p0[i_b] = b0
        lb[i_b], ub[i_b] = 0.0, np.inf
    for b in range(B):
        p0[bench_idx[b, :3]] = sig0[b, :3]
        lb[bench_idx[b, 1]], ub[bench_idx[b, 1]] = LOGK_BOUNDS
        lb[bench_idx[b, 2]], ub[bench_idx[b, 2]] = 1e-4, 1.0
        if not fixed[b]:
            p0[bench_idx[b, 3]] = sig0[b, 3]
            lb[bench_idx[b, 3]], ub[bench_idx[b, 3]] = 0.0, 0.999
    span = ub - lb
    eps = np.where(np.isfinite(span), 1e-6 * span, 0.0)
    p0 = np.clip(p0, lb + eps, ub - eps)
    r = least_squares(
        fun,
        p0,
        jac=jac,
        bounds=(lb, ub),
        loss="soft_l1",
        f_scale=prob.f_scale,
        tr_solver="lsmr",
        x_scale="jac",
        max_nfev=max_nfev,
        ftol=1e-7,
        method="trf",
    )
    p = r.x
    theta = np.empty(n)
    theta[free_rows] = p[:nf]
    ref_rows = np.flatnonzero(is_ref)
    theta[ref_rows] = _law_theta(
        prob.x_ref[ref_rows], prob.z_ref[ref_rows], p[i_alpha], p[i_b] if wt else 0.0, prob.beta, wt
    )
    return _Solution(
        theta=theta,
        alpha=float(p[i_alpha]),
        bcoef=float(p[i_b]) if wt else 0.0,
        sig=unpack(p),
        cost=float(r.cost),
        nfev=int(r.nfev),
        success=bool(r.success),
        message=str(r.message),
        theta_bounds=bounds,
    )


def _strength(Y: np.ndarray) -> np.ndarray:
    """A crude per-row capability index: mean of per-benchmark rank-normal scores."""
    Z = np.full_like(Y, np.nan)
    for b in range(Y.shape[1]):
        m = ~np.isnan(Y[:, b])
        v = Y[m, b]
        ranks = pd.Series(v).rank().to_numpy()
        Z[m, b] = (ranks - 0.5) / v.size - 0.5
    return np.nanmean(Z, axis=1)


def _theta_bounds(ref_theta: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(ref_theta)), float(np.max(ref_theta))
    span = max(hi - lo, 1e-3)
    return (min(lo - 2.0 * span, -0.5 * span), hi + 2.0 * span)


def _cold_fit(prob: _Problem) -> _Solution:
    """Global search over the law exponent, then a joint polish.

    The objective is flat and multimodal in α, so α is profiled: the frame is initialised at
    α = 0.3 (capability index → θ, sigmoids given θ, θ given sigmoids), then refitted with α
    fixed on a grid (continuation: each grid point starts from its neighbour's solution), and
    the best grid point is polished with α free.
    """
    strength = _strength(prob.Y)
    ref = prob.is_ref
    a0 = prob.alpha_fixed if prob.alpha_fixed is not None else 0.3
    b0 = 0.1 if prob.with_tokens else 0.0
    th_ref = _law_theta(prob.x_ref[ref], prob.z_ref[ref], a0, b0, prob.beta, prob.with_tokens)
    bounds = _theta_bounds(th_ref)
    sr = strength[ref]
    if np.ptp(sr) > 0:
        slope, icpt = np.polyfit(sr, th_ref, 1)
    else:
        slope, icpt = 0.0, float(np.mean(th_ref))
    if slope >= 0:
        slope = -np.ptp(th_ref) / max(np.ptp(strength), 1e-6)
        icpt = float(np.mean(th_ref)) - slope * float(np.mean(sr))
    theta = np.clip(icpt + slope * strength, *bounds)
    theta[ref] = th_ref
    sig = _fit_sigmoids_given_theta(theta, prob.Y, prob.floors, prob.f_scale, None)
    own = _theta_given_sigmoids(prob.Y, sig, bounds, prob.f_scale)
    theta = np.where(ref, theta, own)
    if prob.alpha_fixed is not None:
        return _joint(prob, theta, a0, b0, sig, bounds, fix_alpha=True, ftol=1e-6, max_nfev=100)
    start = _joint(prob, theta, a0, b0, sig, bounds, fix_alpha=True, ftol=1e-5, max_nfev=60)
    profile = {a0: start}
    for direction in (ALPHA_GRID_UP, ALPHA_GRID_DOWN):
        prev = start
        for a in direction:
            # rescale the free θ so the reference range maps onto the new law's range
            sol = _map_to_alpha(prob, prev, a)
            sol = _joint(
                prob,
                sol.theta,
                a,
                prev.bcoef,
                sol.sig,
                sol.theta_bounds,
                fix_alpha=True,
                ftol=1e-5,
                max_nfev=40,
            )
            profile[a] = sol
            prev = sol
    best_a = min(profile, key=lambda a: profile[a].cost)
    b = profile[best_a]
    final = _joint(prob, b.theta, b.alpha, b.bcoef, b.sig, b.theta_bounds, max_nfev=60, ftol=1e-6)
    return final if final.cost <= b.cost else b


def _map_to_alpha(prob: _Problem, sol: _Solution, alpha: float) -> _Solution:
    """Carry a solution to a new α: affine map of θ matching the reference law's range."""
    ref = prob.is_ref
    old = sol.theta[ref]
    new = _law_theta(
        prob.x_ref[ref], prob.z_ref[ref], alpha, sol.bcoef, prob.beta, prob.with_tokens
    )
    slope, icpt = np.polyfit(old, new, 1) if np.ptp(old) > 0 else (1.0, 0.0)
    if slope <= 0:
        slope, icpt = 1.0, 0.0
    theta = icpt + slope * sol.theta
    theta[ref] = new
    sig = sol.sig.copy()
    sig[:, 0] = icpt + slope * sig[:, 0]
    sig[:, 1] = np.clip(sig[:, 1] - np.log(slope), *LOGK_BOUNDS)
    bounds = _theta_bounds(new)
    theta = np.clip(theta, *bounds)
    return _Solution(
        theta=theta,
        alpha=alpha,
        bcoef=sol.bcoef,
        sig=sig,
        cost=np.inf,
        nfev=0,
        success=False,
        message="",
        theta_bounds=bounds,
    )


def _warm_fit(prob: _Problem, start: _Solution, theta0: np.ndarray) -> _Solution:
    return _joint(
        prob,
        theta0,
        start.alpha if prob.alpha_fixed is None else prob.alpha_fixed,
        start.bcoef,
        start.sig,
        start.theta_bounds,
        max_nfev=60,
        ftol=1e-6,
    )


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _floor_for(name: str, floors: dict | None) -> float | None:
    if floors is not None and name in floors:
        v = floors[name]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    return DEFAULT_FLOORS.get(name.lower())


def _prepare(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    reference_family: str,
    benchmarks: Sequence[str] | None,
    floors: dict | None,
    min_benchmarks: int,
):
    src_m = models.attrs.get("source")
    src_s = scores.attrs.get("source")
    for col in ("id", "family", "params"):
        if col not in models.columns:
            raise DensingInputError(
                f"missing column '{col}'; the models table has {list(map(str, models.columns))}",
                file=src_m,
                column=col,
            )
    ids = [str(v).strip() for v in models["id"].tolist()]
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in ("", "nan", "None"):
            raise DensingInputError("missing model id", file=src_m, row=i + 1, column="id")
        if v in seen:
            raise DensingInputError(
                f"duplicated model id '{v}' (first seen in row {seen[v]})",
                file=src_m,
                row=i + 1,
                column="id",
            )
        seen[v] = i + 1
    params = pd.to_numeric(models["params"], errors="coerce").to_numpy(float)
    for i, v in enumerate(params):
        if not np.isfinite(v) or v <= 0:
            raise DensingInputError(
                f"parameter count {models['params'].iloc[i]!r} must be a positive number",
                file=src_m,
                row=i + 1,
                column="params",
            )
    if params.max() < 1e6:
        raise DensingInputError(
            "parameter counts look like billions (largest is "
            f"{params.max():g}); give raw counts (e.g. 7e9)",
            file=src_m,
            column="params",
        )
    if "active_params" in models.columns:
        active = pd.to_numeric(models["active_params"], errors="coerce").to_numpy(float)
        bad = np.isfinite(active) & ((active <= 0) | (active > params * (1 + 1e-9)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DensingInputError(
                "active_params must be > 0 and ≤ params",
                file=src_m,
                row=i + 1,
                column="active_params",
            )
        active = np.where(np.isfinite(active), active, params)
    else:
        active = params.copy()
    if "tokens" in models.columns:
        tokens = pd.to_numeric(models["tokens"], errors="coerce").to_numpy(float)
        bad = np.isfinite(tokens) & (tokens <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DensingInputError("tokens must be > 0", file=src_m, row=i + 1, column="tokens")
        if np.isfinite(tokens).any() and np.nanmax(tokens) < 1e6:
            raise DensingInputError(
                "token counts look like trillions (largest is "
                f"{np.nanmax(tokens):g}); give raw counts (e.g. 2e12)",
                file=src_m,
                column="tokens",
            )
    else:
        tokens = np.full(len(ids), np.nan)
    family = [str(v) for v in models["family"].tolist()]

    # scores: wide, index = id
    sc = scores.copy()
    if "id" in sc.columns:
        sc = sc.set_index("id")
    sc.index = [str(v).strip() for v in sc.index]
    if sc.index.has_duplicates:
        dup = sc.index[sc.index.duplicated()][0]
        raise DensingInputError(f"duplicated model id '{dup}' in the scores table", file=src_s)
    unknown_ids = [i for i in sc.index if i not in seen]
    if unknown_ids:
        raise DensingInputError(
            f"{len(unknown_ids)} scored model(s) are not in the models table, e.g. "
            f"'{unknown_ids[0]}'",
            file=src_s,
            row=list(sc.index).index(unknown_ids[0]) + 1,
            column="id",
        )
    if benchmarks is None:
        benchmarks = [str(c) for c in sc.columns]
    else:
        benchmarks = [str(b) for b in benchmarks]
        missing = [b for b in benchmarks if b not in sc.columns]
        if missing:
            raise DensingInputError(
                f"unknown benchmark '{missing[0]}'; the scores table has "
                f"{list(map(str, sc.columns))}",
                file=src_s,
                column=missing[0],
            )
    if len(benchmarks) < 1:
        raise DensingInputError("no benchmarks to fit", file=src_s)
    if floors:
        bad_f = [k for k in floors if k not in benchmarks]
        if bad_f:
            raise DensingInputError(
                f"floor given for unknown benchmark '{bad_f[0]}' (benchmarks: {benchmarks})",
                column=bad_f[0],
            )
    Y = np.full((len(ids), len(benchmarks)), np.nan)
    pos = {v: i for i, v in enumerate(ids)}
    rows = np.array([pos[i] for i in sc.index], dtype=int)
    for j, b in enumerate(benchmarks):
        col = pd.to_numeric(sc[b], errors="coerce")
        raw = sc[b]
        badnum = col.isna() & raw.notna()
        if badnum.any():
            r = int(np.flatnonzero(badnum.to_numpy())[0])
            raise DensingInputError(
                f"'{raw.iloc[r]}' is not a score", file=src_s, row=r + 1, column=b
            )
        v = col.to_numpy(float)
        fin = v[np.isfinite(v)]
        if np.isinf(v).any():
            r = int(np.flatnonzero(np.isinf(v))[0])
            raise DensingInputError("score is not finite", file=src_s, row=r + 1, column=b)
        if fin.size and (fin.max() > 1 or fin.min() < 0):
            r = int(np.nanargmax(v)) if fin.max() > 1 else int(np.nanargmin(v))
            if fin.min() >= 0 and fin.max() <= 100:
                msg = (
                    f"score {v[r]:g} is above 1: the column looks like percentages (0-100); "
                    "give scores as fractions in [0, 1] (divide by 100)"
                )
            else:
                msg = f"score {v[r]:g} is outside [0, 1]"
            raise DensingInputError(msg, file=src_s, row=r + 1, column=b)
        Y[rows, j] = v
    fl = np.array(
        [np.nan if _floor_for(b, floors) is None else _floor_for(b, floors) for b in benchmarks]
    )
    for j, b in enumerate(benchmarks):
        if not np.isnan(fl[j]) and not 0 <= fl[j] < 1:
            raise DensingInputError(f"floor {fl[j]:g} for '{b}' must be in [0, 1)", column=b)
    n_obs = (~np.isnan(Y)).sum(axis=1)
    fams = sorted(set(family))
    if reference_family not in fams:
        raise DensingInputError(
            f"reference family '{reference_family}' is not among the "
            f"models' families ({', '.join(fams)})",
            file=src_m,
            column="family",
        )
    return dict(
        ids=ids,
        family=family,
        params=params,
        active=active,
        tokens=tokens,
        benchmarks=benchmarks,
        Y=Y,
        floors=fl,
        n_obs=n_obs,
        min_benchmarks=min_benchmarks,
        src_m=src_m,
    )


def _law_setup(prep: dict, reference_family: str, law: str, d0: float | None):
    fam = np.array(prep["family"])
    usable = prep["n_obs"] >= prep["min_benchmarks"]
    ref = (fam == reference_family) & usable
    sizes = np.unique(prep["params"][ref])
    if sizes.size < 3:
        raise DensingInputError(
            f"reference family '{reference_family}' has {sizes.size} distinct size(s) with at "
            f"least {prep['min_benchmarks']} scores; at least 3 are needed",
            file=prep["src_m"],
            column="family",
        )
    tok = prep["tokens"][ref]
    known = tok[np.isfinite(tok)]
    varies = known.size > 1 and known.max() / known.min() > 1.05
    fallback = False
    if law == "auto":
        # varying budgets with some unknown cannot carry a D term: treat as one budget, say so
        fallback = bool(varies and known.size < tok.size)
        law = "with_tokens" if varies and not fallback else "fixed_budget"
    if law == "with_tokens":
        if known.size < tok.size:
            raise DensingInputError(
                "law 'with_tokens' needs tokens for every reference member",
                file=prep["src_m"],
                column="tokens",
            )
        d0_used = float(d0) if d0 is not None else float(np.median(known))
        d0_note = "chosen D0" if d0 is not None else "median budget of the reference family"
    elif law == "fixed_budget":
        if d0 is not None:
            raise DensingInputError(
                "d0 only applies to law 'with_tokens'; a fixed-budget frame "
                "is evaluated at the family's own budget"
            )
        d0_used = float(np.median(known)) if known.size else float("nan")
        d0_note = (
            (
                "family budgets vary, treated as one budget (median shown)"
                + (f"; {tok.size - known.size} member(s) without tokens" if fallback else "")
                if varies
                else "family budget"
            )
            if known.size
            else "family budget (unknown)"
        )
    else:
        raise DensingInputError(f"unknown law '{law}'; use auto, fixed_budget or with_tokens")
    return ref, usable, law, d0_used, d0_note


# --------------------------------------------------------------------------------------------
# the frame
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreFrame:
    """A fitted score-mode reference frame (see the module docstring for the model)."""

    reference_family: str
    law: Literal["fixed_budget", "with_tokens"]
    alpha: float
    token_coef: float  # B in the gauge (0 for a fixed-budget law)
    beta: float
    d0: float  # tokens at which the law is inverted (NaN: fixed budget, unknown)
    d0_note: str
    benchmarks: tuple[str, ...]
    sigmoids: pd.DataFrame  # index benchmark; l, gamma, c, d, floor_fixed, r2, n
    models: pd.DataFrame  # id, family, params, active_params, tokens, is_reference, in_fit,
    #                      n_benchmarks, theta_fit, theta
    scores: pd.DataFrame  # wide, index id, columns benchmarks (NaN = missing)
    residuals: pd.DataFrame  # id, benchmark, observed, predicted, residual
    theta_bounds: tuple[float, float]
    min_benchmarks: int
    f_scale: float
    diagnostics: dict = field(default_factory=dict)
    alpha_fixed: bool = False
    format_version: int = FORMAT_VERSION

    # ---- the law ----------------------------------------------------------------------------
    @property
    def theta_floor(self) -> float:
        """Capability of an infinitely large reference model at D0 (``E`` plus the D term)."""
        if self.law == "with_tokens":
            return float(self.token_coef * (self.d0 / TOKEN_UNIT) ** (-self.beta))
        return 0.0

    @property
    def reference_theta_range(self) -> tuple[float, float]:
        ref = self.models[self.models["is_reference"] & self.models["in_fit"]]
        th = self.theta_floor + (ref["params"].to_numpy(float) / PARAM_UNIT) ** (-self.alpha)
        return float(th.min()), float(th.max())

    def law_theta(self, params: Any) -> np.ndarray:
        """θ of a reference-family model of ``params`` parameters at D0."""
        n = np.asarray(params, dtype=float)
        return self.theta_floor + (n / PARAM_UNIT) ** (-self.alpha)

    def invert(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        """θ → (effective params, status) under the reference law at D0."""
        th = np.atleast_1d(np.asarray(theta, dtype=float))
        lo, hi = self.reference_theta_range
        blo, bhi = self.theta_bounds
        tol = 1e-6 * (bhi - blo)
        n_hat = np.full(th.shape, np.nan)
        status = np.full(th.shape, "ok", dtype=object)
        x = th - self.theta_floor
        with np.errstate(divide="ignore", invalid="ignore"):
            n_hat = np.where(x > 0, PARAM_UNIT * x ** (-1.0 / self.alpha), np.inf)
        above = (x <= 0) | (th <= blo + tol)
        below = th >= bhi - tol
        n_hat = np.where(above, np.inf, np.where(below, 0.0, n_hat))
        status = np.where(
            above,
            "above_range",
            np.where(below, "below_range", np.where((th < lo) | (th > hi), "extrapolated", "ok")),
        )
        status = np.where(np.isnan(th), "insufficient_scores", status).astype(object)
        n_hat = np.where(np.isnan(th), np.nan, n_hat)
        return n_hat, status

    # ---- scores ↔ θ ------------------------------------------------------------------------
    def _sig_array(self) -> np.ndarray:
        s = self.sigmoids
        u = s["c"] / (1 - s["d"])
        return np.c_[s["l"], np.log(-s["gamma"]), u, s["d"]].astype(float)

    def predict_scores(self, theta: Any) -> pd.DataFrame:
        """Predicted score on every benchmark for each θ (rows) — the fitted sigmoids."""
        th = np.atleast_1d(np.asarray(theta, dtype=float))
        return pd.DataFrame(_sig_eval(th, self._sig_array()), columns=list(self.benchmarks))

    def theta_from_scores(self, scores: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Each row's own θ̂ under the fitted sigmoids (rows need ≥ min_benchmarks scores)."""
        if isinstance(scores, pd.Series):
            scores = scores.to_frame().T
        unknown = [c for c in scores.columns if c not in self.benchmarks and c != "id"]
        if unknown:
            raise DensingInputError(
                f"unknown benchmark '{unknown[0]}'; this frame knows {list(self.benchmarks)}",
                file=scores.attrs.get("source"),
                column=str(unknown[0]),
            )
        sc = scores.set_index("id") if "id" in scores.columns else scores
        Y = np.full((len(sc), len(self.benchmarks)), np.nan)
        for j, b in enumerate(self.benchmarks):
            if b in sc.columns:
                v = pd.to_numeric(sc[b], errors="coerce").to_numpy(float)
                fin = v[np.isfinite(v)]
                if fin.size and (fin.max() > 1 or fin.min() < 0):
                    raise DensingInputError(
                        "scores must be fractions in [0, 1]"
                        + (
                            " (they look like percentages: divide by 100)"
                            if fin.max() <= 100
                            else ""
                        ),
                        file=scores.attrs.get("source"),
                        column=b,
                    )
                Y[:, j] = v
        n_obs = (~np.isnan(Y)).sum(axis=1)
        ok = n_obs >= self.min_benchmarks
        th = np.full(len(sc), np.nan)
        if ok.any():
            th[ok] = _theta_given_sigmoids(
                Y[ok], self._sig_array(), self.theta_bounds, self.f_scale
            )
        return pd.DataFrame({"id": [str(i) for i in sc.index], "theta": th, "n_benchmarks": n_obs})

    def effective_params(self, targets: Sequence[str] | pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Effective params for model ids of the frame, or for rows of scores (wide)."""
        if isinstance(targets, pd.DataFrame | pd.Series):
            t = self.theta_from_scores(targets)
        else:
            ids = [str(i) for i in targets]
            m = self.models.set_index("id")
            missing = [i for i in ids if i not in m.index]
            if missing:
                raise DensingInputError(f"model '{missing[0]}' is not in this frame")
            t = pd.DataFrame(
                {
                    "id": ids,
                    "theta": m.loc[ids, "theta"].to_numpy(float),
                    "n_benchmarks": m.loc[ids, "n_benchmarks"].to_numpy(int),
                }
            )
        n_hat, status = self.invert(t["theta"].to_numpy(float))
        t["effective_params"] = n_hat
        t["status"] = status
        return t

    def densities(self) -> pd.DataFrame:
        """One row per model: θ̂, N̂, ρ against activated (density) and total params."""
        m = self.models
        n_hat, status = self.invert(m["theta"].to_numpy(float))
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = n_hat / m["active_params"].to_numpy(float)
            dens_tot = n_hat / m["params"].to_numpy(float)
        return pd.DataFrame(
            {
                "id": m["id"],
                "family": m["family"],
                "params": m["params"],
                "active_params": m["active_params"],
                "theta": m["theta"],
                "effective_params": n_hat,
                "density": dens,
                "density_total": dens_tot,
                "status": status,
                "n_benchmarks": m["n_benchmarks"],
            }
        ).reset_index(drop=True)

    def benchmark_densities(self) -> pd.DataFrame:
        """Per-benchmark effective params: each observed score inverted through its sigmoid."""
        out = []
        sig = self.sigmoids
        m = self.models.set_index("id")
        for b in self.benchmarks:
            col = self.scores[b]
            col = col[col.notna()]
            s = sig.loc[b]
            th = sigmoid_theta(col.to_numpy(float), s["l"], s["gamma"], s["c"], s["d"])
            n_hat, status = self.invert(th)
            v = col.to_numpy(float)
            above = v >= s["c"] + s["d"]
            below = v <= s["d"]
            n_hat = np.where(above, np.inf, np.where(below, 0.0, n_hat))
            status = np.where(above, "above_range", np.where(below, "below_range", status))
            act = m.loc[col.index, "active_params"].to_numpy(float)
            out.append(
                pd.DataFrame(
                    {
                        "id": col.index,
                        "benchmark": b,
                        "score": v,
                        "theta": th,
                        "effective_params": n_hat,
                        "density": n_hat / act,
                        "status": status,
                    }
                )
            )
        return pd.concat(out, ignore_index=True)

    # ---- description / persistence -------------------------------------------------------
    def describe(self) -> dict:
        lo, hi = self.reference_theta_range
        ref = self.models[self.models["is_reference"] & self.models["in_fit"]]
        return {
            "kind": FRAME_KIND,
            "mode": "score",
            "format_version": self.format_version,
            "reference_family": self.reference_family,
            "reference_members": ref["id"].tolist(),
            "law": self.law,
            "law_formula": (
                "theta = N^-alpha + B*D^-beta (E=0, A=1 gauge; N in 1e9, D in 1e12)"
                if self.law == "with_tokens"
                else "theta = N^-alpha (E=0, A=1 gauge; N in 1e9)"
            ),
            "alpha": self.alpha,
            "alpha_fixed": self.alpha_fixed,
            "token_coef": self.token_coef,
            "beta": self.beta,
            "d0_tokens": self.d0,
            "d0_note": self.d0_note,
            "theta_floor": self.theta_floor,
            "reference_theta_range": [lo, hi],
            "theta_bounds": list(self.theta_bounds),
            "benchmarks": list(self.benchmarks),
            "aggregate": "joint theta over all observed benchmarks of the model (robust soft_l1)",
            "sigmoids": {
                b: {k: self.sigmoids.loc[b, k] for k in self.sigmoids.columns}
                for b in self.benchmarks
            },
            "n_models": len(self.models),
            "n_models_fitted": int(self.models["in_fit"].sum()),
            "min_benchmarks": self.min_benchmarks,
            "loss": f"soft_l1, f_scale={self.f_scale}",
            "diagnostics": self.diagnostics,
        }

    def to_dict(self) -> dict:
        d = self.describe()
        d["models"] = self.models.to_dict(orient="list")
        d["scores"] = {
            "ids": [str(i) for i in self.scores.index],
            "values": self.scores.to_numpy(float).tolist(),
        }
        d["sigmoid_table"] = self.sigmoids.reset_index().to_dict(orient="list")
        d["f_scale"] = self.f_scale
        return to_jsonable(d)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> ScoreFrame:
        """Load a frame saved by :meth:`to_json` (a path or the JSON text)."""
        fname = None
        if isinstance(source, Path) or (
            isinstance(source, str) and not source.lstrip().startswith("{")
        ):
            fname = str(source)
            p = Path(source)
            if not p.exists():
                raise DensingInputError("file not found", file=fname)
            source = p.read_text()
        try:
            d = json.loads(source)
        except json.JSONDecodeError as exc:
            raise DensingInputError(f"not a JSON frame file: {exc}", file=fname) from exc
        if not isinstance(d, dict) or d.get("kind") != FRAME_KIND:
            raise DensingInputError("not a densing score-mode frame file", file=fname)
        if d.get("format_version") != FORMAT_VERSION:
            raise DensingInputError(
                f"frame file format version {d.get('format_version')}, "
                f"this densing reads {FORMAT_VERSION}",
                file=fname,
            )

        def num(v):
            if v is None:
                return float("nan")
            if v == "inf":
                return float("inf")
            if v == "-inf":
                return float("-inf")
            return v

        sig = pd.DataFrame(d["sigmoid_table"]).set_index("benchmark")
        for c in sig.columns:
            if c != "floor_fixed":
                sig[c] = sig[c].map(num).astype(float)
        models = pd.DataFrame(d["models"])
        for c in ("params", "active_params", "tokens", "theta_fit", "theta"):
            models[c] = models[c].map(num).astype(float)
        bench = list(d["benchmarks"])
        vals = np.array([[num(v) for v in row] for row in d["scores"]["values"]], dtype=float)
        scores = pd.DataFrame(
            vals.reshape(len(d["scores"]["ids"]), len(bench)),
            index=d["scores"]["ids"],
            columns=bench,
        )
        frame = cls(
            reference_family=d["reference_family"],
            law=d["law"],
            alpha=float(d["alpha"]),
            token_coef=float(d["token_coef"]),
            beta=float(d["beta"]),
            d0=float(num(d["d0_tokens"])),
            d0_note=d["d0_note"],
            benchmarks=tuple(bench),
            sigmoids=sig,
            models=models,
            scores=scores,
            residuals=pd.DataFrame(),
            theta_bounds=tuple(d["theta_bounds"]),
            min_benchmarks=int(d["min_benchmarks"]),
            f_scale=float(d["f_scale"]),
            diagnostics=d.get("diagnostics", {}),
            alpha_fixed=bool(d.get("alpha_fixed", False)),
        )
        return frame._with_residuals()

    def _with_residuals(self) -> ScoreFrame:
        m = self.models.set_index("id")
        fit_ids = m.index[m["in_fit"].astype(bool)]
        sc = self.scores.loc[[i for i in self.scores.index if i in set(fit_ids)]]
        pred = self.predict_scores(m.loc[sc.index, "theta_fit"].to_numpy(float)).to_numpy()
        obs = sc.to_numpy(float)
        ii, jj = np.nonzero(~np.isnan(obs))
        res = pd.DataFrame(
            {
                "id": sc.index[ii],
                "benchmark": np.array(self.benchmarks)[jj],
                "observed": obs[ii, jj],
                "predicted": pred[ii, jj],
            }
        )
        res["residual"] = res["observed"] - res["predicted"]
        object.__setattr__(self, "residuals", res)
        return self

    def summary(self) -> str:
        lo, hi = self.reference_theta_range
        lines = [
            f"Score-mode frame: reference family {self.reference_family} ({self.law}; "
            f"D0 = {self.d0:.3g} tokens, {self.d0_note})",
            f"  law: theta = {self.theta_floor:.4g} + (N/1e9)^-{self.alpha:.4f}   "
            f"reference theta range [{lo:.4g}, {hi:.4g}]",
            f"  models fitted: {int(self.models['in_fit'].sum())} of {len(self.models)}; "
            f"cells: {len(self.residuals)}; loss soft_l1 (f_scale {self.f_scale})",
            f"  {'benchmark':<16}{'l':>9}{'gamma':>9}{'c':>8}{'d':>8}{'fixed d':>9}{'R2':>7}"
            f"{'n':>6}",
        ]
        for b in self.benchmarks:
            s = self.sigmoids.loc[b]
            lines.append(
                f"  {b:<16}{s['l']:>9.3f}{s['gamma']:>9.3f}{s['c']:>8.3f}"
                f"{s['d']:>8.3f}{'yes' if s['floor_fixed'] else 'no':>9}"
                f"{s['r2']:>7.3f}{int(s['n']):>6}"
            )
        d = self.densities()
        counts = d["status"].value_counts().to_dict()
        lines.append("  statuses: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return "\n".join(lines)


def _build_problem(
    Y, is_ref, params, tokens, floors, with_tokens, beta, f_scale, alpha_fixed=None
) -> _Problem:
    x = np.log(params / PARAM_UNIT)
    z = np.where(
        np.isfinite(tokens), np.log(np.where(np.isfinite(tokens), tokens, 1.0) / TOKEN_UNIT), 0.0
    )
    return _Problem(
        Y=Y,
        is_ref=is_ref,
        x_ref=x,
        z_ref=z,
        floors=floors,
        with_tokens=with_tokens,
        beta=beta,
        f_scale=f_scale,
        alpha_fixed=alpha_fixed,
    )


def fit_score_frame(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    reference_family: str,
    benchmarks: Sequence[str] | None = None,
    floors: dict[str, float | None] | None = None,
    min_benchmarks: int = 2,
    law: Literal["auto", "fixed_budget", "with_tokens"] = "auto",
    d0: float | None = None,
    beta: float = DEFAULT_BETA,
    f_scale: float = DEFAULT_F_SCALE,
    alpha: float | None = None,
) -> ScoreFrame:
    """Fit a score-mode frame.

    ``models``: id, family, params (raw counts), optional active_params (MoE) and tokens.
    ``scores``: wide, index (or column ``id``) = model id, one column per benchmark, NaN =
    not observed; fractions in [0, 1]. ``floors``: benchmark → fixed chance floor d (None =
    free); defaults from :data:`DEFAULT_FLOORS` for known names. ``law``: ``auto`` picks
    ``with_tokens`` when the reference family's token budgets vary, else ``fixed_budget``.
    ``alpha``: fix the law's exponent (None: fitted by a profile over α, then polished).
    """
    t0 = time.perf_counter()
    if min_benchmarks < 1:
        raise DensingInputError("min_benchmarks must be ≥ 1")
    prep = _prepare(models, scores, reference_family, benchmarks, floors, min_benchmarks)
    ref, usable, law_used, d0_used, d0_note = _law_setup(prep, reference_family, law, d0)
    fit_rows = np.flatnonzero(usable)
    wt = law_used == "with_tokens"
    prob = _build_problem(
        prep["Y"][fit_rows],
        ref[fit_rows],
        prep["params"][fit_rows],
        prep["tokens"][fit_rows],
        prep["floors"],
        wt,
        beta,
        f_scale,
        alpha,
    )
    if alpha is not None and not ALPHA_BOUNDS[0] <= alpha <= ALPHA_BOUNDS[1]:
        raise DensingInputError(f"alpha {alpha:g} is outside {ALPHA_BOUNDS}")
    sol = _cold_fit(prob)
    return _assemble(
        prep,
        ref,
        usable,
        fit_rows,
        sol,
        law_used,
        d0_used,
        d0_note,
        beta,
        f_scale,
        reference_family,
        time.perf_counter() - t0,
        alpha is not None,
    )


def _assemble(
    prep,
    ref,
    usable,
    fit_rows,
    sol: _Solution,
    law_used,
    d0_used,
    d0_note,
    beta,
    f_scale,
    reference_family,
    seconds,
    alpha_fixed=False,
) -> ScoreFrame:
    n = len(prep["ids"])
    Y = prep["Y"]
    theta_fit = np.full(n, np.nan)
    theta_fit[fit_rows] = sol.theta
    own = np.full(n, np.nan)
    own[fit_rows] = _theta_given_sigmoids(Y[fit_rows], sol.sig, sol.theta_bounds, f_scale)
    bench = prep["benchmarks"]
    k = np.exp(sol.sig[:, 1])
    d = sol.sig[:, 3]
    c = sol.sig[:, 2] * (1 - d)
    pred = _sig_eval(sol.theta, sol.sig)
    obs = Y[fit_rows]
    r2, nb = [], []
    for b in range(len(bench)):
        m = ~np.isnan(obs[:, b])
        yy = obs[m, b]
        ss_res = float(np.sum((yy - pred[m, b]) ** 2))
        ss_tot = float(np.sum((yy - yy.mean()) ** 2)) if yy.size else 0.0
        r2.append(1 - ss_res / ss_tot if ss_tot > 0 else float("nan"))
        nb.append(int(m.sum()))
    sig = pd.DataFrame(
        {
            "l": sol.sig[:, 0],
            "gamma": -k,
            "c": c,
            "d": d,
            "floor_fixed": ~np.isnan(prep["floors"]),
            "r2": r2,
            "n": nb,
        },
        index=pd.Index(bench, name="benchmark"),
    )
    models = pd.DataFrame(
        {
            "id": prep["ids"],
            "family": prep["family"],
            "params": prep["params"],
            "active_params": prep["active"],
            "tokens": prep["tokens"],
            "is_reference": ref,
            "in_fit": usable,
            "n_benchmarks": prep["n_obs"].astype(int),
            "theta_fit": theta_fit,
            "theta": own,
        }
    )
    scores = pd.DataFrame(Y, index=prep["ids"], columns=bench)
    n_sizes = int(np.unique(prep["params"][ref & usable]).size)
    diag = {
        "cost": sol.cost,
        "nfev": sol.nfev,
        "success": sol.success,
        "message": sol.message,
        "n_cells": int((~np.isnan(obs)).sum()),
        "fit_seconds": seconds,
        "alpha_grid": sorted([0.3, *ALPHA_GRID_UP, *ALPHA_GRID_DOWN]),
        "rmse": float(np.sqrt(np.nanmean((obs - pred) ** 2))),
        "n_reference_sizes": n_sizes,
        "alpha_note": (
            "alpha fixed by the user"
            if alpha_fixed
            else (
                "alpha not identified with 3 reference sizes: consider fixing it"
                if n_sizes < 4
                else "alpha fitted (profile over a grid, then polished)"
            )
        ),
    }
    frame = ScoreFrame(
        reference_family=reference_family,
        law=law_used,
        alpha=sol.alpha,
        token_coef=sol.bcoef,
        beta=beta,
        d0=d0_used,
        d0_note=d0_note,
        benchmarks=tuple(bench),
        sigmoids=sig,
        models=models,
        scores=scores,
        residuals=pd.DataFrame(),
        theta_bounds=sol.theta_bounds,
        min_benchmarks=prep["min_benchmarks"],
        f_scale=f_scale,
        diagnostics=diag,
        alpha_fixed=alpha_fixed,
    )
    return frame._with_residuals()


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreFrameBootstrap:
    """Bootstrap of a score frame: a B × n matrix of densities and per-model intervals."""

    frame: ScoreFrame
    ids: tuple[str, ...]
    density_replicates: np.ndarray  # (B, n) density vs activated params
    effective_params_replicates: np.ndarray  # (B, n)
    alpha_replicates: np.ndarray  # (B,)
    replicate_fits: tuple  # per replicate: (alpha, token_coef, sig (nb×4), theta_bounds) or None
    resample_cells: bool
    seed: int | None
    level: float
    groups: str
    warm_start: bool
    seconds: float

    def intervals(self) -> pd.DataFrame:
        d = self.frame.densities()
        lo, hi, elo, ehi = [], [], [], []
        for j in range(len(self.ids)):
            a, b = percentile_interval(self.density_replicates[:, j], self.level)
            c, e = percentile_interval(self.effective_params_replicates[:, j], self.level)
            lo.append(a)
            hi.append(b)
            elo.append(c)
            ehi.append(e)
        d["density_lo"] = lo
        d["density_hi"] = hi
        d["effective_params_lo"] = elo
        d["effective_params_hi"] = ehi
        return d

    def densities(self) -> pd.DataFrame:
        return self.intervals()

    def predict(
        self,
        scores: pd.DataFrame,
        params: Sequence[float],
        active_params: Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """Densities with intervals for models outside the fit (e.g. held-out members).

        ``scores``: wide (index id); every replicate's refitted sigmoids give each row its own
        θ̂, inverted through that replicate's law.
        """
        f = self.frame
        point = f.effective_params(scores)
        par = np.asarray(params, dtype=float)
        act = par if active_params is None else np.asarray(active_params, dtype=float)
        Y = np.full((len(point), len(f.benchmarks)), np.nan)
        sc = scores.set_index("id") if "id" in scores.columns else scores
        for j, b in enumerate(f.benchmarks):
            if b in sc.columns:
                Y[:, j] = pd.to_numeric(sc[b], errors="coerce").to_numpy(float)
        ok = point["n_benchmarks"].to_numpy() >= f.min_benchmarks
        reps = np.full((len(self.replicate_fits), len(point)), np.nan)
        for i, rf in enumerate(self.replicate_fits):
            if rf is None or not ok.any():
                continue
            alpha, bcoef, sig, bounds = rf
            Yown = Y[ok]
            if self.resample_cells:
                rng = np.random.default_rng(np.random.SeedSequence([self.seed or 0, i, 7]))
                pred = f.predict_scores(point["theta"].to_numpy(float)[ok]).to_numpy()
                Yown = _residual_scores(rng, Yown, pred, _residual_pools(f))
            th = _theta_given_sigmoids(Yown, sig, bounds, f.f_scale)
            reps[i, ok] = _invert_arrays(
                th, alpha, bcoef, f.beta, f.d0, f.law == "with_tokens", bounds
            )
        out = point.copy()
        out["density"] = out["effective_params"] / act
        lo, hi = zip(
            *(percentile_interval(reps[:, j], self.level) for j in range(len(point))), strict=True
        )
        out["effective_params_lo"], out["effective_params_hi"] = lo, hi
        out["density_lo"] = out["effective_params_lo"] / act
        out["density_hi"] = out["effective_params_hi"] / act
        return out

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "frame": self.frame.describe(),
                "level": self.level,
                "groups": self.groups,
                "warm_start": self.warm_start,
                "n_resamples": int(self.density_replicates.shape[0]),
                "alpha_interval": percentile_interval(self.alpha_replicates, self.level),
                "densities": self.intervals().to_dict(orient="records"),
            }
        )

    def summary(self) -> str:
        d = self.intervals().sort_values("density", ascending=False)
        lines = [
            f"Score-frame bootstrap: {self.density_replicates.shape[0]} resamples, "
            f"{self.level:.0%} intervals, resampling by {self.groups}"
            f"{' (warm start)' if self.warm_start else ''}",
            f"  {'model':<40}{'density':>9}{'lo':>9}{'hi':>9}  status",
        ]
        for _, r in d.iterrows():
            lines.append(
                f"  {str(r['id'])[:40]:<40}{r['density']:>9.3g}{r['density_lo']:>9.3g}"
                f"{r['density_hi']:>9.3g}  {r['status']}"
            )
        return "\n".join(lines)


def _replicate(seed: np.random.SeedSequence, *, payload: dict) -> tuple:
    rng = np.random.default_rng(seed)
    Y, ref, params, tokens = payload["Y"], payload["ref"], payload["params"], payload["tokens"]
    ref_idx = np.flatnonzero(ref)
    non_idx = np.flatnonzero(~ref)
    for _ in range(1000):
        pick = ref_idx[resample_indices(rng, ref_idx.size)]
        if np.unique(params[pick]).size >= 3:
            break
    else:  # pragma: no cover - needs pathological data
        raise FitError("could not draw a reference resample with 3 distinct sizes")
    groups = payload["groups"]
    if non_idx.size:
        g = None if groups is None else np.asarray(groups)[non_idx]
        pick_non = non_idx[resample_indices(rng, non_idx.size, g)]
    else:
        pick_non = non_idx
    rows = np.r_[pick, pick_non]
    prob = _build_problem(
        Y[rows],
        ref[rows],
        params[rows],
        tokens[rows],
        payload["floors"],
        payload["with_tokens"],
        payload["beta"],
        payload["f_scale"],
        payload["alpha_fixed"],
    )
    try:
        if payload["warm"] is not None:
            sol = _warm_fit(prob, payload["warm"], payload["theta_fit"][rows])
        else:
            sol = _cold_fit(prob)
    except Exception:  # a failed replicate is recorded as NaN, never silently dropped
        n = Y.shape[0]
        return np.full(n, np.nan), np.full(n, np.nan), float("nan"), None
    Yown = Y
    if payload["resample_cells"]:
        Yown = _residual_scores(rng, Y, payload["own_pred"], payload["resid_pool"])
    own = _theta_given_sigmoids(Yown, sol.sig, sol.theta_bounds, payload["f_scale"])
    n_hat = _invert_arrays(
        own,
        sol.alpha,
        sol.bcoef,
        payload["beta"],
        payload["d0"],
        payload["with_tokens"],
        sol.theta_bounds,
    )
    return (
        n_hat / payload["active"],
        n_hat,
        sol.alpha,
        (sol.alpha, sol.bcoef, sol.sig, sol.theta_bounds),
    )


def _residual_pools(frame: ScoreFrame) -> list[np.ndarray]:
    """Per benchmark: residuals of the fitted models' scores at their own θ̂."""
    m = frame.models
    fit = m["in_fit"].to_numpy(bool)
    Y = frame.scores.to_numpy(float)[fit]
    pred = frame.predict_scores(m["theta"].to_numpy(float)[fit]).to_numpy()
    R = Y - pred
    return [R[~np.isnan(R[:, b]), b] for b in range(Y.shape[1])]


def _residual_scores(
    rng: np.random.Generator, Y: np.ndarray, pred: np.ndarray, pools: list[np.ndarray]
) -> np.ndarray:
    """Residual bootstrap of a model's own scores: fitted score at its own θ̂ plus a residual
    drawn from the same benchmark's pool (observed cells only, clipped to [0, 1])."""
    out = np.full(Y.shape, np.nan)
    for b, pool in enumerate(pools):
        m = ~np.isnan(Y[:, b])
        if pool.size == 0:
            out[m, b] = Y[m, b]
            continue
        out[m, b] = np.clip(pred[m, b] + rng.choice(pool, int(m.sum())), 0.0, 1.0)
    return out


def _invert_arrays(theta, alpha, bcoef, beta, d0, with_tokens, bounds) -> np.ndarray:
    floor = bcoef * (d0 / TOKEN_UNIT) ** (-beta) if with_tokens else 0.0
    x = theta - floor
    lo, hi = bounds
    tol = 1e-6 * (hi - lo)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n_hat = np.where(x > 0, PARAM_UNIT * np.abs(x) ** (-1.0 / alpha), np.inf)
    return np.where(theta <= lo + tol, np.inf, np.where(theta >= hi - tol, 0.0, n_hat))


def bootstrap_score_frame(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    spec: BootstrapSpec,
    *,
    reference_family: str,
    groups: Literal["model", "family"] = "model",
    frame: ScoreFrame | None = None,
    progress: Callable[[int], None] | None = None,
    resample_cells: bool = True,
    **fit_kwargs: Any,
) -> ScoreFrameBootstrap:
    """Bootstrap a score frame.

    Reference members and the other models are resampled separately (the reference resample
    keeps ≥ 3 distinct sizes); other models by model or by whole family (``groups``). Every
    replicate refits the frame (cold: the same multi-start search as the point fit; warm with
    ``spec.warm_start``) and recomputes every model's own θ̂ from its own scores under the
    refitted sigmoids, including models not drawn. With ``resample_cells`` (default) that θ̂
    is fitted on residual-bootstrap scores (fitted score at the model's own θ̂ plus a residual
    drawn from the same benchmark's pool), so the interval also carries the model's own-score
    uncertainty (how far benchmarks scatter around one capability), not only the frame's. Models with too few scores stay NaN with status ``insufficient_scores``.
    """
    if groups not in ("model", "family"):
        raise DensingInputError(f"unknown bootstrap grouping '{groups}'; use model or family")
    t0 = time.perf_counter()
    if frame is None:
        frame = fit_score_frame(models, scores, reference_family=reference_family, **fit_kwargs)
    m = frame.models
    fit = m["in_fit"].to_numpy(bool)
    Y = frame.scores.to_numpy(float)[fit]
    fam = m["family"].to_numpy()[fit]
    payload = {
        "Y": Y,
        "ref": m["is_reference"].to_numpy(bool)[fit],
        "params": m["params"].to_numpy(float)[fit],
        "tokens": m["tokens"].to_numpy(float)[fit],
        "active": m["active_params"].to_numpy(float)[fit],
        "floors": np.array(
            [
                np.nan if not frame.sigmoids.loc[b, "floor_fixed"] else frame.sigmoids.loc[b, "d"]
                for b in frame.benchmarks
            ]
        ),
        "with_tokens": frame.law == "with_tokens",
        "beta": frame.beta,
        "d0": frame.d0,
        "f_scale": frame.f_scale,
        "groups": fam if groups == "family" else None,
        "theta_fit": m["theta_fit"].to_numpy(float)[fit],
        "warm": None,
        "alpha_fixed": frame.alpha if frame.alpha_fixed else None,
        "resample_cells": resample_cells,
        "own_pred": frame.predict_scores(m["theta"].to_numpy(float)[fit]).to_numpy(),
        "resid_pool": _residual_pools(frame),
    }
    if spec.warm_start:
        sig = frame._sig_array()
        payload["warm"] = _Solution(
            theta=payload["theta_fit"],
            alpha=frame.alpha,
            bcoef=frame.token_coef,
            sig=sig,
            cost=0.0,
            nfev=0,
            success=True,
            message="",
            theta_bounds=frame.theta_bounds,
        )
    seeds = replicate_seeds(spec.seed, spec.n_resamples)
    fn = functools.partial(_replicate, payload=payload)
    out = parallel_replicates(fn, seeds, n_jobs=spec.n_jobs, progress=progress)
    n = len(m)
    nB = len(out)
    dens = np.full((nB, n), np.nan)
    eff = np.full((nB, n), np.nan)
    alphas = np.full(nB, np.nan)
    fits = []
    for i, (dv, ev, a, rf) in enumerate(out):
        dens[i, fit] = dv
        eff[i, fit] = ev
        alphas[i] = a
        fits.append(rf)
    return ScoreFrameBootstrap(
        frame=frame,
        ids=tuple(m["id"]),
        density_replicates=dens,
        effective_params_replicates=eff,
        alpha_replicates=alphas,
        replicate_fits=tuple(fits),
        resample_cells=resample_cells,
        seed=spec.seed,
        level=spec.level,
        groups=groups,
        warm_start=spec.warm_start,
        seconds=time.perf_counter() - t0,
    )


def obscaling_tables(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ObsScaling base-model CSV as (models, wide scores) tables for score mode.

    Sizes are given there in billions and token budgets in trillions; they are converted to
    raw counts. Benchmarks get harness-style names (mmlu, arc_challenge, hellaswag, winogrande,
    truthfulqa, gsm8k, xwinograd, humaneval).
    """
    raw = pd.read_csv(path)
    names = {
        "MMLU": "mmlu",
        "ARC-C": "arc_challenge",
        "HellaSwag": "hellaswag",
        "Winograd": "winogrande",
        "TruthfulQA": "truthfulqa",
        "GSM8K": "gsm8k",
        "XWinograd": "xwinograd",
        "HumanEval": "humaneval",
    }
    models = pd.DataFrame(
        {
            "id": raw["Model"].astype(str),
            "family": raw["Model Family"].astype(str),
            "params": raw["Model Size (B)"].astype(float) * 1e9,
            "active_params": raw["Model Size (B)"].astype(float) * 1e9,
            "tokens": raw["Pretraining Data Size (T)"].astype(float) * 1e12,
        }
    )
    scores = raw[list(names)].rename(columns=names)
    scores.index = models["id"].to_numpy()
    models.attrs["source"] = str(path)
    scores.attrs["source"] = str(path)
    return models, scores

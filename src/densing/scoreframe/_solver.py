"""The numerical core of a score frame (arrays only; the point fit and every replicate).

:func:`cold_fit` is the global search: α is profiled on a grid (the objective is flat and
multimodal in α), each grid point polished jointly with α fixed, the best polished with α free.
:func:`warm_fit` polishes from a given solution. :func:`theta_given_sigmoids` is each model's own
capability under fitted sigmoids (a global grid search per model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from densing.scoreframe._kernels import Cells, item_scores, law_theta
from densing.scoreframe._layout import LOGK_BOUNDS, ParamLayout
from densing.sigmoid import sigmoid_value

ALPHA_START = 0.3
#: Inner LSMR iterations per trust-region step (the default, min(m, n), costs ~2x the time for
#: the same optimum to < 1% in the densities' bootstrap bounds on the catalog's stitched frame).
LSMR_MAXITER = 40
ALPHA_GRID_UP = (0.45, 0.7, 1.1, 1.7)
ALPHA_GRID_DOWN = (0.2, 0.12, 0.07, 0.035)


@dataclass(frozen=True)
class Problem:
    """One fitting problem: instances (rows) × items, NaN = not observed."""

    Y: np.ndarray  # (n, B)
    is_ref: np.ndarray  # (n,) bool
    x_ref: np.ndarray  # (n,) ln(N / 1e9) (used for reference rows)
    z_ref: np.ndarray  # (n,) ln(D / 1e12) (used for reference rows with a D term)
    floors: np.ndarray  # (B,) fixed d_b, NaN = free
    with_tokens: bool
    beta: float
    f_scale: float
    alpha_fixed: float | None = None

    @classmethod
    def build(
        cls, Y, is_ref, params, tokens, floors, with_tokens, beta, f_scale, alpha_fixed=None
    ) -> Problem:
        x = np.log(params / 1e9)
        fin = np.isfinite(tokens)
        z = np.where(fin, np.log(np.where(fin, tokens, 1.0) / 1e12), 0.0)
        return cls(Y, is_ref, x, z, floors, with_tokens, beta, f_scale, alpha_fixed)

    def ref_theta(self, alpha: float, bcoef: float) -> np.ndarray:
        r = self.is_ref
        return law_theta(self.x_ref[r], self.z_ref[r], alpha, bcoef, self.beta, self.with_tokens)


@dataclass(frozen=True)
class Solution:
    theta: np.ndarray  # (n,) fitted θ of each instance (law-tied for reference rows)
    alpha: float
    bcoef: float
    sig: np.ndarray  # (B, 4): l, logk, u, d
    cost: float
    nfev: int
    success: bool
    message: str
    theta_bounds: tuple[float, float]


def soft_l1(r: np.ndarray, f: float) -> np.ndarray:
    return 2.0 * f * f * (np.sqrt(1.0 + (r / f) ** 2) - 1.0)


def theta_given_sigmoids(
    Y: np.ndarray,
    sig: np.ndarray,
    bounds: tuple[float, float],
    f_scale: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's own θ: global grid search then three zoom-ins (robust loss, observed cells).

    Only observed cells are evaluated (rows usually observe a few of many items): the grid
    cost of every cell is summed per row. ``weights`` (n × B) multiply each cell's loss.
    Rows without an observed cell get NaN.
    """
    n = Y.shape[0]
    lo, hi = bounds
    rows, cols = np.nonzero(~np.isnan(Y))
    if rows.size == 0:
        return np.full(n, np.nan)
    y = Y[rows, cols]
    w = np.ones(rows.size) if weights is None else weights[rows, cols]
    starts = np.searchsorted(rows, np.arange(n))  # cells are sorted by row (np.nonzero)
    has = np.bincount(rows, minlength=n) > 0
    mid, logk, u, d = (sig[cols, j] for j in range(4))
    c, gamma = u * (1.0 - d), -np.exp(logk)
    grid = np.broadcast_to(np.linspace(lo, hi, 481), (n, 481))
    step = (hi - lo) / 480
    best = np.full(n, np.nan)
    for _ in range(4):
        g = grid[rows]  # (cells, G)
        S = sigmoid_value(g, c[:, None], d[:, None], gamma[:, None], mid[:, None])
        cell_cost = w[:, None] * soft_l1(S - y[:, None], f_scale)
        cost = np.add.reduceat(cell_cost, starts[has], axis=0)  # (rows with cells, G)
        best[has] = grid[has][np.arange(cost.shape[0]), np.argmin(cost, axis=1)]
        grid = np.clip(np.nan_to_num(best)[:, None] + np.linspace(-step, step, 41)[None, :], lo, hi)
        step = step / 20
    return best


def _sigmoid_start(t: np.ndarray, y: np.ndarray, floor: float) -> np.ndarray:
    sd = max(float(np.std(t)), 1e-3)
    d0 = floor if not np.isnan(floor) else max(0.0, float(np.min(y)) - 0.01)
    u0 = min(0.99, max(0.05, (float(np.max(y)) - d0 + 0.05) / max(1 - d0, 1e-6)))
    return np.array([float(np.median(t)), math.log(3.0 / sd), u0, d0])


def fit_sigmoids_given_theta(
    theta: np.ndarray, Y: np.ndarray, floors: np.ndarray, f_scale: float, start: np.ndarray | None
) -> np.ndarray:
    """Each item's sigmoid (l, logk, u, d) for fixed θ (robust soft_l1)."""
    out = np.zeros((Y.shape[1], 4))
    for b in range(Y.shape[1]):
        m = ~np.isnan(Y[:, b])
        t, y, floor = theta[m], Y[m, b], floors[b]
        fixed = not np.isnan(floor)
        p0 = start[b].copy() if start is not None else _sigmoid_start(t, y, floor)

        def full(q: np.ndarray, f: float = floor, fixed: bool = fixed) -> np.ndarray:
            return np.r_[q, f] if fixed else q

        def res(q: np.ndarray, t: np.ndarray = t, y: np.ndarray = y) -> np.ndarray:
            return item_scores(t, full(q)[None, :])[:, 0] - y

        lb = np.array([-np.inf, LOGK_BOUNDS[0], 1e-4] + ([] if fixed else [0.0]))
        ub = np.array([np.inf, LOGK_BOUNDS[1], 1.0] + ([] if fixed else [0.999]))
        x0 = np.clip(p0[: lb.size], lb + 1e-9, ub - 1e-9)
        r = least_squares(res, x0, bounds=(lb, ub), loss="soft_l1", f_scale=f_scale, max_nfev=200)
        out[b] = full(r.x)
    return out


def joint(
    prob: Problem,
    start: Solution,
    *,
    max_nfev: int = 400,
    fix_alpha: bool = False,
    ftol: float = 1e-7,
) -> Solution:
    """Joint robust least-squares polish of all parameters from ``start`` (sparse Jacobian)."""
    free_rows = np.flatnonzero(~prob.is_ref)
    layout = ParamLayout.build(free_rows.size, prob.floors, prob.with_tokens)
    cells = Cells.build(prob.Y, prob.is_ref, prob.x_ref, prob.z_ref, layout, prob.beta)
    pattern = cells.sparsity()
    bounds = start.theta_bounds
    lb, ub = layout.bounds(bounds, start.alpha, fix_alpha)
    p0 = layout.pack(np.clip(start.theta[free_rows], *bounds), start.alpha, start.bcoef, start.sig)
    span = ub - lb
    eps = np.where(np.isfinite(span), 1e-6 * span, 0.0)
    r = least_squares(
        cells.residuals,
        np.clip(p0, lb + eps, ub - eps),
        jac=lambda p: cells.jacobian(p, pattern),
        bounds=(lb, ub),
        loss="soft_l1",
        f_scale=prob.f_scale,
        tr_solver="lsmr",
        x_scale="jac",
        max_nfev=max_nfev,
        ftol=ftol,
        method="trf",
        tr_options={"maxiter": LSMR_MAXITER},
    )
    p = r.x
    theta = np.empty(prob.Y.shape[0])
    theta[free_rows] = p[: layout.n_free]
    theta[prob.is_ref] = prob.ref_theta(p[layout.i_alpha], layout.token_coef(p))
    return Solution(
        theta=theta,
        alpha=float(p[layout.i_alpha]),
        bcoef=layout.token_coef(p),
        sig=layout.sigmoids(p),
        cost=float(r.cost),
        nfev=int(r.nfev),
        success=bool(r.success),
        message=str(r.message),
        theta_bounds=bounds,
    )


def strength(Y: np.ndarray) -> np.ndarray:
    """A crude per-row capability index: mean of per-item rank-normal scores."""
    Z = np.full_like(Y, np.nan)
    for b in range(Y.shape[1]):
        m = ~np.isnan(Y[:, b])
        v = Y[m, b]
        ranks = pd.Series(v).rank().to_numpy()
        Z[m, b] = (ranks - 0.5) / v.size - 0.5
    return np.nanmean(Z, axis=1)


def theta_bounds_for(ref_theta: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(ref_theta)), float(np.max(ref_theta))
    span = max(hi - lo, 1e-3)
    return (min(lo - 2.0 * span, -0.5 * span), hi + 2.0 * span)


def _initial(prob: Problem, alpha: float, bcoef: float) -> Solution:
    """θ from a rank-based capability index mapped onto the law's range, sigmoids given θ,
    each model's own θ given the sigmoids."""
    score = strength(prob.Y)
    ref = prob.is_ref
    th_ref = prob.ref_theta(alpha, bcoef)
    bounds = theta_bounds_for(th_ref)
    sr = score[ref]
    slope, icpt = np.polyfit(sr, th_ref, 1) if np.ptp(sr) > 0 else (0.0, float(np.mean(th_ref)))
    if slope >= 0:
        slope = -np.ptp(th_ref) / max(np.ptp(score), 1e-6)
        icpt = float(np.mean(th_ref)) - slope * float(np.mean(sr))
    theta = np.clip(icpt + slope * score, *bounds)
    theta[ref] = th_ref
    sig = fit_sigmoids_given_theta(theta, prob.Y, prob.floors, prob.f_scale, None)
    own = theta_given_sigmoids(prob.Y, sig, bounds, prob.f_scale)
    theta = np.where(ref, theta, own)
    return Solution(theta, alpha, bcoef, sig, np.inf, 0, False, "", bounds)


def map_to_alpha(prob: Problem, sol: Solution, alpha: float) -> Solution:
    """Carry a solution to a new α: affine map of θ matching the reference law's range."""
    ref = prob.is_ref
    old = sol.theta[ref]
    new = prob.ref_theta(alpha, sol.bcoef)
    slope, icpt = np.polyfit(old, new, 1) if np.ptp(old) > 0 else (1.0, 0.0)
    if slope <= 0:
        slope, icpt = 1.0, 0.0
    theta = icpt + slope * sol.theta
    theta[ref] = new
    sig = sol.sig.copy()
    sig[:, 0] = icpt + slope * sig[:, 0]
    sig[:, 1] = np.clip(sig[:, 1] - np.log(slope), *LOGK_BOUNDS)
    bounds = theta_bounds_for(new)
    return Solution(np.clip(theta, *bounds), alpha, sol.bcoef, sig, np.inf, 0, False, "", bounds)


def cold_fit(prob: Problem) -> Solution:
    """Global search over the law exponent, then a joint polish (see the module docstring)."""
    a0 = prob.alpha_fixed if prob.alpha_fixed is not None else ALPHA_START
    init = _initial(prob, a0, 0.1 if prob.with_tokens else 0.0)
    if prob.alpha_fixed is not None:
        return joint(prob, init, fix_alpha=True, ftol=1e-6, max_nfev=100)
    start = joint(prob, init, fix_alpha=True, ftol=1e-5, max_nfev=60)
    profile = {a0: start}
    for direction in (ALPHA_GRID_UP, ALPHA_GRID_DOWN):
        prev = start
        for a in direction:
            prev = joint(prob, map_to_alpha(prob, prev, a), fix_alpha=True, ftol=1e-5, max_nfev=40)
            profile[a] = prev
    best = profile[min(profile, key=lambda a: profile[a].cost)]
    final = joint(prob, best, max_nfev=60, ftol=1e-6)
    return final if final.cost <= best.cost else best


def warm_fit(prob: Problem, start: Solution, theta0: np.ndarray) -> Solution:
    """Polish from ``start`` with the given initial θ (bootstrap replicates' fast mode)."""
    alpha = start.alpha if prob.alpha_fixed is None else prob.alpha_fixed
    s = Solution(theta0, alpha, start.bcoef, start.sig, np.inf, 0, False, "", start.theta_bounds)
    return joint(prob, s, max_nfev=60, ftol=1e-6, fix_alpha=prob.alpha_fixed is not None)


def alpha_grid() -> list[float]:
    return sorted([ALPHA_START, *ALPHA_GRID_UP, *ALPHA_GRID_DOWN])

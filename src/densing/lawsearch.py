"""The global search behind :func:`densing.laws.fit_loss_law`, as named steps.

For fixed exponents the linear-space model is linear in the coefficients, so a grid over the
exponents with a (batched) non-negative least-squares solve of ``Σ ((X c − L)/L)²`` — a
first-order match to the log residual — gives a good coefficient vector for every grid point
(:func:`_grid_starts`). The real objective ranks the grid points; phase 1 descends from the best
distinct ones with NLopt's low-storage BFGS (:func:`_descend`), phase 2 polishes the best of
them with L-BFGS-B to a tight tolerance, and :class:`Convergence` reports how many starts
reached the best value (:func:`_search`). The objective and its gradient are the form's
log-sum-exp prediction inlined on a precomputed layout (:class:`_Problem`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from densing._json import to_jsonable

if TYPE_CHECKING:
    from densing.laws import LawForm

# ---------------------------------------------------------------------- objectives


def _rho(objective: str, delta: float) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Per-residual loss and its derivative."""
    if objective == "huber-log":

        def huber(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            a = np.abs(r)
            val = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
            return val, np.clip(r, -delta, delta)

        return huber

    def square(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return 0.5 * r * r, r

    return square


@dataclass(frozen=True)
class _Problem:
    form: LawForm
    logN: np.ndarray
    logD: np.ndarray
    logL: np.ndarray
    L: np.ndarray
    objective: str
    delta: float

    @property
    def scale(self) -> float:
        """The optimiser sees the objective divided by this (1 up to 256 points, then n/256):
        a sum over 200,000 points otherwise leaves L-BFGS-B's gradient tolerance meaningless
        and its line search ends ABNORMAL. Reported objective values are unscaled sums."""
        return max(1.0, self.L.size / 256.0)

    def __post_init__(self) -> None:
        # The optimiser calls value_grad tens of thousands of times on ~100 points, where
        # numpy's per-call overhead dominates: precompute the form's layout once (a term's
        # log-variable, 0 for a constant; its exponent's slot, the last one holding 0).
        lvs = self.form._logvars(self.logN, self.logD)
        n_exp = len(self.form.exponent_names)
        V = np.zeros((len(self.form.terms), self.logN.shape[0]))
        slot = np.full(len(self.form.terms), n_exp)
        for i, (lv, e) in enumerate(zip(lvs, self.form.exponent_index, strict=True)):
            if lv is not None and e is not None:
                V[i], slot[i] = lv, e
        collect = np.zeros((n_exp, len(self.form.terms)))  # sums terms sharing an exponent
        collect[slot[slot < n_exp], np.flatnonzero(slot < n_exp)] = 1.0
        object.__setattr__(self, "_layout", (V, slot, collect))

    def value_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The (scaled) objective and its gradient: :meth:`LawForm.log_predict` inlined on
        the precomputed layout (equal to it; a test holds the two together)."""
        V, slot, collect = self._layout  # type: ignore[attr-defined]
        rho = _rho(self.objective, self.delta)
        k = V.shape[0]
        x = np.append(theta[k:], 0.0)[slot]
        z = theta[:k, None] - x[:, None] * V
        zmax = z.max(axis=0)
        ez = np.exp(z - zmax)
        s = ez.sum(axis=0)
        logp = zmax + np.log(s)
        w = ez / s
        if self.objective == "lsq":
            p = np.exp(logp)
            val, psi = rho(p - self.L)
            psi = psi * p
        else:
            val, psi = rho(logp - self.logL)
        g_terms = w @ psi
        g_exp = collect @ -((w * V) @ psi)
        return float(val.sum()) / self.scale, np.concatenate([g_terms, g_exp]) / self.scale

    def values_at(self, theta_batch: np.ndarray) -> np.ndarray:
        """Objective for many θ at once (G × p) — used on the grid."""
        V, slot, _ = self._layout  # type: ignore[attr-defined]
        k = V.shape[0]
        out = np.empty(theta_batch.shape[0])
        rho = _rho(self.objective, self.delta)
        step = _chunk(self.L.size, k)
        for s in range(0, theta_batch.shape[0], step):
            tb = theta_batch[s : s + step]
            x = np.hstack([tb[:, k:], np.zeros((tb.shape[0], 1))])[:, slot]
            z = tb[:, :k, None] - x[:, :, None] * V[None, :, :]
            zmax = z.max(axis=1)
            logp = zmax + np.log(np.exp(z - zmax[:, None, :]).sum(axis=1))
            r = np.exp(logp) - self.L if self.objective == "lsq" else logp - self.logL
            out[s : s + step] = rho(r)[0].sum(axis=1) / self.scale
        return out


def _chunk(n_points: int, n_terms: int, budget: int = 20_000_000) -> int:
    """Grid points per batch so that a batch holds at most ``budget`` floats."""
    return int(max(1, min(512, budget // max(1, n_points * n_terms))))


# --------------------------------------------------------------- batched NNLS grid


def _batched_nnls(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact NNLS for few columns, batched: min ||X_g c − y||², c ≥ 0, for every g.

    Enumerates the active sets (2^k − 1 for k columns), solves each by batched
    normal equations, and keeps the best feasible one. Returns (coefs G×k, sse G).
    """
    G, _, k = X.shape
    XtX = np.einsum("gni,gnj->gij", X, X)
    Xty = np.einsum("gni,n->gi", X, y)
    yty = float(y @ y)
    best = np.full(G, np.inf)
    coefs = np.zeros((G, k))
    ridge = 1e-12
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            idx = np.array(subset)
            A = XtX[:, idx[:, None], idx[None, :]]
            b = Xty[:, idx]
            scale = np.sqrt(np.einsum("gii->gi", A)) + 1e-300
            As = A / (scale[:, :, None] * scale[:, None, :]) + ridge * np.eye(size)
            with np.errstate(all="ignore"):
                cs = np.linalg.solve(As, (b / scale)[..., None])[..., 0] / scale
                sse = yty - 2 * np.einsum("gi,gi->g", cs, b) + np.einsum("gi,gij,gj->g", cs, A, cs)
            ok = np.all(cs > 0, axis=1) & np.isfinite(sse) & (sse < best)
            best = np.where(ok, sse, best)
            full = np.zeros((G, k))
            full[:, idx] = cs
            coefs = np.where(ok[:, None], full, coefs)
    return coefs, best


def default_exponent_grid(n_exponents: int, points: int | None = None) -> np.ndarray:
    """Exponent grid (G × n_exponents) over [0.02, 2.0], denser at small exponents."""
    if n_exponents == 0:
        return np.zeros((1, 0))
    points = points or (48 if n_exponents == 1 else 24)
    axis = np.geomspace(0.02, 2.0, points)
    return np.array(list(itertools.product(axis, repeat=n_exponents)))


@dataclass(frozen=True)
class Convergence:
    """How the global search went (reported honestly, not just 'success')."""

    n_grid: int
    n_polished: int
    n_at_best: int  # polished starts within 1e-6 (relative) of the best objective
    converged: bool  # the best start's optimiser reported success
    message: str
    n_iterations: int

    def to_dict(self) -> dict:
        return to_jsonable(self.__dict__)


def _minimize(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.minimize`, imported on first use (predicting needs no optimiser,
    which keeps the CLI's start-up short)."""
    from scipy.optimize import minimize

    return minimize(*args, **kwargs)


def _grid_starts(prob: _Problem, grid: np.ndarray, n_polish: int) -> tuple[list[np.ndarray], int]:
    """The ``n_polish`` best distinct grid points: exact NNLS coefficients for every exponent
    vector, ranked by the real objective (starts whose exponents neighbour a kept one skipped)."""
    form = prob.form
    k = len(form.terms)
    w = 1.0 / prob.L
    step = _chunk(prob.L.size, k)
    coefs = np.vstack(
        [
            _batched_nnls(
                form.basis(grid[s : s + step], prob.logN, prob.logD) * w[None, :, None],
                np.ones_like(prob.L),
            )[0]
            for s in range(0, grid.shape[0], step)
        ]
    )
    ok = np.all(coefs > 0, axis=1)
    if not ok.any():  # allow zero coefficients: floor them at a tiny positive value
        ok = np.any(coefs > 0, axis=1)
    # floor zero coefficients relative to their own grid point (not the whole grid)
    coefs = np.maximum(coefs, 1e-12 * coefs.max(axis=1, keepdims=True))
    thetas = np.hstack([np.log(coefs), grid])[ok]
    order = np.argsort(prob.values_at(thetas))
    kept: list[int] = []
    for i in order:
        if len(kept) >= n_polish:
            break
        e = np.log(thetas[i, k:])
        if all(np.max(np.abs(e - np.log(thetas[j, k:]))) > 0.12 for j in kept):
            kept.append(int(i))
    return [thetas[i] for i in kept], int(ok.sum())


def _descend(
    prob: _Problem, start: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[float, np.ndarray]:
    """Phase 1 from one start: NLopt's low-storage BFGS with bounds (Luksan's), until an
    iteration improves f by less than 1e-12 · max(|f|, 1). NLopt drives its iterations in C:
    per evaluation it costs about half of :func:`scipy.optimize.minimize`'s L-BFGS-B, which was
    most of a bootstrap replicate's search, and its starts agree more closely (flat valleys of
    the Chinchilla objectives end within 1e-12 instead of 1e-5). Returns the best point seen
    (also when NLopt stops on a round-off limit)."""
    import nlopt

    best = [np.inf, np.clip(start, lo, hi)]

    def f(x: np.ndarray, grad: np.ndarray) -> float:
        v, g = prob.value_grad(x)
        if grad.size:
            grad[:] = g
        if v < best[0]:
            best[0], best[1] = v, x.copy()
        return v

    opt = nlopt.opt(nlopt.LD_LBFGS, lo.size)
    opt.set_lower_bounds(lo)
    opt.set_upper_bounds(hi)
    opt.set_min_objective(f)
    opt.set_ftol_abs(1e-12)
    opt.set_ftol_rel(1e-12)
    opt.set_vector_storage(20)
    opt.set_maxeval(2000)
    # a round-off stop or NLopt's generic failure (seen at optima of flat valleys): the best
    # point seen stands, and the tight polish continues from it
    with contextlib.suppress(nlopt.RoundoffLimited, nlopt.runtime_error):
        opt.optimize(best[1])
    return float(best[0]), best[1]


def _search(
    prob: _Problem,
    grid: np.ndarray,
    n_polish: int,
    x0: np.ndarray | None = None,
) -> tuple[np.ndarray, float, Convergence]:
    """Global search: phase 1 descends from the grid's best distinct starts (or from ``x0``)
    to a moderate tolerance; phase 2 polishes the best of them with L-BFGS-B to a tight one."""
    form = prob.form
    k = len(form.terms)
    n_exp = len(form.exponent_names)
    lo = np.array([-50.0] * k + [0.0] * n_exp)
    hi = np.array([50.0] * k + [5.0] * n_exp)
    if x0 is None:
        starts, n_grid = _grid_starts(prob, grid, n_polish)
    else:
        starts, n_grid = [np.asarray(x0, dtype=float)], 0
    results = [_descend(prob, s, lo, hi) for s in starts]
    f1, x1 = min(results, key=lambda r: r[0])
    tol = 1e-6 * max(abs(f1), 1e-300)
    n_at_best = sum(1 for r in results if r[0] - f1 <= tol)
    best = _minimize(
        prob.value_grad,
        x1,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-11, "maxcor": 20},
    )
    x, f = (best.x, float(best.fun)) if best.fun <= f1 else (x1, f1)
    converged, message = _phase2_verdict(prob, best, x, f, lo, hi)
    conv = Convergence(
        n_grid=n_grid,
        n_polished=len(results),
        n_at_best=n_at_best,
        converged=converged,
        message=message,
        n_iterations=int(best.nit),
    )
    return x, f * prob.scale, conv


ROUNDOFF_GRADIENT = 1e-6  # projected gradient (relative to max(|f|, 1)) of a round-off stop


def _phase2_verdict(
    prob: _Problem, best: Any, x: np.ndarray, f: float, lo: np.ndarray, hi: np.ndarray
) -> tuple[bool, str]:
    """Did the tight polish converge? L-BFGS-B's own verdict, except that a line search which
    cannot decrease f at all (``ABNORMAL`` before its first step) from a point whose projected
    gradient is below ``ROUNDOFF_GRADIENT`` is the round-off limit of an optimum that phase 1
    already reached, not a failure; the message says which."""
    if best.success or best.nit > 0:
        return bool(best.success), str(best.message)
    _, g = prob.value_grad(x)
    g = np.where(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)), 0.0, g)
    pg = float(np.max(np.abs(g), initial=0.0))
    if pg <= ROUNDOFF_GRADIENT * max(abs(f), 1.0):
        return True, f"at the round-off limit (projected gradient {pg:.1e}): {best.message}"
    return False, str(best.message)

"""Loss → score sigmoid ``S(L) = c / (1 + exp(-γ (L - l))) + d`` and its inverse.

γ < 0 in this parametrisation: the score falls as the loss rises. For fractional
scores the fit respects ``0 ≤ d``, ``c > 0`` and ``c + d ≤ 1`` exactly, through the
reparametrisation ``c = u · (1 - d)`` with ``u ∈ (0, 1]`` and ``d ∈ [0, 1)``; an
optional fixed chance-level ``floor`` pins ``d``.

Fitting is robust and global over a small grid: for every start ``(l, γ)`` of the
grid the model is linear in ``(c, d)``, so starting values for ``c`` and ``d`` come
from a clipped linear least-squares solve; every start is then polished with
:func:`scipy.optimize.least_squares` (bounded, robust loss) and the best is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy.special import expit

from densing.bootstrap import BootstrapSpec, percentile_interval, resampled
from densing.errors import DensingInputError, FitError

LossFn = Literal["soft_l1", "linear", "huber"]
PARAM_NAMES = ("c", "d", "gamma", "l")
_EPS_U = 1e-9  # lower bound on u = c / (1 - d): c > 0 strictly
_D_MAX = 1.0 - 1e-9


@dataclass(frozen=True)
class InverseResult:
    """Losses implied by scores, with a status per score.

    ``status`` is ``"ok"`` (finite loss), ``"above_range"`` (S ≥ c + d: no finite loss
    reaches it; the loss is ``-inf``, better than any reachable) or ``"below_range"``
    (S ≤ d: the loss is ``+inf``).
    """

    loss: np.ndarray
    status: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss.tolist(), "status": self.status.tolist()}


@dataclass(frozen=True)
class SigmoidFit:
    """A fitted loss → score sigmoid."""

    c: float
    d: float
    gamma: float
    l: float  # noqa: E741  (the paper's name for the midpoint)
    n_points: int
    cost: float
    converged: bool
    loss_fn: str = "soft_l1"
    f_scale: float = 0.05
    floor: float | None = None
    fractional: bool = True
    message: str = ""
    ceiling: float | None = None  # fixed top c + d
    at_bound: tuple[str, ...] = ()  # constraints active at the optimum (d=0, c+d=1, ...)

    @property
    def params(self) -> dict[str, float]:
        return {"c": self.c, "d": self.d, "gamma": self.gamma, "l": self.l}

    @property
    def fixed(self) -> tuple[str, ...]:
        """Quantities fixed by the user: ``d`` (a floor) and ``c+d`` (a ceiling)."""
        return (("d",) if self.floor is not None else ()) + (
            ("c+d",) if self.ceiling is not None else ()
        )

    @property
    def pinned(self) -> tuple[str, ...]:
        """Parameters without an interval: fixed, or held at a bound by active constraints.

        ``d`` is pinned by a floor or at 0; ``c`` is pinned when ``d`` is and ``c + d`` is
        fixed or at 1; ``gamma`` / ``l`` when at their search bounds.
        """
        d = "d" in self.fixed or "d=0" in self.at_bound
        top = "c+d" in self.fixed or "c+d=1" in self.at_bound
        out = (("c",) if d and top else ()) + (("d",) if d else ())
        return out + tuple(n for n in ("gamma", "l") if n in self.at_bound)

    @property
    def score_range(self) -> tuple[float, float]:
        """Open interval ``(d, c + d)`` of scores with a finite loss."""
        return (self.d, self.c + self.d)

    def predict(self, loss: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Score at ``loss`` (array in, array out)."""
        return sigmoid_value(loss, self.c, self.d, self.gamma, self.l)

    def inverse(self, score: float | Sequence[float] | np.ndarray) -> InverseResult:
        """Loss at which the sigmoid reaches ``score``, with explicit out-of-range status.

        ``L = l - (1/γ) · ln(c / (S - d) - 1)`` for ``d < S < c + d`` (:func:`sigmoid_inverse`).
        """
        S = np.atleast_1d(np.asarray(score, dtype=float))
        bad = np.flatnonzero(~np.isfinite(S))
        if bad.size:
            raise DensingInputError(
                f"score {S[bad[0]]!r} is not finite", row=int(bad[0]) + 1, column="score"
            )
        loss, status = sigmoid_inverse(S, self.c, self.d, self.gamma, self.l)
        return InverseResult(loss=loss, status=status)

    def summary(self) -> str:
        lines = [
            "Sigmoid S(L) = c / (1 + exp(-gamma (L - l))) + d",
            f"  {'param':<8}{'estimate':>14}",
        ]
        for k, v in self.params.items():
            lines.append(f"  {k:<8}{v:>14.6g}")
        lines.append(
            f"  n_points={self.n_points}  cost={self.cost:.4g}  loss={self.loss_fn}"
            f"  converged={self.converged}"
            + (f"  floor={self.floor:g}" if self.floor is not None else "")
            + (f"  ceiling={self.ceiling:g}" if self.ceiling is not None else "")
            + (f"  at bound: {', '.join(self.at_bound)}" if self.at_bound else "")
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "n_points": self.n_points,
            "cost": self.cost,
            "converged": self.converged,
            "loss_fn": self.loss_fn,
            "f_scale": self.f_scale,
            "floor": self.floor,
            "fractional": self.fractional,
            "message": self.message,
            "ceiling": self.ceiling,
            "at_bound": list(self.at_bound),
        }


# ------------------------------------------------------------------------------ kernels
# The one implementation of the sigmoid, its inverse and its derivatives; every module (loss
# frames, score frames, bootstrap replicates) calls these. All broadcast over their inputs.


def sigmoid_value(x: Any, c: Any, d: Any, gamma: Any, l: Any) -> np.ndarray:  # noqa: E741
    """``d + c / (1 + exp(-γ (x - l)))``."""
    x = np.asarray(x, dtype=float)
    return np.asarray(d, dtype=float) + np.asarray(c, dtype=float) * expit(
        np.asarray(gamma, dtype=float) * (x - np.asarray(l, dtype=float))
    )


def sigmoid_inverse(
    score: Any,
    c: Any,
    d: Any,
    gamma: Any,
    l: Any,  # noqa: E741
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` at which the sigmoid reaches ``score``, with a status per value.

    ``ok`` (finite x); ``above_range`` (score ≥ c + d: x = -inf for γ < 0, better than any
    reachable); ``below_range`` (score ≤ d: x = +inf); ``failed`` (NaN score or parameters:
    x NaN). Rounding at the very edge of the range that gives ±inf is flagged out of range,
    never returned as a silent value.
    """
    S, c, d, gamma, l = np.broadcast_arrays(  # noqa: E741
        *(np.asarray(v, dtype=float) for v in (score, c, d, gamma, l))
    )
    x = np.full(S.shape, np.nan)
    status = np.full(S.shape, "failed", dtype=object)
    valid = np.isfinite(c) & np.isfinite(d) & np.isfinite(gamma) & np.isfinite(l) & np.isfinite(S)
    above = valid & (c + d <= S)
    below = valid & (d >= S)
    ok = valid & ~above & ~below
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        val = l - np.log(c / (S - d) - 1.0) / gamma
    x[ok] = val[ok]
    status[ok] = "ok"
    x[above] = -np.inf
    status[above] = "above_range"
    x[below] = np.inf
    status[below] = "below_range"
    status[ok & np.isneginf(x)] = "above_range"
    status[ok & np.isposinf(x)] = "below_range"
    return x, status.astype(str)


@dataclass(frozen=True)
class SigmoidPartials:
    """Derivatives of ``S = d + c·e`` with ``e = expit(γ (x − l))``."""

    e: np.ndarray  # expit(γ (x − l))
    dx: np.ndarray
    dc: np.ndarray
    dd: np.ndarray
    dgamma: np.ndarray
    dl: np.ndarray


def sigmoid_partials(x: Any, c: Any, d: Any, gamma: Any, l: Any) -> SigmoidPartials:  # noqa: E741
    """All first derivatives of :func:`sigmoid_value` (broadcast)."""
    x, c, d, gamma, l = np.broadcast_arrays(  # noqa: E741
        *(np.asarray(v, dtype=float) for v in (x, c, d, gamma, l))
    )
    e = expit(gamma * (x - l))
    g = c * e * (1.0 - e)
    return SigmoidPartials(
        e=e, dx=g * gamma, dc=e, dd=np.ones_like(e), dgamma=g * (x - l), dl=-g * gamma
    )


def _validate(loss: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    L = np.asarray(loss, dtype=float).ravel()
    S = np.asarray(score, dtype=float).ravel()
    if L.shape != S.shape:
        raise DensingInputError(f"loss has {L.size} values but score has {S.size}")
    for name, arr in (("loss", L), ("score", S)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DensingInputError(
                f"value {arr[bad[0]]!r} is not finite", row=int(bad[0]) + 1, column=name
            )
    return L, S


@dataclass(frozen=True)
class _Problem:
    L: np.ndarray
    S: np.ndarray
    floor: float | None
    fractional: bool
    loss_fn: str
    f_scale: float
    ceiling: float | None = None

    # Free parameters, in this order: d (unless a floor fixes it); the scale (unless a ceiling
    # fixes c + d): u = c / (1 - d) for fractional scores, c otherwise; gamma; l.
    @property
    def names(self) -> tuple[str, ...]:
        scale = () if self.ceiling is not None else ("u" if self.fractional else "c",)
        return (() if self.floor is not None else ("d",)) + scale + ("gamma", "l")

    def unpack(self, x: np.ndarray) -> tuple[float, float, float, float]:
        v = dict(zip(self.names, (float(t) for t in x), strict=True))
        d = self.floor if self.floor is not None else v["d"]
        if self.ceiling is not None:
            c = self.ceiling - d
        else:
            c = v["u"] * (1.0 - d) if self.fractional else v["c"]
        return float(c), float(d), v["gamma"], v["l"]

    def pack(self, c: float, d: float, gamma: float, l: float) -> np.ndarray:  # noqa: E741
        v = {"d": d, "u": c / (1.0 - d) if self.fractional else c, "c": c, "gamma": gamma, "l": l}
        return np.array([v[n] for n in self.names])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        span = max(float(np.ptp(self.L)), 1e-6)
        top = _D_MAX if self.fractional else np.inf
        if self.ceiling is not None:
            top = self.ceiling - 1e-9
        box = {
            "d": (0.0 if self.fractional else -np.inf, top),
            "u": (_EPS_U, 1.0),
            "c": (1e-12, np.inf),
            "gamma": (-1e3 / span, -1e-6 / span),
            "l": (float(self.L.min()) - 5 * span, float(self.L.max()) + 5 * span),
        }
        lo, hi = zip(*(box[n] for n in self.names), strict=True)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        c, d, gamma, l = self.unpack(x)  # noqa: E741
        return sigmoid_value(self.L, c, d, gamma, l) - self.S

    def jac(self, x: np.ndarray) -> np.ndarray:
        c, d, gamma, l = self.unpack(x)  # noqa: E741
        p = sigmoid_partials(self.L, c, d, gamma, l)
        # d enters directly and through c: c = V - d (ceiling), c = u (1 - d) (fractional)
        dc_dd = -1.0 if self.ceiling is not None else (-c / (1.0 - d) if self.fractional else 0.0)
        col = {
            "d": p.dd + dc_dd * p.dc,
            "u": p.dc * (1.0 - d),
            "c": p.dc,
            "gamma": p.dgamma,
            "l": p.dl,
        }
        return np.column_stack([col[n] for n in self.names])

    def at_bound(self, x: np.ndarray) -> tuple[str, ...]:
        """Constraints active at ``x`` (``d=0``, ``c+d=1``, ``gamma``, ``l``), for reports."""
        lo, hi = self.bounds()
        span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        tol = np.where(np.isin(self.names, ("d", "u")), 1e-5, 1e-6 * span)
        out = []
        for j, n in enumerate(self.names):
            if n == "d" and x[j] - lo[j] <= tol[j] and self.fractional:
                out.append("d=0")
            elif n == "u" and hi[j] - x[j] <= tol[j]:
                out.append("c+d=1")
            elif n in ("gamma", "l") and min(x[j] - lo[j], hi[j] - x[j]) <= tol[j]:
                out.append(n)
        return tuple(out)


def _linear_cd(s: np.ndarray, prob: _Problem) -> tuple[float, float]:
    """Least-squares (c, d) for a fixed sigmoid shape ``s``, clipped into the bounds."""
    S, floor, ceiling, fractional = prob.S, prob.floor, prob.ceiling, prob.fractional
    if floor is not None and ceiling is not None:
        return ceiling - floor, floor
    if ceiling is not None:  # S = d + (V - d) s = V s + d (1 - s)
        w = 1.0 - s
        denom = float(w @ w)
        d = float(w @ (S - ceiling * s)) / denom if denom > 0 else 0.0
        lo = 0.0 if fractional else -np.inf
        d = min(max(d, lo), ceiling - 0.02 * max(abs(ceiling), 1e-3))
        return ceiling - d, d
    if floor is not None:
        d = floor
        denom = float(s @ s)
        c = float(s @ (S - d)) / denom if denom > 0 else 0.5
    else:
        X = np.column_stack([s, np.ones_like(s)])
        (c, d), *_ = np.linalg.lstsq(X, S, rcond=None)
        c, d = float(c), float(d)
    if fractional:
        d = min(max(d, 0.0), 0.99) if floor is None else d
        c = min(max(c, 0.02 * (1.0 - d)), (1.0 - d) * (1.0 - 1e-6))
    else:
        c = max(c, 1e-6)
    return c, d


def _starts(prob: _Problem, n_l: int = 5, gammas: Sequence[float] = (1.0, 3.0, 10.0, 30.0)):
    span = max(float(np.ptp(prob.L)), 1e-6)
    ls = np.quantile(prob.L, np.linspace(0.1, 0.9, n_l))
    lo, hi = prob.bounds()
    for l0 in ls:
        for g in gammas:
            gamma = -g / span
            s = sigmoid_value(prob.L, 1.0, 0.0, gamma, float(l0))
            c, d = _linear_cd(s, prob)
            x0 = prob.pack(c, d, gamma, float(l0))
            yield np.clip(x0, lo, hi)


_SCREEN_POINTS = 2000


def _screen(prob: _Problem) -> _Problem:
    """The problem on at most ``_SCREEN_POINTS`` points evenly spaced in loss order (the
    extremes kept, so the bounds are unchanged): enough to build and rank the grid's starts,
    which every fit then polishes on all the points."""
    n = prob.L.size
    if n <= _SCREEN_POINTS:
        return prob
    order = np.argsort(prob.L, kind="stable")
    keep = order[np.linspace(0, n - 1, _SCREEN_POINTS).round().astype(int)]
    return replace(prob, L=prob.L[keep], S=prob.S[keep])


def _robust_cost(prob: _Problem, x: np.ndarray) -> float:
    z = (prob.residuals(x) / prob.f_scale) ** 2
    if prob.loss_fn == "soft_l1":
        rho = 2.0 * (np.sqrt(1.0 + z) - 1.0)
    elif prob.loss_fn == "huber":
        rho = np.where(z <= 1, z, 2.0 * np.sqrt(z) - 1.0)
    else:
        rho = z
    return float(0.5 * prob.f_scale**2 * rho.sum())


def _solve(prob: _Problem, starts, n_polish: int = 6) -> tuple[np.ndarray, float, bool, str]:
    """Polish the ``n_polish`` grid starts of lowest initial cost (ranked on the screening
    points, :func:`_screen`); keep the best result."""
    lo, hi = prob.bounds()
    starts = list(starts)
    if len(starts) > n_polish:
        rank = _screen(prob)
        costs = np.array([_robust_cost(rank, np.clip(x, lo, hi)) for x in starts])
        starts = [starts[i] for i in np.argsort(costs)[:n_polish]]
    from scipy.optimize import least_squares  # lazy: predicting needs no optimiser

    best = None
    for x0 in starts:
        x0 = np.clip(x0, lo, hi)
        try:
            r = least_squares(
                prob.residuals,
                x0,
                jac=prob.jac,
                bounds=(lo, hi),
                loss=prob.loss_fn,
                f_scale=prob.f_scale,
                method="trf",
                x_scale="jac",
                max_nfev=2000,
            )
        except np.linalg.LinAlgError:  # pragma: no cover - numerical failure
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None:
        raise FitError("the sigmoid fit failed from every start")
    return best.x, float(best.cost), bool(best.status > 0), str(best.message)


def _check_fixed(floor: float | None, ceiling: float | None, fractional: bool) -> None:
    for name, v in (("floor", floor), ("ceiling", ceiling)):
        if v is None:
            continue
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
        if fractional and name == "floor" and not 0 <= v < 1:
            raise ValueError(f"floor must be in [0, 1) for fractional scores, got {v}")
        if fractional and name == "ceiling" and not 0 < v <= 1:
            raise ValueError(f"ceiling must be in (0, 1] for fractional scores, got {v}")
    if floor is not None and ceiling is not None and not floor < ceiling:
        raise ValueError(f"floor {floor} must be below ceiling {ceiling}")


def _start_from(prob: _Problem, fit: SigmoidFit) -> np.ndarray:
    """A start vector from a fitted sigmoid, moved inside this problem's constraints."""
    d0 = fit.d if not prob.fractional else min(max(fit.d, 0.0), 0.99)
    d0 = prob.floor if prob.floor is not None else d0
    if prob.ceiling is not None:
        d0 = min(d0, prob.ceiling - 1e-6)
    c0 = min(fit.c, (1 - d0) * (1 - 1e-6)) if prob.fractional else fit.c
    return prob.pack(c0, d0, fit.gamma, fit.l)


def fit_sigmoid(
    loss: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    floor: float | None = None,
    fractional: bool = True,
    loss_fn: LossFn = "soft_l1",
    f_scale: float = 0.05,
    x0: SigmoidFit | None = None,
    ceiling: float | None = None,
    n_polish: int = 6,
    also_start: SigmoidFit | None = None,
) -> SigmoidFit:
    """Fit ``S = c / (1 + exp(-γ (L - l))) + d`` (γ < 0) to (loss, score) pairs.

    ``floor`` fixes ``d`` (e.g. chance level 0.25 for 4-way multiple choice); ``ceiling``
    fixes the top ``c + d`` (e.g. 1 for a benchmark that a strong enough model solves).
    ``fractional`` enforces ``0 ≤ d``, ``c > 0``, ``c + d ≤ 1``. ``loss_fn`` and
    ``f_scale`` are passed to :func:`scipy.optimize.least_squares` (``f_scale`` is the
    residual size, in score units, beyond which the robust loss down-weights).
    ``x0``: start only from this fit (fast warm start) instead of the global grid;
    ``also_start``: a fit added to the grid's starts (e.g. the fit on all the data, for a
    bootstrap replicate); ``n_polish``: how many of the best starts (lowest cost) are
    polished. Constraints active at
    the optimum are listed in ``at_bound`` (``d=0``, ``c+d=1``, ``gamma``, ``l``).
    """
    L, S = _validate(loss, score)
    if loss_fn not in ("soft_l1", "linear", "huber"):
        raise ValueError(f"loss_fn must be 'soft_l1', 'linear' or 'huber', got {loss_fn!r}")
    _check_fixed(floor, ceiling, fractional)
    prob = _Problem(L, S, floor, fractional, loss_fn, float(f_scale), ceiling)
    n_par = len(prob.names)
    if L.size < n_par + 1:
        raise DensingInputError(
            f"{L.size} (loss, score) points are too few to fit a sigmoid with {n_par} free "
            f"parameters; need at least {n_par + 1}"
        )
    if np.ptp(L) <= 0:
        raise DensingInputError("all losses are equal: the sigmoid is not identifiable")
    if x0 is not None:
        starts = [_start_from(prob, x0)]
    else:
        starts = list(_starts(_screen(prob)))
        starts += [] if also_start is None else [_start_from(prob, also_start)]
    x, cost, conv, msg = _solve(prob, starts, n_polish=n_polish)
    c, d, gamma, l = prob.unpack(x)  # noqa: E741
    return SigmoidFit(
        c=c,
        d=d,
        gamma=gamma,
        l=l,
        n_points=int(L.size),
        cost=cost,
        converged=conv,
        loss_fn=loss_fn,
        f_scale=float(f_scale),
        floor=floor,
        fractional=fractional,
        message=msg,
        ceiling=ceiling,
        at_bound=prob.at_bound(x),
    )


# ----------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class SigmoidBootstrap:
    """Bootstrap of a sigmoid fit: the point fit, parameter samples and percentile intervals."""

    fit: SigmoidFit
    samples: np.ndarray  # (n_resamples, 4) columns c, d, gamma, l; NaN row = failed resample
    level: float
    n_failed: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def n_resamples(self) -> int:
        return int(self.samples.shape[0])

    def replicate(self, b: int) -> SigmoidFit:
        """Replicate ``b`` as a :class:`SigmoidFit` (for end-to-end propagation)."""
        c, d, gamma, l = (float(v) for v in self.samples[b])  # noqa: E741
        return SigmoidFit(
            c=c,
            d=d,
            gamma=gamma,
            l=l,
            n_points=self.fit.n_points,
            cost=float("nan"),
            converged=bool(np.isfinite(c)),
            loss_fn=self.fit.loss_fn,
            f_scale=self.fit.f_scale,
            floor=self.fit.floor,
            fractional=self.fit.fractional,
            ceiling=self.fit.ceiling,
        )

    def inverse_samples(self, score: float | Sequence[float] | np.ndarray) -> InverseResult:
        """Implied losses of ``score`` under every replicate: arrays of shape (B, n_scores).

        A failed replicate (NaN parameters) gets status ``"failed"`` and loss NaN.
        """
        S = np.atleast_1d(np.asarray(score, dtype=float))
        loss = np.empty((self.n_resamples, S.size))
        status = np.empty((self.n_resamples, S.size), dtype=object)
        for b in range(self.n_resamples):
            if not np.all(np.isfinite(self.samples[b])):
                loss[b] = np.nan
                status[b] = "failed"
                continue
            inv = self.replicate(b).inverse(S)
            loss[b] = inv.loss
            status[b] = inv.status
        return InverseResult(loss=loss, status=status.astype(str))

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        lines = [
            f"Sigmoid S(L) = c / (1 + exp(-gamma (L - l))) + d  "
            f"({self.n_resamples} bootstrap resamples, {self.n_failed} failed)",
            f"  {'param':<8}{'estimate':>14}{pct + ' lo':>14}{pct + ' hi':>14}",
        ]
        for k, v in self.fit.params.items():
            lo, hi = self.intervals.get(k, (float("nan"), float("nan")))
            lines.append(f"  {k:<8}{v:>14.6g}{lo:>14.6g}{hi:>14.6g}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = self.fit.to_dict()
        d["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        d["level"] = self.level
        d["n_resamples"] = self.n_resamples
        d["n_failed"] = self.n_failed
        return d


def _sigmoid_replicate(
    idx: np.ndarray,
    *,
    L: np.ndarray,
    S: np.ndarray,
    kwargs: dict[str, Any],
    warm: SigmoidFit | None,
) -> np.ndarray:
    try:
        f = fit_sigmoid(L[idx], S[idx], x0=warm, **kwargs)
    except (DensingInputError, FitError):
        return np.full(4, np.nan)
    return np.array([f.c, f.d, f.gamma, f.l])


def bootstrap_sigmoid(
    loss: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    spec: BootstrapSpec,
    groups: Sequence[Any] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    floor: float | None = None,
    fractional: bool = True,
    loss_fn: LossFn = "soft_l1",
    f_scale: float = 0.05,
    ceiling: float | None = None,
    n_polish: int = 6,
    point: SigmoidFit | None = None,
    point_start: bool = False,
) -> SigmoidBootstrap:
    """Nonparametric bootstrap of :func:`fit_sigmoid`.

    Each resample (of points, or of whole ``groups``) is refitted from the full
    multi-start grid (its ``n_polish`` best starts polished; with ``point_start`` the point
    estimate joins the grid's starts), unless ``spec.warm_start`` (then from the point
    estimate only). A resample that cannot be fitted (e.g. all losses equal) is a NaN row,
    counted in ``n_failed`` and excluded from the intervals. ``point``: the fit on all the
    data, if already computed.
    """
    L, S = _validate(loss, score)
    kwargs: dict[str, Any] = {
        "floor": floor,
        "fractional": fractional,
        "loss_fn": loss_fn,
        "f_scale": f_scale,
        "ceiling": ceiling,
    }
    if point is None:
        point = fit_sigmoid(L, S, **kwargs)
    kwargs["n_polish"] = n_polish
    if point_start and not spec.warm_start:
        kwargs["also_start"] = point
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape[0] != L.size:
        raise DensingInputError(f"groups has {g.shape[0]} labels but there are {L.size} points")
    fit = functools.partial(
        _sigmoid_replicate, L=L, S=S, kwargs=kwargs, warm=point if spec.warm_start else None
    )
    rows = resampled(fit, L.size, spec, g, progress)
    samples = np.array(rows, dtype=float).reshape(-1, 4)
    failed = int((~np.all(np.isfinite(samples), axis=1)).sum())
    intervals = (
        {k: percentile_interval(samples[:, j], spec.level) for j, k in enumerate(PARAM_NAMES)}
        if samples.shape[0]
        else {}
    )
    return SigmoidBootstrap(
        fit=point, samples=samples, level=spec.level, n_failed=failed, intervals=intervals
    )

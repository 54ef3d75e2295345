"""Out-of-sample error of a loss frame, for *predictive* intervals.

A bootstrap interval is conditional on the functional form and on no extrapolation: it says
how much the fitted curves move when the data are resampled, not how far a new model lands
from them. The predictive interval adds the error measured out of sample:

* **Law** (log-loss scale). Leave-one-size-out on the reference runs: each interior size is
  held out and predicted from the others (interpolation error), and the ``j`` largest sizes
  (``j = 1 … 3``, keeping at least three sizes to fit) are held out and predicted from the
  smaller ones (extrapolation error). Each held-out run's distance ``δ`` beyond the fitted
  runs is measured in decades of (N, D): ``δ = √(δ_N² + δ_D²)``.
* **Sigmoid** (score scale). K-fold by calibration run (clusters, ``K ≤ 10``, folds stratified by
  loss), plus the lowest 10 / 20 / 30 % of losses held out and predicted from the rest. The
  distance ``Δ`` of a point is how far (in loss units) it lies outside the fitted loss range.

From (distance, residual) pairs the root-mean-square error is modelled as
``σ(δ) = √(σ0² + κ² δ²)``: ``σ0²`` is the mean squared residual of points inside the fitted
range, ``κ²`` the least-squares slope of the excess squared residual on ``δ²`` (never < 0).
Residuals are used raw (not centred), so a systematic extrapolation bias widens the interval.

A predictive interval then draws, for every bootstrap replicate (or the point fit), a
log-loss error ``N(0, σ_law(δ)²)`` and a score error ``N(0, σ_sig(Δ)²)`` and takes percentiles.
The draws share one seeded stream, so predictions are reproducible and smooth across targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from densing._json import to_jsonable
from densing.errors import DensingInputError, FitError
from densing.laws import LawForm, fit_loss_law
from densing.sigmoid import SigmoidFit, fit_sigmoid, sigmoid_value

DRAWS = 1000  # predictive draws per target (spread over the bootstrap replicates)
_PRED_SEED = 20240311
_MIN_FIT_SIZES = 3
_MAX_UPPER_HOLDS = 3
_LOW_LOSS_HOLDS = (0.1, 0.2, 0.3)
_MAX_FOLDS = 10


@dataclass(frozen=True)
class ErrorModel:
    """Out-of-sample RMS error ``σ(δ) = √(σ0² + κ² δ²)`` at distance ``δ`` beyond the data."""

    sigma0: float
    kappa: float  # NaN: no held-out point lay beyond the data (extrapolation error unknown)
    scale: str  # "log loss" | "score"
    distance: str  # "decades" | "loss"
    n_inside: int
    n_outside: int
    holds: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def sigma(self, distance: np.ndarray | float) -> np.ndarray:
        """``σ(δ)``; NaN beyond the data (δ > 0) when κ is unknown."""
        d = np.asarray(distance, dtype=float)
        if np.isfinite(self.kappa):
            return np.sqrt(self.sigma0**2 + (self.kappa * d) ** 2)
        return np.where(d > 0, np.nan, self.sigma0)

    def describe(self) -> str:
        k = "unknown" if not np.isfinite(self.kappa) else f"{self.kappa:.3g}"
        per = "decade" if self.distance == "decades" else "unit of loss"
        return (
            f"σ0 = {self.sigma0:.3g} ({self.scale}), κ = {k} per {per} beyond the data "
            f"({self.n_inside} held-out points inside, {self.n_outside} beyond)"
        )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "sigma0": self.sigma0,
                "kappa": self.kappa,
                "scale": self.scale,
                "distance": self.distance,
                "n_inside": self.n_inside,
                "n_outside": self.n_outside,
                "holds": list(self.holds),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ErrorModel:
        return cls(
            sigma0=float(d["sigma0"]),
            kappa=float("nan") if d.get("kappa") is None else float(d["kappa"]),
            scale=str(d["scale"]),
            distance=str(d["distance"]),
            n_inside=int(d["n_inside"]),
            n_outside=int(d["n_outside"]),
            holds=tuple(d.get("holds") or ()),
        )


def _error_model(
    dist: np.ndarray, resid: np.ndarray, scale: str, unit: str, holds: list[dict[str, Any]]
) -> ErrorModel | None:
    inside = dist <= 0
    if not inside.any():
        return None
    s0sq = float(np.mean(resid[inside] ** 2))
    out = ~inside
    kappa = float("nan")
    if out.any():
        d2 = dist[out] ** 2
        kappa = float(np.sqrt(max(0.0, float(d2 @ (resid[out] ** 2 - s0sq)) / float(d2 @ d2))))
    return ErrorModel(
        sigma0=float(np.sqrt(s0sq)),
        kappa=kappa,
        scale=scale,
        distance=unit,
        n_inside=int(inside.sum()),
        n_outside=int(out.sum()),
        holds=tuple(holds),
    )


def decades_outside(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """How many decades ``x`` lies outside ``[lo, hi]`` (0 inside)."""
    x = np.asarray(x, dtype=float)
    return np.maximum(0.0, np.maximum(np.log10(x / hi), np.log10(lo / x)))


def outside(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """How far ``x`` lies outside ``[lo, hi]``, in its own units (0 inside)."""
    x = np.asarray(x, dtype=float)
    return np.maximum(0.0, np.maximum(x - hi, lo - x))


def box_distance(N: np.ndarray, D: np.ndarray, box: dict[str, list[float]]) -> np.ndarray:
    """Distance in decades of (N, D) beyond a reference box ``{params: [lo, hi], tokens: ...}``."""
    dn = decades_outside(N, *box["params"])
    dd = decades_outside(D, *box["tokens"])
    return np.sqrt(dn**2 + dd**2)


def reference_box(N: np.ndarray, D: np.ndarray) -> dict[str, list[float]]:
    return {
        "params": [float(np.min(N)), float(np.max(N))],
        "tokens": [float(np.min(D)), float(np.max(D))],
    }


def law_error_model(
    N: np.ndarray, D: np.ndarray, L: np.ndarray, form: LawForm, objective: str
) -> ErrorModel | None:
    """Leave-one-size-out error of the law on the log-loss scale (None: fewer than 4 sizes)."""
    sizes = np.unique(N)
    K = sizes.size
    if K < _MIN_FIT_SIZES + 1:
        return None
    plans = [("interior", sizes[k : k + 1]) for k in range(1, K - 1)]
    plans += [("upper", sizes[K - j :]) for j in range(1, min(_MAX_UPPER_HOLDS, K - 3) + 1)]
    dist, resid, holds = [], [], []
    for kind, held in plans:
        test = np.isin(N, held)
        train = ~test
        try:
            fit = fit_loss_law(N[train], D[train], L[train], form=form, objective=objective)  # type: ignore[arg-type]
        except (FitError, DensingInputError):
            continue
        r = np.log(np.asarray(fit.predict(N[test], D[test]), dtype=float)) - np.log(L[test])
        d = box_distance(N[test], D[test], reference_box(N[train], D[train]))
        dist.append(d)
        resid.append(r)
        holds.append(
            {
                "kind": kind,
                "held_out_params": [float(v) for v in held],
                "n": int(test.sum()),
                "distance": float(np.mean(d)),
                "rms": float(np.sqrt(np.mean(r**2))),
                "bias": float(np.mean(r)),
            }
        )
    if not dist:
        return None
    return _error_model(np.concatenate(dist), np.concatenate(resid), "log loss", "decades", holds)


def _folds(L: np.ndarray, groups: np.ndarray | None) -> list[np.ndarray]:
    """Test masks of a K-fold split by cluster (stratified by loss), or by point."""
    if groups is not None and np.unique(groups).size >= 5:
        uniq, inv = np.unique(groups, return_inverse=True)
        mean_loss = np.bincount(inv, weights=L) / np.bincount(inv)
        rank = np.empty(uniq.size, dtype=int)
        rank[np.argsort(mean_loss, kind="stable")] = np.arange(uniq.size)
        k = min(_MAX_FOLDS, uniq.size)
        return [np.isin(inv, np.flatnonzero(rank % k == f)) for f in range(k)]
    rank = np.empty(L.size, dtype=int)
    rank[np.argsort(L, kind="stable")] = np.arange(L.size)
    k = min(_MAX_FOLDS, L.size)
    return [rank % k == f for f in range(k)]


def sigmoid_error_model(
    L: np.ndarray, S: np.ndarray, groups: np.ndarray | None, point: SigmoidFit
) -> ErrorModel | None:
    """Cross-validated score error of the sigmoid, growing beyond the fitted loss range."""
    plans = [("fold", t) for t in _folds(L, groups)]
    for q in _LOW_LOSS_HOLDS:
        cut = float(np.quantile(L, q))
        plans.append((f"lowest {q:.0%}", np.less(L, cut)))
    kwargs = {
        "floor": point.floor,
        "ceiling": point.ceiling,
        "fractional": point.fractional,
        "loss_fn": point.loss_fn,
        "f_scale": point.f_scale,
    }
    dist, resid, holds = [], [], []
    for kind, test in plans:
        train = ~test
        if not test.any():
            continue
        try:
            fit = fit_sigmoid(L[train], S[train], x0=point, **kwargs)  # type: ignore[arg-type]
        except (FitError, DensingInputError):
            continue
        e = S[test] - fit.predict(L[test])
        d = outside(L[test], float(L[train].min()), float(L[train].max()))
        dist.append(d)
        resid.append(e)
        if kind != "fold":
            holds.append({"kind": kind, "n": int(test.sum()), "distance": float(np.mean(d)),
                          "rms": float(np.sqrt(np.mean(e**2)))})  # fmt: skip
    if not dist:
        return None
    return _error_model(np.concatenate(dist), np.concatenate(resid), "score", "loss", holds)


def predictive_draws(
    loss_rep: np.ndarray,
    sig_rep: np.ndarray,
    law_sigma: np.ndarray,
    sig_model: ErrorModel,
    cal_range: tuple[float, float],
    fractional: bool,
    stream: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictive draws of (loss, score) for every target: arrays (M, n_targets).

    ``loss_rep`` (R, n): replicate (or point) losses; ``sig_rep`` (R, 4): matching sigmoid
    parameters; ``law_sigma`` (n,): the law's log-loss error at each target's distance.
    """
    ok = np.all(np.isfinite(sig_rep), axis=1) & np.all(np.isfinite(loss_rep), axis=1)
    loss_rep, sig_rep = loss_rep[ok], sig_rep[ok]
    R = loss_rep.shape[0]
    m = max(1, int(np.ceil(DRAWS / max(R, 1))))
    rng = np.random.default_rng(np.random.SeedSequence([_PRED_SEED, stream]))
    z = rng.standard_normal((2, R, m))
    lstar = loss_rep[:, None, :] * np.exp(law_sigma[None, None, :] * z[0][..., None])
    c, d, g, l = (sig_rep[:, j, None, None] for j in range(4))  # noqa: E741
    sstar = sigmoid_value(lstar, c, d, g, l)
    sstar += sig_model.sigma(outside(lstar, *cal_range)) * z[1][..., None]
    if fractional:
        np.clip(sstar, 0.0, 1.0, out=sstar)
    n = loss_rep.shape[1]
    return lstar.reshape(R * m, n), sstar.reshape(R * m, n)

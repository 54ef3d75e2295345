"""Frontier estimators: how fast does the best density grow?

Each estimator turns (model, release date, density) rows — and optionally a frame's replicate
densities — into a :class:`~densing.trend.TrendResult` (rate A per day, doubling time, intervals,
forecasts), so every consumer (the report, forecasts, the backtest) treats them alike.

``envelope-ols``
    The paper's method: OLS of ln ρ on date over the models that set a new maximum when
    released (:func:`densing.trend.bootstrap_trend`). Driven by a handful of extreme points.
``quantile-0.9``
    Linear quantile regression (q = 0.9) of ln ρ on date over all informative models: the
    line below which 90% of released models lie. Every informative model contributes, so it is
    steadier than the envelope; it estimates the rate of an upper quantile, not of the maximum.

Both bootstraps resample models (the same seeds, one SeedSequence per replicate) and, when the
frame's replicates are given, replicate b uses the b-th frame replicate's densities. Adding an
estimator = one function plus one entry in :data:`FRONTIER_ESTIMATORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from densing.bootstrap import BootstrapSpec, replicate_seeds, resample_indices
from densing.errors import DensingInputError
from densing.trend import (
    REFERENCE_DATE,
    TrendFit,
    TrendResult,
    TrendSamples,
    bootstrap_trend,
    prepare,
)

Estimator = Callable[..., TrendResult]


def quantile_line(
    t: np.ndarray, y: np.ndarray, q: float, w: np.ndarray | None = None
) -> tuple[float, float]:
    """(slope, intercept) minimising the weighted check loss Σ w ρ_q(y − a − b t) (HiGHS LP)."""
    n = t.size
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    if n < 2 or np.unique(t[w > 0]).size < 2:
        return float("nan"), float("nan")
    scale = max(float(np.abs(t).max()), 1.0)
    ts = t / scale
    # variables: a, b, u (n), v (n);  y = a + b ts + u - v,  u, v >= 0
    c = np.r_[0.0, 0.0, q * w, (1 - q) * w]
    A_eq = np.hstack([np.ones((n, 1)), ts[:, None], np.eye(n), -np.eye(n)])
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    from scipy.optimize import linprog  # lazy: predicting needs no optimiser (CLI start-up)

    res = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
    if not res.success:
        return float("nan"), float("nan")
    return float(res.x[1] / scale), float(res.x[0])


def quantile_trend(
    models: Sequence[Any],
    dates: Sequence[Any],
    rho: Sequence[float] | np.ndarray,
    spec: BootstrapSpec,
    *,
    q: float = 0.9,
    rho_replicates: np.ndarray | None = None,
    reference_date: Any = REFERENCE_DATE,
    progress: Callable[[int], None] | None = None,
) -> TrendResult:
    """Upper-quantile frontier (see the module docstring), as a :class:`TrendResult`."""
    if not 0 < q < 1:
        raise DensingInputError(f"quantile {q} must be in (0, 1)")
    data = prepare(models, dates, rho, reference_date=reference_date)
    t, y = data.days.astype(float), np.log(data.rho)
    A, B = quantile_line(t, y, q)
    fit = TrendFit(
        A_per_day=A, B=B, r2=float("nan"), n_models=t.size, n_fit=t.size, envelope=(),
        use_envelope=False, reference_date=data.reference_date,
        first_date=min(data.dates), last_date=max(data.dates),
    )  # fmt: skip
    nb = spec.n_resamples
    common: dict[str, Any] = {"fit": fit, "level": spec.level, "n_resamples": nb, "seed": spec.seed,
              "resampling": "models", "frame_replicates": rho_replicates is not None}  # fmt: skip
    if nb == 0:
        return TrendResult(samples=None, segment_samples=None, **common)  # type: ignore[arg-type]
    rep = None if rho_replicates is None else np.log(np.asarray(rho_replicates, dtype=float))
    As, Bs = np.full(nb, np.nan), np.full(nb, np.nan)
    for b, seed in enumerate(replicate_seeds(spec.seed, nb)):
        idx = resample_indices(np.random.default_rng(seed), t.size)
        w = np.bincount(idx, minlength=t.size).astype(float)
        yb = y if rep is None else rep[b]
        As[b], Bs[b] = quantile_line(t, yb, q, w)
        if progress is not None:
            progress(1)
    samples = TrendSamples(As, Bs, np.full(nb, np.nan))
    return TrendResult(
        samples=samples, segment_samples=None, intervals=samples.intervals(spec.level), **common
    )  # type: ignore[arg-type]


def envelope_trend(
    models, dates, rho, spec, *, rho_replicates=None, progress=None, **_: Any
) -> TrendResult:
    """The paper's envelope OLS (:func:`densing.trend.bootstrap_trend`)."""
    return bootstrap_trend(
        models, dates, rho, spec, envelope=True, rho_replicates=rho_replicates, progress=progress
    )


#: name → estimator(models, dates, rho, spec, *, rho_replicates=None, progress=None)
FRONTIER_ESTIMATORS: dict[str, Estimator] = {
    "envelope-ols": envelope_trend,
    "quantile-0.9": quantile_trend,
}


def fit_frontier(name: str, *args: Any, **kwargs: Any) -> TrendResult:
    """Run the frontier estimator ``name`` (see :data:`FRONTIER_ESTIMATORS`)."""
    try:
        est = FRONTIER_ESTIMATORS[name]
    except KeyError:
        raise DensingInputError(
            f"unknown frontier estimator '{name}'; known: {', '.join(FRONTIER_ESTIMATORS)}"
        ) from None
    return est(*args, **kwargs)


__all__ = [
    "FRONTIER_ESTIMATORS",
    "envelope_trend",
    "fit_frontier",
    "quantile_line",
    "quantile_trend",
]

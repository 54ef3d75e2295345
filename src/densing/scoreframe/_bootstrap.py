"""Bootstrap of a score frame: one typed record per replicate, a B × n matrix of N̂.

Reference members and the other models are resampled separately (the reference resample keeps
≥ 3 distinct sizes); other models by model or by whole family. Every replicate refits the frame
(cold: the same global search as the point fit; warm with ``spec.warm_start``) and recomputes
every model's own θ̂ from its own scores under the refitted sigmoids, including models not
drawn. With ``resample_cells`` that θ̂ is fitted on residual-bootstrap scores (fitted score at the
model's own θ̂ plus a residual drawn from the same item's pool), so an interval carries the
model's own-score scatter as well as the frame's uncertainty.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from densing.bootstrap import BootstrapSpec, parallel_replicates, replicate_seeds, resample_indices
from densing.errors import DensingInputError, FitError
from densing.scoreframe._law import ReferenceLaw, invert
from densing.scoreframe._solver import Problem, Solution, cold_fit, theta_given_sigmoids, warm_fit

if TYPE_CHECKING:
    from densing.scoreframe.frame import ScoreFrame

Groups = Literal["model", "family"]


@dataclass(frozen=True)
class ReplicateFit:
    """The refitted frame of one replicate: what is needed to place any model in it."""

    alpha: float
    token_coef: float
    sig: np.ndarray  # (B, 4): l, logk, u, d
    theta_bounds: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "token_coef": self.token_coef,
            "sigmoids": np.asarray(self.sig, dtype=float).tolist(),
            "theta_bounds": list(self.theta_bounds),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReplicateFit:
        return cls(
            float(d["alpha"]),
            float(d["token_coef"]),
            np.asarray(d["sigmoids"], dtype=float),
            (float(d["theta_bounds"][0]), float(d["theta_bounds"][1])),
        )


@dataclass(frozen=True)
class ScoreReplicates:
    """Bootstrap replicates of a score frame."""

    fits: tuple[ReplicateFit | None, ...]  # None: a replicate whose fit failed
    effective_params: np.ndarray  # (B, n) N̂ of every frame model (NaN: not fitted)
    seed: int | None
    groups: Groups
    warm_start: bool
    resample_cells: bool
    seconds: float = 0.0

    @property
    def n_resamples(self) -> int:
        return len(self.fits)

    @property
    def alpha(self) -> np.ndarray:
        return np.array([np.nan if f is None else f.alpha for f in self.fits])

    @property
    def n_failed(self) -> int:
        return sum(f is None for f in self.fits)


@dataclass(frozen=True)
class _Payload:
    """What every replicate worker needs (picklable)."""

    prob: Problem
    params: np.ndarray
    tokens: np.ndarray
    groups: np.ndarray | None
    theta_fit: np.ndarray
    warm: Solution | None
    resample_cells: bool
    own_pred: np.ndarray
    resid_pool: list[np.ndarray]
    law: ReferenceLaw


def residual_scores(
    rng: np.random.Generator, Y: np.ndarray, pred: np.ndarray, pools: list[np.ndarray]
) -> np.ndarray:
    """Fitted score at the model's own θ̂ plus a residual drawn from the same item's pool
    (observed cells only, clipped to [0, 1])."""
    out = np.full(Y.shape, np.nan)
    for b, pool in enumerate(pools):
        m = ~np.isnan(Y[:, b])
        if pool.size == 0:
            out[m, b] = Y[m, b]
            continue
        out[m, b] = np.clip(pred[m, b] + rng.choice(pool, int(m.sum())), 0.0, 1.0)
    return out


def _draw_rows(rng: np.random.Generator, pl: _Payload) -> np.ndarray:
    ref = pl.prob.is_ref
    ref_idx, non_idx = np.flatnonzero(ref), np.flatnonzero(~ref)
    for _ in range(1000):
        pick = ref_idx[resample_indices(rng, ref_idx.size)]
        if np.unique(pl.params[pick]).size >= 3:
            break
    else:  # pragma: no cover - needs pathological data
        raise FitError("could not draw a reference resample with 3 distinct sizes")
    g = None if pl.groups is None else pl.groups[non_idx]
    pick_non = non_idx[resample_indices(rng, non_idx.size, g)] if non_idx.size else non_idx
    return np.r_[pick, pick_non]


def _replicate(
    seed: np.random.SeedSequence, *, pl: _Payload
) -> tuple[np.ndarray, ReplicateFit | None]:
    rng = np.random.default_rng(seed)
    n = pl.prob.Y.shape[0]
    rows = _draw_rows(rng, pl)
    p = pl.prob
    sub = Problem.build(
        p.Y[rows], p.is_ref[rows], pl.params[rows], pl.tokens[rows], p.floors,
        p.with_tokens, p.beta, p.f_scale, p.alpha_fixed,
    )  # fmt: skip
    try:
        sol = warm_fit(sub, pl.warm, pl.theta_fit[rows]) if pl.warm else cold_fit(sub)
    except (FitError, ValueError, np.linalg.LinAlgError, FloatingPointError):
        return np.full(n, np.nan), None  # recorded as a failed replicate, never dropped
    Yown = p.Y
    if pl.resample_cells:
        Yown = residual_scores(rng, p.Y, pl.own_pred, pl.resid_pool)
    own = theta_given_sigmoids(Yown, sol.sig, sol.theta_bounds, p.f_scale)
    n_hat, _ = invert(pl.law, own, sol.theta_bounds, alpha=sol.alpha, token_coef=sol.bcoef)
    return n_hat, ReplicateFit(sol.alpha, sol.bcoef, sol.sig, sol.theta_bounds)


def _payload(frame: ScoreFrame, groups: Groups, warm: bool, resample_cells: bool) -> _Payload:
    m = frame.models
    fit = m["in_fit"].to_numpy(bool)
    prob = frame.problem()
    theta_fit = m["theta_fit"].to_numpy(float)[fit]
    start = None
    if warm:
        start = Solution(
            theta_fit, frame.law.alpha, frame.law.token_coef, frame.sig_array(),
            0.0, 0, True, "", frame.theta_bounds,
        )  # fmt: skip
    return _Payload(
        prob=prob,
        params=m["params"].to_numpy(float)[fit],
        tokens=m["tokens"].to_numpy(float)[fit],
        groups=m["family"].to_numpy()[fit] if groups == "family" else None,
        theta_fit=theta_fit,
        warm=start,
        resample_cells=resample_cells,
        own_pred=frame.predict_scores(m["theta"].to_numpy(float)[fit]).to_numpy(),
        resid_pool=frame.residual_pools(),
        law=frame.law,
    )


def bootstrap_score_frame(
    frame: ScoreFrame,
    spec: BootstrapSpec,
    *,
    groups: Groups = "model",
    progress: Callable[[int], None] | None = None,
    resample_cells: bool = True,
) -> ScoreFrame:
    """The frame with ``spec.n_resamples`` bootstrap replicates attached (see module docstring).

    The data are the frame's own (the models and scores it was fitted on); intervals use
    ``spec.level``. Models with too few scores stay NaN with status ``insufficient_scores``.
    """
    from dataclasses import replace

    if groups not in ("model", "family"):
        raise DensingInputError(f"unknown bootstrap grouping '{groups}'; use model or family")
    t0 = time.perf_counter()
    pl = _payload(frame, groups, spec.warm_start, resample_cells)
    fn = functools.partial(_replicate, pl=pl)
    out = parallel_replicates(
        fn, replicate_seeds(spec.seed, spec.n_resamples), n_jobs=spec.n_jobs, progress=progress
    )
    fit = frame.models["in_fit"].to_numpy(bool)
    eff = np.full((len(out), len(frame.models)), np.nan)
    for i, (nh, _) in enumerate(out):
        eff[i, fit] = nh
    reps = ScoreReplicates(
        fits=tuple(rf for _, rf in out),
        effective_params=eff,
        seed=spec.seed,
        groups=groups,
        warm_start=spec.warm_start,
        resample_cells=resample_cells,
        seconds=time.perf_counter() - t0,
    )
    return replace(frame, replicates=reps, level=spec.level)

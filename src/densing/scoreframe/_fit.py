"""Fitting a score frame: validated inputs → global search → a :class:`ScoreFrame`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.scoreframe._bootstrap import Groups, bootstrap_score_frame
from densing.scoreframe._inputs import PreparedInputs, prepare
from densing.scoreframe._kernels import item_scores
from densing.scoreframe._law import DEFAULT_BETA, ReferenceLaw, law_setup
from densing.scoreframe._layout import ALPHA_BOUNDS
from densing.scoreframe._solver import Problem, Solution, alpha_grid, cold_fit, theta_given_sigmoids
from densing.scoreframe.frame import ScoreFrame

DEFAULT_F_SCALE = 0.03  # soft_l1 scale, in score units


def _sigmoid_table(prep: PreparedInputs, sol: Solution, fit_rows: np.ndarray) -> pd.DataFrame:
    k = np.exp(sol.sig[:, 1])
    d = sol.sig[:, 3]
    pred = item_scores(sol.theta, sol.sig)
    obs = prep.Y[fit_rows]
    r2, nb = [], []
    for b in range(len(prep.items)):
        m = ~np.isnan(obs[:, b])
        yy = obs[m, b]
        ss_res = float(np.sum((yy - pred[m, b]) ** 2))
        ss_tot = float(np.sum((yy - yy.mean()) ** 2)) if yy.size else 0.0
        r2.append(1 - ss_res / ss_tot if ss_tot > 0 else float("nan"))
        nb.append(int(m.sum()))
    return pd.DataFrame(
        {
            "l": sol.sig[:, 0],
            "gamma": -k,
            "c": sol.sig[:, 2] * (1 - d),
            "d": d,
            "floor_fixed": ~np.isnan(prep.floors),
            "r2": r2,
            "n": nb,
        },
        index=pd.Index(list(prep.items), name="benchmark"),
    )


def _models_table(
    prep: PreparedInputs, ref: np.ndarray, sol: Solution, f_scale: float
) -> pd.DataFrame:
    n = len(prep.ids)
    fit_rows = np.flatnonzero(prep.usable)
    theta_fit = np.full(n, np.nan)
    theta_fit[fit_rows] = sol.theta
    own = np.full(n, np.nan)
    own[fit_rows] = theta_given_sigmoids(prep.Y[fit_rows], sol.sig, sol.theta_bounds, f_scale)
    return pd.DataFrame(
        {
            "id": list(prep.ids),
            "family": prep.family,
            "params": prep.params,
            "active_params": prep.active,
            "tokens": prep.tokens,
            "is_reference": ref,
            "in_fit": prep.usable,
            "n_benchmarks": prep.n_obs.astype(int),
            "theta_fit": theta_fit,
            "theta": own,
        }
    )


def _diagnostics(
    prep: PreparedInputs, ref: np.ndarray, sol: Solution, seconds: float, alpha_fixed: bool
) -> dict:
    obs = prep.Y[prep.usable]
    pred = item_scores(sol.theta, sol.sig)
    n_sizes = int(np.unique(prep.params[ref & prep.usable]).size)
    if alpha_fixed:
        note = "alpha fixed by the user"
    elif n_sizes < 4:
        note = "alpha not identified with 3 reference sizes: consider fixing it"
    else:
        note = "alpha fitted (profile over a grid, then polished)"
    return {
        "cost": sol.cost,
        "nfev": sol.nfev,
        "success": sol.success,
        "message": sol.message,
        "n_cells": int((~np.isnan(obs)).sum()),
        "fit_seconds": seconds,
        "alpha_grid": alpha_grid(),
        "rmse": float(np.sqrt(np.nanmean((obs - pred) ** 2))),
        "n_reference_sizes": n_sizes,
        "alpha_note": note,
    }


def fit_score_frame(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    reference_family: str,
    benchmarks: Sequence[str] | None = None,
    floors: Mapping[str, float | None] | None = None,
    min_benchmarks: int = 2,
    law: Literal["auto", "fixed_budget", "with_tokens"] = "auto",
    d0: float | None = None,
    beta: float = DEFAULT_BETA,
    f_scale: float = DEFAULT_F_SCALE,
    alpha: float | None = None,
    bootstrap: BootstrapSpec | None = None,
    groups: Groups = "model",
    progress: Callable[[int], None] | None = None,
) -> ScoreFrame:
    """Fit a score-mode frame (and bootstrap it when ``bootstrap`` is given).

    ``models``: id, family, params (raw counts), optional active_params (MoE) and tokens.
    ``scores``: wide, index (or column ``id``) = model id, one column per benchmark (or item),
    NaN = not observed; fractions in [0, 1]. ``floors``: column → fixed chance floor d (None =
    free); defaults from :data:`~densing.scoreframe.DEFAULT_FLOORS` for known benchmarks.
    ``law``: ``auto`` picks ``with_tokens`` when the reference family's token budgets vary,
    else ``fixed_budget``. ``alpha``: fix the law's exponent (None: profiled, then polished).
    """
    t0 = time.perf_counter()
    if alpha is not None and not ALPHA_BOUNDS[0] <= alpha <= ALPHA_BOUNDS[1]:
        raise DensingInputError(f"alpha {alpha:g} is outside {ALPHA_BOUNDS}")
    prep = prepare(
        models, scores, benchmarks=benchmarks, floors=floors, min_benchmarks=min_benchmarks
    )
    ref, kind, d0_used, d0_note = law_setup(prep, reference_family, law, d0)
    fit_rows = np.flatnonzero(prep.usable)
    prob = Problem.build(
        prep.Y[fit_rows], ref[fit_rows], prep.params[fit_rows], prep.tokens[fit_rows],
        prep.floors, kind == "with_tokens", beta, f_scale, alpha,
    )  # fmt: skip
    sol = cold_fit(prob)
    frame = ScoreFrame(
        reference_family=reference_family,
        law=ReferenceLaw(kind, sol.alpha, sol.bcoef, beta, d0_used, d0_note),
        items=prep.items,
        sigmoids=_sigmoid_table(prep, sol, fit_rows),
        models=_models_table(prep, ref, sol, f_scale),
        scores=pd.DataFrame(prep.Y, index=list(prep.ids), columns=list(prep.items)),
        theta_bounds=sol.theta_bounds,
        min_benchmarks=min_benchmarks,
        f_scale=f_scale,
        diagnostics=_diagnostics(prep, ref, sol, time.perf_counter() - t0, alpha is not None),
        alpha_fixed=alpha is not None,
    )
    if bootstrap is not None and bootstrap.n_resamples > 0:
        frame = bootstrap_score_frame(frame, bootstrap, groups=groups, progress=progress)
    return frame

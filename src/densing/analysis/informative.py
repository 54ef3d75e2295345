"""Which models may define the frontier.

A model carries no information about the frontier of density when its scores are
indistinguishable from chance, or when its density interval is unbounded (an upper bound of
infinity, a lower bound of 0, or a span of more than two decades, as far extrapolations
beyond the reference family have): such models get the status ``uninformative`` and stay off the
frontier fits by default. Models whose θ̂ lies outside the reference family's calibrated range
keep ``extrapolated`` (a point estimate resting on the law's extrapolation); the analysis
counts how many of them a frontier fit uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from densing.scoreframe import ScoreFrame
from densing.status import Status

#: A score within this many points of its item's chance floor is "at chance".
CHANCE_MARGIN = 0.03
#: An interval wider than this factor (two decades) is unbounded for the frontier's purposes.
MAX_INTERVAL_RATIO = 100.0


def at_chance(frame: ScoreFrame) -> pd.Series:
    """Per frame model: every observed score on an item with a known chance floor is within
    :data:`CHANCE_MARGIN` of that floor (and there is at least one such score)."""
    fixed = frame.sigmoids["floor_fixed"].to_numpy(bool)
    floors = frame.sigmoids["d"].to_numpy(float)
    Y = frame.scores.to_numpy(float)[:, fixed]
    near = (Y - floors[fixed][None, :]) <= CHANCE_MARGIN
    obs = ~np.isnan(Y)
    n_obs = obs.sum(axis=1)
    return pd.Series((n_obs > 0) & np.all(near | ~obs, axis=1), index=frame.scores.index)


def unbounded(dens: pd.DataFrame) -> np.ndarray:
    """Density intervals without an upper bound, reaching 0, or spanning more than
    :data:`MAX_INTERVAL_RATIO` (needs bootstrap intervals)."""
    lo = dens["density_active_lo"].to_numpy(float)
    hi = dens["density_active_hi"].to_numpy(float)
    has = np.isfinite(lo) | np.isfinite(hi) | np.isinf(hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        wide = hi / lo > MAX_INTERVAL_RATIO
    return has & (~np.isfinite(hi) | ~(lo > 0) | wide)


def mark_uninformative(dens: pd.DataFrame, frame: ScoreFrame) -> pd.DataFrame:
    """Set status ``uninformative`` (numbers kept) on chance-level or unbounded models with an
    otherwise finite density; add the boolean columns ``at_chance`` and ``unbounded``."""
    out = dens.copy()
    chance = out["model"].map(at_chance(frame)).fillna(False).to_numpy(bool)
    unb = unbounded(out)
    finite = out["status"].isin([Status.OK, Status.EXTRAPOLATED]).to_numpy()
    out["at_chance"] = chance
    out["unbounded"] = unb & finite
    out.loc[finite & (chance | unb), "status"] = str(Status.UNINFORMATIVE)
    return out

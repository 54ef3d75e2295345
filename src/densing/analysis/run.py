"""One frame on the catalog: fit, bootstrap, densities with intervals and the densing law."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from densing.analysis.specs import DEFAULT_FRAME, DEFAULT_SINCE, FrameSpec
from densing.bootstrap import BootstrapSpec
from densing.catalog import Catalog
from densing.errors import DensingInputError
from densing.frames import DENSITY_OUTPUT_COLUMNS
from densing.scoreframe import ScoreFrame, fit_score_frame
from densing.status import FINITE_STATUSES
from densing.trend import TrendResult, bootstrap_trend
from densing.units import DAYS_PER_MONTH

DENSITY_TABLE_COLUMNS = (
    "model",
    "family",
    "release_date",
    *(c for c in DENSITY_OUTPUT_COLUMNS if c not in ("model", "benchmark")),
    "theta",
    "n_benchmarks",
    "n_reported_scores",
    "on_envelope",
    "in_trend",
    "finite_density",
    "frame",
)


def frame_inputs(catalog: Catalog, spec: FrameSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(models, wide scores) tables for :func:`~densing.scoreframe.fit_score_frame`."""
    wide = catalog.wide(
        list(spec.benchmarks), setting=list(spec.settings) if spec.settings else None
    )
    models = catalog.models[["id", "family", "params", "active_params", "tokens"]].copy()
    fams = set(models["family"])
    if spec.reference_family not in fams:
        raise DensingInputError(
            f"reference family '{spec.reference_family}' is not in the catalog; "
            f"families: {sorted(fams)}"
        )
    return models, wide


def _settings_note(wide: pd.DataFrame) -> pd.Series:
    """Per model: how many of its scores come from developers' reports."""
    counts: dict[str, int] = {}
    for per_model in wide.attrs.get("settings", {}).values():
        for mid, s in per_model.items():
            if s == "reported":
                counts[mid] = counts.get(mid, 0) + 1
    return pd.Series(counts, dtype=float)


@dataclass(frozen=True)
class FrameRun:
    """One frame fitted on the catalog, its densities and the densing law."""

    spec: FrameSpec
    frame: ScoreFrame
    densities: pd.DataFrame
    trend: TrendResult
    trend_models: tuple[str, ...]
    n_replaced_cells: int  # replicate densities that were non-finite, replaced by the point
    since: _dt.date | None = None

    def sensitivity_row(self) -> dict[str, Any]:
        t = self.trend
        lo, hi = (
            t.intervals.get("doubling_time_days", (np.nan, np.nan))
            if t.samples
            else (np.nan, np.nan)
        )
        return {
            "frame": self.spec.name,
            "reference_family": self.spec.reference_family,
            "benchmarks": ", ".join(self.spec.benchmarks),
            "settings": "uniform harness" if self.spec.settings else "preferred",
            "n_models": len(self.trend_models),
            "n_envelope": len(t.fit.envelope),
            "A_per_day": t.A_per_day,
            "r2": t.fit.r2,
            "doubling_time_months": t.doubling_time_months,
            "lo": lo / DAYS_PER_MONTH,
            "hi": hi / DAYS_PER_MONTH,
        }


def fit_frame_spec(
    catalog: Catalog,
    spec: FrameSpec,
    *,
    n_resamples: int,
    seed: int,
    level: float,
    warm_start: bool = False,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, ScoreFrame]:
    """Fit the frame ``spec`` on the catalog and bootstrap it: (wide scores, frame)."""
    models, wide = frame_inputs(catalog, spec)
    boot = None
    if n_resamples > 0:
        boot = BootstrapSpec(
            n_resamples=n_resamples, seed=seed, level=level, warm_start=warm_start, n_jobs=n_jobs
        )
    frame = fit_score_frame(
        models,
        wide,
        reference_family=spec.reference_family,
        benchmarks=list(spec.benchmarks),
        law=spec.law,  # type: ignore[arg-type]
        min_benchmarks=spec.min_benchmarks,
        bootstrap=boot,
        progress=progress,
    )
    return wide, frame


def _densities(
    catalog: Catalog, spec: FrameSpec, wide: pd.DataFrame, frame: ScoreFrame
) -> pd.DataFrame:
    dens = frame.densities()
    meta = catalog.models.set_index("id")
    dens.insert(2, "release_date", pd.to_datetime(meta.loc[dens["model"], "release_date"]).values)
    reported = _settings_note(wide).reindex(dens["model"]).fillna(0).astype(int).to_numpy()
    dens["n_reported_scores"] = reported
    dens["frame"] = spec.name
    # per-benchmark densities (each score through its own sigmoid; point estimates)
    per = frame.benchmark_densities().pivot(
        index="model", columns="benchmark", values="density_active"
    )
    per_cols = [f"density_{b}" for b in spec.benchmarks]
    per = per.reindex(columns=list(spec.benchmarks)).set_axis(per_cols, axis=1)
    return dens.join(per, on="model")


def _law(dens: pd.DataFrame, frame: ScoreFrame, since, seed: int, level: float):
    """The densing law on models with a finite density released in the window."""
    rho = dens["density_active"].to_numpy(float)
    finite = (
        dens["status"].isin([str(s) for s in FINITE_STATUSES]).to_numpy()
        & np.isfinite(rho)
        & (rho > 0)
    )
    in_window = np.ones(len(dens), dtype=bool)
    if since is not None:
        in_window = (pd.to_datetime(dens["release_date"]) >= pd.Timestamp(since)).to_numpy()
    use = finite & in_window
    sub = dens[use]
    rep, n_replaced, nb = None, 0, 0
    if frame.replicates is not None:
        ids = list(frame.models["id"])
        idx = [ids.index(m) for m in sub["model"]]
        act = frame.models["active_params"].to_numpy(float)[idx]
        rep = frame.replicates.effective_params[:, idx] / act[None, :]
        bad = ~(np.isfinite(rep) & (rep > 0))
        n_replaced = int(bad.sum())
        rep = np.where(bad, sub["density_active"].to_numpy(float)[None, :], rep)
        nb = rep.shape[0]
    trend = bootstrap_trend(
        sub["model"].tolist(),
        [d.date() for d in pd.to_datetime(sub["release_date"])],
        sub["density_active"].to_numpy(float),
        BootstrapSpec(n_resamples=nb, seed=seed, level=level),
        rho_replicates=rep,
    )
    return trend, use, finite, n_replaced


def run_frame(
    catalog: Catalog,
    spec: FrameSpec,
    *,
    n_resamples: int,
    seed: int,
    level: float,
    warm_start: bool = False,
    n_jobs: int | None = None,
    since: _dt.date | None = DEFAULT_SINCE,
    progress: Callable[[int], None] | None = None,
) -> FrameRun:
    """Fit one frame on the catalog, bootstrap it, and fit the densing law.

    The law is fitted on models with a finite density (status ok or extrapolated)
    released on or after ``since`` (None: all dates).
    """
    wide, frame = fit_frame_spec(
        catalog, spec, n_resamples=n_resamples, seed=seed, level=level,
        warm_start=warm_start, n_jobs=n_jobs, progress=progress,
    )  # fmt: skip
    dens = _densities(catalog, spec, wide, frame)
    trend, use, finite, n_replaced = _law(dens, frame, since, seed, level)
    dens["on_envelope"] = dens["model"].isin(set(trend.fit.envelope))
    dens["in_trend"] = use
    dens["finite_density"] = finite
    cols = [*DENSITY_TABLE_COLUMNS, *(f"density_{b}" for b in spec.benchmarks)]
    dens = dens[cols].sort_values("density_active", ascending=False, na_position="last")
    trend_models = tuple(dens.loc[dens["in_trend"], "model"])
    return FrameRun(
        spec, frame, dens.reset_index(drop=True), trend, trend_models, n_replaced, since
    )


def builtin_frame(
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    warm_start: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ScoreFrame:
    """A score-mode frame fitted on the built-in catalog, with its bootstrap replicates."""
    from densing.catalog import load

    opts = {"n_resamples": n_resamples, "seed": seed, "level": level, "warm_start": warm_start}
    return fit_frame_spec(load(), spec, progress=progress, **opts)[1]  # type: ignore[arg-type]

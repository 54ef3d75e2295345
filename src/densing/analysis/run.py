"""One frame on the catalog: fit, bootstrap, densities with intervals and the densing law."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from densing.analysis.informative import mark_uninformative
from densing.analysis.specs import DEFAULT_ESTIMATOR, DEFAULT_SINCE, FrameSpec
from densing.bootstrap import BootstrapSpec
from densing.catalog import Catalog
from densing.errors import DensingInputError
from densing.frames import DENSITY_OUTPUT_COLUMNS
from densing.frontier import FRONTIER_ESTIMATORS, fit_frontier
from densing.scoreframe import ScoreFrame, fit_score_frame, fit_stitched_frame
from densing.status import FINITE_STATUSES, Status
from densing.trend import TrendResult
from densing.units import DAYS_PER_MONTH

DENSITY_TABLE_COLUMNS = (
    "model",
    "family",
    "release_date",
    *(c for c in DENSITY_OUTPUT_COLUMNS if c not in ("model", "benchmark")),
    "theta",
    "n_benchmarks",
    "n_reported_scores",
    "at_chance",
    "unbounded",
    "on_envelope",
    "in_trend",
    "finite_density",
    "frame",
)
#: A frontier fit on fewer envelope points (or informative models) than this gets a caveat.
MIN_ENVELOPE = 5


def frame_inputs(catalog: Catalog, spec: FrameSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(models, scores): wide for a one-capability frame, long for a stitched frame."""
    models = catalog.models[["id", "family", "params", "active_params", "tokens"]].copy()
    fams = set(models["family"])
    if spec.reference_family not in fams:
        raise DensingInputError(
            f"reference family '{spec.reference_family}' is not in the catalog; "
            f"families: {sorted(fams)}"
        )
    if spec.model == "stitched":
        return models, catalog.scores.copy()
    benches = list(spec.benchmarks) if spec.benchmarks else None
    wide = catalog.wide(benches, setting=list(spec.settings) if spec.settings else None)
    return models, wide


def _settings_note(spec: FrameSpec, wide: pd.DataFrame) -> pd.Series:
    """Per model: how many of the scores the frame may use come from developers' reports."""
    if spec.model == "stitched":
        sc = wide[wide["setting"] == "reported"]
        return sc.groupby("id").size().astype(float)
    counts: dict[str, int] = {}
    for per_model in wide.attrs.get("settings", {}).values():
        for mid, s in per_model.items():
            if s == "reported":
                counts[mid] = counts.get(mid, 0) + 1
    return pd.Series(counts, dtype=float)


@dataclass(frozen=True)
class FrameRun:
    """One frame fitted on the catalog, its densities and the densing law.

    ``trend`` is the frontier fit of ``estimator``; ``frontiers`` holds every estimator's fit on
    the same models (for comparison). ``law_models`` are the models the fits use.
    """

    spec: FrameSpec
    frame: ScoreFrame
    densities: pd.DataFrame
    trend: TrendResult
    trend_models: tuple[str, ...]
    n_replaced_cells: int  # replicate densities that were non-finite, replaced by the point
    since: _dt.date | None = None
    estimator: str = DEFAULT_ESTIMATOR
    frontiers: dict[str, TrendResult] = field(default_factory=dict)
    n_extrapolated_on_envelope: int = 0
    density_basis: str = "active"

    @property
    def caveats(self) -> list[str]:
        """Plain-language warnings about what the law rests on."""
        out = []
        env = self.densities[self.densities["on_envelope"]]
        if len(env) < MIN_ENVELOPE:
            out.append(f"the envelope has only {len(env)} models (fewer than {MIN_ENVELOPE})")
        if self.n_extrapolated_on_envelope:
            out.append(
                f"{self.n_extrapolated_on_envelope} of {len(env)} envelope models are extrapolated "
                "beyond the reference family's calibrated range"
            )
        if len(self.trend_models) < MIN_ENVELOPE:
            out.append(f"only {len(self.trend_models)} informative models in the law's window")
        return out

    def sensitivity_row(self) -> dict[str, Any]:
        t = self.trend
        nan = (np.nan, np.nan)
        lo, hi = t.intervals.get("doubling_time_days", nan) if t.samples else nan
        basis = "" if self.density_basis == "active" else f" ({self.density_basis} params)"
        return {
            "frame": self.spec.name + basis,
            "model": self.spec.model,
            "reference_family": self.spec.reference_family,
            "benchmarks": ", ".join(self.spec.benchmarks) if self.spec.benchmarks else "all",
            "settings": _settings_label(self.spec),
            "alpha": self.frame.alpha,
            "estimator": self.estimator,
            "density_basis": self.density_basis,
            "n_models": len(self.trend_models),
            "n_envelope": len(t.fit.envelope),
            "A_per_day": t.A_per_day,
            "r2": t.fit.r2,
            "doubling_time_months": t.doubling_time_months,
            "lo": lo / DAYS_PER_MONTH,
            "hi": hi / DAYS_PER_MONTH,
            "window_end": max(self._window_dates(), default=None),
        }

    def _window_dates(self) -> list[_dt.date]:
        d = self.densities[self.densities["in_trend"]]
        return [x.date() for x in pd.to_datetime(d["release_date"])]


def _settings_label(spec: FrameSpec) -> str:
    if spec.model == "stitched":
        return "every setting its own item" if not spec.settings else ", ".join(spec.settings)
    return "uniform harness" if spec.settings else "preferred"


def fit_spec_tables(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    spec: FrameSpec,
    *,
    bootstrap: BootstrapSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScoreFrame:
    """Fit the frame ``spec`` on (models, scores) tables (long scores for a stitched frame)."""
    common: dict[str, Any] = {
        "reference_family": spec.reference_family,
        "law": spec.law,
        "alpha": spec.alpha,
        "bootstrap": bootstrap,
        "progress": progress,
    }
    if spec.model == "stitched":
        return fit_stitched_frame(
            models, scores, min_item_models=spec.min_item_models, settings=spec.settings,
            benchmarks=spec.benchmarks, min_items=spec.min_benchmarks, **common,
        )  # fmt: skip
    return fit_score_frame(
        models, scores, benchmarks=list(spec.benchmarks or ()) or None,
        min_benchmarks=spec.min_benchmarks, **common,
    )  # fmt: skip


def fit_frame_spec(
    catalog: Catalog,
    spec: FrameSpec,
    bootstrap: BootstrapSpec | None,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, ScoreFrame]:
    """Fit the frame ``spec`` on the catalog and bootstrap it (``bootstrap`` None or with 0
    resamples: no replicates): (scores used, frame)."""
    models, scores = frame_inputs(catalog, spec)
    boot = bootstrap if bootstrap is not None and bootstrap.n_resamples > 0 else None
    return scores, fit_spec_tables(models, scores, spec, bootstrap=boot, progress=progress)


def _densities(
    catalog: Catalog, spec: FrameSpec, scores: pd.DataFrame, frame: ScoreFrame
) -> pd.DataFrame:
    dens = frame.densities()
    meta = catalog.models.set_index("id")
    dens.insert(2, "release_date", pd.to_datetime(meta.loc[dens["model"], "release_date"]).values)
    reported = _settings_note(spec, scores).reindex(dens["model"]).fillna(0)
    dens["n_reported_scores"] = reported.astype(int).to_numpy()
    dens["frame"] = spec.name
    dens = mark_uninformative(dens, frame)
    if spec.model == "stitched":
        return dens
    # per-benchmark densities (each score through its own sigmoid; point estimates)
    per = frame.benchmark_densities().pivot(
        index="model", columns="benchmark", values="density_active"
    )
    per_cols = [f"density_{b}" for b in frame.benchmarks]
    per = per.reindex(columns=list(frame.benchmarks)).set_axis(per_cols, axis=1)
    return dens.join(per, on="model")


def _law_inputs(
    dens: pd.DataFrame, frame: ScoreFrame, since, include_uninformative: bool, basis: str = "active"
):
    """Rows of the law (finite density, in the window, informative unless asked) and the
    frame's replicate densities for them (non-finite cells replaced by the point estimate).

    ``basis``: densities against ``active`` (activated) or ``total`` parameters; the returned
    rows carry the chosen one in ``density_law``."""
    col = f"density_{basis}"
    rho = dens[col].to_numpy(float)
    ok_status = {str(s) for s in FINITE_STATUSES}
    if include_uninformative:
        ok_status.add(str(Status.UNINFORMATIVE))
    finite = np.isfinite(rho) & (rho > 0)
    use = dens["status"].isin(ok_status).to_numpy() & finite
    if since is not None:
        use &= (pd.to_datetime(dens["release_date"]) >= pd.Timestamp(since)).to_numpy()
    sub = dens[use].assign(density_law=rho[use])
    rep, n_replaced = None, 0
    if frame.replicates is not None:
        pos = {m: k for k, m in enumerate(frame.models["id"])}
        idx = [pos[m] for m in sub["model"]]
        size = frame.models["active_params" if basis == "active" else "params"].to_numpy(float)[idx]
        rep = frame.replicates.effective_params[:, idx] / size[None, :]
        bad = ~(np.isfinite(rep) & (rep > 0))
        n_replaced = int(bad.sum())
        rep = np.where(bad, sub["density_law"].to_numpy(float)[None, :], rep)
    return (
        sub,
        rep,
        use,
        finite & dens["status"].isin([*ok_status, str(Status.UNINFORMATIVE)]).to_numpy(),
        n_replaced,
    )


def _frontiers(sub: pd.DataFrame, rep, seed: int, level: float) -> dict[str, TrendResult]:
    nb = 0 if rep is None else rep.shape[0]
    args = (
        sub["model"].tolist(),
        [d.date() for d in pd.to_datetime(sub["release_date"])],
        sub["density_law"].to_numpy(float),
        BootstrapSpec(n_resamples=nb, seed=seed, level=level),
    )
    return {name: fit_frontier(name, *args, rho_replicates=rep) for name in FRONTIER_ESTIMATORS}


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
    estimator: str = DEFAULT_ESTIMATOR,
    include_uninformative: bool = False,
    density_basis: str = "active",
    frame: ScoreFrame | None = None,
    progress: Callable[[int], None] | None = None,
) -> FrameRun:
    """Fit one frame on the catalog, bootstrap it, and fit the densing law.

    The law is fitted on models with a finite density (status ok or extrapolated; also
    ``uninformative`` with ``include_uninformative``) released on or after ``since`` (None: all
    dates), with every frontier estimator; ``estimator`` names the one reported as the law.
    ``frame``: an already fitted (and bootstrapped) frame of ``spec`` on this catalog (e.g. a
    cached or saved one): it is used instead of fitting.
    """
    if density_basis not in ("active", "total"):
        raise DensingInputError(f"density basis '{density_basis}' must be active or total")
    if estimator not in FRONTIER_ESTIMATORS:
        raise DensingInputError(
            f"unknown frontier estimator '{estimator}'; known: {', '.join(FRONTIER_ESTIMATORS)}"
        )
    if frame is None:
        boot = BootstrapSpec(
            n_resamples, seed=seed, level=level, warm_start=warm_start, n_jobs=n_jobs
        )
        scores, frame = fit_frame_spec(catalog, spec, boot, progress=progress)
    else:
        scores = frame_inputs(catalog, spec)[1]  # fmt: skip
    dens = _densities(catalog, spec, scores, frame)
    sub, rep, use, finite, n_replaced = _law_inputs(
        dens, frame, since, include_uninformative, density_basis
    )
    frontiers = _frontiers(sub, rep, seed, level)
    env = set(frontiers["envelope-ols"].fit.envelope)
    dens["on_envelope"] = dens["model"].isin(env)
    dens["in_trend"] = use
    dens["finite_density"] = finite
    n_extra = int((dens["on_envelope"] & (dens["status"] == Status.EXTRAPOLATED)).sum())
    extra_cols = [
        c for c in dens.columns if c.startswith("density_") and c not in DENSITY_TABLE_COLUMNS
    ]
    dens = dens[[*DENSITY_TABLE_COLUMNS, *extra_cols]]
    dens = dens.sort_values(f"density_{density_basis}", ascending=False, na_position="last")
    return FrameRun(
        spec, frame, dens.reset_index(drop=True), frontiers[estimator], tuple(sub["model"]),
        n_replaced, since, estimator, frontiers, n_extra, density_basis,
    )  # fmt: skip

"""The main job: catalog → score-mode frame → densities → densing law → report inputs.

:func:`analyze` is a pure function of a :class:`~densing.catalog.Catalog` and a
:class:`FrameSpec`; it returns an :class:`Analysis` (frozen) that knows how to
describe itself, build a :class:`~densing.report.ReportBundle` and write the
output folder. The CLI (``densing run``) is a thin layer over it.

Uncertainty is propagated end to end: the frame bootstrap gives a B × n matrix of
densities; replicate b of the densing-law bootstrap resamples models *and* uses
the b-th frame replicate's densities, so the doubling-time interval carries the
frame's uncertainty as well as the sampling of models.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing import __version__
from densing._json import to_jsonable
from densing.bootstrap import BootstrapSpec
from densing.catalog import Catalog
from densing.errors import DensingInputError
from densing.frames import ScoreFrameTargets, score_frame_payload
from densing.scoreframe import (
    ScoreFrame,
    ScoreFrameBootstrap,
    bootstrap_score_frame,
    fit_score_frame,
    sigmoid_score,
    sigmoid_theta,
)
from densing.trend import CHATGPT_RELEASE, TrendResult, bootstrap_trend

TREND_STATUSES = ("ok", "extrapolated")
UNIFORM_SETTINGS = ("openllm-v1", "obscaling", "openllm-v2")

# Published figures the README and report compare against (Xiao et al.).
PAPER = {
    "arXiv 2412.04315 v1": {
        "A_per_day": 0.0073,
        "doubling_time_months": 3.3,
        "r2": 0.91,
        "n_models": 29,
        "period": "2023-02 .. 2024 (base models; MMLU, BBH, MATH, HumanEval, MBPP)",
    },
    "Nature Machine Intelligence 2025": {
        "doubling_time_months": 3.5,
        "n_models": 51,
        "period": "to 2025-04",
    },
    "pre-ChatGPT (MMLU only)": {"A_per_day": 0.0048},
}


@dataclass(frozen=True)
class FrameSpec:
    """Which score-mode frame to fit: reference family, benchmarks, score settings."""

    name: str
    reference_family: str
    benchmarks: tuple[str, ...]
    settings: tuple[str, ...] | None = None  # None: preferred setting per cell, any
    law: str = "fixed_budget"
    min_benchmarks: int = 2

    def describe(self) -> str:
        s = "uniform harness only" if self.settings else "preferred setting per score"
        return f"{self.reference_family} reference; {', '.join(self.benchmarks)}; {s}"


DEFAULT_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande", "gsm8k", "humaneval")
KNOWLEDGE_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande")
PAPER_BENCHMARKS = ("mmlu", "bbh", "math", "humaneval", "mbpp")  # Xiao et al.'s five
#: The default frame: Qwen1.5 (8 sizes, 0.5B-110B, one recipe) on the four knowledge and
#: reasoning benchmarks that every uniformly evaluated model has, scored by one harness for
#: every model. Chosen because it spans the widest capability range of the uniformly evaluated
#: families (no model of the ObsScaling set falls above it) and passes leave-one-out checks
#: (see README). GSM8K and HumanEval enter through the sensitivity frames.
DEFAULT_FRAME = FrameSpec(
    "qwen1.5-uniform", "Qwen1.5", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS
)
SENSITIVITY_FRAMES: tuple[FrameSpec, ...] = (
    FrameSpec("qwen1.5-6bench-uniform", "Qwen1.5", DEFAULT_BENCHMARKS, settings=UNIFORM_SETTINGS),
    FrameSpec("qwen1.5-with-reported", "Qwen1.5", KNOWLEDGE_BENCHMARKS),
    # the paper's five benchmarks; BBH, MATH and MBPP mix harness and reported settings
    FrameSpec("qwen1.5-paper5", "Qwen1.5", PAPER_BENCHMARKS),
    FrameSpec("pythia-uniform", "Pythia", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS),
    FrameSpec("llama2-uniform", "Llama-2", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS),
)
#: The densing law is fitted on models released on or after this date (the paper's window
#: starts after ChatGPT's release); the before/after comparison uses every model.
DEFAULT_SINCE = CHATGPT_RELEASE


# --------------------------------------------------------------------------- inputs


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
    settings = wide.attrs.get("settings", {})
    counts: dict[str, int] = {}
    for per_model in settings.values():
        for mid, s in per_model.items():
            if s == "reported":
                counts[mid] = counts.get(mid, 0) + 1
    return pd.Series(counts, dtype=float)


# -------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FrameRun:
    """One frame fitted on the catalog, its bootstrap, densities and the densing law."""

    spec: FrameSpec
    frame: ScoreFrame
    boot: ScoreFrameBootstrap | None
    densities: pd.DataFrame
    trend: TrendResult
    trend_models: tuple[str, ...]
    n_replaced_cells: int  # replicate densities that were non-finite, replaced by the point
    since: _dt.date | None = None

    def sensitivity_row(self) -> dict[str, Any]:
        t = self.trend
        iv = t.intervals.get("doubling_time_days", (math.nan, math.nan)) if t.samples else None
        lo, hi = iv if iv else (math.nan, math.nan)
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
            "lo": lo / 30.44,
            "hi": hi / 30.44,
        }


@dataclass(frozen=True)
class Analysis:
    """The whole densing-law analysis of a catalog under a default frame."""

    main: FrameRun
    sensitivity_runs: tuple[FrameRun, ...]
    level: float
    seed: int
    n_resamples: int
    catalog_summary: str
    breakpoint_trend: TrendResult | None = None
    breakpoint_note: str = ""
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def sensitivity(self) -> pd.DataFrame:
        rows = [self.main.sensitivity_row()] + [r.sensitivity_row() for r in self.sensitivity_runs]
        return pd.DataFrame(rows)

    def trend_dict(self) -> dict[str, Any]:
        d = self.main.trend.to_dict()
        d["reference_date"] = self.main.trend.fit.reference_date.isoformat()
        d["interval_level"] = self.level
        d["frame"] = self.main.spec.name
        # replicate densities that were not finite (model above the frame's range in that
        # replicate) and were replaced by the model's point estimate in the law's bootstrap
        d["replicate_cells_replaced"] = self.main.n_replaced_cells
        if self.breakpoint_trend is not None:
            d["segments"] = self.breakpoint_trend.to_dict().get("segments")
            d["breakpoint"] = CHATGPT_RELEASE.isoformat()
        return to_jsonable(d)

    def frame_dict(self) -> dict[str, Any]:
        f = self.main.frame
        d = f.describe()
        spec = self.main.spec
        d.update(
            {
                "name": spec.name,
                "mode": "score",
                "benchmarks": list(spec.benchmarks),
                "settings": list(spec.settings) if spec.settings else "preferred per score",
                "D0": d.get("d0_note") or "family budget",
                "method_note": method_note(spec, f),
            }
        )
        return to_jsonable(d)

    def summary(self) -> str:
        t = self.main.trend
        iv = t.intervals.get("doubling_time_days") if t.samples else None
        lines = [
            f"frame {self.main.spec.name}: {self.main.spec.describe()}",
            t.summary(),
        ]
        if iv:
            lines.append(
                f"doubling time {t.doubling_time_months:.2f} months "
                f"[{iv[0] / 30.44:.2f}, {iv[1] / 30.44:.2f}] at {self.level:.0%}"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ report inputs

    def to_bundle(self) -> Any:
        from densing.report import ReportBundle

        main = self.main
        dens = main.densities.copy()
        band = None
        if main.trend.samples is not None:
            in_fit = dens[dens["in_trend"]]
            d0 = pd.Timestamp(in_fit["release_date"].min())
            d1 = pd.Timestamp(in_fit["release_date"].max()) + pd.Timedelta(days=90)
            dates = pd.date_range(d0, d1, periods=100).normalize()
            band = main.trend.band([d.date() for d in dates], self.level)
        fit_points, fit_curve = _law_points(main.frame)
        sig_curves, sig_points = _sigmoid_points(main.frame)
        return ReportBundle(
            densities=dens,
            trend=self.trend_dict(),
            frame=self.frame_dict()
            | {
                "fit_y_label": "capability θ (loss-like, lower is better)",
                "fit_x_label": "parameters N",
                "sigmoid_x_label": "capability θ",
            },
            band=band,
            fit_points=fit_points,
            fit_curve=fit_curve,
            sigmoids=sig_curves,
            sigmoid_points=sig_points,
            sensitivity=self.sensitivity,
            paper_comparison=paper_comparison(),
            generated_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            densing_version=__version__,
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write report.html, densities.csv, trend.json, frame.json and bundle.json."""
        from densing.report import read_bundle, render_report, write_bundle

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        bundle = self.to_bundle()
        paths = {
            "densities": out / "densities.csv",
            "trend": out / "trend.json",
            "frame": out / "frame.json",
            "bundle": out / "bundle.json",
            "report": out / "report.html",
        }
        dens = self.main.densities.copy()
        dens["release_date"] = pd.to_datetime(dens["release_date"]).dt.date.astype(str)
        dens.to_csv(paths["densities"], index=False)
        paths["trend"].write_text(json.dumps(self.trend_dict(), indent=2) + "\n")
        frame_json = score_frame_payload(self.main.boot, self.main.frame)
        paths["frame"].write_text(json.dumps(frame_json, indent=1) + "\n")
        write_bundle(bundle, paths["bundle"])
        # render from the saved bundle, so `densing report` re-renders the same page
        render_report(read_bundle(paths["bundle"]), paths["report"])
        return paths


def method_note(spec: FrameSpec, frame: ScoreFrame) -> str:
    members = frame.describe().get("reference_members", [])
    return (
        f"Score mode. One latent, loss-like capability θ per model is shared across "
        f"{len(spec.benchmarks)} benchmarks ({', '.join(spec.benchmarks)}); each benchmark maps θ "
        f"to score with its own sigmoid, fitted jointly on every observed score of the catalog "
        f"(missing scores are absent, not imputed). The {len(members)} members of the reference "
        f"family {spec.reference_family} have θ tied to the power law θ = N^-α (α = "
        f"{frame.alpha:.3g}; {frame.d0_note}). A model's effective size N̂ is that law "
        f"inverted at the model's own θ̂; density ρ = N̂ / N (activated parameters for MoE). "
        f"Intervals: bootstrap over models, refitting the frame each time."
    )


def paper_comparison() -> dict[str, Any]:
    """The paper's published figures (the report puts this run's values beside them)."""
    return to_jsonable(PAPER)


def _law_points(frame: ScoreFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    m = frame.models
    ref = m[m["is_reference"] & m["in_fit"] & m["theta"].notna()]
    fitted = frame.law_theta(ref["params"].to_numpy(float))
    pts = pd.DataFrame(
        {
            "x": ref["params"].to_numpy(float),
            "y": ref["theta"].to_numpy(float),
            "fitted": fitted,
            "residual": ref["theta"].to_numpy(float) - fitted,
            "label": ref["id"].to_numpy(),
            "group": f"reference: {frame.reference_family}",
        }
    )
    lo, hi = pts["x"].min() / 3, pts["x"].max() * 3
    xs = np.geomspace(lo, hi, 60)
    curve = pd.DataFrame({"x": xs, "y": frame.law_theta(xs), "group": "law θ = N^-α"})
    return pts, curve


def _sigmoid_points(frame: ScoreFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    th = frame.models.set_index("id")["theta"]
    lo, hi = np.nanpercentile(th.to_numpy(float), [1, 99])
    pad = 0.1 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, 80)
    curves, points = [], []
    for b in frame.benchmarks:
        s = frame.sigmoids.loc[b]
        curves.append(
            pd.DataFrame(
                {
                    "benchmark": b,
                    "x": grid,
                    "y": sigmoid_score(grid, s["l"], s["gamma"], s["c"], s["d"]),
                }
            )
        )
        col = frame.scores[b]
        col = col[col.notna()]
        th_b = th.reindex(col.index)
        ok = th_b.notna()
        points.append(
            pd.DataFrame(
                {
                    "benchmark": b,
                    "x": th_b[ok].to_numpy(float),
                    "y": col[ok].to_numpy(float),
                    "model": col.index[ok],
                }
            )
        )
    return pd.concat(curves, ignore_index=True), pd.concat(points, ignore_index=True)


# ------------------------------------------------------------------------- running


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
) -> tuple[pd.DataFrame, ScoreFrame, ScoreFrameBootstrap | None]:
    """Fit the frame ``spec`` on the catalog and bootstrap it: (wide scores, frame, bootstrap)."""
    models, wide = frame_inputs(catalog, spec)
    frame = fit_score_frame(
        models,
        wide,
        reference_family=spec.reference_family,
        benchmarks=list(spec.benchmarks),
        law=spec.law,  # type: ignore[arg-type]
        min_benchmarks=spec.min_benchmarks,
    )
    boot = None
    if n_resamples > 0:
        boot = bootstrap_score_frame(
            models,
            wide,
            BootstrapSpec(
                n_resamples=n_resamples,
                seed=seed,
                level=level,
                warm_start=warm_start,
                n_jobs=n_jobs,
            ),
            reference_family=spec.reference_family,
            frame=frame,
            progress=progress,
        )
    return wide, frame, boot


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
    wide, frame, boot = fit_frame_spec(
        catalog,
        spec,
        n_resamples=n_resamples,
        seed=seed,
        level=level,
        warm_start=warm_start,
        n_jobs=n_jobs,
        progress=progress,
    )
    if boot is not None:
        dens = boot.intervals()
    else:
        dens = frame.densities()
        for c in ("density_lo", "density_hi", "effective_params_lo", "effective_params_hi"):
            dens[c] = np.nan
    meta = catalog.models.set_index("id")
    dens = dens.rename(columns={"id": "model"})
    dens.insert(2, "release_date", pd.to_datetime(meta.loc[dens["model"], "release_date"]).values)
    reported = _settings_note(wide).reindex(dens["model"]).fillna(0).astype(int).to_numpy()
    dens["n_reported_scores"] = reported
    dens["frame"] = spec.name
    # per-benchmark densities (each score through its own sigmoid; point estimates)
    per = frame.benchmark_densities().pivot(index="id", columns="benchmark", values="density")
    per_cols = [f"density_{b}" for b in spec.benchmarks]
    per = per.reindex(columns=list(spec.benchmarks)).set_axis(per_cols, axis=1)
    dens = dens.join(per, on="model")
    # the densing law on models with a finite density, released in the window
    finite = (
        dens["status"].isin(TREND_STATUSES).to_numpy()
        & np.isfinite(dens["density"].to_numpy(float))
        & (dens["density"].to_numpy(float) > 0)
    )
    in_window = (
        np.ones(len(dens), dtype=bool)
        if since is None
        else (pd.to_datetime(dens["release_date"]) >= pd.Timestamp(since)).to_numpy()
    )
    use = finite & in_window
    sub = dens[use]
    rep = None
    n_replaced = 0
    nb = 0
    if boot is not None:
        idx = [boot.ids.index(m) for m in sub["model"]]
        rep = boot.density_replicates[:, idx].copy()
        bad = ~(np.isfinite(rep) & (rep > 0))
        n_replaced = int(bad.sum())
        rep = np.where(bad, sub["density"].to_numpy(float)[None, :], rep)
        nb = rep.shape[0]
    trend = bootstrap_trend(
        sub["model"].tolist(),
        [d.date() for d in pd.to_datetime(sub["release_date"])],
        sub["density"].to_numpy(float),
        BootstrapSpec(n_resamples=nb, seed=seed, level=level),
        rho_replicates=rep,
    )
    env = set(trend.fit.envelope)
    dens["on_envelope"] = dens["model"].isin(env)
    dens["in_trend"] = use
    dens["finite_density"] = finite
    cols = [
        "model",
        "family",
        "release_date",
        "params",
        "active_params",
        "effective_params",
        "effective_params_lo",
        "effective_params_hi",
        "density",
        "density_lo",
        "density_hi",
        "density_total",
        "status",
        "theta",
        "n_benchmarks",
        "n_reported_scores",
        "on_envelope",
        "in_trend",
        "finite_density",
        "frame",
        *per_cols,
    ]
    dens = dens[cols].sort_values("density", ascending=False, na_position="last")
    return FrameRun(
        spec,
        frame,
        boot,
        dens.reset_index(drop=True),
        trend,
        tuple(sub["model"]),
        n_replaced,
        since,
    )


def forecast_table(
    run: FrameRun, targets: Sequence[tuple[str, float, float]], level: float
) -> pd.DataFrame:
    """By when should a model of N parameters reach score S on benchmark b?

    The score is mapped through the benchmark's sigmoid to the capability θ, θ to the
    reference-law size N̂(S), and the needed density N̂/N to a date on the fitted law.
    The interval is the densing-law bootstrap's (the frame's own uncertainty about θ(S)
    is not added).
    """
    f = run.frame
    rows = []
    for bench, score, n in targets:
        if bench not in f.benchmarks:
            raise DensingInputError(
                f"benchmark '{bench}' is not in frame {run.spec.name}: {list(f.benchmarks)}"
            )
        s = f.sigmoids.loc[bench]
        row: dict[str, Any] = {"benchmark": bench, "score": score, "params": n}
        if not (s["d"] < score < s["c"] + s["d"]):
            row.update(
                status="outside sigmoid range",
                needed_effective_params=math.nan,
                needed_density=math.nan,
                date=None,
                date_lo=None,
                date_hi=None,
            )
            rows.append(row)
            continue
        th = float(sigmoid_theta(np.array([score]), s["l"], s["gamma"], s["c"], s["d"])[0])
        n_hat, status = f.invert(th)
        nh = float(n_hat[0])
        rho = nh / n
        row.update(needed_effective_params=nh, needed_density=rho, status=str(status[0]))
        if not (np.isfinite(rho) and rho > 0):
            row.update(date=None, date_lo=None, date_hi=None)
        else:
            d, lo, hi = run.trend.forecast_date(rho, level)
            row.update(date=d, date_lo=lo, date_hi=hi)
        rows.append(row)
    return pd.DataFrame(rows)


DEFAULT_FORECASTS: tuple[tuple[str, float, float], ...] = (
    ("mmlu", 0.60, 1e9),
    ("mmlu", 0.70, 3e9),
    ("hellaswag", 0.80, 1e9),
)


def analyze(
    catalog: Catalog,
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    sensitivity: Sequence[FrameSpec] = SENSITIVITY_FRAMES,
    sensitivity_resamples: int = 100,
    forecasts: Sequence[tuple[str, float, float]] = DEFAULT_FORECASTS,
    since: _dt.date | None = DEFAULT_SINCE,
    warm_start: bool = False,
    n_jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Analysis:
    """Run the full analysis; ``progress(stage, done, total)`` reports advancement.

    The main frame's resamples are refitted with the same full search as the point fit;
    ``warm_start=True`` polishes each from the point estimate instead (about 3x faster; a test
    checks the two agree). Sensitivity frames always use the warm start.
    """
    if n_resamples < 0 or sensitivity_resamples < 0:
        raise DensingInputError("the number of bootstrap resamples must be >= 0")
    if not 0 < level < 1:
        raise DensingInputError(f"level {level} must be in (0, 1)")

    def stage(name: str, total: int) -> Callable[[int], None] | None:
        if progress is None:
            return None
        done = [0]

        def adv(k: int) -> None:
            done[0] += k
            progress(name, done[0], total)

        return adv

    main = run_frame(
        catalog,
        spec,
        n_resamples=n_resamples,
        seed=seed,
        level=level,
        n_jobs=n_jobs,
        since=since,
        warm_start=warm_start,
        progress=stage(f"frame {spec.name}", n_resamples),
    )
    # before/after ChatGPT on the main frame, every model with a finite density
    sub = main.densities[main.densities["finite_density"]]

    bp = None
    bp_note = ""
    dates = pd.to_datetime(sub["release_date"]).dt.date
    try:
        bp = bootstrap_trend(
            sub["model"].tolist(),
            list(dates),
            sub["density"].to_numpy(float),
            BootstrapSpec(n_resamples=n_resamples, seed=seed, level=level),
            breakpoint=CHATGPT_RELEASE,
        )
    except DensingInputError as exc:  # too few models on one side of the breakpoint
        bp_note = f"no before/after-ChatGPT fit: {exc.reason}"
    runs = []
    for s in sensitivity:
        if s == spec:
            continue
        runs.append(
            run_frame(
                catalog,
                s,
                n_resamples=sensitivity_resamples,
                seed=seed,
                level=level,
                warm_start=True,
                n_jobs=n_jobs,
                since=since,
                progress=stage(f"frame {s.name}", sensitivity_resamples),
            )
        )
    # forecasts on benchmarks this frame has (the defaults name the default frame's)
    usable = [f for f in forecasts if f[0] in spec.benchmarks]
    fc = forecast_table(main, usable, level) if usable else pd.DataFrame()
    return Analysis(
        main=main,
        sensitivity_runs=tuple(runs),
        level=level,
        seed=seed,
        n_resamples=n_resamples,
        catalog_summary=catalog.summary(),
        breakpoint_trend=bp,
        breakpoint_note=bp_note,
        forecasts=fc,
    )


def builtin_frame(
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    warm_start: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ScoreFrameTargets:
    """A score-mode frame fitted on the built-in catalog, with its bootstrap replicates."""
    from densing.catalog import load

    _, frame, boot = fit_frame_spec(
        load(),
        spec,
        n_resamples=n_resamples,
        seed=seed,
        level=level,
        warm_start=warm_start,
        progress=progress,
    )
    return ScoreFrameTargets(frame, boot, level=level, source=f"built-in {spec.name}")


__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_FORECASTS",
    "DEFAULT_FRAME",
    "KNOWLEDGE_BENCHMARKS",
    "PAPER_BENCHMARKS",
    "SENSITIVITY_FRAMES",
    "Analysis",
    "FrameRun",
    "FrameSpec",
    "analyze",
    "builtin_frame",
    "fit_frame_spec",
    "forecast_table",
    "run_frame",
]

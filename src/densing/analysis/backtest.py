"""Out-of-sample check of the densing law: a rolling-origin backtest (stitched frames).

At each cutoff c (every ``step`` months), the frame and the frontier are fitted on models
released before c only (the reference family is the frame's own if it had ≥ 3 sizes released
before c, otherwise the first of :data:`FALLBACK_REFERENCES` that had). Each estimator
forecasts the frontier ``h`` months later, anchored at the densest informative model known at
c: ln ρ̂_max(c + h) = ln ρ_max(c) + A·h, with the interval from the bootstrap of A. The
realised value is the maximum over informative models released up to c + h, *placed in the
cutoff's frame* (their scores on the items the cutoff frame knows), so forecast and outcome
share one unit. A ``no-growth`` baseline (A = 0) is scored alongside.

Limitations, stated: the catalog records when a model was released, not when each score was
published, so a cutoff frame may use scores of old models that a later report published; a
horizon is scored only when c + h is not after the newest release in the catalog.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.analysis.informative import mark_uninformative
from densing.analysis.run import _frontiers, _law_inputs, fit_spec_tables
from densing.analysis.specs import DEFAULT_FRAME, DEFAULT_SINCE, FrameSpec
from densing.bootstrap import BootstrapSpec
from densing.catalog import Catalog
from densing.errors import DensingInputError
from densing.formatting import fmt_num
from densing.results import JsonResult
from densing.scoreframe import ScoreFrame, item_id

FALLBACK_REFERENCES = ("Qwen1.5", "Llama-2", "Pythia")
BASELINE = "no-growth"
HORIZONS = (3, 6, 12)


def add_months(d: _dt.date, months: int) -> _dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return _dt.date(d.year + y, m + 1, min(d.day, 28))


def default_cutoffs(
    catalog: Catalog, start: _dt.date = _dt.date(2023, 9, 1), step: int = 3
) -> list[_dt.date]:
    """Every ``step`` months from ``start`` while a 3-month horizon still ends in the data."""
    last = pd.Timestamp(catalog.models["release_date"].max()).date()
    out, c = [], start
    while add_months(c, min(HORIZONS)) <= last:
        out.append(c)
        c = add_months(c, step)
    return out


def _reference(models: pd.DataFrame, spec: FrameSpec, fallbacks: Sequence[str]) -> str | None:
    for fam in (spec.reference_family, *fallbacks):
        if models.loc[models["family"] == fam, "params"].nunique() >= 3:
            return fam
    return None


def _future_targets(catalog: Catalog, future: pd.DataFrame, frame: ScoreFrame) -> pd.DataFrame:
    """Long targets of models released after the cutoff, on the items the frame knows."""
    sc = catalog.scores[catalog.scores["id"].isin(future["id"])]
    items = set(frame.benchmarks)
    keep = [
        item_id(*t) in items
        for t in zip(sc["benchmark"], sc["setting"], sc["shots"], sc["cot"], strict=True)
    ]
    sc = sc[np.asarray(keep, dtype=bool)].rename(columns={"id": "model"})
    sizes = future.rename(columns={"id": "model"})[["model", "params", "active_params"]]
    cols = ["model", "params", "active_params", "benchmark", "setting", "shots", "cot", "score"]
    return sc.merge(sizes, on="model")[cols]


@dataclass(frozen=True)
class CutoffFit:
    """One cutoff: its frame's reference, every model placed in it, the frontier fits."""

    cutoff: _dt.date
    reference: str
    anchor: float  # ln ρ_max among informative models known at the cutoff
    slopes: dict[str, tuple[float, float, float]]  # estimator → (A, A_lo, A_hi) per day
    future: pd.DataFrame  # model, release_date, ln_rho of informative models placed later


def fit_cutoff(
    catalog: Catalog, spec: FrameSpec, cutoff: _dt.date, *, boot: BootstrapSpec, level: float,
    fallbacks: Sequence[str] = FALLBACK_REFERENCES, basis: str = "active",
) -> CutoffFit | None:  # fmt: skip
    """Frame and frontier fitted on models released before ``cutoff`` (None: no reference)."""
    models = catalog.models
    known = models["release_date"] < pd.Timestamp(cutoff)
    mk = models[known][["id", "family", "params", "active_params", "tokens"]].reset_index(drop=True)
    ref = _reference(mk, spec, fallbacks)
    if ref is None:
        return None
    scores = catalog.scores[catalog.scores["id"].isin(mk["id"])]
    frame = fit_spec_tables(mk, scores, replace(spec, reference_family=ref), bootstrap=boot)
    dates = models.set_index("id")["release_date"]
    dens = mark_uninformative(frame.densities(), frame)
    dens.insert(2, "release_date", pd.to_datetime(dens["model"].map(dates)).to_numpy())
    sub, rep, *_ = _law_inputs(dens, frame, DEFAULT_SINCE, False, basis)
    if len(sub) < 3:
        return None
    fits = _frontiers(sub, rep, boot.seed or 0, level)
    slopes = {
        k: (f.A_per_day, *f.intervals.get("A_per_day", (np.nan, np.nan))) for k, f in fits.items()
    }
    tg = _future_targets(catalog, models[~known], frame)
    fut = pd.DataFrame(columns=["model", "release_date", "ln_rho"])
    if len(tg):
        placed = mark_uninformative(frame.density(tg), frame)
        rho = placed[f"density_{basis}"].to_numpy(float)
        ok = placed["status"].isin(["ok", "extrapolated"]).to_numpy() & np.isfinite(rho) & (rho > 0)
        fut = pd.DataFrame(
            {
                "model": placed["model"][ok],
                "release_date": pd.to_datetime(placed["model"][ok].map(dates)),
                "ln_rho": np.log(rho[ok]),
            }
        )
    anchor = float(np.log(sub["density_law"].to_numpy(float)).max())
    return CutoffFit(cutoff, ref, anchor, slopes, fut)


def _forecast_rows(cf: CutoffFit, horizons: Sequence[int], last: _dt.date) -> list[dict[str, Any]]:
    rows = []
    for h in horizons:
        end = add_months(cf.cutoff, h)
        if end > last:
            continue
        days = (end - cf.cutoff).days
        fut = cf.future[cf.future["release_date"] <= pd.Timestamp(end)]
        realised = max([cf.anchor, *fut["ln_rho"].tolist()])
        for name, (A, lo, hi) in {**cf.slopes, BASELINE: (0.0, 0.0, 0.0)}.items():
            f = cf.anchor + A * days
            f_lo, f_hi = cf.anchor + lo * days, cf.anchor + hi * days
            rows.append(
                {
                    "cutoff": cf.cutoff,
                    "horizon_months": h,
                    "estimator": name,
                    "reference": cf.reference,
                    "anchor": cf.anchor,
                    "forecast": f,
                    "lo": f_lo,
                    "hi": f_hi,
                    "realised": realised,
                    "error": f - realised,
                    "covered": bool(f_lo <= realised <= f_hi) if name != BASELINE else None,
                    "n_future": len(fut),
                }
            )
    return rows


@dataclass(frozen=True)
class BacktestResult(JsonResult):
    """Forecasts of ln ρ_max per cutoff, horizon and estimator, and their scores."""

    kind: ClassVar[str] = "densing-backtest"

    forecasts: pd.DataFrame
    frame: str
    level: float
    n_resamples: int
    skipped: tuple[str, ...] = field(default_factory=tuple)
    density_basis: str = "active"

    def scores(self) -> pd.DataFrame:
        """Per estimator and horizon: forecasts, mean absolute error of ln ρ_max, mean error
        (bias), coverage of the intervals and their mean width (ln units)."""
        f = self.forecasts
        if f.empty:
            return pd.DataFrame()
        g = f.assign(abs_error=f["error"].abs(), width=f["hi"] - f["lo"]).groupby(
            ["estimator", "horizon_months"]
        )
        out = g.agg(
            n=("error", "size"), mae_ln_rho=("abs_error", "mean"), bias_ln_rho=("error", "mean"),
            coverage=("covered", lambda c: float(np.mean([bool(x) for x in c])) if c.notna().all() else np.nan),
            mean_width_ln=("width", "mean"),
        )  # fmt: skip
        return out.reset_index()

    def conf_int(self, level: float | None = None) -> pd.DataFrame:  # noqa: ARG002
        """Not an estimate with a sampling interval: the scores table (for the vocabulary)."""
        return self.scores()

    def summary(self) -> str:
        s = self.scores()
        lines = [
            f"Backtest of the densing law (frame {self.frame}; {self.forecasts['cutoff'].nunique()} "
            f"cutoffs; {self.level:.0%} intervals from {self.n_resamples} resamples)",
            f"  {'estimator':<14}{'h (mo)':>7}{'n':>4}{'MAE ln ρ':>10}{'bias':>8}{'coverage':>10}{'width':>8}",
        ]
        for r in s.to_dict(orient="records"):
            cov = "—" if pd.isna(r["coverage"]) else f"{float(r['coverage']):.2f}"
            lines.append(
                f"  {r['estimator']!s:<14}{r['horizon_months']!s:>7}{r['n']!s:>4}"
                f"{fmt_num(r['mae_ln_rho']):>10}{fmt_num(r['bias_ln_rho']):>8}{cov:>10}"
                f"{fmt_num(r['mean_width_ln']):>8}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "kind": self.kind,
                "frame": self.frame,
                "level": self.level,
                "n_resamples": self.n_resamples,
                "density_basis": self.density_basis,
                "skipped": list(self.skipped),
                "scores": self.scores().to_dict(orient="records"),
                "forecasts": self.forecasts.to_dict(orient="records"),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> BacktestResult:
        try:
            f = pd.DataFrame(d["forecasts"])
            if len(f):
                f["cutoff"] = pd.to_datetime(f["cutoff"]).dt.date
            return cls(
                f,
                str(d["frame"]),
                float(d["level"]),
                int(d["n_resamples"]),
                tuple(d.get("skipped", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DensingInputError(f"malformed backtest file ({exc!r})", file=file) from exc


def run_backtest(
    catalog: Catalog,
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    cutoffs: Sequence[_dt.date] | None = None,
    horizons: Sequence[int] = HORIZONS,
    frame_resamples: int = 40,
    seed: int = 0,
    level: float = 0.95,
    n_jobs: int | None = None,
    density_basis: str = "active",
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of every frontier estimator (see the module docstring).

    ``frame_resamples``: warm bootstrap replicates of each cutoff frame; the law's bootstrap
    has one replicate per frame replicate (so its interval carries the frame's uncertainty),
    and the replicates flag unbounded models.
    """
    if spec.model != "stitched":
        raise DensingInputError(
            "the backtest places later models in each cutoff's frame: use a stitched frame"
        )
    if frame_resamples < 1:
        raise DensingInputError(
            "--frame-bootstrap must be >= 1 (the law's interval needs replicates)"
        )
    cutoffs = list(cutoffs) if cutoffs is not None else default_cutoffs(catalog)
    last = pd.Timestamp(catalog.models["release_date"].max()).date()
    boot = BootstrapSpec(frame_resamples, seed=seed, level=level, warm_start=True, n_jobs=n_jobs)
    rows, skipped = [], []
    for c in cutoffs:
        if progress is not None:
            progress(f"cutoff {c.isoformat()}")
        cf = fit_cutoff(catalog, spec, c, boot=boot, level=level, basis=density_basis)
        if cf is None:
            skipped.append(
                f"{c.isoformat()}: no reference family with 3 sizes, or < 3 informative models"
            )
            continue
        rows += _forecast_rows(cf, horizons, last)
    return BacktestResult(
        pd.DataFrame(rows), spec.name, level, frame_resamples, tuple(skipped), density_basis
    )


__all__ = [
    "BASELINE",
    "BacktestResult",
    "CutoffFit",
    "default_cutoffs",
    "fit_cutoff",
    "run_backtest",
]

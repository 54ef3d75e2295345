"""The main job's result: :class:`Analysis` (the law, its sensitivity, forecasts, files)."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing import __version__
from densing._json import to_jsonable
from densing.analysis.bundle import law_points, method_note, paper_comparison, sigmoid_points
from densing.analysis.run import FrameRun
from densing.formatting import fmt_num
from densing.results import conf_int_table
from densing.trend import CHATGPT_RELEASE, TrendResult
from densing.units import DAYS_PER_MONTH


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
    timings: dict[str, float] = field(default_factory=dict)
    backtest: Any = None  # BacktestResult of `densing run --backtest`, else None

    @property
    def sensitivity(self) -> pd.DataFrame:
        rows = [self.main.sensitivity_row()] + [r.sensitivity_row() for r in self.sensitivity_runs]
        return pd.DataFrame(rows)

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """The main law's A (per day), doubling time (days, months) and R² with intervals."""
        t = self.main.trend
        samples = None
        if t.samples is not None:
            s = t.samples
            with np.errstate(divide="ignore"):
                dt = np.where(s.A > 0, np.log(2) / s.A, np.inf)
            samples = {
                "A_per_day": s.A,
                "doubling_time_days": dt,
                "doubling_time_months": dt / DAYS_PER_MONTH,
            }
        est = {
            "A_per_day": t.A_per_day,
            "doubling_time_days": t.doubling_time_days,
            "doubling_time_months": t.doubling_time_months,
        }
        return conf_int_table(est, samples, level or self.level)

    def trend_dict(self) -> dict[str, Any]:
        d = self.main.trend.to_dict()
        d["reference_date"] = self.main.trend.fit.reference_date.isoformat()
        d["interval_level"] = self.level
        d["frame"] = self.main.spec.name
        # replicate densities that were not finite (model above the frame's range in that
        # replicate) and were replaced by the model's point estimate in the law's bootstrap
        d["replicate_cells_replaced"] = self.main.n_replaced_cells
        d["estimator"] = self.main.estimator
        env = self.main.frontiers.get("envelope-ols")
        if env is not None:  # the models that set a new maximum (shown whatever the estimator)
            d["envelope"] = list(env.fit.envelope)
        d["n_extrapolated_on_envelope"] = self.main.n_extrapolated_on_envelope
        d["caveats"] = self.main.caveats
        d["window"] = [
            min(self.main._window_dates(), default=None),
            max(self.main._window_dates(), default=None),
        ]
        d["estimators"] = {
            name: {
                "A_per_day": f.A_per_day,
                "doubling_time_months": f.doubling_time_months,
                "intervals": {k: list(v) for k, v in f.intervals.items()},
            }
            for name, f in self.main.frontiers.items()
        }
        if self.breakpoint_trend is not None:
            d["segments"] = self.breakpoint_trend.to_dict().get("segments")
            d["breakpoint"] = CHATGPT_RELEASE.isoformat()
            d["segments_note"] = (
                f"envelope OLS on each side of {CHATGPT_RELEASE.isoformat()} over the "
                f"{self.breakpoint_trend.fit.n_models} informative models of every date (ok or "
                "extrapolated); the frame is held fixed (its replicates are not carried)"
            )
        return to_jsonable(d)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "trend": self.trend_dict(),
                "frame": self.frame_dict(),
                "sensitivity": self.sensitivity.to_dict(orient="records"),
                "forecasts": self.forecasts.to_dict(orient="records"),
            }
        )

    def frame_dict(self) -> dict[str, Any]:
        f = self.main.frame
        spec = self.main.spec
        d = f.metadata()
        d.update(
            {
                "name": spec.name,
                "mode": "score",
                "benchmarks": list(f.benchmarks),
                "settings": list(spec.settings) if spec.settings else "preferred per score",
                "D0": d.get("d0_note") or "family budget",
                "method_note": method_note(spec, f),
            }
        )
        return to_jsonable(d)

    def summary(self) -> str:
        t = self.main.trend
        lines = [f"frame {self.main.spec.name}: {self.main.spec.describe()}", t.summary()]
        iv = t.intervals.get("doubling_time_days") if t.samples else None
        if iv:
            lines.append(
                f"doubling time {fmt_num(t.doubling_time_months)} months "
                f"[{fmt_num(iv[0] / DAYS_PER_MONTH)}, {fmt_num(iv[1] / DAYS_PER_MONTH)}] "
                f"at {self.level:.0%}"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ report inputs
    def _band(self) -> pd.DataFrame | None:
        main = self.main
        if main.trend.samples is None:
            return None
        in_fit = main.densities[main.densities["in_trend"]]
        d0 = pd.Timestamp(in_fit["release_date"].min())
        d1 = pd.Timestamp(in_fit["release_date"].max()) + pd.Timedelta(days=90)
        dates = pd.date_range(d0, d1, periods=100).normalize()
        return main.trend.band([d.date() for d in dates], self.level)

    def to_bundle(self) -> Any:
        from densing.report import ReportBundle

        fit_pts, fit_curve = law_points(self.main.frame)
        sig_curves, sig_pts = sigmoid_points(self.main.frame)
        return ReportBundle(
            densities=self.main.densities.copy(),
            trend=self.trend_dict(),
            frame=self.frame_dict()
            | {
                "fit_y_label": "capability θ (loss-like, lower is better)",
                "fit_x_label": "parameters N",
                "sigmoid_x_label": "capability θ",
            },
            band=self._band(),
            fit_points=fit_pts,
            fit_curve=fit_curve,
            sigmoids=sig_curves,
            sigmoid_points=sig_pts,
            sensitivity=self.sensitivity,
            backtest=None if self.backtest is None else self.backtest.to_dict(),
            paper_comparison=paper_comparison(),
            generated_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            densing_version=__version__,
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write report.html, densities.csv, trend.json, frame.json and bundle.json."""
        from densing.report import read_bundle, render_report, write_bundle

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            name: out / f"{name}.{ext}"
            for name, ext in (
                ("densities", "csv"),
                ("trend", "json"),
                ("frame", "json"),
                ("bundle", "json"),
                ("report", "html"),
            )
        }
        dens = self.main.densities.copy()
        dens["release_date"] = pd.to_datetime(dens["release_date"]).dt.date.astype(str)
        dens.to_csv(paths["densities"], index=False)
        paths["trend"].write_text(json.dumps(self.trend_dict(), indent=2) + "\n")
        if self.backtest is not None:
            paths["backtest"] = self.backtest.to_json(out / "backtest.json")
        if self.main.frame.item_info is not None:
            paths["items"] = out / "items.csv"
            self.main.frame.item_info.to_csv(paths["items"], index=False)
        self.main.frame.to_json(paths["frame"])
        write_bundle(self.to_bundle(), paths["bundle"])
        # render from the saved bundle, so `densing report` re-renders the same page
        render_report(read_bundle(paths["bundle"]), paths["report"])
        return paths

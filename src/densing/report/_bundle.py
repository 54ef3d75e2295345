"""The inputs of a report: plain pandas tables and dicts, filled by the analysis code.

The report module renders; it does not compute. A :class:`ReportBundle` holds everything a
report shows, already estimated. It can be saved to one JSON file and read back, so a report
can be re-rendered later from saved outputs (``densing report``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from densing._json import to_jsonable
from densing.errors import DensingInputError
from densing.io import require_columns

BUNDLE_FORMAT = "densing-report-bundle"
BUNDLE_VERSION = 1

DENSITY_COLUMNS = (
    "model",
    "family",
    "release_date",
    "params",
    "active_params",
    "effective_params",
    "density_active",
    "density_active_lo",
    "density_active_hi",
    "status",
    "frame",
)
TREND_KEYS = ("A_per_day", "B", "r2", "doubling_time_days", "doubling_time_months", "n_models")
BAND_COLUMNS = ("date", "fit", "lo", "hi")
FIT_POINT_COLUMNS = ("x", "y", "fitted", "residual", "label", "group")
FIT_CURVE_COLUMNS = ("x", "y", "group")
SIGMOID_COLUMNS = ("benchmark", "x", "y")
SIGMOID_POINT_COLUMNS = ("benchmark", "x", "y", "model")
SENSITIVITY_COLUMNS = (
    "frame",
    "reference_family",
    "benchmarks",
    "n_models",
    "doubling_time_months",
    "lo",
    "hi",
)

_TABLE_FIELDS = (
    "densities",
    "band",
    "fit_points",
    "fit_curve",
    "sigmoids",
    "sigmoid_points",
    "sensitivity",
)
_DATE_COLUMNS = {"densities": ("release_date",), "band": ("date",)}

#: Bundle fields stored as plain JSON (no table conversion).
_PLAIN_FIELDS = (
    "trend",
    "frame",
    "backtest",
    "paper_comparison",
    "generated_at",
    "densing_version",
)


def _check_columns(df: Any, name: str, required: tuple[str, ...], source: str | None) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DensingInputError(
            f"report bundle field '{name}' must be a pandas DataFrame, got {type(df).__name__}",
            file=source,
        )
    require_columns(df, required, file=source, what=f"report bundle table '{name}'")


def _check_dates(df: pd.DataFrame, name: str, column: str, source: str | None) -> None:
    parsed = pd.to_datetime(df[column], errors="coerce")
    bad = parsed.isna() & df[column].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 1
        raise DensingInputError(
            f"report bundle table '{name}' has an unreadable date {df[column].iloc[row - 1]!r}",
            file=source,
            row=row,
            column=column,
        )


def _numeric_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of numbers read back from JSON (infinities spelled as text, missing as null)
    become float columns again instead of staying mixed objects."""
    for col in df.columns:
        values = df[col]
        if values.dtype != object:
            continue
        present = values.dropna()
        if len(present) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present
        ):
            df[col] = values.astype(float)
    return df


@dataclass(frozen=True, eq=False)
class ReportBundle:
    """Everything one report shows. Tables are pandas DataFrames, the rest plain dicts.

    Required: ``densities``, ``trend``, ``frame``. The other parts are optional; a report
    section whose input is missing says so instead of showing an empty plot.

    - ``densities``: one row per model with columns model, family, release_date, params,
      active_params, effective_params, density_active, density_active_lo, density_active_hi,
      status ("ok" | "extrapolated" | "uninformative" | "above_range" (ρ is a lower bound) |
      "below_range" (an upper bound) | "insufficient_scores"), frame; optionally
      density_total (MoE, against total parameters) and any other column (shown in the table
      of models; theta, n_benchmarks, at_chance, on_envelope, in_trend … get readable titles,
      density_<bench> reads "ρ from <bench>").
    - ``trend``: A_per_day, B, r2, doubling_time_days, doubling_time_months, n_models,
      envelope (model ids), intervals {A_per_day: [lo, hi], doubling_time_days: [lo, hi]},
      reference_date (ISO origin of t); optionally interval_level, estimator, estimators
      {name: {A_per_day, doubling_time_months, intervals}}, caveats (plain sentences, shown
      in a caveat box), window [first, last], n_extrapolated_on_envelope, segments
      {before/after: {same keys}} and segments_note (what the segments were fitted on).
    - ``band``: columns date, fit, lo, hi (the fitted law and its interval, as density).
    - ``frame``: name, mode ("score" | "loss"), reference_family, benchmarks, D0 (or
      "family budget"), method_note; optional fit_x_label / fit_y_label / sigmoid_x_label.
    - ``fit_points``: x (params), y (observed), fitted, residual, label, group;
      ``fit_curve``: x, y, group (a group without points is drawn as a shared law).
    - ``sigmoids``: curve points benchmark, x, y; ``sigmoid_points``: benchmark, x, y, model.
    - ``sensitivity``: frame, reference_family, benchmarks, n_models, doubling_time_months,
      lo, hi, and optionally model, settings, alpha, estimator, density_basis, window_end,
      A_per_day, r2.
    - ``backtest``: ``BacktestResult.to_dict()`` — level, frame, n_resamples, skipped,
      scores [{estimator, horizon_months, n, mae_ln_rho, bias_ln_rho, coverage,
      mean_width_ln}] and forecasts [{cutoff, horizon_months, estimator, anchor, forecast,
      lo, hi, realised, …}].
    """

    densities: pd.DataFrame
    trend: dict[str, Any]
    frame: dict[str, Any]
    band: pd.DataFrame | None = None
    fit_points: pd.DataFrame | None = None
    fit_curve: pd.DataFrame | None = None
    sigmoids: pd.DataFrame | None = None
    sigmoid_points: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    backtest: dict[str, Any] | None = None
    paper_comparison: dict[str, Any] | None = None
    generated_at: str | None = None
    densing_version: str | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        src = self.source
        _check_columns(self.densities, "densities", DENSITY_COLUMNS, src)
        if self.densities.empty:
            raise DensingInputError("report bundle table 'densities' has no rows", file=src)
        _check_dates(self.densities, "densities", "release_date", src)
        if not isinstance(self.trend, dict):
            raise DensingInputError("report bundle field 'trend' must be a dict", file=src)
        missing = [k for k in TREND_KEYS if k not in self.trend]
        if missing:
            raise DensingInputError(
                f"report bundle 'trend' lacks key(s) {missing}", file=src, column=missing[0]
            )
        if not isinstance(self.frame, dict) or "name" not in self.frame:
            raise DensingInputError(
                "report bundle field 'frame' must be a dict with at least a 'name'", file=src
            )
        optional = {
            "band": BAND_COLUMNS,
            "fit_points": FIT_POINT_COLUMNS,
            "fit_curve": FIT_CURVE_COLUMNS,
            "sigmoids": SIGMOID_COLUMNS,
            "sigmoid_points": SIGMOID_POINT_COLUMNS,
            "sensitivity": SENSITIVITY_COLUMNS,
        }
        for name, cols in optional.items():
            df = getattr(self, name)
            if df is not None:
                _check_columns(df, name, cols, src)
        if self.band is not None:
            _check_dates(self.band, "band", "date", src)

    def summary(self) -> str:
        """A short readable list of what the bundle holds (and which parts are missing)."""
        lines = [
            f"report bundle for frame {self.frame.get('name')!s}",
            f"  densities       {len(self.densities)} models",
            f"  trend           A = {self.trend.get('A_per_day')}, "
            f"doubling = {self.trend.get('doubling_time_months')} months",
        ]
        for name in _TABLE_FIELDS[1:]:
            df = getattr(self, name)
            lines.append(f"  {name:<15} {'missing' if df is None else f'{len(df)} rows'}")
        lines.append(f"  paper           {'missing' if not self.paper_comparison else 'present'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (tables as lists of records); read back with :meth:`from_dict`."""
        out: dict[str, Any] = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION}
        for name in _TABLE_FIELDS:
            df = getattr(self, name)
            if df is None:
                out[name] = None
                continue
            df = df.copy()
            for col in _DATE_COLUMNS.get(name, ()):
                dates = pd.to_datetime(df[col])
                whole_days = bool((dates.dropna() == dates.dropna().dt.normalize()).all())
                fmt = "%Y-%m-%d" if whole_days else "%Y-%m-%dT%H:%M:%S.%f"
                df[col] = dates.dt.strftime(fmt)
            out[name] = to_jsonable(df.to_dict(orient="records"))
        for name in _PLAIN_FIELDS:
            out[name] = to_jsonable(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> ReportBundle:
        """Rebuild a bundle written by :meth:`to_dict`; a foreign or future file is an error."""
        if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
            raise DensingInputError(
                f'not a densing report bundle (expected "format": "{BUNDLE_FORMAT}")',
                file=source,
            )
        if data.get("version") != BUNDLE_VERSION:
            raise DensingInputError(
                f"report bundle version {data.get('version')!r} is not supported "
                f"(this densing reads version {BUNDLE_VERSION})",
                file=source,
            )
        for name in ("densities", "trend", "frame"):
            if data.get(name) is None:
                raise DensingInputError(f"report bundle lacks '{name}'", file=source, column=name)
        kwargs: dict[str, Any] = {}
        for name in _TABLE_FIELDS:
            records = data.get(name)
            if records is None:
                kwargs[name] = None
                continue
            if not isinstance(records, list):
                raise DensingInputError(
                    f"report bundle '{name}' must be a list of records", file=source, column=name
                )
            df = pd.DataFrame.from_records(records)
            for col in _DATE_COLUMNS.get(name, ()):
                if col in df.columns:
                    df[col] = pd.to_datetime(df[col], errors="coerce")
            df = _numeric_columns(df.replace({"inf": math.inf, "-inf": -math.inf}))
            kwargs[name] = df
        for name in _PLAIN_FIELDS:
            kwargs[name] = data.get(name)
        return cls(**kwargs, source=source)


def write_bundle(bundle: ReportBundle, path: str | Path) -> Path:
    """Save a bundle as one JSON file (so ``read_bundle`` + ``render_report`` can re-render)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(bundle.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
    return p


def read_bundle(path: str | Path) -> ReportBundle:
    """Read a bundle saved by :func:`write_bundle`; bad files raise DensingInputError."""
    p = Path(path)
    if not p.is_file():
        raise DensingInputError("report bundle file not found", file=str(p))
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DensingInputError(f"could not parse report bundle JSON: {exc}", file=str(p)) from exc
    return ReportBundle.from_dict(data, source=str(p))

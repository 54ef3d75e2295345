"""The densing law: exponential growth of the maximum capability density over time.

``ln ρ = A · t + B`` is fitted by ordinary least squares, with ``t`` in days since a
reference date (:data:`REFERENCE_DATE`, 2023-01-01 by default; ``B`` is the intercept
at that origin). By default the fit uses the *envelope*: the models that set a new
running maximum of density in release-date order.

Envelope rule (ties): models are taken in order of release date; models released on
the same day are taken densest first (then by model id). A model is on the envelope
when its density is *strictly* greater than every density taken before it. Hence the
earliest (densest) model is always on it, at most one model per release date is on
it, and a later model that only equals the maximum is not.

With a breakpoint the data are split into ``before`` (release date < breakpoint) and
``after`` (release date ≥ breakpoint), and each segment gets its own envelope (its
own running maximum) and its own fit, as the paper does around ChatGPT's release
(2022-11-30). The overall fit is still reported.

Uncertainty comes from a nonparametric bootstrap over models (or groups of models):
every resample recomputes the envelope and refits. The bootstrap is vectorised with
numpy (all resamples at once), so 1,000 resamples take a few milliseconds. A matrix
of density replicates from a reference-frame bootstrap can be passed in so that the
frame's uncertainty propagates into the trend.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec, percentile_interval, replicate_seeds, resample_indices
from densing.errors import DensingInputError
from densing.io import id_column, parse_iso_date
from densing.results import JsonResult
from densing.units import DAYS_PER_MONTH

REFERENCE_DATE = _dt.date(2023, 1, 1)
CHATGPT_RELEASE = _dt.date(2022, 11, 30)
LN2 = math.log(2.0)
INTERVAL_KEYS = ("A_per_day", "doubling_time_days", "doubling_time_months", "B", "r2")
_BATCH = 250  # resamples per vectorised batch (bounded memory, progress granularity)


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class TrendData:
    """Validated trend inputs: ids, release dates (as days since the reference) and ρ."""

    models: tuple[str, ...]
    days: np.ndarray  # int64 days since reference_date
    rho: np.ndarray
    reference_date: _dt.date = REFERENCE_DATE

    @property
    def dates(self) -> list[_dt.date]:
        return [self.reference_date + _dt.timedelta(days=int(t)) for t in self.days]


def _to_date(value: Any, *, row: int | None = None, column: str = "release_date") -> _dt.date:
    day = parse_iso_date(value)
    if day is None:
        raise DensingInputError(
            f"'{value}' is not an ISO date; expected YYYY-MM-DD", row=row, column=column
        )
    return day


def prepare(
    models: Sequence[Any],
    dates: Sequence[Any],
    rho: Sequence[float] | np.ndarray,
    *,
    reference_date: _dt.date = REFERENCE_DATE,
    file: str | None = None,
) -> TrendData:
    """Validate the inputs; every problem is a :class:`DensingInputError` naming row and column."""
    models = list(models)
    dates = list(dates)
    r = np.asarray(rho, dtype=float).ravel()
    if not (len(models) == len(dates) == r.size):
        raise DensingInputError(
            f"models ({len(models)}), release dates ({len(dates)}) and densities ({r.size}) "
            "must have the same length",
            file=file,
        )
    if r.size == 0:
        raise DensingInputError("no models given", file=file)
    frame = pd.DataFrame({"model": list(models)})
    frame.attrs["source"] = file
    ids = id_column(frame, "model", file=file)
    for i, v in enumerate(r):
        if not np.isfinite(v):
            raise DensingInputError(
                f"density {v!r} is not finite", file=file, row=i + 1, column="density"
            )
        if v <= 0:
            raise DensingInputError(
                f"density {v:g} must be > 0 (ln ρ is fitted)",
                file=file,
                row=i + 1,
                column="density",
            )
    days = np.empty(r.size, dtype=np.int64)
    for i, v in enumerate(dates):
        try:
            d = _to_date(v, row=i + 1)
        except DensingInputError as exc:
            raise DensingInputError(
                exc.reason, file=file, row=i + 1, column="release_date"
            ) from exc
        days[i] = (d - reference_date).days
    return TrendData(models=tuple(ids), days=days, rho=r, reference_date=reference_date)


# ----------------------------------------------------------------------------- core maths


def _order(days: np.ndarray, rho: np.ndarray, idrank: np.ndarray) -> np.ndarray:
    """Envelope processing order along the last axis: date, then density desc, then id."""
    return np.lexsort((idrank, -rho, days), axis=-1)


def _envelope_mask_sorted(rho_sorted: np.ndarray) -> np.ndarray:
    """Strict new running maxima along the last axis of already-ordered densities."""
    prev = np.maximum.accumulate(rho_sorted, axis=-1)
    prev = np.concatenate([np.full((*prev.shape[:-1], 1), -np.inf), prev[..., :-1]], axis=-1)
    return rho_sorted > prev


def envelope_mask(
    days: np.ndarray, rho: np.ndarray, models: Sequence[str] | None = None
) -> np.ndarray:
    """Boolean mask (in input order) of the models on the envelope (see module docstring)."""
    days = np.asarray(days)
    rho = np.asarray(rho, dtype=float)
    idrank = (
        np.argsort(np.argsort(np.asarray(models, dtype=str), kind="stable"), kind="stable")
        if models is not None
        else np.arange(rho.size)
    )
    order = _order(days, rho, idrank)
    mask_sorted = _envelope_mask_sorted(rho[order])
    out = np.zeros(rho.size, dtype=bool)
    out[order[mask_sorted]] = True
    return out


def envelope(
    dates: Sequence[Any], rho: Sequence[float] | np.ndarray, models: Sequence[Any] | None = None
) -> np.ndarray:
    """Indices (in date order) of the models that set a new running maximum of density."""
    ids = list(models) if models is not None else [str(i) for i in range(len(dates))]
    data = prepare(ids, dates, rho)
    mask = envelope_mask(data.days, data.rho, data.models)
    idx = np.flatnonzero(mask)
    return idx[np.argsort(data.days[idx], kind="stable")]


def _batch_ols(
    x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise OLS of y on x with 0/1 (or count) weights w: returns A, B, r2, n.

    Rows with fewer than two distinct x values get NaN.
    """
    n = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * x).sum(axis=-1) / n
        my = (w * y).sum(axis=-1) / n
        dx = np.where(w > 0, x - mx[..., None], 0.0)
        dy = np.where(w > 0, y - my[..., None], 0.0)
        sxx = (w * dx * dx).sum(axis=-1)
        sxy = (w * dx * dy).sum(axis=-1)
        syy = (w * dy * dy).sum(axis=-1)
        A = sxy / sxx
        B = my - A * mx
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), 1.0)
    bad = (n < 2) | ~(sxx > 0)
    A = np.where(bad, np.nan, A)
    B = np.where(bad, np.nan, B)
    r2 = np.where(bad, np.nan, r2)
    return A, B, r2, n


def doubling_time_days(A: float) -> float:
    """``ln 2 / A`` days; ``inf`` when A ≤ 0 (density not growing)."""
    if not np.isfinite(A):
        return float("nan")
    return LN2 / A if A > 0 else float("inf")


# ----------------------------------------------------------------------------- point fit


@dataclass(frozen=True)
class TrendFit:
    """OLS fit of ``ln ρ = A · t + B`` (t in days since ``reference_date``)."""

    A_per_day: float
    B: float
    r2: float
    n_models: int  # models in the input (of this segment)
    n_fit: int  # points in the regression (the envelope, or all models)
    envelope: tuple[str, ...]  # envelope model ids in date order
    use_envelope: bool
    reference_date: _dt.date
    first_date: _dt.date
    last_date: _dt.date
    before: TrendFit | None = None
    after: TrendFit | None = None
    breakpoint: _dt.date | None = None

    @property
    def growing(self) -> bool:
        """False when A ≤ 0: no doubling (doubling time is reported as inf)."""
        return bool(self.A_per_day > 0)

    @property
    def doubling_time_days(self) -> float:
        return doubling_time_days(self.A_per_day)

    @property
    def doubling_time_months(self) -> float:
        return self.doubling_time_days / DAYS_PER_MONTH

    @property
    def segments(self) -> dict[str, TrendFit] | None:
        if self.before is None or self.after is None:
            return None
        return {"before": self.before, "after": self.after}

    def predict_log(self, dates: Sequence[Any]) -> np.ndarray:
        """Fitted ln ρ at ``dates``."""
        t = _days_of(dates, self.reference_date)
        return self.A_per_day * t + self.B

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "A_per_day": self.A_per_day,
            "B": self.B,
            "r2": self.r2,
            "doubling_time_days": self.doubling_time_days,
            "doubling_time_months": self.doubling_time_months,
            "n_models": self.n_models,
            "envelope": list(self.envelope),
        }
        if self.segments is not None:
            d["segments"] = {k: v.to_dict() for k, v in self.segments.items()}
        return d

    def summary(self) -> str:
        return _summary_text(self, None, None)


def _days_of(dates: Sequence[Any], reference: _dt.date) -> np.ndarray:
    return np.array([(_to_date(d) - reference).days for d in dates], dtype=float)


def _fit_core(
    models: tuple[str, ...],
    days: np.ndarray,
    rho: np.ndarray,
    *,
    use_envelope: bool,
    reference_date: _dt.date,
    label: str = "",
) -> TrendFit:
    mask_env = envelope_mask(days, rho, models)
    w = mask_env if use_envelope else np.ones(rho.size, dtype=bool)
    what = "envelope" if use_envelope else "set of models"
    where = f" {label}" if label else ""
    if w.sum() < 2:
        raise DensingInputError(
            f"the {what}{where} has {int(w.sum())} model(s); the trend needs at least 2 "
            f"({rho.size} model(s) given)"
        )
    A, B, r2, _ = _batch_ols(days.astype(float), np.log(rho), w.astype(float))
    if not np.isfinite(A):
        raise DensingInputError(
            f"all models in the {what}{where} share one release date: no trend can be fitted"
        )
    env_idx = np.flatnonzero(mask_env)
    env_idx = env_idx[np.argsort(days[env_idx], kind="stable")]
    return TrendFit(
        A_per_day=float(A),
        B=float(B),
        r2=float(r2),
        n_models=int(rho.size),
        n_fit=int(w.sum()),
        envelope=tuple(models[i] for i in env_idx),
        use_envelope=use_envelope,
        reference_date=reference_date,
        first_date=reference_date + _dt.timedelta(days=int(days.min())),
        last_date=reference_date + _dt.timedelta(days=int(days.max())),
    )


def _segment_masks(days: np.ndarray, bp_day: int) -> tuple[np.ndarray, np.ndarray]:
    before = days < bp_day
    return before, ~before


def fit_trend(
    models: Sequence[Any],
    dates: Sequence[Any],
    rho: Sequence[float] | np.ndarray,
    *,
    envelope: bool = True,
    breakpoint: _dt.date | str | None = None,
    reference_date: _dt.date = REFERENCE_DATE,
) -> TrendFit:
    """Fit the densing law ``ln ρ = A · t + B`` on the envelope (default) or all models.

    ``breakpoint``: also fit ``before`` (date < breakpoint) and ``after`` (date ≥
    breakpoint) separately, each on its own envelope.
    """
    data = prepare(models, dates, rho, reference_date=reference_date)
    return _fit_data(data, envelope=envelope, breakpoint=breakpoint)


def _fit_data(data: TrendData, *, envelope: bool, breakpoint: _dt.date | str | None) -> TrendFit:
    fit = _fit_core(
        data.models,
        data.days,
        data.rho,
        use_envelope=envelope,
        reference_date=data.reference_date,
    )
    if breakpoint is None:
        return fit
    bp = _to_date(breakpoint, column="breakpoint")
    bp_day = (bp - data.reference_date).days
    segs = {}
    for name, m in zip(("before", "after"), _segment_masks(data.days, bp_day), strict=True):
        if m.sum() == 0:
            raise DensingInputError(
                f"no model is released {name} the breakpoint {bp.isoformat()}", column="breakpoint"
            )
        segs[name] = _fit_core(
            tuple(np.asarray(data.models, dtype=object)[m]),
            data.days[m],
            data.rho[m],
            use_envelope=envelope,
            reference_date=data.reference_date,
            label=f"{name} {bp.isoformat()}",
        )
    return TrendFit(
        **{k: getattr(fit, k) for k in fit.__dataclass_fields__ if k not in ("before", "after")}
        | {"breakpoint": bp},
        before=segs["before"],
        after=segs["after"],
    )


# ----------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class TrendSamples:
    """Bootstrap replicates of one fit (overall, or one segment). NaN = degenerate resample."""

    A: np.ndarray
    B: np.ndarray
    r2: np.ndarray

    @property
    def n_invalid(self) -> int:
        return int((~np.isfinite(self.A)).sum())

    def intervals(self, level: float) -> dict[str, tuple[float, float]]:
        return _intervals(self.A, self.B, self.r2, level)


def _intervals(
    A: np.ndarray, B: np.ndarray, r2: np.ndarray, level: float
) -> dict[str, tuple[float, float]]:
    a_lo, a_hi = percentile_interval(A, level)
    # doubling time is a decreasing function of A: its percentiles are those of A mapped
    # through ln2/A (exact for percentiles; A ≤ 0 → inf, i.e. "no doubling")
    d_lo, d_hi = doubling_time_days(a_hi), doubling_time_days(a_lo)
    return {
        "A_per_day": (a_lo, a_hi),
        "doubling_time_days": (d_lo, d_hi),
        "doubling_time_months": (d_lo / DAYS_PER_MONTH, d_hi / DAYS_PER_MONTH),
        "B": percentile_interval(B, level),
        "r2": percentile_interval(r2, level),
    }


@dataclass(frozen=True)
class TrendResult(JsonResult):
    """The densing-law fit with bootstrap replicates and percentile intervals.

    ``to_dict()`` gives the keys of ``densing trend --json``; ``to_json(path)`` / ``from_json``
    keep the replicates too (:mod:`densing._trend_io`).
    """

    kind: ClassVar[str] = "densing-trend"

    fit: TrendFit
    samples: TrendSamples | None
    segment_samples: dict[str, TrendSamples] | None
    level: float
    n_resamples: int
    seed: int | None
    resampling: str  # "models", "groups"
    frame_replicates: bool  # density replicates from a frame bootstrap were used
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    # -- convenience views of the point fit
    @property
    def A_per_day(self) -> float:
        return self.fit.A_per_day

    @property
    def B(self) -> float:
        return self.fit.B

    @property
    def doubling_time_days(self) -> float:
        return self.fit.doubling_time_days

    @property
    def doubling_time_months(self) -> float:
        return self.fit.doubling_time_months

    @property
    def n_invalid(self) -> int:
        return 0 if self.samples is None else self.samples.n_invalid

    def to_dict(self) -> dict[str, Any]:
        """Exactly the keys of ``densing trend --json`` (intervals only with a bootstrap)."""
        d = self.fit.to_dict()
        seg = d.pop("segments", None)
        if self.samples is not None:
            d["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        if seg is not None:
            if self.segment_samples is not None:
                for name in ("before", "after"):
                    iv = self.segment_samples[name].intervals(self.level)
                    seg[name]["intervals"] = {k: list(v) for k, v in iv.items()}
            d["segments"] = seg
        return d

    def summary(self) -> str:
        return _summary_text(self.fit, self, self.level)

    def to_json(self, path: str | Any) -> Any:
        from densing._trend_io import trend_to_dict
        from densing.results import write_json_file

        return write_json_file(trend_to_dict(self), path)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> TrendResult:
        from densing._trend_io import trend_from_dict

        return trend_from_dict(d, file=file)  # type: ignore[no-any-return]

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """A, doubling time (days, months), B and R² with percentile intervals (R² only for
        least-squares fits: a quantile-regression frontier has no R² row)."""
        lvl = level or self.level
        iv = self.samples.intervals(lvl) if self.samples is not None else {}
        est = {
            "A_per_day": self.A_per_day,
            "doubling_time_days": self.doubling_time_days,
            "doubling_time_months": self.doubling_time_months,
            "B": self.B,
        }
        if self.fit.r2 is not None and math.isfinite(self.fit.r2):
            est["r2"] = self.fit.r2
        rows = [(v, *iv.get(k, (math.nan, math.nan))) for k, v in est.items()]
        out = pd.DataFrame(
            rows, index=pd.Index(list(est), name="name"), columns=["estimate", "lower", "upper"]
        )
        out.attrs["level"] = lvl
        return out

    def _require_samples(self) -> TrendSamples:
        if self.samples is None or self.samples.A.size == 0:
            raise ValueError("this trend has no bootstrap replicates (n_resamples = 0)")
        return self.samples

    def band(self, dates: Sequence[Any], level: float | None = None) -> pd.DataFrame:
        """Fitted maximum density and its pointwise percentile band at ``dates``.

        Columns ``date``, ``fit``, ``lo``, ``hi`` are densities ρ (``exp`` of
        ``A·t + B``; percentiles commute with ``exp``). Degenerate resamples are left out.
        """
        s = self._require_samples()
        level = self.level if level is None else level
        t = _days_of(dates, self.fit.reference_date)
        ok = np.isfinite(s.A)
        logs = s.A[ok, None] * t[None, :] + s.B[ok, None]
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(logs, [a, 1.0 - a], axis=0)
        return pd.DataFrame(
            {
                "date": [_to_date(d) for d in dates],
                "fit": np.exp(self.fit.A_per_day * t + self.fit.B),
                "lo": np.exp(lo),
                "hi": np.exp(hi),
            }
        )

    def forecast_date(
        self, target_rho: float, level: float | None = None
    ) -> tuple[_dt.date | None, _dt.date | None, _dt.date | None]:
        """Date at which the fitted maximum density reaches ``target_rho``, with interval.

        Solves ``A·t + B = ln target_rho`` for the point fit and for every (A, B)
        replicate. ``None`` means "never" (A ≤ 0, or beyond the interval's reach).
        For the issue-5 question "by when does a model of N params reach score S",
        pass ``target_rho = N̂(S) / N``.
        """
        if not (np.isfinite(target_rho) and target_rho > 0):
            raise ValueError(f"target_rho must be a positive finite number, got {target_rho}")
        s = self._require_samples()
        level = self.level if level is None else level
        y = math.log(target_rho)
        point = _solve_date(self.fit.A_per_day, self.fit.B, y, self.fit.reference_date)
        ok = np.isfinite(s.A)
        A, B = s.A[ok], s.B[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(A > 0, (y - B) / A, np.inf)
        big = 1e9  # days; stands for "never" inside the percentile computation
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(np.minimum(t, big), [a, 1.0 - a])
        ref = self.fit.reference_date
        return (
            point,
            None if lo >= big / 2 else _date_from_days(ref, lo),
            None if hi >= big / 2 else _date_from_days(ref, hi),
        )


def _date_from_days(ref: _dt.date, t: float) -> _dt.date | None:
    try:
        return ref + _dt.timedelta(days=math.floor(t))
    except OverflowError:
        return None


def _solve_date(A: float, B: float, y: float, ref: _dt.date) -> _dt.date | None:
    if not A > 0:
        return None
    return _date_from_days(ref, (y - B) / A)


def bootstrap_trend(
    models: Sequence[Any],
    dates: Sequence[Any],
    rho: Sequence[float] | np.ndarray,
    spec: BootstrapSpec,
    *,
    envelope: bool = True,
    breakpoint: _dt.date | str | None = None,
    rho_replicates: np.ndarray | None = None,
    groups: Sequence[Any] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    reference_date: _dt.date = REFERENCE_DATE,
    file: str | None = None,
) -> TrendResult:
    """Densing-law fit with a nonparametric bootstrap over models (or groups of models).

    Each resample recomputes the envelope and refits (a model drawn twice counts once
    on the envelope; with ``envelope=False`` duplicates are regression weights).
    ``rho_replicates`` (shape ``(spec.n_resamples, n)``, input order) propagates a
    frame bootstrap: replicate ``b`` uses ``rho_replicates[b]`` on its resampled
    models. ``spec.n_resamples = 0`` gives the point fit only. Resamples with fewer
    than two distinct dates in a fit are degenerate: NaN, counted in ``n_invalid``,
    excluded from the intervals.
    """
    data = prepare(models, dates, rho, reference_date=reference_date, file=file)
    fit = _fit_data(data, envelope=envelope, breakpoint=breakpoint)
    n, nb = data.rho.size, spec.n_resamples
    rep = _check_replicates(rho_replicates, data, nb)
    g = None
    if groups is not None:
        g = np.asarray(groups)
        if g.shape[0] != n:
            raise DensingInputError(f"groups has {g.shape[0]} labels but there are {n} models")
    common = {
        "fit": fit,
        "level": spec.level,
        "n_resamples": nb,
        "seed": spec.seed,
        "resampling": "groups" if g is not None else "models",
        "frame_replicates": rep is not None,
    }
    if nb == 0:
        return TrendResult(samples=None, segment_samples=None, **common)  # type: ignore[arg-type]
    bp_day = None if fit.breakpoint is None else (fit.breakpoint - data.reference_date).days
    samples = _resample_fits(data, spec.seed, nb, g, rep, envelope, bp_day, progress)
    return TrendResult(
        samples=samples["all"],
        segment_samples=(
            {"before": samples["before"], "after": samples["after"]} if bp_day is not None else None
        ),
        intervals=samples["all"].intervals(spec.level),
        **common,  # type: ignore[arg-type]
    )


def _check_replicates(rho_replicates: np.ndarray | None, data: TrendData, nb: int):
    """The frame's density replicates (nb × n, finite and > 0), or None."""
    if rho_replicates is None:
        return None
    n = data.rho.size
    rep = np.asarray(rho_replicates, dtype=float)
    if rep.shape != (nb, n):
        raise DensingInputError(
            f"rho_replicates has shape {rep.shape}; expected ({nb}, {n}) (n_resamples x models)"
        )
    bad = np.argwhere(~(np.isfinite(rep) & (rep > 0)))
    if bad.size:
        b, i = (int(v) for v in bad[0])
        raise DensingInputError(
            f"density replicate {b} of model '{data.models[i]}' is {rep[b, i]!r}; "
            "replicates must be finite and > 0 (resolve out-of-range statuses first)",
            row=i + 1,
            column="density",
        )
    return rep


def _resample_fits(
    data: TrendData,
    seed: int | None,
    nb: int,
    g: np.ndarray | None,
    rep: np.ndarray | None,
    envelope: bool,
    bp_day: int | None,
    progress: Callable[[int], None] | None,
) -> dict[str, TrendSamples]:
    """Every replicate's fit (overall and per segment), vectorised in batches."""
    n = data.rho.size
    idrank = np.argsort(np.argsort(np.asarray(data.models, dtype=str), kind="stable"))
    seeds = replicate_seeds(seed, nb)
    keys = ["all"] + (["before", "after"] if bp_day is not None else [])
    out = {k: (np.empty(nb), np.empty(nb), np.empty(nb)) for k in keys}
    for start in range(0, nb, _BATCH):
        stop = min(nb, start + _BATCH)
        idx_list = [
            resample_indices(np.random.default_rng(seeds[b]), n, g) for b in range(start, stop)
        ]
        m = max(len(ix) for ix in idx_list)
        idx = np.zeros((stop - start, m), dtype=np.int64)
        valid = np.zeros((stop - start, m), dtype=bool)
        for r, ix in enumerate(idx_list):
            idx[r, : len(ix)] = ix
            valid[r, : len(ix)] = True
        rho_r = data.rho[idx] if rep is None else np.take_along_axis(rep[start:stop], idx, axis=1)
        days_r = data.days[idx]
        for k in keys:
            v = valid
            if k == "before":
                v = valid & (days_r < bp_day)
            elif k == "after":
                v = valid & (days_r >= bp_day)
            A, B, r2 = _batch_fit(days_r, rho_r, idrank[idx], v, envelope)
            out[k][0][start:stop] = A
            out[k][1][start:stop] = B
            out[k][2][start:stop] = r2
        if progress is not None:
            progress(stop - start)
    return {k: TrendSamples(*out[k]) for k in keys}


def _batch_fit(
    days: np.ndarray, rho: np.ndarray, idrank: np.ndarray, valid: np.ndarray, use_envelope: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Envelope + OLS for a (replicates x models) batch; invalid cells are ignored."""
    rho_v = np.where(valid, rho, -np.inf)  # invalid never sets a new maximum
    days_v = np.where(valid, days, np.iinfo(np.int64).max)  # and sorts last
    if use_envelope:
        order = _order(days_v, rho_v, idrank)
        rs = np.take_along_axis(rho_v, order, axis=1)
        ds = np.take_along_axis(days, order, axis=1).astype(float)
        w = _envelope_mask_sorted(rs)
        with np.errstate(divide="ignore"):
            y = np.where(w, np.log(np.where(w, rs, 1.0)), 0.0)
        x = np.where(w, ds, 0.0)
        A, B, r2, _ = _batch_ols(x, y, w.astype(float))
    else:
        w = valid.astype(float)
        y = np.where(valid, np.log(np.where(valid, rho, 1.0)), 0.0)
        x = np.where(valid, days.astype(float), 0.0)
        A, B, r2, _ = _batch_ols(x, y, w)
    return A, B, r2


# ----------------------------------------------------------------------------- text


def _fmt(v: float, spec: str = ".4g") -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    return format(v, spec)


def _summary_text(fit: TrendFit, res: TrendResult | None, level: float | None) -> str:
    mode = "envelope" if fit.use_envelope else "all models"
    lines = [
        f"Densing law  ln(rho) = A*t + B   (t: days since {fit.reference_date.isoformat()}; "
        f"fit on {mode}: {fit.n_fit} of {fit.n_models} models, "
        f"{fit.first_date.isoformat()} to {fit.last_date.isoformat()})"
    ]
    pct = f"{100 * level:g}%" if level is not None else ""

    def block(f: TrendFit, iv: dict[str, tuple[float, float]] | None, indent: str) -> None:
        head = f"{indent}{'quantity':<22}{'estimate':>12}"
        if iv:
            head += f"{pct + ' lo':>12}{pct + ' hi':>12}"
        lines.append(head)
        vals = {
            "A_per_day": f.A_per_day,
            "doubling_time_days": f.doubling_time_days,
            "doubling_time_months": f.doubling_time_months,
            "B": f.B,
            "r2": f.r2,
        }
        for k, v in vals.items():
            row = f"{indent}{k:<22}{_fmt(v):>12}"
            if iv and k in iv:
                row += f"{_fmt(iv[k][0]):>12}{_fmt(iv[k][1]):>12}"
            lines.append(row)
        if not f.growing:
            lines.append(f"{indent}note: A <= 0, density is not growing; doubling time is inf")

    block(fit, res.intervals if res is not None and res.samples is not None else None, "  ")
    if res is not None and res.samples is not None:
        lines.append(
            f"  bootstrap: {res.n_resamples} resamples of {res.resampling}"
            + (", with frame density replicates" if res.frame_replicates else "")
            + f"; {res.n_invalid} degenerate (excluded)"
        )
    if fit.segments is not None and fit.breakpoint is not None:
        for name, seg in fit.segments.items():
            rel = "<" if name == "before" else ">="
            lines.append(
                f"  segment {name} (release {rel} {fit.breakpoint.isoformat()}; "
                f"{seg.n_fit} of {seg.n_models} models):"
            )
            iv = None
            if res is not None and res.segment_samples is not None:
                iv = res.segment_samples[name].intervals(res.level)
            block(seg, iv, "    ")
    return "\n".join(lines)

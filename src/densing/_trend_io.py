"""Files of densing-law results: :class:`~densing.trend.TrendResult` with its replicates."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from densing.errors import DensingInputError

KIND = "densing-trend"


def _fit_dict(fit: Any) -> dict[str, Any]:
    d = {k: getattr(fit, k) for k in fit.__dataclass_fields__ if k not in ("before", "after")}
    d["envelope"] = list(fit.envelope)
    for k in ("reference_date", "first_date", "last_date", "breakpoint"):
        if d.get(k) is not None:
            d[k] = d[k].isoformat()
    if fit.before is not None:
        d["before"], d["after"] = _fit_dict(fit.before), _fit_dict(fit.after)
    return d


def _fit_from(d: dict[str, Any]) -> Any:
    from densing.trend import TrendFit

    kw = dict(d)
    for k in ("reference_date", "first_date", "last_date", "breakpoint"):
        if kw.get(k) is not None:
            kw[k] = _dt.date.fromisoformat(kw[k])
    kw["envelope"] = tuple(kw["envelope"])
    for k in ("A_per_day", "B", "r2"):
        kw[k] = float("nan") if kw[k] is None else float(kw[k])
    if "before" in kw:
        kw["before"], kw["after"] = _fit_from(kw["before"]), _fit_from(kw["after"])
    return TrendFit(**kw)


def _samples_dict(s: Any) -> dict[str, Any] | None:
    return None if s is None else {"A": s.A, "B": s.B, "r2": s.r2}


def _samples_from(d: dict[str, Any] | None) -> Any:
    from densing.trend import TrendSamples

    if d is None:
        return None
    arr = {k: np.array([np.nan if v is None else float(v) for v in d[k]]) for k in ("A", "B", "r2")}
    return TrendSamples(arr["A"], arr["B"], arr["r2"])


def trend_to_dict(res: Any) -> dict[str, Any]:
    """The whole result, replicates included (``TrendResult.to_dict`` is the CLI's summary)."""
    seg = res.segment_samples
    return {
        "kind": KIND,
        "fit": _fit_dict(res.fit),
        "samples": _samples_dict(res.samples),
        "segment_samples": None if seg is None else {k: _samples_dict(v) for k, v in seg.items()},
        "level": res.level,
        "n_resamples": res.n_resamples,
        "seed": res.seed,
        "resampling": res.resampling,
        "frame_replicates": res.frame_replicates,
    }


def trend_from_dict(d: dict[str, Any], *, file: str | None = None) -> Any:
    from densing.trend import TrendResult

    try:
        samples = _samples_from(d.get("samples"))
        seg = d.get("segment_samples")
        level = float(d["level"])
        return TrendResult(
            fit=_fit_from(d["fit"]),
            samples=samples,
            segment_samples=None if seg is None else {k: _samples_from(v) for k, v in seg.items()},
            level=level,
            n_resamples=int(d["n_resamples"]),
            seed=d.get("seed"),
            resampling=str(d["resampling"]),
            frame_replicates=bool(d["frame_replicates"]),
            intervals={} if samples is None else samples.intervals(level),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DensingInputError(f"malformed densing-law file ({exc!r})", file=file) from exc

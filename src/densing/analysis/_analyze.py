"""The main job: catalog → frames → densities → densing law → :class:`Analysis`."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from densing.analysis.forecast import DEFAULT_FORECASTS, forecast_table, resolve_item
from densing.analysis.result import Analysis
from densing.analysis.run import FrameRun, run_frame
from densing.analysis.specs import (
    DEFAULT_ESTIMATOR,
    DEFAULT_FRAME,
    DEFAULT_SINCE,
    SENSITIVITY_FRAMES,
    FrameSpec,
)
from densing.bootstrap import BootstrapSpec
from densing.catalog import Catalog
from densing.errors import DensingInputError
from densing.trend import CHATGPT_RELEASE, TrendResult, bootstrap_trend

Progress = Callable[[str, int, int], None]


def _stage(progress: Progress | None, name: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = [0]

    def adv(k: int) -> None:
        done[0] += k
        progress(name, done[0], total)

    return adv


def _breakpoint(
    main: FrameRun, n_resamples: int, seed: int, level: float
) -> tuple[TrendResult | None, str]:
    """Before/after ChatGPT on the main frame: the informative models with a finite density
    of every date (the frame's replicates are not carried: the note says so)."""
    d = main.densities
    sub = d[d["finite_density"] & d["status"].isin(["ok", "extrapolated"])]
    try:
        bp = bootstrap_trend(
            sub["model"].tolist(),
            list(pd.to_datetime(sub["release_date"]).dt.date),
            sub["density_active"].to_numpy(float),
            BootstrapSpec(n_resamples=n_resamples, seed=seed, level=level),
            breakpoint=CHATGPT_RELEASE,
        )
    except DensingInputError as exc:  # too few models on one side of the breakpoint
        return None, f"no before/after-ChatGPT fit: {exc.reason}"
    return bp, ""


def _sensitivity_runs(
    catalog: Catalog,
    spec: FrameSpec,
    specs: Sequence[FrameSpec],
    timings: dict[str, float],
    progress: Progress | None,
    **opts: Any,
) -> list[FrameRun]:
    """Every sensitivity frame (except the main one) with its law; times recorded."""
    runs = []
    for s in specs:
        if s == spec:
            continue
        t1 = time.perf_counter()
        stage = _stage(progress, f"frame {s.name}", opts["n_resamples"])
        runs.append(run_frame(catalog, s, progress=stage, **opts))
        timings[f"frame {s.name}"] = time.perf_counter() - t1
    return runs


def _has_item(run: FrameRun, bench: str) -> bool:
    try:
        resolve_item(run, bench)
    except DensingInputError:
        return False
    return True


def analyze(
    catalog: Catalog,
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    level: float = 0.95,
    sensitivity: Sequence[FrameSpec] = SENSITIVITY_FRAMES,
    sensitivity_resamples: int = 30,
    forecasts: Sequence[tuple[str, float, float]] = DEFAULT_FORECASTS,
    since: _dt.date | None = DEFAULT_SINCE,
    warm_start: bool = True,
    n_jobs: int | None = None,
    estimator: str = DEFAULT_ESTIMATOR,
    include_uninformative: bool = False,
    density_basis: str = "active",
    progress: Progress | None = None,
) -> Analysis:
    """Run the full analysis; ``progress(stage, done, total)`` reports advancement.

    The defaults are those of ``densing run``. ``warm_start=True`` (default) polishes each of
    the main frame's resamples from the point estimate; ``False`` repeats the full search of
    the point fit per resample (about 3x slower; a test checks the two agree). Sensitivity
    frames always use the warm start.
    """
    if n_resamples < 0 or sensitivity_resamples < 0:
        raise DensingInputError("the number of bootstrap resamples must be >= 0")
    if not 0 < level < 1:
        raise DensingInputError(f"level {level} must be in (0, 1)")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    law_opts: dict[str, Any] = {
        "estimator": estimator,
        "include_uninformative": include_uninformative,
        "density_basis": density_basis,
    }
    main = run_frame(
        catalog, spec, n_resamples=n_resamples, seed=seed, level=level, n_jobs=n_jobs,
        since=since, warm_start=warm_start,
        progress=_stage(progress, f"frame {spec.name}", n_resamples), **law_opts,
    )  # fmt: skip
    timings[f"frame {spec.name}"] = time.perf_counter() - t0
    other = "total" if density_basis == "active" else "active"
    basis_run = run_frame(
        catalog, spec, n_resamples=n_resamples, seed=seed, level=level, since=since,
        frame=main.frame, **{**law_opts, "density_basis": other},
    )  # fmt: skip
    bp, bp_note = _breakpoint(main, n_resamples, seed, level)
    runs = _sensitivity_runs(
        catalog, spec, sensitivity, timings, progress, n_resamples=sensitivity_resamples,
        seed=seed, level=level, warm_start=True, n_jobs=n_jobs, since=since, **law_opts,
    )  # fmt: skip
    # forecasts on benchmarks this frame has (the defaults name the default frame's)
    usable = [f for f in forecasts if _has_item(main, f[0])]
    fc = forecast_table(main, usable, level) if usable else pd.DataFrame()
    return Analysis(
        main=main,
        sensitivity_runs=(basis_run, *runs),
        level=level,
        seed=seed,
        n_resamples=n_resamples,
        catalog_summary=catalog.summary(),
        breakpoint_trend=bp,
        breakpoint_note=bp_note,
        forecasts=fc,
        timings=timings,
    )

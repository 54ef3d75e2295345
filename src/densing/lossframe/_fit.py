"""Fitting a loss frame: per benchmark, a loss law on the reference runs and a sigmoid on the
calibration points, each with its bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError, FitError
from densing.io import source_of
from densing.laws import OBJECTIVES, LawForm, fit_loss_law, get_form
from densing.lossframe._tables import calibration_table, reference_table
from densing.lossframe.frame import BenchmarkFrame, LossFrame
from densing.sigmoid import SigmoidFit, bootstrap_sigmoid, fit_sigmoid
from densing.units import DEFAULT_D0

_SIGMOID_SEED_OFFSET = 7919  # calibration resamples independent of reference resamples


def _fit_sigmoid(
    c: pd.DataFrame,
    floor: float | None,
    bootstrap: BootstrapSpec | None,
    progress: Callable[[int], None] | None,
) -> tuple[SigmoidFit, np.ndarray | None]:
    if bootstrap is not None and bootstrap.n_resamples > 0:
        seed = None if bootstrap.seed is None else bootstrap.seed + _SIGMOID_SEED_OFFSET
        sb = bootstrap_sigmoid(
            c["loss"].to_numpy(),
            c["score"].to_numpy(),
            replace(bootstrap, seed=seed),
            groups=c["model"].to_numpy(),
            progress=progress,
            floor=floor,
        )
        return sb.fit, sb.samples
    return fit_sigmoid(c["loss"].to_numpy(), c["score"].to_numpy(), floor=floor), None


def _check_benchmarks(
    ref: pd.DataFrame, cal: pd.DataFrame, floors: dict, cal_file: str | None
) -> list[str]:
    benches = list(dict.fromkeys(ref["benchmark"]))
    extra = sorted(set(cal["benchmark"]) - set(benches))
    if extra:
        i = int(np.flatnonzero(cal["benchmark"].to_numpy() == extra[0])[0])
        raise DensingInputError(
            f"benchmark '{extra[0]}' has calibration points but no reference runs; "
            f"reference benchmarks: {benches}",
            file=cal_file,
            row=i + 1,
            column="benchmark",
        )
    for b in floors:
        if b not in benches:
            raise DensingInputError(f"floor given for unknown benchmark '{b}'; known: {benches}")
    for b in benches:
        if not (cal["benchmark"] == b).any():
            raise DensingInputError(
                f"benchmark '{b}' has reference runs but no calibration points",
                file=cal_file,
                column="benchmark",
            )
    return benches


def _fit_benchmark(
    b: str, r: pd.DataFrame, c: pd.DataFrame, form: LawForm, objective: str, floor: float | None,
    bootstrap: BootstrapSpec | None, progress: Callable[[int], None] | None, files: tuple,
) -> BenchmarkFrame:  # fmt: skip
    try:
        sigmoid, sig_samples = _fit_sigmoid(c, floor, bootstrap, progress)
    except (FitError, DensingInputError) as exc:
        raise DensingInputError(
            f"benchmark '{b}': calibration points: {getattr(exc, 'reason', exc)}", file=files[1]
        ) from exc
    try:
        law = fit_loss_law(
            r["params"].to_numpy(),
            r["tokens"].to_numpy(),
            r["loss"].to_numpy(),
            form=form,
            objective=objective,  # type: ignore[arg-type]
            bootstrap=bootstrap,
            groups=r["model"].to_numpy() if bootstrap else None,
            progress=progress,
        )
    except (FitError, DensingInputError) as exc:
        raise DensingInputError(
            f"benchmark '{b}': reference runs: {getattr(exc, 'reason', exc)}", file=files[0]
        ) from exc
    return BenchmarkFrame(
        benchmark=b,
        law_params=dict(law.params),
        sigmoid=sigmoid,
        law_objective_value=law.objective_value,
        law_n_points=law.n_points,
        law_convergence=law.convergence.to_dict(),
        n_reference_models=int(r["model"].nunique()),
        n_calibration=len(c),
        law_samples=None if law.bootstrap is None else law.bootstrap.samples,
        sigmoid_samples=sig_samples,
    )


def fit_loss_frame(
    reference: pd.DataFrame,
    calibration: pd.DataFrame,
    *,
    form: str | LawForm = "densing",
    objective: str = "huber-log",
    D0: float = DEFAULT_D0,
    floors: dict[str, float] | None = None,
    bootstrap: BootstrapSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> LossFrame:
    """Fit a loss-mode frame: a loss law and a sigmoid per benchmark.

    ``reference``: ``model, params, tokens, benchmark, loss`` (``tokens`` may be absent for
    forms without a D term). ``calibration``: ``model, benchmark, loss, score``. Benchmarks are
    those of the reference table; each must have calibration points (calibration rows of other
    benchmarks are an error, not silently ignored). ``form``: a registered name or any
    :class:`~densing.laws.LawForm` (saved with the frame). ``floors``: fixed chance-level
    sigmoid floor ``d`` per benchmark. ``bootstrap``: replicates resample reference runs by
    model and calibration points by model; ``progress(k)`` is called as replicates finish.
    """
    law_form = get_form(form)
    if objective not in OBJECTIVES:
        raise DensingInputError(f"unknown objective '{objective}'; expected one of {OBJECTIVES}")
    if not np.isfinite(D0) or D0 <= 0:
        raise DensingInputError(f"D0 must be a finite number > 0, got {D0!r}")
    ref = reference_table(reference, law_form.uses_tokens)
    cal = calibration_table(calibration)
    files = (source_of(reference), source_of(calibration))
    floors = dict(floors or {})
    benches = _check_benchmarks(ref, cal, floors, files[1])
    fits = [
        _fit_benchmark(
            b,
            ref[ref["benchmark"] == b],
            cal[cal["benchmark"] == b],
            law_form,
            objective,
            floors.get(b),
            bootstrap,
            progress,
            files,
        )
        for b in benches
    ]
    boot = None
    if bootstrap is not None and bootstrap.n_resamples > 0:
        boot = {
            "n_resamples": bootstrap.n_resamples,
            "seed": bootstrap.seed,
            "units": "models (reference runs and calibration points)",
            "warm_start": bootstrap.warm_start,
        }
    return LossFrame(
        form=law_form,
        objective=objective,
        D0=float(D0),
        fits=tuple(fits),
        level=bootstrap.level if boot and bootstrap is not None else 0.95,
        bootstrap=boot,
        sources={"reference": files[0], "calibration": files[1]},
    )

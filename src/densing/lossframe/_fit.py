"""Fitting a loss frame: per benchmark, a loss law on the reference runs and a sigmoid on the
calibration points, each with its (cluster) bootstrap and its out-of-sample error model."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec, replicate_seeds, resample_indices
from densing.errors import DensingInputError, FitError
from densing.io import source_of
from densing.laws import OBJECTIVES, LawForm, LossLawFit, fit_loss_law, get_form
from densing.lossframe._predictive import (
    ErrorModel,
    law_error_model,
    reference_box,
    sigmoid_error_model,
)
from densing.lossframe._runs import CheckpointOptions, law_points, resample_groups, sigmoid_points
from densing.lossframe._settings import (
    SigmoidSettings,
    check_fixed_against_scores,
    resolve_settings,
)
from densing.lossframe._tables import calibration_table, reference_table
from densing.lossframe.frame import BenchmarkFrame, LossFrame
from densing.sigmoid import SigmoidFit, bootstrap_sigmoid, fit_sigmoid
from densing.units import DEFAULT_D0

_SIGMOID_SEED_OFFSET = 7919  # calibration resamples independent of reference resamples
MIN_SIZES = 4  # fewer distinct reference sizes in a replicate: the law is barely identified
FEW_SIZES_SHARE = 0.05  # warn when more replicates than this hold fewer than MIN_SIZES sizes
REPLICATE_POLISH = 1  # sigmoid replicates: the start grid + the point fit, the best polished


class DensingWarning(UserWarning):
    """A fit that worked but whose result needs care (also recorded in the frame's notes)."""


@dataclass(frozen=True)
class _Job:
    """What every benchmark's fit shares."""

    form: LawForm
    objective: str
    bootstrap: BootstrapSpec | None
    resample: str
    predictive: bool
    progress: Callable[[int], None] | None
    files: tuple[str | None, str | None]


@dataclass(frozen=True)
class _Law:
    fit: LossLawFit
    error: ErrorModel | None
    few_sizes_share: float


def _check_benchmarks(ref: pd.DataFrame, cal: pd.DataFrame, cal_file: str | None) -> list[str]:
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
    for b in benches:
        if not (cal["benchmark"] == b).any():
            raise DensingInputError(
                f"benchmark '{b}' has reference runs but no calibration points",
                file=cal_file,
                column="benchmark",
            )
    return benches


def _few_sizes_share(N: np.ndarray, groups: np.ndarray | None, spec: BootstrapSpec) -> float:
    """Share of the law's replicates (same seeds, same draws) with < MIN_SIZES sizes."""
    few = 0
    for seed in replicate_seeds(spec.seed, spec.n_resamples):
        idx = resample_indices(np.random.default_rng(seed), N.size, groups)
        few += np.unique(N[idx]).size < MIN_SIZES
    return few / max(spec.n_resamples, 1)


def _fit_law(r: pd.DataFrame, job: _Job) -> _Law:
    N, D, L = (r[c].to_numpy(float) for c in ("params", "tokens", "loss"))
    groups = resample_groups(r, job.resample)
    law = fit_loss_law(
        N, D, L, form=job.form, objective=job.objective,  # type: ignore[arg-type]
        bootstrap=job.bootstrap, groups=groups if job.bootstrap else None,
        progress=job.progress,
    )  # fmt: skip
    error = law_error_model(N, D, L, job.form, job.objective) if job.predictive else None
    share = float("nan")
    if job.bootstrap is not None and job.bootstrap.n_resamples > 0:
        share = _few_sizes_share(N, groups, job.bootstrap)
    return _Law(law, error, share)


def _law_key(r: pd.DataFrame, job: _Job) -> str:
    """Benchmarks with identical reference data share one law fit (same seeds, same result)."""
    h = hashlib.sha256()
    for c in ("params", "tokens", "loss"):
        h.update(np.ascontiguousarray(r[c].to_numpy(float)).tobytes())
    h.update("\x00".join(map(str, r["run"])).encode())
    return h.hexdigest() + job.resample


def _fit_sigmoid(
    c: pd.DataFrame, s: SigmoidSettings, job: _Job
) -> tuple[SigmoidFit, np.ndarray | None, ErrorModel | None]:
    L, S = c["loss"].to_numpy(float), c["score"].to_numpy(float)
    kw: dict[str, Any] = {"floor": s.floor, "ceiling": s.ceiling, "loss_fn": s.loss}
    kw["f_scale"] = s.f_scale
    point = fit_sigmoid(L, S, **kw)
    groups = resample_groups(c, job.resample)
    samples = None
    spec = job.bootstrap
    if spec is not None and spec.n_resamples > 0:
        seed = None if spec.seed is None else spec.seed + _SIGMOID_SEED_OFFSET
        sb = bootstrap_sigmoid(
            L, S, replace(spec, seed=seed), groups=groups, progress=job.progress, point=point,
            n_polish=REPLICATE_POLISH, point_start=True, **kw,
        )  # fmt: skip
        samples = sb.samples
    cv_groups = c["run"].to_numpy()  # cross-validation folds are always whole runs
    error = sigmoid_error_model(L, S, cv_groups, point) if job.predictive else None
    return point, samples, error


def _fit_benchmark(
    b: str, r: pd.DataFrame, c: pd.DataFrame, s: SigmoidSettings, job: _Job,
    law_cache: dict[str, _Law],
) -> BenchmarkFrame:  # fmt: skip
    try:
        sigmoid, sig_samples, sig_error = _fit_sigmoid(c, s, job)
    except (FitError, DensingInputError) as exc:
        raise DensingInputError(
            f"benchmark '{b}': calibration points: {getattr(exc, 'reason', exc)}", file=job.files[1]
        ) from exc
    key = _law_key(r, job)
    try:
        if key not in law_cache:
            law_cache[key] = _fit_law(r, job)
    except (FitError, DensingInputError) as exc:
        raise DensingInputError(
            f"benchmark '{b}': reference runs: {getattr(exc, 'reason', exc)}", file=job.files[0]
        ) from exc
    law = law_cache[key]
    notes = []
    B = 0 if job.bootstrap is None else job.bootstrap.n_resamples
    if law.few_sizes_share > FEW_SIZES_SHARE:
        notes.append(
            f"{b}: {law.few_sizes_share:.0%} of the {B} bootstrap replicates of the law hold "
            f"fewer than {MIN_SIZES} distinct reference sizes (the law is barely identified in "
            "them): its intervals are unreliable; add reference sizes"
        )
    if sigmoid.at_bound:
        notes.append(f"{b}: sigmoid parameters at a bound: {', '.join(sigmoid.at_bound)}")
    return BenchmarkFrame(
        benchmark=b,
        law_params=dict(law.fit.params),
        sigmoid=sigmoid,
        law_objective_value=law.fit.objective_value,
        law_n_points=law.fit.n_points,
        law_convergence=law.fit.convergence.to_dict(),
        n_reference_models=int(r["model"].nunique()),
        n_calibration=len(c),
        law_samples=None if law.fit.bootstrap is None else law.fit.bootstrap.samples,
        sigmoid_samples=sig_samples,
        n_reference_checkpoints=int(r["n_checkpoints"].sum()),
        n_calibration_runs=int(c["run"].nunique()),
        reference_box=reference_box(r["params"].to_numpy(float), r["tokens"].to_numpy(float)),
        calibration_range=(float(c["loss"].min()), float(c["loss"].max())),
        law_error=law.error,
        sigmoid_error=sig_error,
        few_sizes_share=law.few_sizes_share,
        notes=tuple(notes),
    )


def _bootstrap_info(spec: BootstrapSpec | None, resample: str) -> dict[str, Any] | None:
    if spec is None or spec.n_resamples <= 0:
        return None
    unit = "single checkpoints"
    if resample == "runs":
        unit = "runs as clusters (the model where a table has no run column)"
    return {
        "n_resamples": spec.n_resamples,
        "seed": spec.seed,
        "units": unit,
        "resample": resample,
        "warm_start": spec.warm_start,
    }


def _check_options(objective: str, D0: float) -> None:
    if objective not in OBJECTIVES:
        raise DensingInputError(f"unknown objective '{objective}'; expected one of {OBJECTIVES}")
    if not np.isfinite(D0) or D0 <= 0:
        raise DensingInputError(f"D0 must be a finite number > 0, got {D0!r}")


def fit_loss_frame(
    reference: pd.DataFrame,
    calibration: pd.DataFrame,
    *,
    form: str | LawForm = "densing",
    objective: str = "huber-log",
    D0: float = DEFAULT_D0,
    floors: Mapping[str, float] | None = None,
    ceilings: Mapping[str, float] | None = None,
    default_ceiling: float | None = None,
    sigmoid_loss: str = "soft_l1",
    f_scale: float = 0.05,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    checkpoints: CheckpointOptions | None = None,
    resample: str = "runs",
    predictive: bool = True,
    bootstrap: BootstrapSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> LossFrame:
    """Fit a loss-mode frame: a loss law and a sigmoid per benchmark.

    ``reference``: ``model, params, tokens, benchmark, loss`` (``tokens`` may be absent for
    forms without a D term); ``calibration``: ``model, benchmark, loss, score``. Either may
    carry ``run`` and ``step`` columns: several checkpoints per run (``checkpoints`` says how
    they are used, :class:`~densing.lossframe._runs.CheckpointOptions`). Benchmarks are those of
    the reference table; each must have calibration points.

    ``form``: a registered name or any :class:`~densing.laws.LawForm` (saved with the frame).
    Sigmoid: ``floors`` / ``ceilings`` fix ``d`` / ``c + d`` per benchmark, ``default_ceiling``
    pins the ceiling of every other benchmark whose calibration scores do not exceed it,
    ``sigmoid_loss`` (``soft_l1 | linear | huber``) and ``f_scale`` are the robust loss,
    ``settings`` (e.g. :func:`~densing.lossframe.read_benchmark_settings`) gives any of
    ``floor, ceiling, sigmoid_loss, f_scale`` per benchmark (explicit maps win).
    ``bootstrap``: replicates resample runs (``resample="runs"``, clusters) or single
    checkpoints (``"checkpoints"``, for comparison only: too narrow when checkpoints of a run
    are correlated); ``progress(k)`` is called as replicates finish. ``predictive``: measure
    the out-of-sample error behind the predictive intervals of :meth:`LossFrame.predict`.
    """
    law_form = get_form(form)
    _check_options(objective, D0)
    ref = reference_table(reference, law_form.uses_tokens)
    cal = calibration_table(calibration)
    files = (source_of(reference), source_of(calibration))
    benches = _check_benchmarks(ref, cal, files[1])
    sig_settings, notes = resolve_settings(
        benches, cal, floors=floors, ceilings=ceilings, file_settings=settings,
        default_ceiling=default_ceiling, sigmoid_loss=sigmoid_loss, f_scale=f_scale,
    )  # fmt: skip
    opts = checkpoints or CheckpointOptions()
    kept = sigmoid_points(cal, replace(opts, smooth=1))
    for b in benches:
        check_fixed_against_scores(b, sig_settings[b], kept[kept["benchmark"] == b], files[1])
    law_pts, sig_pts = law_points(ref, opts.final_k), sigmoid_points(cal, opts)
    job = _Job(law_form, objective, bootstrap, resample, predictive, progress, files)
    cache: dict[str, _Law] = {}
    fits = tuple(
        _fit_benchmark(
            b, law_pts[law_pts["benchmark"] == b], sig_pts[sig_pts["benchmark"] == b],
            sig_settings[b], job, cache,
        )
        for b in benches
    )  # fmt: skip
    notes += [n for f in fits for n in f.notes]
    for n in notes:
        warnings.warn(n, DensingWarning, stacklevel=2)
    boot = _bootstrap_info(bootstrap, resample)
    return LossFrame(
        form=law_form,
        objective=objective,
        D0=float(D0),
        fits=fits,
        level=bootstrap.level if boot and bootstrap is not None else 0.95,
        bootstrap=boot,
        sources={"reference": files[0], "calibration": files[1]},
        checkpoints=opts.to_dict(),
        notes=tuple(notes),
    )

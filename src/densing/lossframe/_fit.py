"""Fitting a loss frame: per benchmark, a loss law on the reference runs and a sigmoid on the
calibration points, each with its (cluster) bootstrap and its out-of-sample error model."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from densing.bootstrap import BootstrapSpec, default_jobs, resampled
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


def _few_sizes(idx: np.ndarray, N: np.ndarray) -> bool:
    return bool(np.unique(N[idx]).size < MIN_SIZES)


def _few_sizes_share(N: np.ndarray, groups: np.ndarray | None, spec: BootstrapSpec) -> float:
    """Share of the law's replicates (same seeds, same draws) with < MIN_SIZES sizes."""
    few = resampled(partial(_few_sizes, N=N), N.size, replace(spec, n_jobs=1), groups)
    return sum(few) / max(spec.n_resamples, 1)


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


@dataclass(frozen=True)
class _Sigmoid:
    fit: SigmoidFit
    samples: np.ndarray | None
    error: ErrorModel | None


def _sigmoid_task(c: pd.DataFrame, s: SigmoidSettings, job: _Job) -> _Sigmoid:
    return _Sigmoid(*_fit_sigmoid(c, s, job))


_Task = tuple[str, str, Callable[[_Job], Any]]  # (kind, key, fit given the job)


def _run_task(task: _Task, job: _Job) -> Any:
    """One task's result, or the input/fit error it raised (reported later, in table order)."""
    try:
        return task[2](job)
    except (FitError, DensingInputError) as exc:
        return exc


def _run_in_worker(task: _Task, job: _Job) -> Any:
    with threadpool_limits(limits=1):  # the pool already uses every core
        return _run_task(task, job)


def _tasks(
    benches: list[str], law_pts: pd.DataFrame, sig_pts: pd.DataFrame,
    settings: Mapping[str, SigmoidSettings], job: _Job,
) -> tuple[list[_Task], dict[str, str], dict[str, int]]:  # fmt: skip
    """Every law (one per distinct reference data) and every sigmoid as a task; laws first
    (the longest tasks start first). Also each benchmark's law key and each law's users."""
    keys: dict[str, str] = {}
    users: dict[str, int] = {}
    laws: list[_Task] = []
    sigmoids: list[_Task] = []
    for b in benches:
        r = law_pts[law_pts["benchmark"] == b]
        keys[b] = k = _law_key(r, job)
        users[k] = users.get(k, 0) + 1
        if users[k] == 1:
            laws.append(("law", k, partial(_fit_law, r)))
        c = sig_pts[sig_pts["benchmark"] == b]
        sigmoids.append(("sigmoid", b, partial(_sigmoid_task, c, settings[b])))
    return laws + sigmoids, keys, users


def _execute(tasks: list[_Task], job: _Job, users: dict[str, int]) -> dict[tuple[str, str], Any]:
    """Run the tasks: in one process pool, each task's replicates serial, when there are at
    least two tasks per worker (8 benchmarks: 16 tasks keep 2 cores busy, with no serial
    point fits or error models between them); otherwise in this process, each bootstrap's
    replicates spread over the workers. Results are the same either way (same seeds)."""
    spec = job.bootstrap
    jobs = 1 if spec is None or spec.n_resamples <= 0 else (spec.n_jobs or default_jobs())
    if spec is None or jobs <= 1 or len(tasks) < 2 * jobs:
        inline = {}
        for t in tasks:  # each bootstrap reports its own replicates as they finish
            inline[(t[0], t[1])] = _run_task(t, job)
            if job.progress and spec is not None and t[0] == "law" and users[t[1]] > 1:
                job.progress(spec.n_resamples * (users[t[1]] - 1))  # its other users
        return inline
    worker_job = replace(job, progress=None, bootstrap=replace(spec, n_jobs=1))
    out: dict[tuple[str, str], Any] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_in_worker, t, worker_job): t for t in tasks}
        for fut in as_completed(futures):
            kind, key, _ = futures[fut]
            out[(kind, key)] = fut.result()
            if job.progress:
                job.progress(spec.n_resamples * (users[key] if kind == "law" else 1))
    return out


def _benchmark_frame(
    b: str, r: pd.DataFrame, c: pd.DataFrame, law: _Law, sig: _Sigmoid, job: _Job
) -> BenchmarkFrame:
    notes = []
    B = 0 if job.bootstrap is None else job.bootstrap.n_resamples
    if law.few_sizes_share > FEW_SIZES_SHARE:
        notes.append(
            f"{b}: {law.few_sizes_share:.0%} of the {B} bootstrap replicates of the law hold "
            f"fewer than {MIN_SIZES} distinct reference sizes (the law is barely identified in "
            "them): its intervals are unreliable; add reference sizes"
        )
    if sig.fit.at_bound:
        notes.append(f"{b}: sigmoid parameters at a bound: {', '.join(sig.fit.at_bound)}")
    return BenchmarkFrame(
        benchmark=b,
        law_params=dict(law.fit.params),
        sigmoid=sig.fit,
        law_objective_value=law.fit.objective_value,
        law_n_points=law.fit.n_points,
        law_convergence=law.fit.convergence.to_dict(),
        n_reference_models=int(r["model"].nunique()),
        n_calibration=len(c),
        law_samples=None if law.fit.bootstrap is None else law.fit.bootstrap.samples,
        sigmoid_samples=sig.samples,
        n_reference_checkpoints=int(r["n_checkpoints"].sum()),
        n_calibration_runs=int(c["run"].nunique()),
        reference_box=reference_box(r["params"].to_numpy(float), r["tokens"].to_numpy(float)),
        calibration_range=(float(c["loss"].min()), float(c["loss"].max())),
        law_error=law.error,
        sigmoid_error=sig.error,
        few_sizes_share=law.few_sizes_share,
        notes=tuple(notes),
    )


def _fit_benchmarks(
    benches: list[str], law_pts: pd.DataFrame, sig_pts: pd.DataFrame,
    settings: Mapping[str, SigmoidSettings], job: _Job,
) -> tuple[BenchmarkFrame, ...]:  # fmt: skip
    tasks, keys, users = _tasks(benches, law_pts, sig_pts, settings, job)
    done = _execute(tasks, job, users)
    frames = []
    for b in benches:  # errors are reported for the first benchmark, in table order
        sig, law = done[("sigmoid", b)], done[("law", keys[b])]
        if isinstance(sig, Exception):
            raise DensingInputError(
                f"benchmark '{b}': calibration points: {getattr(sig, 'reason', sig)}",
                file=job.files[1],
            ) from sig
        if isinstance(law, Exception):
            raise DensingInputError(
                f"benchmark '{b}': reference runs: {getattr(law, 'reason', law)}",
                file=job.files[0],
            ) from law
        r, c = law_pts[law_pts["benchmark"] == b], sig_pts[sig_pts["benchmark"] == b]
        frames.append(_benchmark_frame(b, r, c, law, sig, job))
    return tuple(frames)


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
    fits = _fit_benchmarks(benches, law_pts, sig_pts, sig_settings, job)
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

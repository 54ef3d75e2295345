"""Nonparametric bootstrap machinery shared by every estimate in densing.

Resamples are drawn from a seeded :class:`numpy.random.SeedSequence`, one child
sequence per replicate, so results are identical whatever the number of worker
processes. Resampling units are either points or groups (e.g. model families):
a group resample draws whole groups with replacement.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits


def replicate_seeds(seed: int | None, n: int) -> list[np.random.SeedSequence]:
    """One independent SeedSequence per bootstrap replicate."""
    return np.random.SeedSequence(seed).spawn(n)


@dataclass(frozen=True)
class Clusters:
    """The rows of every resampling group, in sorted label order: computed once per bootstrap
    instead of once per replicate (sorting 11,000 run labels was a fifth of a sigmoid
    replicate's time). Resampling from it draws exactly what resampling the labels draws."""

    members: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, groups: Sequence[Any] | np.ndarray) -> Clusters:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse))[:-1]
        return cls(tuple(np.split(order, bounds)))


def resample_indices(
    rng: np.random.Generator,
    n: int,
    groups: Sequence[Any] | np.ndarray | Clusters | None = None,
) -> np.ndarray:
    """Indices of one bootstrap resample of ``n`` rows (by point, or by whole group)."""
    if groups is None:
        return rng.integers(0, n, size=n)
    members = (groups if isinstance(groups, Clusters) else Clusters.of(groups)).members
    chosen = rng.integers(0, len(members), size=len(members))
    return np.concatenate([members[k] for k in chosen])


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the samples at confidence ``level`` (NaN samples excluded).

    Infinite samples (e.g. an effective size above the reference range in some resamples)
    are kept: the bounds are then order statistics, so an interval reaching an infinite
    replicate is infinite instead of NaN from interpolating between a number and inf.
    """
    s = np.asarray(samples, dtype=float)
    s = s[~np.isnan(s)]
    if s.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1.0 - level) / 2.0
    if np.isfinite(s).all():
        lo, hi = np.quantile(s, [alpha, 1.0 - alpha])
    else:
        lo = np.quantile(s, alpha, method="lower")
        hi = np.quantile(s, 1.0 - alpha, method="higher")
    return (float(lo), float(hi))


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BootstrapSpec:
    """How to bootstrap: number of resamples, seed, interval level, units, workers."""

    n_resamples: int = 1000
    seed: int | None = 0
    level: float = 0.95
    n_jobs: int | None = None  # None: all cores
    warm_start: bool = False  # fast mode: polish from the point estimate only

    def __post_init__(self) -> None:
        if self.n_resamples < 0:
            raise ValueError("n_resamples must be >= 0")
        if not 0 < self.level < 1:
            raise ValueError("level must be in (0, 1)")


def _run_chunk(fn: Callable[[np.random.SeedSequence], Any], seeds: list) -> list:
    # one BLAS thread per worker: the pool already uses every core
    with threadpool_limits(limits=1):
        return [fn(s) for s in seeds]


def parallel_replicates(
    fn: Callable[[np.random.SeedSequence], Any],
    seeds: Sequence[np.random.SeedSequence],
    *,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
) -> list:
    """Evaluate ``fn(seed)`` for every seed, in order, over worker processes.

    ``fn`` must be picklable (a module-level function or a ``functools.partial``).
    ``progress(k)`` is called with the number of replicates just finished.
    """
    seeds = list(seeds)
    jobs = n_jobs or default_jobs()
    if jobs <= 1 or len(seeds) < 8:
        out = []
        for s in seeds:
            out.append(fn(s))
            if progress:
                progress(1)
        return out
    size = chunk_size or max(1, min(50, len(seeds) // (jobs * 4) or 1))
    chunks = [seeds[i : i + size] for i in range(0, len(seeds), size)]
    results: list = [None] * len(chunks)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_chunk, fn, c): k for k, c in enumerate(chunks)}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            k = futures[fut]
            results[k] = fut.result()
            if progress:
                progress(len(chunks[k]))
    return [r for chunk in results for r in chunk]


def _resample_then(
    seed: np.random.SeedSequence,
    *,
    fit: Callable[[np.ndarray], Any],
    n: int,
    clusters: Clusters | None,
) -> Any:
    return fit(resample_indices(np.random.default_rng(seed), n, clusters))


def resampled(
    fit: Callable[[np.ndarray], Any],
    n: int,
    spec: BootstrapSpec,
    groups: Sequence[Any] | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> list:
    """``fit(idx)`` on every replicate's resample ``idx`` of ``n`` rows (by point, or by whole
    ``groups``: their clusters are indexed once), one SeedSequence per replicate, in order, over
    :func:`parallel_replicates`' workers. ``fit`` must be picklable (a ``functools.partial``)."""
    clusters = None if groups is None else Clusters.of(groups)
    fn = partial(_resample_then, fit=fit, n=n, clusters=clusters)
    seeds = replicate_seeds(spec.seed, spec.n_resamples)
    return parallel_replicates(fn, seeds, n_jobs=spec.n_jobs, progress=progress)

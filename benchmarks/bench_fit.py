"""Benchmark: densing's global loss-law fit against Epoch AI's recipe, on Chinchilla.

Times, in the same run and on the same 240 points (Hoffmann et al.'s Figure-4
data as extracted by Besiroglu et al. 2024; tokens = FLOP / (6 N); the 5 highest
losses dropped):

(a) REFERENCE — Epoch AI's recipe, written out here: the Chinchilla law in their
    log-sum-exp parametrisation ``log L = LSE(a − α ln N, b − β ln D, e)``, Huber
    (δ = 1e-3) on log residuals summed, scipy ``minimize(method="L-BFGS-B")``
    with the analytic gradient (scipy's default tolerances) from every point of
    their grid e ∈ {−1, −.5, …, 1}, a, b ∈ {0, 5, …, 25}, α, β ∈ {0, .5, …, 2}
    (5·6·6·5·5 = 4,500 starts); the best optimum is kept.
(b) ``densing.laws.fit_loss_law`` (median of several repeats).

Both run single-threaded BLAS (``threadpool_limits(1)``), as densing does itself.
Then it times a 1,000-resample bootstrap with the full global search per
resample on all cores. The machine may be shared: the 1-minute load average is
printed next to every timing. Usage::

    PYTHONPATH=src python benchmarks/bench_fit.py            # full 4,500-start reference
    PYTHONPATH=src python benchmarks/bench_fit.py --quick    # 450 random starts, scaled estimate
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from densing.bootstrap import BootstrapSpec
from densing.laws import fit_loss_law

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/chinchilla/svg_extracted_data.csv"
DELTA = 1e-3


def load(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = pd.read_csv(path)
    df = df.drop(index=df["loss"].nlargest(5).index)
    N = df["Model Size"].to_numpy(float)
    D = df["Training FLOP"].to_numpy(float) / (6.0 * N)
    return N, D, df["loss"].to_numpy(float)


# ------------------------------------------------------------- reference (Epoch AI)


def epoch_grid() -> np.ndarray:
    """Besiroglu et al. (2024)'s initialisation grid, columns (a, b, e, alpha, beta)."""
    e = np.arange(-1.0, 1.5, 0.5)
    a = np.arange(0.0, 30.0, 5.0)
    b = np.arange(0.0, 30.0, 5.0)
    alpha = np.arange(0.0, 2.5, 0.5)
    beta = np.arange(0.0, 2.5, 0.5)
    return np.array(
        [(a_, b_, e_, al, be) for e_, a_, b_, al, be in itertools.product(e, a, b, alpha, beta)]
    )


def epoch_objective(
    x: np.ndarray, logN: np.ndarray, logD: np.ndarray, logL: np.ndarray
) -> tuple[float, np.ndarray]:
    """Σ Huber_δ(LSE(a − α lnN, b − β lnD, e) − ln L) and its analytic gradient."""
    a, b, e, alpha, beta = x
    z = np.stack([a - alpha * logN, b - beta * logD, np.full_like(logN, e)])
    zmax = z.max(axis=0)
    ez = np.exp(z - zmax)
    s = ez.sum(axis=0)
    r = zmax + np.log(s) - logL
    w = ez / s
    ar = np.abs(r)
    val = np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA)).sum()
    psi = np.clip(r, -DELTA, DELTA)
    grad = np.array(
        [
            psi @ w[0],
            psi @ w[1],
            psi @ w[2],
            -(psi * w[0]) @ logN,
            -(psi * w[1]) @ logD,
        ]
    )
    return float(val), grad


def epoch_fit(N, D, L, starts: np.ndarray) -> tuple[np.ndarray, float, int]:
    """L-BFGS-B from every start; returns (best x, best objective, n successful)."""
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    best_x, best_f, n_ok = None, np.inf, 0
    for x0 in starts:
        res = minimize(epoch_objective, x0, args=(logN, logD, logL), jac=True, method="L-BFGS-B")
        n_ok += bool(res.success)
        if res.fun < best_f:
            best_x, best_f = res.x, float(res.fun)
    return best_x, best_f, n_ok


def epoch_params(x: np.ndarray) -> dict[str, float]:
    a, b, e, alpha, beta = x
    return {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": alpha, "beta": beta}


# ---------------------------------------------------------------------------- main


def load1() -> float:
    return os.getloadavg()[0]


def fmt_params(p: dict[str, float]) -> str:
    return "  ".join(f"{k}={p[k]:.6g}" for k in ("E", "A", "B", "alpha", "beta"))


def main() -> None:
    ap = argparse.ArgumentParser(description="densing vs Epoch AI's fitting recipe")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="reference from a random 10%% of the grid (450 starts); time scaled to 4,500",
    )
    ap.add_argument("--repeats", type=int, default=7, help="repeats of the densing fit")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (0: skip)")
    ap.add_argument("--jobs", type=int, default=None, help="bootstrap workers (default: all)")
    args = ap.parse_args()

    N, D, L = load(args.data)
    print(f"data: {args.data} ({L.size} points after dropping the 5 highest losses)")
    print(f"machine: {os.cpu_count()} cores; load average at start {os.getloadavg()}")

    grid = epoch_grid()
    assert grid.shape == (4500, 5), grid.shape
    starts = grid
    if args.quick:
        rng = np.random.default_rng(0)
        starts = grid[rng.choice(len(grid), size=450, replace=False)]

    with threadpool_limits(limits=1):
        # (a) reference
        l0 = load1()
        t0, c0 = time.perf_counter(), time.process_time()
        x_ref, f_ref, n_ok = epoch_fit(N, D, L, starts)
        t_ref = time.perf_counter() - t0
        cpu_ref = time.process_time() - c0
        l1 = load1()
        # (b) densing, warm-up then repeats
        fit_loss_law(N, D, L)
        times = []
        cpus = []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fit = fit_loss_law(N, D, L)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        l2 = load1()
    t_den = statistics.median(times)

    print()
    label = "REFERENCE Epoch AI recipe (L-BFGS-B, analytic gradient)"
    print(f"(a) {label}: {len(starts)} starts, {n_ok} reported success")
    print(f"    wall time {t_ref:.2f} s, CPU time {cpu_ref:.2f} s   [load {l0:.2f} -> {l1:.2f}]")
    if args.quick:
        t_full = t_ref * len(grid) / len(starts)
        print(f"    ESTIMATE for all 4,500 starts (x{len(grid) / len(starts):.0f}): {t_full:.2f} s")
    else:
        t_full = t_ref
    print(f"    objective {f_ref:.13g}")
    print(f"    {fmt_params(epoch_params(x_ref))}")
    print(f"(b) densing.laws.fit_loss_law: median of {args.repeats} runs")
    print(
        f"    wall time {t_den * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, "
        f"max {max(times) * 1e3:.1f}); CPU time {statistics.median(cpus) * 1e3:.1f} ms   "
        f"[load {l2:.2f}]"
    )
    print(f"    objective {fit.objective_value:.13g}")
    print(f"    {fmt_params(fit.params)}")
    c = fit.convergence
    print(f"    search: {c.n_grid} grid points, {c.n_polished} polished, {c.n_at_best} at best")
    print()
    est = " (ESTIMATED from --quick)" if args.quick else ""
    ratio = t_full / t_den
    cpu_full = cpu_ref * len(grid) / len(starts)
    print(
        f"speed-up: {ratio:.0f}x wall, {cpu_full / statistics.median(cpus):.0f}x CPU{est}   "
        f"target >= 50x: {'MET' if ratio >= 50 else 'NOT MET'}"
    )
    diff = fit.objective_value - f_ref
    ok = diff <= 1e-12
    print(
        f"objective densing - reference = {diff:+.3e}   target <= +1e-12: "
        f"{'MET' if ok else 'NOT MET'}"
    )

    if args.resamples > 0:
        spec = BootstrapSpec(n_resamples=args.resamples, seed=0, n_jobs=args.jobs)
        l3 = load1()
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = time.process_time()
        bfit = fit_loss_law(N, D, L, bootstrap=spec)
        t_boot = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_boot = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) + (
            time.process_time() - c0
        )
        l4 = load1()
        b = bfit.bootstrap
        jobs = args.jobs or os.cpu_count()
        print()
        print(
            f"bootstrap: {args.resamples} resamples, full global search per resample, "
            f"{jobs} workers, seed 0"
        )
        print(
            f"    wall time {t_boot:.2f} s   [load {l3:.2f} -> {l4:.2f}]   target <= 30 s: "
            f"{'MET' if t_boot <= 30 else 'NOT MET'}"
        )
        print(
            f"    CPU time {cpu_boot:.1f} s in all processes -> {cpu_boot / jobs:.1f} s "
            f"on {jobs} otherwise idle cores (estimate)"
        )
        ses = "  ".join(f"se({n})={b.std_error(n):.4g}" for n in ("E", "alpha", "beta"))
        print(f"    {ses}   failed resamples: {b.n_failed}")


if __name__ == "__main__":
    main()

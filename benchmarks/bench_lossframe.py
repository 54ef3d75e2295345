"""Benchmark: ``fit-frame`` on a large training ladder (target: <= 60 s on a 2-core machine).

A synthetic ladder (``densing.lossframe.simulate_ladder``): 10 sizes x 10 token budgets = 100
runs with 110 checkpoints each, i.e. 11,000 calibration checkpoints, each scored on 8
benchmarks (88,000 calibration rows; the reference law uses each run's final checkpoint). The
frame is fitted as ``densing fit-frame --bootstrap 200`` does: 200 replicates resampling runs,
the full global search in every replicate (law: the exponent grid and 5 polished starts;
sigmoid: the start grid plus the point fit, the best start polished), and the leave-one-size-out
error models of the predictive intervals. Timings are printed with the 1-minute load average
(on a shared machine a timing means little without it); nothing is asserted.

    PYTHONPATH=src python benchmarks/bench_lossframe.py [--bootstrap 200] [--checkpoints 110]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from densing.bootstrap import BootstrapSpec
from densing.lossframe import DensingWarning, Ladder, fit_loss_frame, simulate_ladder


def ladder(n_sizes: int, n_budgets: int, checkpoints: int, n_bench: int) -> Ladder:
    benches = {
        f"bench{k}": (1.0 + 0.04 * k, 0.7 - 0.02 * k, 0.25, -3.0 + 0.1 * k, 3.4 + 0.05 * k)
        for k in range(n_bench)
    }
    return Ladder(
        sizes=tuple(np.geomspace(2e7, 7e9, n_sizes)),
        multipliers=tuple(np.geomspace(5, 200, n_budgets)),
        checkpoints=checkpoints,
        benchmarks=benches,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, default=10)
    ap.add_argument("--budgets", type=int, default=10)
    ap.add_argument("--checkpoints", type=int, default=110)
    ap.add_argument("--benchmarks", type=int, default=8)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--warm-start", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    table = simulate_ladder(0, ladder(args.sizes, args.budgets, args.checkpoints, args.benchmarks))
    n_ckpt = args.sizes * args.budgets * args.checkpoints
    print(
        f"ladder: {args.sizes * args.budgets} runs, {n_ckpt:,} checkpoints x {args.benchmarks} "
        f"benchmarks = {len(table):,} rows (simulated in {time.perf_counter() - t0:.1f} s)"
    )
    spec = BootstrapSpec(
        n_resamples=args.bootstrap, seed=0, warm_start=args.warm_start, n_jobs=args.jobs
    )
    load0 = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DensingWarning)
        frame = fit_loss_frame(table, table, form="chinchilla", bootstrap=spec)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    search = "warm-start" if args.warm_start else "full-search"
    print(
        f"fit-frame: {args.bootstrap} {search} replicates per benchmark, predictive error "
        f"models: {wall:.1f} s wall ({cpu:.1f} s CPU in the main process; {os.cpu_count()} "
        f"cores; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
    bf = frame.fits[0]
    print(
        f"  {bf.benchmark}: {bf.law_n_points} runs in the law, {bf.n_calibration:,} calibration "
        f"points from {bf.n_calibration_runs} runs, {bf.n_resamples} replicates"
    )


if __name__ == "__main__":
    main()

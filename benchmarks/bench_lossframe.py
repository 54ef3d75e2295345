"""Benchmark: ``fit-frame`` on a large training ladder (target: <= 60 s on a 2-core machine).

A synthetic ladder (``densing.lossframe.simulate_ladder``): 10 sizes x 10 token budgets = 100
runs with 110 checkpoints each, i.e. 11,000 calibration checkpoints, each scored on 8
benchmarks (88,000 calibration rows; the reference law uses each run's final checkpoint). The
frame is fitted as ``densing fit-frame --bootstrap 200`` does: 200 replicates resampling runs,
the full global search in every replicate (law: the exponent grid and 5 polished starts;
sigmoid: the start grid plus the point fit, the best start polished), and the leave-one-size-out
error models of the predictive intervals. Timings are printed with the 1-minute load average
(on a shared machine a timing means little without it); nothing is asserted.

``--predict``: batch prediction of 1,000 planned (N, D) targets from a small saved frame,
against two references measured in the same run: one ``predict`` call per target (the only way
before the batch path) and the CLI's own start-up (``densing --help``); it prints the ratios and
the end-to-end wall time of ``densing predict --targets``.

    PYTHONPATH=src python benchmarks/bench_lossframe.py [--bootstrap 200] [--checkpoints 110]
    PYTHONPATH=src python benchmarks/bench_lossframe.py --predict
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

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


def _cli_seconds(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "densing", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def bench_predict(n: int = 1000) -> None:
    """Batch prediction vs one call per target, and the CLI end to end vs its start-up."""
    lad = Ladder(checkpoints=4, benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6),
                                            "arc": (1.1, 0.8, 0.2, -2.5, 3.9)})  # fmt: skip
    t = simulate_ladder(4, lad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DensingWarning)
        frame = fit_loss_frame(
            t, t, form="chinchilla", bootstrap=BootstrapSpec(60, seed=2, warm_start=True)
        )
    N, D = np.geomspace(1e8, 1e11, n), np.geomspace(1e10, 1e13, n)
    wall = time.perf_counter()
    frame.predict(N, D)
    batch = time.perf_counter() - wall
    k = 50
    wall = time.perf_counter()
    for i in range(k):
        frame.predict(N[i : i + 1], D[i : i + 1])
    loop = (time.perf_counter() - wall) / k * n
    print(f"predict {n:,} targets x 2 benchmarks: batch {batch:.2f} s; one call per target "
          f"{loop:.1f} s (from {k} calls); batch is {loop / batch:.0f}x faster")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        f = frame.to_json(Path(d) / "frame.json")
        pd.DataFrame({"name": [f"m{i}" for i in range(n)], "params": N, "tokens": D}).to_csv(
            Path(d) / "t.csv", index=False
        )
        start = min(_cli_seconds("--help") for _ in range(3))
        argv = ["predict", "--frame", str(f), "--targets", str(Path(d) / "t.csv"), "--out",
                str(Path(d) / "p.csv")]  # fmt: skip
        cli = min(_cli_seconds(*argv) for _ in range(3))
    print(f"densing predict --targets ({n:,} rows) end to end: {cli:.2f} s wall (best of 3); "
          f"CLI start-up alone (densing --help) {start:.2f} s; ratio {cli / start:.1f}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, default=10)
    ap.add_argument("--budgets", type=int, default=10)
    ap.add_argument("--checkpoints", type=int, default=110)
    ap.add_argument("--benchmarks", type=int, default=8)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--warm-start", action="store_true")
    ap.add_argument("--predict", action="store_true", help="benchmark batch prediction instead")
    args = ap.parse_args()
    if args.predict:
        bench_predict()
        return
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

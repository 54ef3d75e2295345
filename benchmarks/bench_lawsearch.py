"""Benchmark: the law's global search per bootstrap replicate, against the previous search.

The reference, written out here, is the search before NLopt: the same grid starts
(``lawsearch._grid_starts``), each descended with :func:`scipy.optimize.minimize` L-BFGS-B
(``ftol`` 1e-11, ``gtol`` 1e-8, ``maxcor`` 20), the best polished with L-BFGS-B at ``ftol``
1e-15 (the polish both searches share). For every problem, ``--replicates`` bootstrap
resamples of the points are searched by both in the same run, one BLAS thread; it prints the
mean time per replicate of each, their ratio, and how often the new search ends worse (or
better) than the reference by more than 1e-6 relative: a faster search that loses optima would
make every bootstrap interval wrong.

Problems: the 240 Chinchilla points (``../shared/data/chinchilla``), the 104 Gadre et al. runs'
C4 losses (``../shared/data/gadre-scaling``), the final checkpoints of the simulated ladder of
``bench_lossframe.py``; the chinchilla and densing forms, and the three objectives on Chinchilla.

    PYTHONPATH=src python benchmarks/bench_lawsearch.py [--replicates 100]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from densing.bootstrap import replicate_seeds, resample_indices
from densing.laws import get_form
from densing.lawsearch import _grid_starts, _Problem, _search, default_exponent_grid

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OPTS_1 = {"maxiter": 500, "ftol": 1e-11, "gtol": 1e-8, "maxcor": 20}
OPTS_2 = {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-11, "maxcor": 20}


def reference_search(prob: _Problem, grid: np.ndarray, n_polish: int = 5) -> float:
    """The previous search: scipy L-BFGS-B from every start, the best polished tightly."""
    k, n_exp = len(prob.form.terms), len(prob.form.exponent_names)
    bounds = [(-50.0, 50.0)] * k + [(0.0, 5.0)] * n_exp
    starts, _ = _grid_starts(prob, grid, n_polish)
    runs = [
        minimize(prob.value_grad, s, jac=True, method="L-BFGS-B", bounds=bounds, options=OPTS_1)
        for s in starts
    ]
    best1 = min(runs, key=lambda r: r.fun)
    best = minimize(
        prob.value_grad, best1.x, jac=True, method="L-BFGS-B", bounds=bounds, options=OPTS_2
    )
    return float(min(best.fun, best1.fun))


def problems() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    c = pd.read_csv(SHARED / "chinchilla" / "svg_extracted_data.csv")
    c = c.drop(index=c["loss"].nlargest(5).index)
    N = c["Model Size"].to_numpy(float)
    out.append(("chinchilla (240)", N, c["Training FLOP"].to_numpy(float) / (6 * N),
                c["loss"].to_numpy(float)))  # fmt: skip
    rows = []
    for f in sorted((SHARED / "gadre-scaling" / "exp_data" / "models").glob("*.json")):
        d = json.loads(f.read_text())
        for r in d["results"]:
            vd = r["val_data"][0] if isinstance(r["val_data"], list) else r["val_data"]
            if "c4_val" in vd:
                h = d["hyperparameters"]
                rows.append((h["params"], h["tokens"], r["loss"]))
                break
    g = np.array(rows, dtype=float)
    out.append((f"gadre C4 ({len(g)})", g[:, 0], g[:, 1], g[:, 2]))
    from bench_lossframe import ladder  # the ladder of the fit-frame benchmark
    from densing.lossframe import simulate_ladder

    t = simulate_ladder(0, ladder(10, 10, 110, 1))
    last = t.sort_values("step").groupby("run").tail(1)
    out.append(("ladder finals (100)", *(last[c].to_numpy(float) for c in ("params", "tokens", "loss"))))  # fmt: skip
    return out


def compare(name: str, N, D, L, form: str, objective: str, B: int) -> None:
    f = get_form(form)
    prob = _Problem(f, np.log(N), np.log(D), np.log(L), L, objective, 1e-3)
    grid = default_exponent_grid(len(f.exponent_names))
    t_ref, t_new, gap = [], [], []
    for seed in replicate_seeds(0, B):
        idx = resample_indices(np.random.default_rng(seed), L.size)
        sub = replace(prob, logN=prob.logN[idx], logD=prob.logD[idx], logL=prob.logL[idx],
                      L=prob.L[idx])  # fmt: skip
        t0 = time.perf_counter()
        ref = reference_search(sub, grid)
        t1 = time.perf_counter()
        _, val, _ = _search(sub, grid, 5)
        t_new.append(time.perf_counter() - t1)
        t_ref.append(t1 - t0)
        gap.append((val / sub.scale - ref) / abs(ref))
    g = np.array(gap)
    print(f"{name:20s} {form:10s} {objective:9s} reference {np.mean(t_ref) * 1e3:6.1f} ms  "
          f"new {np.mean(t_new) * 1e3:6.1f} ms  ratio {np.mean(t_new) / np.mean(t_ref):.2f}  "
          f"worse {np.mean(g > 1e-6):.3f}  better {np.mean(g < -1e-6):.3f}  "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=100)
    B = ap.parse_args().replicates
    with threadpool_limits(limits=1):
        for i, (name, N, D, L) in enumerate(problems()):
            for form in ("chinchilla", "densing"):
                compare(name, N, D, L, form, "huber-log", B)
            if i == 0:
                for objective in ("lsq-log", "lsq"):
                    compare(name, N, D, L, "chinchilla", objective, B)


if __name__ == "__main__":
    main()

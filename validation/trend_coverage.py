"""Coverage of the densing-law bootstrap interval for A on simulated data.

Two generators, both with a known slope A = 0.0073 / day (the paper's value):

* ``all``: every model scatters around the line, ln ρ = A·t + B + N(0, σ); the fit
  uses all models (``envelope=False``), so the truth is A exactly.
* ``frontier``: models sit *below* an exponentially growing frontier,
  ln ρ = A·t + B − Exp(mean δ) + N(0, σ_f) with small σ_f; the fit uses the
  envelope, whose slope estimates the frontier's A.

For each of ``--sims`` datasets we run a ``--bootstrap``-resample percentile bootstrap
and count how often the ``--level`` interval contains the true A. Usage::

    PYTHONPATH=src python validation/trend_coverage.py --sims 200 --bootstrap 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from densing.bootstrap import BootstrapSpec
from densing.trend import bootstrap_trend

A_TRUE = 0.0073
REF = dt.date(2023, 1, 1)


def simulate(kind: str, seed: int, n: int) -> tuple[list[str], list[dt.date], np.ndarray]:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(-600, 600, n))
    if kind == "all":
        log_rho = A_TRUE * days - 0.5 + rng.normal(0.0, 0.5, n)
    else:
        log_rho = A_TRUE * days - 0.5 - rng.exponential(0.8, n) + rng.normal(0.0, 0.05, n)
    dates = [REF + dt.timedelta(days=int(t)) for t in days]
    return [f"m{i}" for i in range(n)], dates, np.exp(log_rho)


def coverage(kind: str, sims: int, n_boot: int, n: int, level: float) -> tuple[float, float, float]:
    hits = 0
    bias = []
    t0 = time.perf_counter()
    for k in range(sims):
        models, dates, rho = simulate(kind, 1000 + k, n)
        res = bootstrap_trend(
            models,
            dates,
            rho,
            BootstrapSpec(n_resamples=n_boot, seed=k, level=level),
            envelope=(kind == "frontier"),
        )
        lo, hi = res.intervals["A_per_day"]
        hits += lo <= A_TRUE <= hi
        bias.append(res.A_per_day - A_TRUE)
    return hits / sims, float(np.mean(bias)), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--level", type=float, default=0.95)
    args = ap.parse_args()
    for kind in ("all", "frontier"):
        cov, bias, secs = coverage(kind, args.sims, args.bootstrap, args.models, args.level)
        print(
            f"{kind:>9}: {100 * args.level:g}% interval covers A={A_TRUE} in {100 * cov:.1f}% "
            f"of {args.sims} datasets ({args.models} models, {args.bootstrap} resamples); "
            f"mean bias of A-hat {bias:+.2e}/day; {secs:.1f} s"
        )


if __name__ == "__main__":
    main()

"""Coverage of loss-frame intervals on synthetic data (one benchmark, Densing form).

Each simulated dataset: 8 reference models × 3 token budgets with multiplicative loss
noise, 25 calibration points with additive score noise, from a known law and sigmoid.
A frame is fitted with a bootstrap (resampling models), and we count how often the 95%
interval of the effective-parameter size of targets with known truth (scores from the
true law + sigmoid) contains the truth, and how often the predicted loss interval at a
planned (N, D) contains the true loss.

    python validation/lossframe_coverage.py --sims 100 --bootstrap 200 [--full]

``--ladder``: training ladders with correlated checkpoints (``densing.lossframe.simulate_ladder``:
8 sizes x 5 token budgets = 40 runs of 8 checkpoints; a run-level score offset and AR(1) noise
along each run). Each ladder's checkpoint table is both the reference (final checkpoint of each
run) and the calibration table of a frame fitted twice, resampling runs (clusters) and resampling
single checkpoints; we count how often the 95% interval of each sigmoid parameter holds the truth.

    python validation/lossframe_coverage.py --ladder --sims 200 --bootstrap 200 [--jobs 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from densing.bootstrap import BootstrapSpec
from densing.laws import get_form
from densing.lossframe import DensingWarning, Ladder, fit_loss_frame, simulate_ladder

LAW = {"a": 1000.0, "alpha": 0.3, "b": 200.0, "beta": 0.2}
SIG = (0.7, 0.25, -5.0, 2.4)
D0 = 1e12
TARGETS = (2e9, 6e9, 2e10)


def sig(L):
    c, d, g, l = SIG  # noqa: E741
    return c / (1 + np.exp(-g * (np.asarray(L) - l))) + d


def simulate(rng, noise):
    form = get_form("densing")
    ref = [
        {
            "model": f"r{i}",
            "params": N,
            "tokens": D,
            "benchmark": "x",
            "loss": float(form.predict(LAW, N, D)) * np.exp(rng.normal(0, noise)),
        }
        for i, N in enumerate(np.geomspace(1e8, 3e10, 8))
        for D in (2e10, 2e11, 2e12)
    ]
    cal = [
        {
            "model": f"c{j}",
            "benchmark": "x",
            "loss": L,
            "score": float(sig(L) + rng.normal(0, noise)),
        }
        for j, L in enumerate(np.linspace(1.2, 3.5, 25))
    ]
    return pd.DataFrame(ref), pd.DataFrame(cal)


LADDER = Ladder(
    sizes=tuple(np.geomspace(2e7, 2e9, 8)),
    multipliers=tuple(np.geomspace(10, 80, 5)),
    checkpoints=8,
    benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6)},
)
SIG_NAMES = ("c", "d", "gamma", "l")


def one_ladder(s: int, B: int, full: bool) -> dict[str, np.ndarray]:
    """Hits (1/0 per sigmoid parameter) of both resampling units on ladder ``s``."""
    t = simulate_ladder(np.random.default_rng([11, s]), LADDER)
    truth = np.array(LADDER.sigmoid_of("mmlu"))
    out = {}
    for unit in ("runs", "checkpoints"):
        spec = BootstrapSpec(B, seed=s, warm_start=not full, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DensingWarning)
            fr = fit_loss_frame(
                t, t, form="chinchilla", bootstrap=spec, resample=unit, predictive=False
            )
        samples = fr.fit_for("mmlu").sigmoid_samples
        lo, hi = np.nanpercentile(samples, [2.5, 97.5], axis=0)
        out[unit] = ((lo <= truth) & (truth <= hi)).astype(float)
    return out


def ladder_main(args: argparse.Namespace) -> None:
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        res = list(pool.map(one_ladder, range(args.sims), [args.bootstrap] * args.sims,
                            [args.full] * args.sims))  # fmt: skip
    n = len(res)
    print(
        f"{n} ladders (40 runs x 8 checkpoints), {args.bootstrap} replicates "
        f"({'full search' if args.full else 'warm start'}), {time.time() - t0:.0f} s"
    )
    for unit in ("runs", "checkpoints"):
        cov = np.mean([r[unit] for r in res], axis=0)
        cells = ", ".join(f"{k} {v:.3f}" for k, v in zip(SIG_NAMES, cov, strict=True))
        print(
            f"  coverage of the sigmoid parameters, resampling {unit:<11}: {cells} (mean {cov.mean():.3f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=100)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.005)
    ap.add_argument("--full", action="store_true", help="full global search per replicate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ladder", action="store_true", help="training ladders: runs vs checkpoints")
    ap.add_argument("--jobs", type=int, default=2, help="--ladder: ladders fitted in parallel")
    args = ap.parse_args()
    if args.ladder:
        ladder_main(args)
        return
    form = get_form("densing")
    rng = np.random.default_rng(args.seed)
    scores = [float(sig(form.predict(LAW, N, D0))) for N in TARGETS]
    true_loss = float(form.predict(LAW, 7e9, 2e12))
    hit_n = np.zeros(len(TARGETS))
    hit_l = 0
    t0 = time.time()
    for s in range(args.sims):
        ref, cal = simulate(rng, args.noise)
        spec = BootstrapSpec(args.bootstrap, seed=s, warm_start=not args.full)
        fr = fit_loss_frame(ref, cal, bootstrap=spec)
        t = pd.DataFrame(
            {"model": [f"t{k}" for k in range(len(TARGETS))], "params": 1e9, "x": scores}
        )
        res = fr.density(t)
        res = res[res["benchmark"] == "x"]
        lo, hi = res["effective_params_lo"].to_numpy(), res["effective_params_hi"].to_numpy()
        hit_n += (lo <= np.array(TARGETS)) & (np.array(TARGETS) <= hi)
        p = fr.predict(7e9, 2e12).iloc[0]
        hit_l += int(p.loss_lo <= true_loss <= p.loss_hi)
    n = args.sims
    print(
        f"{n} datasets, {args.bootstrap} resamples ({'full search' if args.full else 'warm start'}), "
        f"noise {args.noise}, {time.time() - t0:.0f} s"
    )
    for N, h in zip(TARGETS, hit_n, strict=True):
        print(f"  coverage of N_hat (true {N:.0e}): {h / n:.3f}")
    print(f"  coverage of predicted loss at N=7e9, D=2e12: {hit_l / n:.3f}")


if __name__ == "__main__":
    main()

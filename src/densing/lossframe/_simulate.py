"""A synthetic training ladder with a known truth (examples, tests, coverage checks, benchmarks).

Runs of several sizes and token budgets, each with checkpoints along training. The loss of
benchmark ``b`` at a checkpoint with ``D`` tokens seen is ``s_b · L(N, D)`` (Chinchilla form,
Epoch AI's published fit by default) times a run-level error and a small checkpoint error; its
score is the benchmark's sigmoid of that loss plus a run-level offset and AR(1) noise along the
run. Checkpoints of one run are therefore correlated, as in real ladders: the run offset moves
every checkpoint of the run together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from densing.laws import get_form
from densing.sigmoid import sigmoid_value

#: Epoch AI's Chinchilla fit (Besiroglu et al. 2024), the default law of every benchmark.
CHINCHILLA = {"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}


@dataclass(frozen=True)
class Ladder:
    """How the ladder is drawn."""

    sizes: tuple[float, ...] = tuple(np.geomspace(2e7, 2e9, 6))
    multipliers: tuple[float, ...] = (10.0, 20.0, 40.0, 80.0)  # tokens per parameter
    checkpoints: int = 20  # per run, evenly spaced from `start` of training to its end
    start: float = 0.2
    law: dict[str, float] = field(default_factory=lambda: dict(CHINCHILLA))
    # benchmark -> (scale s_b of the loss, sigmoid c, d, gamma, l)
    benchmarks: dict[str, tuple[float, float, float, float, float]] = field(
        default_factory=lambda: {"mmlu": (1.0, 0.7, 0.25, -3.0, 3.2)}
    )
    run_loss_sd: float = 0.01  # log-loss error shared by a run's checkpoints
    ckpt_loss_sd: float = 0.003
    run_score_sd: float = 0.015  # score offset shared by a run's checkpoints
    score_sd: float = 0.01  # AR(1) score noise along a run
    rho: float = 0.8

    def law_of(self, benchmark: str) -> dict[str, float]:
        """The true law of a benchmark (the default law scaled by ``s_b``)."""
        s = self.benchmarks[benchmark][0]
        return {k: v * s if k in ("E", "A", "B") else v for k, v in self.law.items()}

    def sigmoid_of(self, benchmark: str) -> tuple[float, float, float, float]:
        return self.benchmarks[benchmark][1:]


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    for t in range(1, n):
        e[t] = rho * e[t - 1] + np.sqrt(1 - rho**2) * rng.normal(0, sd)
    return e


def simulate_ladder(
    seed: int | np.random.Generator = 0, ladder: Ladder | None = None
) -> pd.DataFrame:
    """Long table ``run, params, tokens, step, benchmark, loss, score`` (one row per checkpoint
    and benchmark): usable as both the reference and the calibration table of a loss frame."""
    lad = ladder or Ladder()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    form = get_form("chinchilla")
    T = lad.checkpoints
    frac = np.linspace(lad.start, 1.0, T)
    parts = []
    for i, N in enumerate(lad.sizes):
        for M in lad.multipliers:
            D = M * N * frac
            log_err = rng.normal(0, lad.run_loss_sd) + rng.normal(0, lad.ckpt_loss_sd, T)
            for b in lad.benchmarks:
                loss = np.asarray(form.predict(lad.law_of(b), np.full(T, N), D)) * np.exp(log_err)
                noise = rng.normal(0, lad.run_score_sd) + _ar1(rng, T, lad.score_sd, lad.rho)
                score = np.clip(sigmoid_value(loss, *lad.sigmoid_of(b)) + noise, 0, 1)
                parts.append(
                    pd.DataFrame(
                        {"run": f"n{i}-m{M:g}", "params": N, "tokens": D, "step": np.arange(1, T + 1),
                         "benchmark": b, "loss": loss, "score": score}
                    )
                )  # fmt: skip
    return pd.concat(parts, ignore_index=True)

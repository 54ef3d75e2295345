"""Loss-mode reference frames (the paper's method).

A :class:`LossFrame` holds, for every benchmark,

* a loss law ``L(N, D)`` fitted on the reference runs (columns ``model``, ``params``,
  ``tokens``, ``benchmark``, ``loss``; the output of ``densing eval export`` plus a
  ``tokens`` column),
* a loss → score sigmoid fitted on calibration models (``model``, ``benchmark``,
  ``loss``, ``score``),

plus the token budget ``D0`` at which the law is inverted, the law's form (saved with its
terms, so a custom :class:`~densing.laws.LawForm` survives a round trip) and the fitting
objective.

Both tables may carry ``run`` and ``step`` columns: several checkpoints per training run. The
law uses each run's final checkpoint(s), the sigmoid every checkpoint (optionally dropping the
first part of each run and smoothing), and the bootstrap resamples *runs* as clusters
(:mod:`densing.lossframe._runs`). Replicate ``b`` of every benchmark uses the same seed, so
when the benchmarks share reference (and calibration) runs, replicate ``b`` resamples the same
runs on every benchmark (a joint resample, which the aggregate across benchmarks needs).

Predictions carry two intervals: the bootstrap interval (parameter uncertainty) and a
predictive interval that adds the out-of-sample error measured by leave-one-size-out
(:mod:`densing.lossframe._predictive`).

Modules: ``_tables`` (input tables), ``_runs`` (checkpoints), ``_settings`` (per-benchmark
sigmoid settings), ``_fit`` (fitting), ``_predictive`` (out-of-sample error), ``_predict``
(forward predictions), ``frame`` (the results object), ``_simulate`` (a synthetic ladder with a
known truth).
"""

from densing.lossframe._fit import DensingWarning, fit_loss_frame
from densing.lossframe._predictive import ErrorModel
from densing.lossframe._runs import CheckpointOptions, reference_run_points
from densing.lossframe._settings import SigmoidSettings, read_benchmark_settings
from densing.lossframe._simulate import Ladder, simulate_ladder
from densing.lossframe.frame import AGGREGATE, FORMAT_VERSION, KIND, BenchmarkFrame, LossFrame

__all__ = [
    "AGGREGATE",
    "FORMAT_VERSION",
    "KIND",
    "BenchmarkFrame",
    "CheckpointOptions",
    "DensingWarning",
    "ErrorModel",
    "Ladder",
    "LossFrame",
    "SigmoidSettings",
    "fit_loss_frame",
    "read_benchmark_settings",
    "reference_run_points",
    "simulate_ladder",
]

"""Loss-mode reference frames (the paper's method).

A :class:`LossFrame` holds, for every benchmark,

* a loss law ``L(N, D)`` fitted on the reference runs (columns ``model``, ``params``,
  ``tokens``, ``benchmark``, ``loss``; the output of ``densing eval export`` plus a
  ``tokens`` column),
* a loss → score sigmoid fitted on calibration models (``model``, ``benchmark``,
  ``loss``, ``score``),

plus the token budget ``D0`` at which the law is inverted, the law's form (saved with its
terms, so a custom :class:`~densing.laws.LawForm` survives a round trip) and the fitting
objective. With a bootstrap, every replicate resamples the reference runs by model and the
calibration points by model, refits the law (full global search unless ``warm_start``) and
the sigmoid, and stores the replicate parameters, so densities and predictions carry
intervals that include both fits' uncertainty.

Replicate ``b`` of every benchmark uses the same seed, so when the benchmarks share the
same reference (and calibration) models, replicate ``b`` resamples the same models on
every benchmark (a joint resample, which the aggregate across benchmarks needs).

Modules: ``_tables`` (input tables), ``_fit`` (fitting), ``frame`` (the results object).
"""

from densing.lossframe._fit import fit_loss_frame
from densing.lossframe.frame import AGGREGATE, FORMAT_VERSION, KIND, BenchmarkFrame, LossFrame

__all__ = ["AGGREGATE", "FORMAT_VERSION", "KIND", "BenchmarkFrame", "LossFrame", "fit_loss_frame"]

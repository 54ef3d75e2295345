"""The main job: catalog → score-mode frame → densities → densing law → report inputs.

:func:`analyze` is a pure function of a :class:`~densing.catalog.Catalog` and a
:class:`FrameSpec`; it returns an :class:`Analysis` (frozen) that knows how to describe itself,
build a :class:`~densing.report.ReportBundle` and write the output folder. The CLI
(``densing run``) is a thin layer over it.

Uncertainty is propagated end to end: the frame bootstrap gives a B × n matrix of densities;
replicate b of the densing-law bootstrap resamples models *and* uses the b-th frame replicate's
densities, so the doubling-time interval carries the frame's uncertainty as well as the
sampling of models.

Modules: ``specs`` (which frames), ``run`` (one frame on the catalog and its law), ``cache``
(the built-in frame, fitted once),
``forecast``, ``bundle`` (report inputs), ``result`` (:class:`Analysis`), ``_analyze``.
"""

from densing.analysis._analyze import analyze
from densing.analysis.bundle import method_note, paper_comparison
from densing.analysis.cache import builtin_frame, cached_builtin_frame
from densing.analysis.forecast import DEFAULT_FORECASTS, forecast_table
from densing.analysis.result import Analysis
from densing.analysis.run import FrameRun, fit_frame_spec, frame_inputs, run_frame
from densing.analysis.specs import (
    DEFAULT_BENCHMARKS,
    DEFAULT_ESTIMATOR,
    DEFAULT_FRAME,
    DEFAULT_SINCE,
    KNOWLEDGE_BENCHMARKS,
    PAPER,
    PAPER_BENCHMARKS,
    SENSITIVITY_FRAMES,
    STITCHED_ALPHA,
    UNIFORM_FRAME,
    UNIFORM_SETTINGS,
    FrameSpec,
)

__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_ESTIMATOR",
    "DEFAULT_FORECASTS",
    "DEFAULT_FRAME",
    "DEFAULT_SINCE",
    "KNOWLEDGE_BENCHMARKS",
    "PAPER",
    "PAPER_BENCHMARKS",
    "SENSITIVITY_FRAMES",
    "STITCHED_ALPHA",
    "UNIFORM_FRAME",
    "UNIFORM_SETTINGS",
    "Analysis",
    "FrameRun",
    "FrameSpec",
    "analyze",
    "builtin_frame",
    "cached_builtin_frame",
    "fit_frame_spec",
    "forecast_table",
    "frame_inputs",
    "method_note",
    "paper_comparison",
    "run_frame",
]

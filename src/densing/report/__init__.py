"""The offline HTML report: render a :class:`ReportBundle` of already-computed results.

>>> from densing.report import ReportBundle, render_report
>>> render_report(bundle, "densing-report/report.html")  # doctest: +SKIP
"""

from densing.report._bundle import ReportBundle, read_bundle, write_bundle
from densing.report._render import PLOT_IDS, build_figures, render_html, render_report

__all__ = [
    "PLOT_IDS",
    "ReportBundle",
    "build_figures",
    "read_bundle",
    "render_html",
    "render_report",
    "write_bundle",
]

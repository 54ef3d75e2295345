"""Assemble the self-contained, offline HTML report from a :class:`ReportBundle`."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

import densing
from densing.report._bundle import ReportBundle
from densing.report._density import density_figure
from densing.report._figures import (
    backtest_figure,
    fit_figure,
    sensitivity_figure,
    sigmoid_figure,
)
from densing.report._html import esc
from densing.report._models import models_section
from densing.report._sections import (
    backtest_section,
    density_section,
    fit_section,
    sensitivity_section,
    sigmoid_section,
)
from densing.report._summary import headline, method

PLOT_IDS = ("plot-density", "plot-fit", "plot-sigmoids", "plot-sensitivity", "plot-backtest")


def _asset(name: str) -> str:
    return resources.files("densing.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Make text safe inside a <script> element (no early '</script>')."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _json_safe(text: str) -> str:
    """JSON text for an application/json script block: escape markup characters."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _paper_months(paper: dict[str, Any]) -> Any:
    months = paper.get("doubling_time_months")
    if months is None:
        months = next(
            (v.get("doubling_time_months") for v in paper.values() if isinstance(v, dict)),
            None,
        )
    return months


def _backtest_forecasts(bundle: ReportBundle) -> pd.DataFrame | None:
    b = bundle.backtest or {}
    f = pd.DataFrame.from_records(b.get("forecasts") or [])
    need = {"cutoff", "horizon_months", "estimator", "forecast", "lo", "hi", "realised", "anchor"}
    return f if not f.empty and need <= set(f.columns) else None


def build_figures(bundle: ReportBundle) -> dict[str, Any]:
    """The report's plotly figures, keyed by the id of the div that shows them."""
    figs: dict[str, Any] = {
        "plot-density": density_figure(bundle.densities, bundle.trend, bundle.band)
    }
    if bundle.fit_points is not None:
        figs["plot-fit"] = fit_figure(bundle.fit_points, bundle.fit_curve, bundle.frame)
    if bundle.sigmoids is not None:
        figs["plot-sigmoids"] = sigmoid_figure(bundle.sigmoids, bundle.sigmoid_points, bundle.frame)
    if bundle.sensitivity is not None and not bundle.sensitivity.empty:
        figs["plot-sensitivity"] = sensitivity_figure(
            bundle.sensitivity,
            bundle.frame.get("name"),
            _paper_months(bundle.paper_comparison or {}),
        )
    forecasts = _backtest_forecasts(bundle)
    if forecasts is not None:
        figs["plot-backtest"] = backtest_figure(forecasts)
    return figs


def _body(bundle: ReportBundle, version: str, generated: str) -> str:
    frame_name = str(bundle.frame.get("name"))
    backtest = backtest_section(bundle) if _backtest_forecasts(bundle) is not None else ""
    return "\n".join(
        [
            "<header><h1>Capability density and the densing law</h1>"
            f'<p class="subtitle">Reference frame <b>{esc(frame_name)}</b> · '
            f"{len(bundle.densities)} models · generated {esc(generated)} by densing "
            f"{esc(version)}</p></header>",
            '<section id="summary"><h2 class="first">Summary</h2>'
            "<p>How fast is the <i>maximum</i> capability density of released models growing? "
            "The densing law (Xiao et al., arXiv 2412.04315) fits ln ρ<sub>max</sub> = A·t + B "
            "to the models at the frontier. Every number below carries an interval.</p>"
            + headline(bundle)
            + "</section>",
            method(bundle),
            density_section(bundle),
            fit_section(bundle),
            sigmoid_section(bundle),
            sensitivity_section(bundle),
            backtest,
            models_section(bundle, 6 if backtest else 5),
            f"<footer>Self-contained report: all data and the plotting library (plotly.js) are "
            f"embedded in this file; it makes no network requests. densing {esc(version)}, "
            f"{esc(generated)}.</footer>",
        ]
    )


def render_html(bundle: ReportBundle) -> str:
    """The complete report as one HTML string (plotly.js inline, no network access)."""
    version = bundle.densing_version or densing.__version__
    generated = bundle.generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Capability density and the densing law — frame {bundle.frame.get('name')}"
    figs = build_figures(bundle)
    fig_json = (
        "{"
        + ",".join(f'"{k}":' + pio.to_json(fig, validate=False) for k, fig in figs.items())
        + "}"
    )
    return Template(_asset("report.html")).substitute(
        version=esc(version),
        title=esc(title),
        css=_asset("report.css"),
        plotlyjs=_script_safe(get_plotlyjs()),
        body=_body(bundle, version, generated),
        figures=_json_safe(fig_json),
        js=_script_safe(_asset("report.js")),
    )


def render_report(bundle: ReportBundle, out_path: str | Path) -> Path:
    """Write the report to ``out_path`` (one offline HTML file) and return its path."""
    p = Path(out_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(bundle), encoding="utf-8")
    return p

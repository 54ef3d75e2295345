"""The offline HTML report: structure (no CDN, plotly inline, one div per plot, table rows),
bundle round trip, and an end-to-end render in headless Chromium with a screenshot."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _browser import CHROMIUM, PlotCounter, finish, png_size, start_chromium
from densing.errors import DensingInputError
from densing.report import PLOT_IDS, ReportBundle, read_bundle, render_report, write_bundle

BENCHES = ["MMLU", "BBH", "MATH", "HumanEval", "MBPP"]


def synthetic_bundle(seed: int = 0, n_models: int = 40) -> ReportBundle:
    """A bundle like the real pipeline's, from a known exponential law plus noise."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp("2023-01-01")
    days = np.sort(rng.uniform(-200, 800, n_models))
    dates = origin + pd.to_timedelta(np.round(days), unit="D")
    a_true, b_true = 0.006, -1.5
    log_rho = a_true * days + b_true - np.abs(rng.normal(0, 0.8, n_models))
    rho = np.exp(log_rho)
    params = np.exp(rng.uniform(np.log(5e8), np.log(7e10), n_models))
    active = params.copy()
    moe = rng.random(n_models) < 0.15
    active[moe] = params[moe] / 6
    status = np.array(["ok"] * n_models, dtype=object)
    status[3] = "above_range"
    status[7] = "below_range"
    rho_col = rho.copy()
    rho_col[7] = np.nan
    d = pd.DataFrame(
        {
            "model": [f"org/model-{i:02d}" for i in range(n_models)],
            "family": [f"fam{i % 6}" for i in range(n_models)],
            "release_date": dates,
            "params": params,
            "active_params": active,
            "effective_params": rho_col * active,
            "density_active": rho_col,
            "density_active_lo": rho_col * np.exp(-0.3),
            "density_active_hi": rho_col * np.exp(0.3),
            "status": status,
            "frame": "synthetic-frame",
            "density_total": np.where(moe, rho_col * active / params, np.nan),
            "MMLU": rng.uniform(0.3, 0.8, n_models),
            "BBH": np.where(rng.random(n_models) < 0.2, np.nan, rng.uniform(0.2, 0.7, n_models)),
        }
    )
    # the envelope: models that set a new maximum density when released
    envelope, best = [], -math.inf
    for m, r in zip(d["model"], d["density_active"], strict=True):
        if np.isfinite(r) and r > best:
            envelope.append(m)
            best = r
    env = d[d["model"].isin(envelope)]
    t_env = (env["release_date"] - origin).dt.days.to_numpy(float)
    a, b = np.polyfit(t_env, np.log(env["density_active"].to_numpy(float)), 1)
    pred = a * t_env + b
    resid = np.log(env["density_active"].to_numpy(float)) - pred
    r2 = 1 - resid.var() / np.log(env["density_active"].to_numpy(float)).var()
    trend = {
        "A_per_day": a,
        "B": b,
        "r2": r2,
        "doubling_time_days": math.log(2) / a,
        "doubling_time_months": math.log(2) / a / (365.25 / 12),
        "n_models": len(env),
        "envelope": envelope,
        "intervals": {
            "A_per_day": [0.8 * a, 1.2 * a],
            "doubling_time_days": [math.log(2) / (1.2 * a), math.log(2) / (0.8 * a)],
        },
        "interval_level": 0.95,
        "reference_date": origin.date().isoformat(),
        "segments": {
            "before ChatGPT": {
                "A_per_day": 0.004,
                "B": -2.0,
                "r2": 0.8,
                "n_models": 4,
                "doubling_time_days": 173.0,
                "doubling_time_months": 5.7,
                "intervals": {"A_per_day": [0.002, 0.006]},
            },
            "after ChatGPT": {
                "A_per_day": a,
                "B": b,
                "r2": r2,
                "n_models": len(env) - 2,
                "doubling_time_days": math.log(2) / a,
                "doubling_time_months": math.log(2) / a / 30.4375,
            },
        },
    }
    grid = pd.date_range(dates.min(), dates.max(), periods=60)
    tg = (grid - origin).days.to_numpy(float)
    band = pd.DataFrame(
        {
            "date": grid,
            "fit": np.exp(a * tg + b),
            "lo": np.exp(a * tg + b - 0.4),
            "hi": np.exp(a * tg + b + 0.4),
        }
    )
    xs = np.array([1e8, 3e8, 1e9, 3e9, 7e9, 1.3e10])
    fit_rows, curve_rows = [], []
    for g, (c0, alpha) in zip(BENCHES[:3], [(8.0, 0.12), (6.0, 0.1), (9.0, 0.15)], strict=True):
        fitted = c0 * xs ** (-alpha)
        y = fitted * np.exp(rng.normal(0, 0.02, len(xs)))
        for x, yy, ff in zip(xs, y, fitted, strict=True):
            fit_rows.append(
                {
                    "x": x,
                    "y": yy,
                    "fitted": ff,
                    "residual": yy - ff,
                    "label": f"ref-{x / 1e9:g}B",
                    "group": g,
                }
            )
        gx = np.geomspace(xs.min(), xs.max(), 40)
        curve_rows += [{"x": x, "y": c0 * x ** (-alpha), "group": g} for x in gx]
    sig_rows, sig_pts = [], []
    for k, bench in enumerate(BENCHES):
        lx = np.linspace(1.0, 4.0, 50)
        sig_rows += [
            {"benchmark": bench, "x": x, "y": 0.25 + 0.7 / (1 + np.exp(3 * (x - 2.2 - 0.1 * k)))}
            for x in lx
        ]
        px = rng.uniform(1.2, 3.8, 15)
        py = 0.25 + 0.7 / (1 + np.exp(3 * (px - 2.2 - 0.1 * k))) + rng.normal(0, 0.03, 15)
        sig_pts += [
            {"benchmark": bench, "x": x, "y": y, "model": f"org/model-{j:02d}"}
            for j, (x, y) in enumerate(zip(px, py, strict=True))
        ]
    sensitivity = pd.DataFrame(
        {
            "frame": ["synthetic-frame", "alt-family", "mmlu-only"],
            "reference_family": ["fam0", "fam1", "fam0"],
            "benchmarks": [BENCHES, BENCHES[:3], ["MMLU"]],
            "n_models": [len(env), 9, 11],
            "doubling_time_months": [trend["doubling_time_months"], 4.1, 2.9],
            "lo": [trend["doubling_time_months"] * 0.8, 3.0, 2.0],
            "hi": [trend["doubling_time_months"] * 1.25, 5.9, 4.4],
            "A_per_day": [a, 0.0055, 0.0078],
            "r2": [r2, 0.85, 0.9],
        }
    )
    return ReportBundle(
        densities=d,
        trend=trend,
        band=band,
        frame={
            "name": "synthetic-frame",
            "mode": "score",
            "reference_family": "fam0",
            "benchmarks": BENCHES,
            "D0": "family budget",
            "method_note": "Synthetic data for tests: one latent capability per model.",
        },
        fit_points=pd.DataFrame(fit_rows),
        fit_curve=pd.DataFrame(curve_rows),
        sigmoids=pd.DataFrame(sig_rows),
        sigmoid_points=pd.DataFrame(sig_pts),
        sensitivity=sensitivity,
        paper_comparison={
            "arXiv v1": {
                "A_per_day": 0.0073,
                "doubling_time_months": 3.3,
                "r2": 0.91,
                "n_models": 29,
            },
            "journal": {"doubling_time_months": 3.5, "n_models": 51},
            "note": "paper values are point estimates",
        },
        generated_at="2026-11-25 12:00 UTC",
        densing_version="test",
    )


@pytest.fixture(scope="module")
def bundle() -> ReportBundle:
    return synthetic_bundle()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, bundle: ReportBundle) -> Path:
    return render_report(bundle, tmp_path_factory.mktemp("report") / "sub" / "report.html")


class _Tags(HTMLParser):
    """Collect start tags (name, attrs) and the text of script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


class _Table(HTMLParser):
    """Header and body cell texts of the table with a given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # >0 while inside the wanted table
        self.rows: list[list[str]] = []
        self.cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data


def _read_table(text: str, table_id: str) -> pd.DataFrame:
    t = _Table(table_id)
    t.feed(text)
    assert t.rows, f"no table with id {table_id}"
    return pd.DataFrame(t.rows[1:], columns=t.rows[0])


def _parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    tags = _parse(text)
    # no element loads anything from elsewhere: no src/href to http(s) or protocol-relative URLs
    for tag, attrs in tags.tags:
        for key in ("src", "href"):
            val = attrs.get(key)
            if val is not None:
                assert not re.match(r"\s*(https?:)?//", val), f"<{tag} {key}={val}> loads remotely"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), "external stylesheet"
        assert not (tag == "script" and attrs.get("src")), "script with a src attribute"
    assert "@import" not in text and "@font-face" not in text
    # plotly.js inline exactly once
    big = [s for s in tags.scripts if len(s) > 1_000_000]
    assert len(big) == 1
    assert "plotly.js v" in big[0] or "Plotly" in big[0][:5000]
    assert text.count("newPlot") >= 1
    assert len(text) < 8_000_000


def test_one_div_per_plot_and_figures_embedded(report: Path, bundle: ReportBundle) -> None:
    text = report.read_text(encoding="utf-8")
    tags = _parse(text)
    plot_divs = [
        a["id"] for t, a in tags.tags if t == "div" and "densing-plot" in (a.get("class") or "")
    ]
    assert plot_divs == list(PLOT_IDS)
    import json

    block = re.search(
        r'<script type="application/json" id="densing-figures">(.*?)</script>', text, re.S
    )
    assert block is not None

    def reject(const: str) -> None:
        raise AssertionError(f"{const} is not JSON: the browser's JSON.parse would fail")

    figs = json.loads(block.group(1), parse_constant=reject)
    assert sorted(figs) == sorted(PLOT_IDS)
    for fid, fig in figs.items():
        assert len(fig["data"]) > 0, fid
    # the density plot: log y axis, titled axes, envelope + law traces
    dens = figs["plot-density"]
    assert dens["layout"]["yaxis"]["type"] == "log"
    assert "log scale" in dens["layout"]["yaxis"]["title"]["text"]
    assert dens["layout"]["xaxis"]["title"]["text"] == "release date"
    names = [t.get("name", "") for t in dens["data"]]
    assert any(n.startswith("envelope") for n in names)
    assert any(n.startswith("fitted law") for n in names)
    assert any(n == "interval of the fitted law" for n in names)
    env_trace = next(t for t in dens["data"] if t.get("name", "").startswith("envelope"))
    assert [row[0] for row in env_trace["customdata"]] == bundle.trend["envelope"]
    assert "density ρ" in env_trace["hovertemplate"] and "interval" in env_trace["hovertemplate"]
    # sigmoid small multiples: one panel title per benchmark
    sig_titles = [a["text"] for a in figs["plot-sigmoids"]["layout"]["annotations"]]
    assert sig_titles == BENCHES
    assert figs["plot-fit"]["layout"]["xaxis2"]["type"] == "log"
    assert "residual" in figs["plot-fit"]["layout"]["yaxis2"]["title"]["text"]


def test_tables_list_every_model_and_frame(report: Path, bundle: ReportBundle) -> None:
    text = report.read_text(encoding="utf-8")
    models = _read_table(text, "table-models")
    assert len(models) == len(bundle.densities)
    assert set(models["model"]) == set(bundle.densities["model"])
    # densest first, missing densities last
    rho = pd.to_numeric(models["density ρ"], errors="coerce").to_numpy()
    finite = rho[np.isfinite(rho)]
    assert np.all(np.diff(finite) <= 1e-12 * finite[:-1] + 1e-3)
    assert not np.isfinite(rho[-1])
    assert "below_range" in set(models["status"])
    sens = _read_table(text, "table-sensitivity")
    assert list(sens["frame"]) == list(bundle.sensitivity["frame"])
    assert "synthetic-frame" in text and "How to read this" in text
    assert text.count('class="howto"') >= 5
    assert 'class="sortable"' in text
    # the model without a finite density is named in the caption, not dropped silently
    assert "org/model-07 (below_range, no finite density)" in text


def test_string_dates_and_missing_date(tmp_path: Path, bundle: ReportBundle) -> None:
    d = bundle.densities.assign(
        release_date=bundle.densities["release_date"].dt.strftime("%Y-%m-%d")
    )
    d.loc[5, "release_date"] = None
    b = ReportBundle(densities=d, trend=bundle.trend, frame=bundle.frame, band=bundle.band)
    text = render_report(b, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "org/model-05 (no release date)" in text
    models = _read_table(text, "table-models")
    assert len(models) == len(d)
    assert models.loc[models["model"] == "org/model-05", "release date"].item() == "—"


def test_optional_parts_missing_render_notes(tmp_path: Path, bundle: ReportBundle) -> None:
    small = ReportBundle(densities=bundle.densities, trend=bundle.trend, frame=bundle.frame)
    out = render_report(small, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert 'id="plot-density"' in text
    for pid in ("plot-fit", "plot-sigmoids", "plot-sensitivity"):
        assert f'id="{pid}"' not in text
    assert text.count("was not part of the inputs") == 4  # band, fit, sigmoids, sensitivity


def test_no_growth_and_infinite_bounds_render(tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses
    import json

    trend = dict(bundle.trend)
    trend.update(A_per_day=-0.001, doubling_time_days=math.inf, doubling_time_months=math.inf)
    trend["intervals"] = {"A_per_day": [-0.002, 0.001], "doubling_time_days": [693.0, math.inf]}
    sens = bundle.sensitivity.copy()
    sens.loc[1, "hi"] = math.inf
    b = dataclasses.replace(bundle, trend=trend, sensitivity=sens)
    # a bundle with infinities survives the JSON round trip too
    back = read_bundle(write_bundle(b, tmp_path / "b.json"))
    text = render_report(back, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "no doubling (A ≤ 0)" in text
    assert "[22.8, ∞]" in text  # 693 days in months, open upper end
    assert "[3, ∞]" in text  # the sensitivity row with an unbounded interval
    block = re.search(r'id="densing-figures">(.*?)</script>', text, re.S)
    json.loads(block.group(1), parse_constant=lambda c: pytest.fail(f"{c} in figure JSON"))


def test_bundle_round_trip(tmp_path: Path, bundle: ReportBundle) -> None:
    p = write_bundle(bundle, tmp_path / "bundle.json")
    back = read_bundle(p)
    pd.testing.assert_frame_equal(
        back.densities.drop(columns="release_date"),
        bundle.densities.drop(columns="release_date"),
        check_dtype=False,
    )
    assert list(back.densities["release_date"]) == list(bundle.densities["release_date"])
    assert back.trend["envelope"] == bundle.trend["envelope"]
    assert back.frame == bundle.frame
    assert len(back.sigmoid_points) == len(bundle.sigmoid_points)
    assert "40 models" in back.summary() and "fit_points      18 rows" in back.summary()
    # re-rendering from the saved bundle gives the same document
    from densing.report import render_html

    assert render_html(back) == render_html(bundle)


def test_bad_bundles_are_input_errors(tmp_path: Path, bundle: ReportBundle) -> None:
    with pytest.raises(DensingInputError, match="density_active_hi"):
        ReportBundle(
            densities=bundle.densities.drop(columns="density_active_hi"),
            trend=bundle.trend,
            frame=bundle.frame,
        )
    bad_trend = {k: v for k, v in bundle.trend.items() if k != "A_per_day"}
    with pytest.raises(DensingInputError, match="A_per_day"):
        ReportBundle(densities=bundle.densities, trend=bad_trend, frame=bundle.frame)
    bad_dates = bundle.densities.assign(
        release_date=["not a date"] + [None] * (len(bundle.densities) - 1)
    )
    with pytest.raises(DensingInputError, match="row 1"):
        ReportBundle(densities=bad_dates, trend=bundle.trend, frame=bundle.frame)
    f = tmp_path / "other.json"
    f.write_text('{"format": "densing-report-bundle", "version": 99}')
    with pytest.raises(DensingInputError, match="version 99"):
        read_bundle(f)
    f.write_text("[1, 2")
    with pytest.raises(DensingInputError, match="could not parse"):
        read_bundle(f)


# --- end to end in a real browser -------------------------------------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"
)
def test_report_renders_in_headlessstart_chromium(
    report: Path, bundle: ReportBundle, tmp_path: Path
) -> None:
    url = report.resolve().as_uri()
    shot = tmp_path / "report.png"
    # a copy that, once loaded, clicks the "params N" heading of the model table (sort test)
    clicked = tmp_path / "clicked.html"
    click = "<script>document.querySelectorAll('#table-models thead th')[3].click();</script>"
    clicked.write_text(
        report.read_text(encoding="utf-8").replace("</body>", click + "</body>"), encoding="utf-8"
    )
    # run the DOM dump and the screenshot at once, each with its own profile
    dom_proc = start_chromium(["--dump-dom", clicked.as_uri()], tmp_path / "profile-dom")
    shot_proc = start_chromium(
        [f"--screenshot={shot}", "--window-size=1400,3000", "--hide-scrollbars", url],
        tmp_path / "profile-shot",
    )
    dom, dom_err = finish(dom_proc)
    _, shot_err = finish(shot_proc)
    assert dom_proc.returncode == 0, dom_err.decode(errors="replace")[-2000:]
    counter = PlotCounter(PLOT_IDS)
    counter.feed(dom.decode("utf-8", errors="replace"))
    for pid, c in counter.counts.items():
        assert c["main-svg"] > 0, f"{pid}: plotly drew no SVG ({c})"
        assert c["trace"] > 0, f"{pid}: no data traces in the SVG ({c})"
        assert c["marks"] > 0, f"{pid}: no points or lines drawn ({c})"
    # the density plot shows every model with a finite density as a point
    assert counter.counts["plot-density"]["marks"] >= 30
    # the click sorted the table by parameters, ascending, in the browser
    sorted_models = _read_table(dom.decode("utf-8", errors="replace"), "table-models")
    expected = bundle.densities.sort_values("params", kind="stable")["model"].tolist()
    assert sorted_models["model"].tolist() == expected
    assert 'aria-sort="ascending"' in dom.decode("utf-8", errors="replace")
    assert shot_proc.returncode == 0, shot_err.decode(errors="replace")[-2000:]
    assert shot.exists(), shot_err.decode(errors="replace")[-2000:]
    width, height = png_size(shot)
    assert (width, height) == (1400, 3000)
    assert shot.stat().st_size > 100_000  # a blank page compresses to a few KB

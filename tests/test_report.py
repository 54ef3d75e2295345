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

from _browser import CHROMIUM, PlotCounter, axis_problems, png_size, render_at_widths
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
    status[9] = "insufficient_scores"
    status[11] = "uninformative"
    status[14] = "extrapolated"
    rho_col = rho.copy()
    rho_col[7] = np.nan
    rho_col[9] = np.nan
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
            "theta": rng.uniform(0.5, 2.0, n_models),
            "n_benchmarks": rng.integers(1, 6, n_models),
            "at_chance": np.arange(n_models) == 11,
            "density_MMLU": rho_col * np.exp(rng.normal(0, 0.2, n_models)),
        }
    )
    # an unbounded interval (uninformative) and bounds drawn at their finite end
    d.loc[11, "density_active_hi"] = math.inf
    d.loc[3, ["density_active", "density_active_hi"]] = [math.inf, math.inf]
    # the envelope: models that set a new maximum density when released
    envelope, best = [], -math.inf
    for m, r, st in zip(d["model"], d["density_active"], d["status"], strict=True):
        if np.isfinite(r) and r > best and st in ("ok", "extrapolated"):
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
        "estimator": "envelope-ols",
        "estimators": {
            "envelope-ols": {
                "A_per_day": a,
                "doubling_time_months": math.log(2) / a / 30.4375,
                "intervals": {"A_per_day": [0.8 * a, 1.2 * a]},
            },
            "quantile-0.9": {
                "A_per_day": 0.9 * a,
                "doubling_time_months": math.log(2) / (0.9 * a) / 30.4375,
                "intervals": {"doubling_time_months": [2.5, 5.5]},
            },
        },
        "caveats": ["the fit before ChatGPT rests on 4 models"],
        "window": [str(dates.min().date()), str(dates.max().date())],
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
        backtest=synthetic_backtest(seed),
        generated_at="2026-11-25 12:00 UTC",
        densing_version="test",
    )


def synthetic_backtest(seed: int = 0) -> dict:
    """A backtest dict shaped like ``BacktestResult.to_dict()``."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for k, cutoff in enumerate(pd.date_range("2023-09-01", periods=6, freq="3MS")):
        anchor = 0.5 + 0.4 * k
        for h in (3, 6, 12):
            if k * 3 + h > 18:
                continue
            realised = anchor + 0.02 * h * 30 * 0.006 * 6 + rng.normal(0, 0.1)
            for est, slope in (("envelope-ols", 0.0065), ("quantile-0.9", 0.005), ("no-growth", 0)):
                f = anchor + slope * h * 30.4
                half = 0.0 if est == "no-growth" else 0.15 * h
                if est == "envelope-ols" and k == 0 and h == 12:
                    half = 40.0  # one absurdly wide interval: cut at the plot's edge
                rows.append(
                    {
                        "cutoff": str(cutoff.date()),
                        "horizon_months": h,
                        "estimator": est,
                        "reference": "fam0",
                        "anchor": anchor,
                        "forecast": f,
                        "lo": f - half,
                        "hi": f + half,
                        "realised": realised,
                        "error": f - realised,
                        "covered": None if est == "no-growth" else abs(f - realised) <= half,
                        "n_future": 3,
                    }
                )
    f = pd.DataFrame(rows)
    scores = (
        f.assign(abs_error=f["error"].abs(), width=f["hi"] - f["lo"])
        .groupby(["estimator", "horizon_months"])
        .agg(
            n=("error", "size"),
            mae_ln_rho=("abs_error", "mean"),
            bias_ln_rho=("error", "mean"),
            mean_width_ln=("width", "mean"),
        )
        .reset_index()
    )
    scores["coverage"] = [None if e == "no-growth" else 0.8 for e in scores["estimator"]]
    return {
        "kind": "densing-backtest",
        "frame": "synthetic-frame",
        "level": 0.95,
        "n_resamples": 40,
        "density_basis": "active",
        "skipped": [],
        "scores": scores.to_dict(orient="records"),
        "forecasts": rows,
    }


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
    # point estimates densest first, then bounds and uninformative models, then no density
    estimate = models["status"].isin(["ok", "extrapolated"]).to_numpy()
    n_est = int(estimate.sum())
    assert estimate[:n_est].all()
    rho = pd.to_numeric(models["density ρ"], errors="coerce").to_numpy()
    first = rho[:n_est]
    assert np.all(np.diff(first) <= 1e-12 * first[:-1] + 1e-3)
    assert set(models["status"][n_est:-2]) == {"above_range", "uninformative"}
    assert set(models["status"][-2:]) == {"below_range", "insufficient_scores"}
    assert "below_range" in set(models["status"])
    sens = _read_table(text, "table-sensitivity")
    assert list(sens["frame"]) == list(bundle.sensitivity["frame"])
    assert "synthetic-frame" in text and "How to read this" in text
    assert text.count('class="howto"') >= 5
    assert 'class="sortable"' in text
    # the models without a density or bound are named in a table under the plot
    undrawn = _read_table(text, "table-undrawn")
    assert set(undrawn["model"]) == {"org/model-07", "org/model-09"}
    assert set(undrawn["status"]) == {"below_range", "insufficient_scores"}


def test_string_dates_and_missing_date(tmp_path: Path, bundle: ReportBundle) -> None:
    d = bundle.densities.assign(
        release_date=bundle.densities["release_date"].dt.strftime("%Y-%m-%d")
    )
    d.loc[5, "release_date"] = None
    b = ReportBundle(densities=d, trend=bundle.trend, frame=bundle.frame, band=bundle.band)
    text = render_report(b, tmp_path / "r.html").read_text(encoding="utf-8")
    undrawn = _read_table(text, "table-undrawn").set_index("model")
    assert undrawn.loc["org/model-05", "why not drawn"] == "no release date"
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


# --- the report items of issues 10 and 12 ----------------------------------------------------


def _figures(text: str) -> dict:
    import json

    block = re.search(r'id="densing-figures">(.*?)</script>', text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def _arr(v: object) -> np.ndarray:
    """A trace's array as plotly writes it: a list, or a typed array {dtype, bdata}."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape(v["shape"]) if "shape" in v else a
    return np.array([np.nan if x is None else x for x in (v or [])], dtype=object)


def _trace(fig: dict, prefix: str) -> dict:
    found = [t for t in fig["data"] if str(t.get("name", "")).startswith(prefix)]
    assert len(found) == 1, [t.get("name") for t in fig["data"]]
    return found[0]


def _wide_bundle(bundle: ReportBundle) -> ReportBundle:
    """One model with an interval from 1e-5 to ∞, a below-range model with an upper bound,
    and a band whose lower edge falls to 1e-9."""
    import dataclasses

    d = bundle.densities.copy()
    d.loc[5, ["density_active_lo", "density_active_hi"]] = [1e-5, math.inf]
    d.loc[7, ["density_active", "density_active_lo", "density_active_hi"]] = [0.0, 0.0, 0.4]
    # bounds and meaningless estimates far beyond the models (as real unbounded fits give)
    d.loc[3, "density_active_lo"] = 2.6e6  # above_range: ρ ≥ 2.6e6
    d.loc[11, ["density_active", "density_active_lo"]] = [4.5e7, 2.5e3]  # unbounded above
    d.loc[12, ["status", "density_active", "density_active_lo", "density_active_hi"]] = [
        "uninformative",
        3e6,
        1e5,
        1e8,
    ]
    band = bundle.band.copy()
    band.loc[0, "lo"] = 1e-9
    band.loc[len(band) - 1, "hi"] = math.inf
    return dataclasses.replace(bundle, densities=d, band=band)


def test_density_axis_limited_to_the_data_and_intervals_clipped(
    tmp_path: Path, bundle: ReportBundle
) -> None:
    b = _wide_bundle(bundle)
    fig = _figures(render_report(b, tmp_path / "r.html").read_text(encoding="utf-8"))[
        "plot-density"
    ]
    lo, hi = fig["layout"]["yaxis"]["range"]
    drawn = [v for t in fig["data"] if "error_y" in t for v in _arr(t["y"]).astype(float) if v > 0]
    data_lo, data_hi = math.log10(min(drawn)), math.log10(max(drawn))
    span = data_hi - data_lo
    assert data_lo - 0.12 * span <= lo <= data_lo and data_hi <= hi <= data_hi + 0.12 * span
    assert lo > -3  # not stretched towards the 1e-5 interval end
    # no error bar reaches beyond the view ...
    for t in fig["data"]:
        if "error_y" not in t or "array" not in t["error_y"]:
            continue
        y = _arr(t["y"]).astype(float)
        top = np.log10(y + _arr(t["error_y"]["array"]).astype(float))
        bottom = np.log10(np.maximum(y - _arr(t["error_y"]["arrayminus"]).astype(float), 1e-300))
        assert top.max() <= hi + 1e-9 and bottom.min() >= lo - 1e-9, t["name"]
    # ... and the cut ones are marked with an arrow at the edge
    arrows = [t for t in fig["data"] if t.get("name") == "interval continues beyond the plot"]
    marked = {(m, t["marker"]["symbol"]) for t in arrows for m in t["text"]}
    assert ("org/model-05", "arrow-bar-down") in marked
    assert ("org/model-05", "arrow-bar-up") in marked
    # bounds beyond the view sit at its edge (ρ ≥ the top is still true); an estimate beyond
    # it is an arrow of its own
    by_name = {t["name"]: t for t in fig["data"]}
    above = by_name["above range: ρ at least this (lower bound)"]
    assert list(above["customdata"][0][:1]) == ["org/model-03"]
    assert math.log10(_arr(above["y"]).astype(float)[0]) == pytest.approx(hi)
    unbounded = by_name["uninformative, unbounded: ρ at least this (off the frontier)"]
    assert [r[0] for r in unbounded["customdata"]] == ["org/model-11"]
    beyond = by_name["estimate beyond the plot (hover for it)"]
    assert [r[0] for r in beyond["customdata"]] == ["org/model-12"]
    assert beyond["marker"]["symbol"] == ["arrow-up"]
    for t in arrows:
        assert all(
            abs(math.log10(v) - (hi if t["marker"]["symbol"] == "arrow-bar-up" else lo)) < 1e-9
            for v in _arr(t["y"]).astype(float)
        )
    # the law's band is cut to the plotted range
    band_lo = _trace(fig, "law interval (lower)")
    band_hi = _trace(fig, "interval of the fitted law")
    for t in (band_lo, band_hi):
        logs = np.log10(_arr(t["y"]).astype(float))
        assert logs.min() >= lo - 1e-9 and logs.max() <= hi + 1e-9


def test_bounds_and_statuses_drawn_as_such(bundle: ReportBundle) -> None:
    from densing.report import build_figures

    fig = build_figures(bundle)["plot-density"].to_plotly_json()
    d = bundle.densities.set_index("model")
    by_model = {}
    for t in fig["data"]:
        custom = t.get("customdata")
        if custom is None or t.get("y") is None or np.ndim(custom) != 2:
            continue
        for row, y in zip(custom, _arr(t["y"]).astype(float), strict=True):
            by_model.setdefault(row[0], []).append((t["name"], t["marker"]["symbol"], y))

    def drawn(model: str) -> tuple[str, str, float]:
        entries = [e for e in by_model[model] if not e[0].startswith("envelope")] or by_model[model]
        name, symbol, y = entries[0]
        return name, symbol[0] if isinstance(symbol, list | tuple) else symbol, y

    name, symbol, y = drawn("org/model-03")  # above_range: ▲ at the lower bound
    assert symbol == "triangle-up" and "lower bound" in name
    assert y == pytest.approx(d.loc["org/model-03", "density_active_lo"])
    name, symbol, y = drawn("org/model-11")  # unbounded above: △ at its lower bound
    assert symbol == "triangle-up-open" and name.startswith("uninformative, unbounded")
    assert y == pytest.approx(d.loc["org/model-11", "density_active_lo"])
    name, symbol, _ = drawn("org/model-14")
    assert name.startswith("extrapolated") and symbol == "square-open"
    assert "org/model-07" not in by_model and "org/model-09" not in by_model
    ok_name, ok_symbol, _ = drawn("org/model-00")
    symbols = {ok_symbol, "triangle-up", "triangle-up-open", "square-open"}
    assert len(symbols) == 4 and not ok_name.startswith("out-of-range")
    # a below-range model with an upper bound: ▼ at that bound
    # and a chance-level model: ○ at its estimate
    b2 = bundle.densities.copy()
    b2.loc[7, ["density_active", "density_active_lo", "density_active_hi"]] = [0.0, 0.0, 0.4]
    env = set(bundle.trend["envelope"])
    k = next(i for i, m in enumerate(b2["model"]) if m not in env and b2.loc[i, "status"] == "ok")
    b2.loc[k, ["status", "density_active_lo"]] = ["uninformative", 0.0]
    fig2 = build_figures(ReportBundle(densities=b2, trend=bundle.trend, frame=bundle.frame))
    fig2 = fig2["plot-density"].to_plotly_json()
    t = _trace(fig2, "below range")
    assert t["marker"]["symbol"] == "triangle-down" and list(_arr(t["y"])) == [0.4]
    assert "upper bound" in t["name"]
    t = _trace(fig2, "uninformative: chance-level")
    assert t["marker"]["symbol"] == "circle-open"
    assert list(_arr(t["y"])) == [pytest.approx(b2.loc[k, "density_active"])]


def test_how_to_read_explains_every_status(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    density = text[text.index('<section id="density">') : text.index('<section id="fit">')]
    models = text[text.index('<section id="models">') :]
    for status in (
        "ok",
        "extrapolated",
        "uninformative",
        "above_range",
        "below_range",
        "insufficient_scores",
    ):
        assert f"<code>{status}</code>" in density, status
        assert f"<code>{status}</code>" in models, status
    assert "out-of-range score (density is a bound)" not in text


def test_one_tick_format_per_axis(tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses

    d = bundle.densities.copy()
    d.loc[0, ["density_active", "density_active_lo", "density_active_hi"]] = [2e-5, 1e-5, 4e-5]
    fig = _figures(
        render_report(dataclasses.replace(bundle, densities=d), tmp_path / "r.html").read_text(
            encoding="utf-8"
        )
    )["plot-density"]
    labels = fig["layout"]["yaxis"]["ticktext"]
    assert all(lbl.startswith("10") or "×10" in lbl for lbl in labels), labels
    # a narrower range: plain numbers throughout
    text = render_report(bundle, tmp_path / "r2.html").read_text(encoding="utf-8")
    labels = _figures(text)["plot-density"]["layout"]["yaxis"]["ticktext"]
    assert all(re.fullmatch(r"[0-9.]+", lbl) for lbl in labels), labels


def test_residual_panel_title_fits_its_panel(bundle: ReportBundle) -> None:
    from densing.report import build_figures

    fig = build_figures(bundle)["plot-fit"].to_plotly_json()["layout"]
    plot_h = fig["height"] - fig["margin"]["t"] - fig["margin"]["b"]
    for axis in ("yaxis", "yaxis2"):
        lo, hi = fig[axis]["domain"]
        title = fig[axis]["title"]["text"]
        size = (fig[axis]["title"].get("font") or {}).get("size", 13)
        assert len(title) * 0.6 * size <= (hi - lo) * plot_h, (axis, title)
    assert fig["yaxis"]["domain"][0] - fig["yaxis2"]["domain"][1] >= 0.06


def test_caveat_box(tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses

    d = bundle.densities
    ok_models = d.loc[d["status"] == "ok", "model"].tolist()
    calm = dict(bundle.trend, envelope=ok_models[:6], caveats=[])

    def box(**trend: object) -> str | None:
        b = dataclasses.replace(bundle, trend=dict(calm, **trend))
        text = render_report(b, tmp_path / "c.html").read_text(encoding="utf-8")
        m = re.search(r'<div class="caveat" id="caveats"[^>]*>(.*?)</div>', text, re.S)
        return None if m is None else m.group(1)

    assert box() is None
    assert "Only 3 informative models" in box(
        caveats=["only 3 informative models in the law's window"]
    )
    assert "fewer than 5" in box(envelope=ok_models[:4])
    assert "extrapolated" in box(envelope=[*ok_models[:5], "org/model-14"])
    assert "chance" in box(envelope=[*ok_models[:5], "org/model-11"])


def test_headline_and_segments_are_labelled_apart(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "the headline law" in text
    seg = _read_table(text, "table-segments")
    assert all("frame held fixed" in c for c in seg.columns if "interval" in c)
    i = text.index('id="segments"')
    assert "not</b> a second interval for the headline" in text[i : i + 600]
    est = _read_table(text, "table-estimators")
    assert est["frontier estimator"].tolist() == ["envelope-ols (headline)", "quantile-0.9"]


def test_segments_note_and_quantile_headline(tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses

    trend = dict(
        bundle.trend,
        estimator="quantile-0.9",
        segments_note="every model with a finite density, envelope OLS, frame fixed",
    )
    text = render_report(dataclasses.replace(bundle, trend=trend), tmp_path / "q.html").read_text(
        encoding="utf-8"
    )
    assert "Fitted on: every model with a finite density, envelope OLS, frame fixed" in text
    assert "quantile regression (q = 0.9) over all informative models" in text
    assert (
        "quantile-0.9 (headline)"
        in _read_table(text, "table-estimators")["frontier estimator"].tolist()
    )


def test_models_table_titles_and_filter(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    models = _read_table(text, "table-models")
    assert not [c for c in models.columns if "_" in c], list(models.columns)
    assert {"capability θ", "benchmarks scored", "at chance", "ρ from MMLU"} <= set(models.columns)
    assert "frame" not in models.columns  # one frame for all: named in the header instead
    assert set(models["at chance"]) == {"yes", "no"}
    assert '<th scope="row">org/model-' in text  # the model column is a row heading (sticky)
    assert 'placeholder="filter by model name…"' in text
    assert "cells[0].textContent" in text


def test_sigmoids_of_a_stitched_frame_show_the_best_linked_items(
    tmp_path: Path, bundle: ReportBundle
) -> None:
    import dataclasses

    rng = np.random.default_rng(3)
    items = [f"bench{i}@reported:{i % 4}s" for i in range(30)]
    curves = pd.DataFrame(
        [{"benchmark": it, "x": x, "y": 0.5} for it in items for x in (1.0, 2.0, 3.0)]
    )
    pts = pd.DataFrame(
        [
            {"benchmark": it, "x": rng.uniform(1, 3), "y": rng.uniform(0.2, 0.9), "model": f"m{j}"}
            for i, it in enumerate(items)
            for j in range(2 + (i * 7) % 30)
        ]
    )
    b = dataclasses.replace(bundle, sigmoids=curves, sigmoid_points=pts)
    text = render_report(b, tmp_path / "s.html").read_text(encoding="utf-8")
    fig = _figures(text)["plot-sigmoids"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    counts = pts.groupby("benchmark")["model"].nunique().sort_values(ascending=False, kind="stable")
    assert len(titles) == 12 and set(titles) == set(counts.index[:12])
    assert "Showing the 12 of 30 items that link the most models" in text
    table = _read_table(text, "table-items")
    assert len(table) == 30
    assert table["models with a score"].astype(int).is_monotonic_decreasing


def test_sensitivity_table_of_the_analysis(tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses

    sens = bundle.sensitivity.assign(
        model=["stitched", "one-capability", "stitched"],
        settings=["every setting its own item", "uniform harness", "every setting its own item"],
        alpha=[0.31, 0.35, 0.29],
        estimator="envelope-ols",
        density_basis="active",
        window_end=["2025-04-01", "2024-07-01", None],
        benchmarks=["all", "mmlu, arc_challenge, hellaswag, winogrande, truthfulqa, gsm8k", "all"],
    )
    text = render_report(
        dataclasses.replace(bundle, sensitivity=sens), tmp_path / "s.html"
    ).read_text(encoding="utf-8")
    t = _read_table(text, "table-sensitivity")
    assert list(t.columns) == [
        "frame", "reference family", "benchmarks", "frontier · density basis", "models",
        "doubling (months)", "interval (months)", "law's window ends",
    ]  # fmt: skip
    assert t.loc[1, "frame"] == "alt-familyone-capability · uniform harness"
    assert t.loc[0, "reference family"] == "fam0 (α = 0.31)"
    assert t["law's window ends"].tolist() == ["2025-04-01", "2024-07-01", "—"]


def test_backtest_panel(report: Path, tmp_path: Path, bundle: ReportBundle) -> None:
    import dataclasses

    text = report.read_text(encoding="utf-8")
    table = _read_table(text, "table-backtest")
    scores = pd.DataFrame(bundle.backtest["scores"])
    assert len(table) == len(scores)
    assert set(table["estimator"]) == {"envelope-ols", "quantile-0.9", "no-growth"}
    assert "coverage of 95% intervals" in table.columns
    fig = _figures(text)["plot-backtest"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["3 months ahead", "6 months ahead", "12 months ahead"]
    realised = [t for t in fig["data"] if t["name"] == "realised ln ρ_max"]
    assert len(realised) == 3
    # the absurd interval is cut, with an arrow, and the axis follows the forecasts
    lo, hi = fig["layout"]["yaxis"]["range"]
    values = np.concatenate(
        [
            _arr(t["y"]).astype(float)
            for t in fig["data"]
            if t["name"] != "interval continues beyond the plot"
        ]
    )
    assert hi - lo < 1.3 * (max(values) - min(values))
    assert any(t["name"] == "interval continues beyond the plot" for t in fig["data"])
    # without a backtest: no panel, no empty section
    plain = render_report(dataclasses.replace(bundle, backtest=None), tmp_path / "p.html")
    plain_text = plain.read_text(encoding="utf-8")
    assert 'id="plot-backtest"' not in plain_text and 'id="backtest"' not in plain_text


# --- end to end in a real browser -------------------------------------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"
)
def test_report_renders_in_headless_chromium(report: Path, bundle: ReportBundle) -> None:
    """At 1024 and 1400 px: every plot drawn, no horizontal overflow, every axis within its
    data ± a margin, the sensitivity table fits, the filter reads model names only, a click
    on a heading sorts. The screenshots stay in pytest's temporary folder (report-*.png)."""
    click = "document.querySelectorAll('#table-models thead th')[3].click();"
    tmp = report.parent / "chromium"
    tmp.mkdir(exist_ok=True)
    results = render_at_widths(report, tmp, frame_name="synthetic-frame", extra_js=click)
    for width, (probe, dom, shot) in results.items():
        assert png_size(shot) == (width, 3000)
        assert shot.stat().st_size > 100_000  # a blank page compresses to a few KB
        assert probe["innerWidth"] == width
        assert probe["scrollWidth"] <= width, f"horizontal overflow at {width} px"
        counter = PlotCounter(PLOT_IDS)
        counter.feed(dom)
        for pid, c in counter.counts.items():
            assert c["main-svg"] > 0 and c["trace"] > 0 and c["marks"] > 0, (width, pid, c)
        assert counter.counts["plot-density"]["marks"] >= 30
        assert set(probe["plots"]) == set(PLOT_IDS)
        assert axis_problems(probe) == [], width
        sens = probe["tables"]["table-sensitivity"]
        assert sens["width"] <= sens["parent"] + 1, (width, sens)
        assert probe["sticky"] == "sticky"
        assert probe["caveat"] and probe["caveat"]["height"] > 20  # the caveat box is visible
        assert "rests on 4 models" in probe["caveat"]["text"]
        # the filter matches model names, not the frame (every row) or the status column
        f = probe["filter"]
        assert f["byModel"] == [f["first"]] and f["byFrame"] == 0 and f["byStatus"] == 0
        # the click sorted the table by parameters, ascending, in the browser
        sorted_models = _read_table(dom, "table-models")
        expected = bundle.densities.sort_values("params", kind="stable")["model"].tolist()
        assert sorted_models["model"].tolist() == expected
        assert 'aria-sort="ascending"' in dom

"""End to end: `densing run` on the built-in catalog, its four files, and the report in Chromium."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _browser import CHROMIUM, PlotCounter, axis_problems, png_size, render_at_widths
from densing.cli import main
from densing.report import PLOT_IDS


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "densing-report"
    main(["run", "--bootstrap", "30", "--sensitivity-bootstrap", "8", "--out", str(out), "--json"])
    return out


def test_run_writes_the_four_files(run_dir: Path) -> None:
    for name in ("report.html", "densities.csv", "trend.json", "frame.json"):
        assert (run_dir / name).stat().st_size > 0, name
    dens = pd.read_csv(run_dir / "densities.csv")
    for col in (
        "model",
        "family",
        "release_date",
        "params",
        "effective_params",
        "density_active",
        "density_active_lo",
        "density_active_hi",
        "status",
        "frame",
    ):
        assert col in dens.columns
    assert len(dens) >= 120
    assert set(dens["status"]) <= {
        "ok",
        "extrapolated",
        "above_range",
        "below_range",
        "uninformative",
        "insufficient_scores",
    }
    # nothing silently NaN: a model without a finite density says why
    no_density = dens[~dens["density_active"].apply(lambda v: math.isfinite(float(v)))]
    assert (no_density["status"] != "ok").all()


def test_trend_json_has_finite_doubling_with_interval(run_dir: Path) -> None:
    trend = json.loads((run_dir / "trend.json").read_text())
    for key in (
        "A_per_day",
        "B",
        "r2",
        "doubling_time_days",
        "doubling_time_months",
        "n_models",
        "envelope",
        "intervals",
    ):
        assert key in trend
    d = trend["doubling_time_days"]
    assert isinstance(d, float) and math.isfinite(d) and d > 0
    lo, hi = trend["intervals"]["doubling_time_days"]
    assert lo <= d <= hi
    assert trend["A_per_day"] > 0
    assert len(trend["envelope"]) >= 2


def test_reference_members_have_density_near_one(run_dir: Path) -> None:
    frame = json.loads((run_dir / "frame.json").read_text())
    dens = pd.read_csv(run_dir / "densities.csv").set_index("model")
    members = frame["reference_members"]
    assert len(members) >= 5
    sub = dens.loc[members]
    ok = sub[sub["status"].isin(["ok", "extrapolated"])]
    hi = ok["density_active_hi"].fillna(math.inf)  # an unbounded upper end is written as empty
    contains_one = (ok["density_active_lo"] <= 1) & (hi >= 1)
    assert contains_one.mean() >= 0.8, ok[
        ["density_active", "density_active_lo", "density_active_hi"]
    ]


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"
)
def test_run_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    """The real report at 1024 and 1400 px: every plot drawn, no horizontal overflow, every
    axis within its data ± a margin, the sensitivity table fits the page."""
    frame_name = str(pd.read_csv(run_dir / "densities.csv")["frame"].iloc[0])
    trend = json.loads((run_dir / "trend.json").read_text())
    results = render_at_widths(run_dir / "report.html", tmp_path, frame_name=frame_name)
    for width, (probe, dom, shot) in results.items():
        assert png_size(shot) == (width, 3000)
        assert shot.stat().st_size > 100_000
        assert probe["scrollWidth"] <= width, f"horizontal overflow at {width} px"
        assert axis_problems(probe) == [], width
        drawn = [pid for pid in PLOT_IDS if f'id="{pid}"' in dom]
        assert {"plot-density", "plot-fit", "plot-sigmoids"} <= set(drawn)
        counter = PlotCounter(tuple(drawn))
        counter.feed(dom)
        for pid, c in counter.counts.items():
            assert c["main-svg"] > 0 and c["trace"] > 0 and c["marks"] > 0, (width, pid, c)
        assert counter.counts["plot-density"]["marks"] >= 30
        sens = probe["tables"].get("table-sensitivity")
        assert sens is None or sens["width"] <= sens["parent"] + 1, (width, sens)
        f = probe["filter"]
        assert f["byModel"] == [f["first"]] and f["byFrame"] == 0
        if trend.get("caveats"):
            assert probe["caveat"] and probe["caveat"]["height"] > 20
            assert all(c[1:] in probe["caveat"]["text"] for c in trend["caveats"])


def test_run_report_draws_every_model_or_says_why(run_dir: Path) -> None:
    """Every catalog model is drawn (bounds as bounds) or listed under the plot."""
    from densing.report import build_figures, read_bundle

    bundle = read_bundle(run_dir / "bundle.json")
    fig = build_figures(bundle)["plot-density"].to_plotly_json()
    drawn: dict[str, str] = {}
    for t in fig["data"]:
        custom = t.get("customdata")
        if custom is not None and np.ndim(custom) == 2:
            drawn.update({row[0]: t["name"] for row in custom if row[0] not in drawn})
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    dens = bundle.densities
    undrawn = set(dens["model"]) - set(drawn)
    for m in undrawn:
        assert f"<td>{m}</td>" in text.split('id="table-undrawn"')[1].split("</table>")[0], m
    values = dens[["density_active", "density_active_lo", "density_active_hi"]].to_numpy(float)
    drawable = (np.isfinite(values) & (values > 0)).any(axis=1)
    no_number = dens["status"].eq("insufficient_scores") | dens["release_date"].isna() | ~drawable
    assert undrawn <= set(dens.loc[no_number, "model"])
    for m in dens.loc[dens["status"] == "above_range", "model"]:
        assert m not in drawn or "lower bound" in drawn[m] or drawn[m].startswith("envelope"), m
    for m in dens.loc[dens["status"] == "below_range", "model"]:
        assert m not in drawn or "upper bound" in drawn[m], m


def test_report_rerenders_from_saved_outputs(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.html"
    main(["report", str(run_dir), "--out", str(out)])
    assert out.read_text(encoding="utf-8") == (run_dir / "report.html").read_text(encoding="utf-8")


def test_run_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["run", "--reference-family", "NoSuchFamily", "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "NoSuchFamily" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as e:
        main(["run", "--benchmarks", "mmlu,nosuchbench", "--out", str(tmp_path / "y")])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path)])
    assert e.value.code == 2


def _targets(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "targets.csv"
    p.write_text(text)
    return p


def test_density_of_own_targets_under_saved_score_frame(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a reference member's own scores give rho ~ 1 with an interval; the long format agrees
    dens = pd.read_csv(run_dir / "densities.csv").set_index("model")
    frame = json.loads((run_dir / "frame.json").read_text())
    assert len(frame["bootstrap"]["replicates"]) == 30
    from densing.catalog import load

    cat = load()
    member = "Qwen/Qwen2.5-7B"
    from densing.scoreframe import item_id

    sc = cat.scores[cat.scores["id"] == member]
    items = [
        item_id(*t)
        for t in zip(sc["benchmark"], sc["setting"], sc["shots"], sc["cot"], strict=True)
    ]
    sc = sc.assign(item=items)
    sc = sc[sc["item"].isin(frame["benchmarks"])].groupby("item")["score"].mean()
    params = float(cat.models.set_index("id").loc[member, "params"])
    wide = "model,params," + ",".join(sc.index) + "\n"
    wide += f"mine,{params}," + ",".join(f"{v}" for v in sc.to_numpy()) + "\n"
    main(
        ["density", str(_targets(tmp_path, wide)), "--frame", str(run_dir / "frame.json"), "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    r = out["rows"][0]
    assert out["intervals"] is True
    assert r["density_active"] == pytest.approx(dens.loc[member, "density_active"], rel=1e-6)
    assert r["density_active_lo"] <= 1.0 <= r["density_active_hi"]
    rows = cat.scores[cat.scores["id"] == member]
    long = "model,params,benchmark,setting,shots,cot,score\n" + "".join(
        f"mine,{params},{b},{st},{'' if pd.isna(sh) else int(sh)},{c},{v}\n"
        for b, st, sh, c, v in zip(
            rows["benchmark"],
            rows["setting"],
            rows["shots"],
            rows["cot"],
            rows["score"],
            strict=True,
        )
        if item_id(b, st, sh, c) in frame["benchmarks"]
    )
    main(
        ["density", str(_targets(tmp_path, long)), "--frame", str(run_dir / "frame.json"), "--json"]
    )
    r2 = json.loads(capsys.readouterr().out)["rows"][0]
    assert r2["density_active"] == pytest.approx(r["density_active"], rel=1e-9)


def test_density_unknown_benchmark_exit_2(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _targets(tmp_path, "model,params,mmlu@openllm-v1,gsm8k@nowhere\nx,1e9,0.5,0.2\n")
    with pytest.raises(SystemExit) as e:
        main(["density", str(bad), "--frame", str(run_dir / "frame.json")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "targets.csv" in err and "'gsm8k@nowhere'" in err and err.count("\n") == 1
    pct = _targets(tmp_path, "model,params,mmlu@openllm-v1,hellaswag@openllm-v1\nx,1e9,55,70\n")
    with pytest.raises(SystemExit) as e:
        main(["density", str(pct), "--frame", str(run_dir / "frame.json")])
    assert e.value.code == 2
    assert "percentages" in capsys.readouterr().err


def test_forecast_date_with_interval(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "forecast",
            "--benchmark",
            "mmlu",
            "--score",
            "0.6",
            "--params",
            "1e9",
            "--bootstrap",
            "20",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["status"] in ("ok", "extrapolated")
    assert out["needed_density"] > 1
    assert out["date_lo"] <= out["date"] <= out["date_hi"]


def test_run_with_custom_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "custom"
    main(
        [
            "run",
            "--frame-model",
            "one-capability",
            "--benchmarks",
            "mmlu,bbh,math,humaneval,mbpp",
            "--with-reported",
            "--bootstrap",
            "10",
            "--no-sensitivity",
            "--out",
            str(out),
            "--json",
        ]
    )
    res = json.loads(capsys.readouterr().out)
    assert res["frame"] == "qwen1.5-one-capability"
    frame = json.loads((out / "frame.json").read_text())
    assert frame["benchmarks"] == ["mmlu", "bbh", "math", "humaneval", "mbpp"]
    assert math.isfinite(res["trend"]["doubling_time_days"])
    dens = pd.read_csv(out / "densities.csv")
    assert {f"density_{b}" for b in frame["benchmarks"]} <= set(dens.columns)


def test_frame_file_of_another_version_exit_2(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = json.loads((run_dir / "frame.json").read_text())
    frame["format_version"] = 99
    bad = tmp_path / "old-frame.json"
    bad.write_text(json.dumps(frame))
    targets = _targets(tmp_path, "model,params,mmlu,hellaswag\nx,1e9,0.5,0.6\n")
    with pytest.raises(SystemExit) as e:
        main(["density", str(targets), "--frame", str(bad)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "old-frame.json" in err and "version 99" in err
    bad.write_text("{not json")
    with pytest.raises(SystemExit) as e:
        main(["density", str(targets), "--frame", str(bad)])
    assert e.value.code == 2
    assert "old-frame.json" in capsys.readouterr().err

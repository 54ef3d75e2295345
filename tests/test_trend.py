from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.cli import app, main
from densing.errors import DensingInputError
from densing.trend import (
    DAYS_PER_MONTH,
    REFERENCE_DATE,
    bootstrap_trend,
    envelope,
    envelope_mask,
    fit_trend,
)

A_TRUE = 0.0073


def _dates(days) -> list[dt.date]:
    return [REFERENCE_DATE + dt.timedelta(days=int(t)) for t in days]


def _frontier(seed: int, n: int = 40, sigma: float = 0.05):
    """Models below an exponentially growing frontier of slope A_TRUE."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(-600, 600, n))
    log_rho = A_TRUE * days - 0.5 - rng.exponential(0.8, n) + rng.normal(0, sigma, n)
    return [f"m{i}" for i in range(n)], _dates(days), np.exp(log_rho)


# ----------------------------------------------------------------------------- point fit


@pytest.mark.parametrize("use_envelope", [True, False])
def test_exact_exponential_is_recovered(use_envelope):
    days = np.array([-500, -320, -100, 0, 45, 200, 390, 610])
    rho = np.exp(A_TRUE * days + 0.3)
    f = fit_trend([f"m{i}" for i in range(8)], _dates(days), rho, envelope=use_envelope)
    assert abs(f.A_per_day - A_TRUE) < 1e-10
    assert abs(f.B - 0.3) < 1e-8
    assert f.r2 == pytest.approx(1.0, abs=1e-12)
    assert f.n_models == 8 and f.n_fit == 8
    assert f.doubling_time_days == pytest.approx(math.log(2) / A_TRUE, rel=1e-9)
    assert f.doubling_time_months == pytest.approx(math.log(2) / A_TRUE / DAYS_PER_MONTH)
    assert f.growing


def test_reference_date_is_the_origin_of_B():
    days = np.array([0, 100, 200, 300])
    rho = np.exp(0.01 * days + 1.0)
    f = fit_trend(list("abcd"), _dates(days), rho, reference_date=dt.date(2023, 4, 11))
    # 2023-04-11 is day 100 after 2023-01-01: t = t' + 100, ln rho = 0.01 t' + 2
    assert pytest.approx(2.0, abs=1e-9) == f.B
    assert f.A_per_day == pytest.approx(0.01, abs=1e-12)
    assert f.reference_date == dt.date(2023, 4, 11)


def test_recovery_on_noisy_frontier_data():
    ests = [fit_trend(*_frontier(s)).A_per_day for s in range(20)]
    assert np.mean(ests) == pytest.approx(A_TRUE, rel=0.05)
    assert np.std(ests) < 0.1 * A_TRUE


def test_decreasing_density_gives_infinite_doubling_time_with_flag():
    days = np.array([0, 100, 200, 300])
    rho = np.array([4.0, 3.0, 2.5, 1.0])
    f = fit_trend(list("abcd"), _dates(days), rho, envelope=False)
    assert f.A_per_day < 0
    assert not f.growing
    assert math.isinf(f.doubling_time_days) and math.isinf(f.doubling_time_months)
    assert "not growing" in f.summary()
    # the envelope of a falling series is its first model alone: too few to fit
    with pytest.raises(DensingInputError, match="envelope has 1 model"):
        fit_trend(list("abcd"), _dates(days), rho)


def test_envelope_rule_and_ties():
    models = ["a", "b", "c", "d", "e", "f", "g"]
    days = [0, 10, 10, 20, 30, 40, 40]
    rho = [1.0, 2.0, 3.0, 3.0, 2.5, 5.0, 5.0]
    # c beats b on the same day (densest first); d only equals the max: not new;
    # e is below; f and g tie on day and density: the first id (f) takes it
    mask = envelope_mask(np.array(days), np.array(rho), models)
    assert [m for m, k in zip(models, mask, strict=True) if k] == ["a", "c", "f"]
    idx = envelope(_dates(days), rho, models)
    assert idx.tolist() == [0, 2, 5]
    f = fit_trend(models, _dates(days), rho)
    assert f.envelope == ("a", "c", "f")
    assert f.n_fit == 3 and f.n_models == 7


def test_breakpoint_segments_have_their_own_slopes():
    bp = dt.date(2022, 11, 30)
    bp_day = (bp - REFERENCE_DATE).days
    before = np.array([-700, -500, -300, -100])
    after = np.array([bp_day, 100, 300, 500, 700])
    rho = np.concatenate([np.exp(0.0048 * before - 1.0), np.exp(0.009 * after - 0.2)])
    days = np.concatenate([before, after])
    f = fit_trend([f"m{i}" for i in range(9)], _dates(days), rho, breakpoint="2022-11-30")
    assert f.breakpoint == bp
    assert f.before.A_per_day == pytest.approx(0.0048, abs=1e-10)
    assert f.after.A_per_day == pytest.approx(0.009, abs=1e-10)
    assert f.before.n_models == 4 and f.after.n_models == 5  # the breakpoint day is "after"
    assert f.before.r2 == pytest.approx(1.0) and f.after.r2 == pytest.approx(1.0)
    d = f.to_dict()
    assert set(d["segments"]) == {"before", "after"}
    with pytest.raises(DensingInputError, match="no model is released before"):
        fit_trend([f"m{i}" for i in range(9)], _dates(days), rho, breakpoint="2019-01-01")


@pytest.mark.parametrize(
    ("models", "dates", "rho", "fragment", "row", "column"),
    [
        (
            ["a", "b", "a"],
            ["2023-01-01", "2023-02-01", "2023-03-01"],
            [1, 2, 3],
            "duplicated",
            3,
            "model",
        ),
        (
            ["a", "b", "c"],
            ["2023-01-01", "soon", "2023-03-01"],
            [1, 2, 3],
            "not an ISO date",
            2,
            "release_date",
        ),
        (
            ["a", "b", "c"],
            ["2023-01-01", "2023-02-01", "2023-03-01"],
            [1, 0, 3],
            "must be > 0",
            2,
            "density",
        ),
        (
            ["a", "b", "c"],
            ["2023-01-01", "2023-02-01", "2023-03-01"],
            [1, 2, np.inf],
            "not finite",
            3,
            "density",
        ),
        (
            ["a", "b", "c"],
            ["2023-01-01", "2023-02-01", "2023-03-01"],
            [1, np.nan, 3],
            "not finite",
            2,
            "density",
        ),
    ],
)
def test_library_bad_input_names_row_and_column(models, dates, rho, fragment, row, column):
    with pytest.raises(DensingInputError, match=fragment) as e:
        fit_trend(models, dates, rho)
    assert e.value.location.row == row
    assert e.value.location.column == column


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_reproducible_and_brackets_the_estimate():
    models, dates, rho = _frontier(1, n=60)
    spec = BootstrapSpec(n_resamples=1000, seed=7)
    r = bootstrap_trend(models, dates, rho, spec, breakpoint="2022-11-30")
    r2 = bootstrap_trend(models, dates, rho, spec, breakpoint="2022-11-30")
    np.testing.assert_array_equal(r.samples.A, r2.samples.A)
    assert r.n_invalid == 0
    lo, hi = r.intervals["A_per_day"]
    assert lo < r.A_per_day < hi
    dlo, dhi = r.intervals["doubling_time_days"]
    assert dlo < r.doubling_time_days < dhi
    assert dlo == pytest.approx(math.log(2) / hi) and dhi == pytest.approx(math.log(2) / lo)
    mlo, mhi = r.intervals["doubling_time_months"]
    assert mlo == pytest.approx(dlo / DAYS_PER_MONTH)
    assert mhi == pytest.approx(dhi / DAYS_PER_MONTH)
    assert set(r.segment_samples) == {"before", "after"}
    assert "95% lo" in r.summary() and "segment before" in r.summary()


def test_bootstrap_coverage_reduced():
    """~100 small simulations: the 95% interval for A covers the truth in most of them."""
    hits = 0
    n_sim = 100
    rng = np.random.default_rng(0)
    for k in range(n_sim):
        days = np.sort(rng.integers(-600, 600, 25))
        rho = np.exp(A_TRUE * days - 0.5 + rng.normal(0, 0.5, 25))
        r = bootstrap_trend(
            [f"m{i}" for i in range(25)],
            _dates(days),
            rho,
            BootstrapSpec(n_resamples=300, seed=k),
            envelope=False,
        )
        lo, hi = r.intervals["A_per_day"]
        hits += lo <= A_TRUE <= hi
    assert 85 <= hits <= 100


def test_bootstrap_envelope_coverage_reduced():
    hits = 0
    for k in range(40):
        r = bootstrap_trend(*_frontier(500 + k, n=30), BootstrapSpec(n_resamples=300, seed=k))
        lo, hi = r.intervals["A_per_day"]
        hits += lo <= A_TRUE <= hi
    assert hits >= 32


def test_rho_replicates_propagate_frame_uncertainty():
    models, dates, rho = _frontier(2, n=30)
    spec = BootstrapSpec(n_resamples=400, seed=3)
    base = bootstrap_trend(models, dates, rho, spec)
    same = bootstrap_trend(models, dates, rho, spec, rho_replicates=np.tile(rho, (400, 1)))
    np.testing.assert_allclose(same.samples.A, base.samples.A)
    noisy = rho * np.exp(np.random.default_rng(0).normal(0, 0.5, (400, 30)))
    wide = bootstrap_trend(models, dates, rho, spec, rho_replicates=noisy)
    assert wide.frame_replicates
    w0 = np.diff(base.intervals["A_per_day"])[0]
    w1 = np.diff(wide.intervals["A_per_day"])[0]
    assert w1 > w0
    with pytest.raises(DensingInputError, match="shape"):
        bootstrap_trend(models, dates, rho, spec, rho_replicates=noisy[:10])
    bad = noisy.copy()
    bad[5, 7] = 0.0
    with pytest.raises(DensingInputError, match="replicate 5 of model 'm7'"):
        bootstrap_trend(models, dates, rho, spec, rho_replicates=bad)


def test_group_resampling():
    models, dates, rho = _frontier(3, n=30)
    groups = [f"fam{i % 6}" for i in range(30)]
    r = bootstrap_trend(models, dates, rho, BootstrapSpec(n_resamples=300, seed=1), groups=groups)
    assert r.resampling == "groups"
    assert np.isfinite(r.samples.A).sum() + r.n_invalid == 300
    lo, hi = r.intervals["A_per_day"]
    assert lo < r.A_per_day < hi


def test_band_and_forecast():
    days = np.array([-500, -320, -100, 0, 45, 200, 390, 610])
    rng = np.random.default_rng(5)
    rho = np.exp(A_TRUE * days + 0.3 + rng.normal(0, 0.05, 8))
    r = bootstrap_trend(
        [f"m{i}" for i in range(8)], _dates(days), rho, BootstrapSpec(500, seed=2), envelope=False
    )
    band = r.band(["2023-01-01", "2024-06-01"])
    assert list(band.columns) == ["date", "fit", "lo", "hi"]
    assert band["fit"].iloc[0] == pytest.approx(math.exp(r.B))
    assert (band["lo"] < band["fit"]).all() and (band["fit"] < band["hi"]).all()
    # forecast: the date at which exp(A t + B) = 20
    date, lo, hi = r.forecast_date(20.0)
    t_star = (math.log(20.0) - r.B) / r.A_per_day
    assert abs((date - REFERENCE_DATE).days - t_star) <= 1
    assert lo <= date <= hi
    true_date = REFERENCE_DATE + dt.timedelta(days=(math.log(20.0) - 0.3) / A_TRUE)
    assert lo <= true_date <= hi
    with pytest.raises(ValueError, match="positive"):
        r.forecast_date(0.0)


def test_forecast_never_when_not_growing():
    days = np.array([0, 100, 200, 300, 400])
    rho = np.array([4.0, 3.0, 2.5, 1.0, 0.9])
    r = bootstrap_trend(
        list("abcde"), _dates(days), rho, BootstrapSpec(200, seed=1), envelope=False
    )
    date, _lo, hi = r.forecast_date(10.0)
    assert date is None and hi is None
    assert r.to_dict()["doubling_time_days"] == math.inf


# ----------------------------------------------------------------------------- CLI


def _cli(argv: list[str]) -> None:
    # Typer runs a lone command without its name; with several commands it needs it
    if len(app.registered_commands) + len(app.registered_groups) <= 1:
        argv = argv[1:]
    main(argv)


def _table_file(tmp_path, n: int = 30, suffix: str = ".csv", **overrides):
    models, dates, rho = _frontier(11, n=n)
    df = pd.DataFrame(
        {"model": models, "release_date": [d.isoformat() for d in dates], "density": rho}
    )
    for k, v in overrides.items():
        df[k] = v
    p = tmp_path / f"trend{suffix}"
    if suffix == ".csv":
        df.to_csv(p, index=False)
    elif suffix == ".parquet":
        df.to_parquet(p)
    else:
        df.to_json(p, orient="records")
    return p, df


KEYS = {
    "A_per_day",
    "B",
    "r2",
    "doubling_time_days",
    "doubling_time_months",
    "n_models",
    "envelope",
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_cli_json_keys_exact(tmp_path, capsys, suffix):
    p, df = _table_file(tmp_path, suffix=suffix)
    _cli(["trend", str(p), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == KEYS
    assert out["n_models"] == len(df)
    f = fit_trend(df["model"], df["release_date"], df["density"])
    assert out["A_per_day"] == pytest.approx(f.A_per_day)
    assert out["envelope"] == list(f.envelope)


def test_cli_json_with_bootstrap_and_breakpoint(tmp_path, capsys):
    p, _ = _table_file(tmp_path)
    _cli(["trend", str(p), "--json", "--bootstrap", "200", "--breakpoint", "2022-11-30", "--all"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == KEYS | {"intervals", "segments"}
    assert {"A_per_day", "doubling_time_days"} <= set(out["intervals"])
    lo, hi = out["intervals"]["A_per_day"]
    assert lo < out["A_per_day"] < hi
    assert set(out["segments"]) == {"before", "after"}
    for seg in out["segments"].values():
        assert set(seg) == KEYS | {"intervals"}
    assert out["segments"]["before"]["n_models"] + out["segments"]["after"]["n_models"] == 30


def test_cli_table_output(tmp_path, capsys):
    p, _ = _table_file(tmp_path)
    _cli(["trend", str(p), "--bootstrap", "100", "--seed", "3", "--level", "0.9"])
    out = capsys.readouterr().out
    assert "doubling time (months)" in out and "90% interval" in out
    assert "envelope (" in out


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": "dup"}, "row 2, column 'model': duplicated model id 'dup'"),
        ({"release_date": "2023-99-01"}, "row 2, column 'release_date'"),
        ({"density": -1.0}, "row 2, column 'density': value -1.0 must be > 0"),
        ({"density": 0.0}, "row 2, column 'density'"),
    ],
)
def test_cli_bad_cells_exit_2(tmp_path, capsys, change, fragment):
    p, df = _table_file(tmp_path)
    for col, val in change.items():
        df[col] = df[col].astype(object)
        df.loc[1, col] = val
        if col == "model":
            df.loc[0, col] = val
    df.to_csv(p, index=False)
    with pytest.raises(SystemExit) as e:
        _cli(["trend", str(p)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("densing: error: ")
    assert str(p) in err and fragment in err


def test_cli_missing_column_and_bad_breakpoint_exit_2(tmp_path, capsys):
    p, df = _table_file(tmp_path)
    df.drop(columns=["density"]).to_csv(p, index=False)
    with pytest.raises(SystemExit) as e:
        _cli(["trend", str(p)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert str(p) in err and "column 'density'" in err and "missing column" in err
    p2, _ = _table_file(tmp_path / "..")
    with pytest.raises(SystemExit) as e:
        _cli(["trend", str(p2), "--breakpoint", "after-chatgpt"])
    assert e.value.code == 2
    assert "--breakpoint 'after-chatgpt' is not a date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--bootstrap", "-5"], "--bootstrap -5 must be >= 0"), (["--level", "1.5"], "--level 1.5")],
)
def test_cli_bad_options_exit_2(tmp_path, capsys, args, fragment):
    p, _ = _table_file(tmp_path)
    with pytest.raises(SystemExit) as e:
        _cli(["trend", str(p), *args])
    assert e.value.code == 2
    assert fragment in capsys.readouterr().err


def test_cli_trend_reads_a_runs_densities_csv(tmp_path, capsys):
    """`densing trend densing-report/densities.csv` (the README's example) once failed on the rows
    without a finite density; the run's own file is read, and the rows left out are named."""
    from densing.cli import main

    rng = np.random.default_rng(0)
    n = 30
    days = np.sort(rng.integers(0, 700, n))
    rho = np.exp(0.004 * days + rng.normal(0, 0.2, n))
    df = pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(n)],
            "release_date": [
                (dt.date(2023, 1, 1) + dt.timedelta(days=int(d))).isoformat() for d in days
            ],
            "density_active": rho,
            "status": ["ok"] * n,
        }
    )
    df.loc[3, ["density_active", "status"]] = [np.inf, "above_range"]
    df.loc[5, ["density_active", "status"]] = [np.nan, "insufficient_scores"]
    df.loc[7, "status"] = "uninformative"
    path = tmp_path / "densities.csv"
    df.to_csv(path, index=False)
    main(["trend", str(path), "--json"])
    out, err = capsys.readouterr()
    assert json.loads(out)["n_models"] == n - 3
    assert "3 row(s)" in err and "above_range 1" in err and "uninformative 1" in err

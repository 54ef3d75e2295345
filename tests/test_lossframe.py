"""Loss-mode frames: fit, density, predict, save/load, and the CLI commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.cli import main
from densing.errors import DensingInputError
from densing.frames import load_frame
from densing.laws import get_form
from densing.lossframe import FORMAT_VERSION, LossFrame, fit_loss_frame

D0 = 1e12
TRUE_LAW = {
    "mmlu": {"a": 1000.0, "alpha": 0.3, "b": 200.0, "beta": 0.2},
    "bbh": {"a": 500.0, "alpha": 0.28, "b": 100.0, "beta": 0.18},
}
TRUE_SIG = {"mmlu": (0.7, 0.25, -5.0, 2.4), "bbh": (0.8, 0.0, -4.0, 2.0)}
REF_N = np.geomspace(1e8, 3e10, 8)
REF_D = (2e10, 2e11, 2e12)


def _sig(bench: str, loss):
    c, d, g, l = TRUE_SIG[bench]  # noqa: E741
    return c / (1 + np.exp(-g * (np.asarray(loss) - l))) + d


def _true_score(bench: str, N: float) -> float:
    return float(_sig(bench, get_form("densing").predict(TRUE_LAW[bench], N, D0)))


def make_data(seed: int = 0, noise: float = 0.005) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    form = get_form("densing")
    ref, cal = [], []
    for b, p in TRUE_LAW.items():
        for i, N in enumerate(REF_N):
            for D in REF_D:
                L = float(form.predict(p, N, D)) * np.exp(rng.normal(0, noise))
                ref.append(
                    {"model": f"ref{i}", "params": N, "tokens": D, "benchmark": b, "loss": L}
                )
        for j, L in enumerate(np.linspace(1.2, 3.5, 25)):
            S = float(np.clip(_sig(b, L) + rng.normal(0, noise), 0, 1))
            cal.append({"model": f"cal{j}", "benchmark": b, "loss": L, "score": S})
    return pd.DataFrame(ref), pd.DataFrame(cal)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def frame(data) -> LossFrame:
    ref, cal = data
    spec = BootstrapSpec(n_resamples=200, seed=3, warm_start=True)
    return fit_loss_frame(ref, cal, form="densing", bootstrap=spec)


@pytest.fixture(scope="module")
def frame_file(frame, tmp_path_factory) -> Path:
    return frame.to_json(tmp_path_factory.mktemp("frame") / "frame.json")


def test_fit_recovers_laws_and_sigmoids(frame):
    assert frame.benchmarks == ("mmlu", "bbh")
    for bf in frame.fits:
        true = TRUE_LAW[bf.benchmark]
        assert bf.law_params["alpha"] == pytest.approx(true["alpha"], rel=0.1)
        assert bf.law_params["beta"] == pytest.approx(true["beta"], rel=0.15)
        c, _d, _g, l = TRUE_SIG[bf.benchmark]  # noqa: E741
        assert bf.sigmoid.l == pytest.approx(l, abs=0.05)
        assert bf.sigmoid.c == pytest.approx(c, abs=0.05)
        assert bf.law_samples.shape == (200, 4) and bf.sigmoid_samples.shape == (200, 4)


def test_targets_on_fitted_curve_have_density_one(frame):
    form = get_form(frame.form)
    rows = []
    for bf in frame.fits:
        for N in (3e8, 2e9, 1.5e10):
            S = float(bf.sigmoid.predict(form.predict(bf.law_params, N, D0)))
            rows.append({"model": f"m{N:g}", "params": N, "benchmark": bf.benchmark, "score": S})
    res = frame.density(pd.DataFrame(rows))
    assert (res["status"] == "ok").all()
    np.testing.assert_allclose(res["density_total"], 1.0, atol=1e-6)  # aggregate rows too
    assert (res["benchmark"] == "aggregate").sum() == 3


def test_intervals_contain_truth(frame):
    """Targets whose true effective size is known (scores from the true law + sigmoid)."""
    rows = []
    truth = {}
    for k, (N_true, N_claimed) in enumerate(((2e9, 2.5e9), (6e9, 3e9), (2e10, 4e10))):
        truth[f"t{k}"] = N_true / N_claimed
        for b in TRUE_LAW:
            rows.append(
                {
                    "model": f"t{k}",
                    "params": N_claimed,
                    "benchmark": b,
                    "score": _true_score(b, N_true),
                }
            )
    res = frame.density(pd.DataFrame(rows))
    assert (res["status"] == "ok").all()
    for r in res.itertuples():
        rho = truth[r.model]
        assert r.density_total_lo <= rho <= r.density_total_hi, (
            r.model,
            r.benchmark,
            r.density_total_lo,
            r.density_total_hi,
        )
        assert r.density_total_lo < r.density_total < r.density_total_hi
        assert r.density_total == pytest.approx(rho, rel=0.15)


def test_status_rows_moe_and_wide_targets(frame):
    wide = pd.DataFrame(
        {
            "model": ["dense", "moe", "huge"],
            "params": [1e9, 47e9, 1e9],
            "active_params": [np.nan, 13e9, 1e9],
            "mmlu": [0.6, 0.8, 0.99],
            "bbh": [np.nan, 0.7, 0.99],
            "family": ["a", "b", "c"],
        }
    )
    res = frame.density(wide)
    by = {(r.model, r.benchmark): r for r in res.itertuples()}
    assert by[("dense", "bbh")].status == "no_score"
    assert by[("dense", "aggregate")].status == "ok"
    assert by[("dense", "aggregate")].n_benchmarks_ok == 1
    assert by[("dense", "aggregate")].effective_params == by[("dense", "mmlu")].effective_params
    m = by[("moe", "aggregate")]
    assert m.density_active == pytest.approx(m.effective_params / 13e9)
    assert m.density_total == pytest.approx(m.effective_params / 47e9)
    geo = np.sqrt(by[("moe", "mmlu")].effective_params * by[("moe", "bbh")].effective_params)
    assert m.effective_params == pytest.approx(geo)
    d = by[("dense", "aggregate")]
    assert d.density_active == d.density_total  # blank active_params: a dense model
    h = by[("huge", "aggregate")]
    assert h.status == "above_range" and np.isinf(h.effective_params)
    assert not res.loc[res["status"] == "ok", "density_total"].isna().any()


def test_unknown_benchmark_is_an_error(frame):
    df = pd.DataFrame({"model": ["x", "x"], "params": [1e9, 1e9], "gsm8k": [0.3, 0.3]})
    with pytest.raises(DensingInputError, match=r"gsm8k.*mmlu"):
        frame.density(df)


def test_predict_matches_law_and_sigmoid(frame):
    res = frame.predict(7e9, 2e12)
    form = get_form(frame.form)
    for r in res.itertuples():
        bf = frame.fit_for(r.benchmark)
        L = float(form.predict(bf.law_params, 7e9, 2e12))
        assert r.loss == pytest.approx(L, rel=1e-12)
        assert r.score == pytest.approx(float(bf.sigmoid.predict(L)), rel=1e-12)
        assert r.loss_lo <= r.loss <= r.loss_hi
        assert r.score_lo <= r.score <= r.score_hi
        # the truth lies in the interval
        true_L = float(form.predict(TRUE_LAW[r.benchmark], 7e9, 2e12))
        assert r.loss_lo <= true_L <= r.loss_hi


def test_save_load_round_trip(frame, frame_file):
    loaded = load_frame(frame_file)
    assert isinstance(loaded, LossFrame)
    assert loaded.benchmarks == frame.benchmarks
    for a, b in zip(loaded.fits, frame.fits, strict=True):
        assert a.law_params == b.law_params
        assert a.sigmoid.params == b.sigmoid.params
        np.testing.assert_array_equal(a.law_samples, b.law_samples)
        np.testing.assert_array_equal(a.sigmoid_samples, b.sigmoid_samples)
    t = pd.DataFrame({"model": ["x", "x"], "params": [1e9] * 2, "benchmark": ["mmlu", "bbh"]})
    t["score"] = [0.55, 0.45]
    pd.testing.assert_frame_equal(loaded.density(t), frame.density(t))
    assert "D0 = 1e+12" in loaded.describe() and "alpha" in loaded.summary()


def test_wrong_version_or_kind(frame_file, tmp_path):
    d = json.loads(Path(frame_file).read_text())
    d["format_version"] = 7
    bad = tmp_path / "v7.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(DensingInputError) as exc:
        load_frame(bad)
    assert str(exc.value) == (
        f"{bad}: format version 7, this densing reads {FORMAT_VERSION}: "
        "refit the frame with `densing fit-frame`"
    )
    d["format_version"] = FORMAT_VERSION
    d["kind"] = "mystery-frame"
    bad.write_text(json.dumps(d))
    with pytest.raises(DensingInputError, match="unknown frame kind 'mystery-frame'"):
        load_frame(bad)


def test_reference_without_tokens_is_explained(data):
    ref, cal = data
    ref = ref.drop(columns=["tokens"])
    ref.attrs["source"] = "ref.csv"
    with pytest.raises(DensingInputError, match=r"ref.csv.*column 'tokens'.*add a tokens column"):
        fit_loss_frame(ref, cal)


def test_calibration_benchmark_without_reference(data):
    ref, cal = data
    cal = pd.concat(
        [cal, pd.DataFrame([{"model": "z", "benchmark": "math", "loss": 1.0, "score": 0.4}])]
    )
    cal = cal.reset_index(drop=True)
    with pytest.raises(DensingInputError, match=r"row 51.*'math' has calibration points"):
        fit_loss_frame(ref, cal)


# ----------------------------------------------------------------------------- CLI


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run the densing CLI in-process (cwd = tmp_path); returns exit code and output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(list(args))
            rc = 0
        except SystemExit as exc:
            rc = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Run(rc, out, err)

    return run


def test_cli_density_and_predict_json(frame_file, tmp_path, cli):
    t = pd.DataFrame(
        {
            "model": ["x", "x", "m", "m"],
            "params": [1e9, 1e9, 47e9, 47e9],
            "active_params": [1e9, 1e9, 13e9, 13e9],
            "benchmark": ["mmlu", "bbh", "mmlu", "bbh"],
            "score": [0.5, 0.6, 0.8, 0.7],
        }
    )
    t.to_csv(tmp_path / "t.csv", index=False)
    r = cli("density", "--frame", str(frame_file), "t.csv", "--json", "--out", "o.csv")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"frame", "level", "intervals", "rows"} and out["intervals"] is True
    assert len(out["rows"]) == 6
    keys = {
        "model", "benchmark", "params", "active_params", "score", "loss", "effective_params",
        "effective_params_lo", "effective_params_hi", "density_total", "density_total_lo",
        "density_total_hi", "density_active", "density_active_lo", "density_active_hi",
        "n_benchmarks_ok", "status",
    }  # fmt: skip
    assert set(out["rows"][0]) == keys
    csv = pd.read_csv(tmp_path / "o.csv")
    assert list(csv["benchmark"]) == ["mmlu", "bbh", "aggregate"] * 2
    r = cli(
        "predict",
        "--frame",
        str(frame_file),
        "--params",
        "7B",
        "--tokens",
        "2T",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["params"] == 7e9 and p["tokens"] == 2e12
    assert [b["benchmark"] for b in p["benchmarks"]] == ["mmlu", "bbh"]
    assert set(p["benchmarks"][0]) == {
        "benchmark", "params", "tokens", "loss", "loss_lo", "loss_hi", "score", "score_lo", "score_hi",
        "loss_pred_lo", "loss_pred_hi", "score_pred_lo", "score_pred_hi", "params_outside_decades",
        "tokens_outside_decades", "loss_outside_calibration", "status",
    }  # fmt: skip
    r = cli("predict", "--frame", str(frame_file), "--params", "7B", "--tokens", "2T")
    assert r.returncode == 0 and "mmlu" in r.stdout


def test_cli_bad_inputs_exit_2(frame_file, tmp_path, cli):
    pd.DataFrame(
        {
            "model": ["x", "x"],
            "params": [1e9, 1e9],
            "benchmark": ["mmlu", "gsm8k"],
            "score": [0.5, 0.6],
        }
    ).to_csv(tmp_path / "bad.csv", index=False)
    r = cli("density", "--frame", str(frame_file), "bad.csv")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line
    assert "bad.csv, row 2, column 'benchmark'" in line and "gsm8k" in line and "'mmlu'" in line
    pd.DataFrame({"model": ["x"], "params": [1e9], "benchmark": ["mmlu"], "score": [55]}).to_csv(
        tmp_path / "pct.csv", index=False
    )
    r = cli("density", "--frame", str(frame_file), "pct.csv")
    assert r.returncode == 2 and "row 1, column 'score'" in r.stderr and "percent" in r.stderr
    d = json.loads(Path(frame_file).read_text())
    d["format_version"] = 7
    (tmp_path / "v7.json").write_text(json.dumps(d))
    r = cli("predict", "--frame", "v7.json", "--params", "1e9", "--tokens", "1e12")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"densing: error: v7.json: format version 7, this densing reads {FORMAT_VERSION}: "
        "refit the frame with `densing fit-frame`"
    )
    r = cli("predict", "--frame", str(frame_file), "--params", "-3", "--tokens", "1e12")
    assert r.returncode == 2 and "--params" in r.stderr


def test_cli_fit_frame(data, tmp_path, cli):
    ref, cal = data
    ref[ref["benchmark"] == "mmlu"].to_csv(tmp_path / "ref.csv", index=False)
    cal[cal["benchmark"] == "mmlu"].to_csv(tmp_path / "cal.csv", index=False)
    r = cli(
        "fit-frame", "--reference", "ref.csv", "--calibration", "cal.csv", "--floor", "mmlu=0.25",
        "--out", "f.json", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kind"] == "loss-frame" and out["form"] == "densing" and out["D0"] == 1e12
    assert out["benchmarks"]["mmlu"]["sigmoid"]["d"] == 0.25
    assert out["benchmarks"]["mmlu"]["law"]["alpha"] == pytest.approx(0.3, rel=0.1)
    saved = json.loads((tmp_path / "f.json").read_text())
    assert saved["kind"] == "loss-frame" and saved["format_version"] == FORMAT_VERSION
    # a calibration benchmark with no reference runs → exit 2, names the file/row/column
    cal.to_csv(tmp_path / "cal_all.csv", index=False)
    r = cli("fit-frame", "--reference", "ref.csv", "--calibration", "cal_all.csv")
    assert r.returncode == 2
    assert "cal_all.csv, row 26, column 'benchmark'" in r.stderr


def test_too_few_points_name_the_benchmark(data):
    ref, cal = data
    small = ref[(ref["benchmark"] == "mmlu") & (ref["model"].isin(["ref0", "ref1"]))].iloc[:4]
    small = small.reset_index(drop=True)
    small.attrs["source"] = "ref.csv"
    with pytest.raises(DensingInputError, match=r"ref.csv: benchmark 'mmlu': reference runs:.*"):
        fit_loss_frame(small, cal[cal["benchmark"] == "mmlu"])
    few_cal = cal[cal["benchmark"] == "mmlu"].iloc[:3].reset_index(drop=True)
    few_cal.attrs["source"] = "cal.csv"
    with pytest.raises(DensingInputError, match=r"cal.csv: benchmark 'mmlu': calibration points"):
        fit_loss_frame(ref[ref["benchmark"] == "mmlu"], few_cal)


def test_chinchilla_frame_on_curve_and_without_bootstrap(data):
    ref, cal = data
    fr = fit_loss_frame(ref, cal, form="chinchilla", D0=5e11)
    assert fr.n_resamples == 0 and "no bootstrap" in fr.describe()
    form = get_form("chinchilla")
    bf = fr.fit_for("bbh")
    N = np.array([5e8, 4e9])
    S = bf.sigmoid.predict(form.predict(bf.law_params, N, np.full(2, 5e11)))
    t = pd.DataFrame({"model": ["a", "b"], "params": N, "benchmark": "bbh", "score": S})
    res = fr.density(t)
    np.testing.assert_allclose(res["density_total"], 1.0, atol=1e-6)
    assert res["density_total_lo"].isna().all()  # no replicates → no interval, stated by describe()
    p = fr.predict(1e9, 1e12)
    assert p["loss_lo"].isna().all() and (p["score"] > 0).all()

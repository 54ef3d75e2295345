"""Predictions of loss frames: bootstrap and predictive intervals, extrapolation flags, batch
prediction from a targets table (CLI and library), and frame files across versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.cli import main
from densing.frames import load_frame
from densing.laws import get_form
from densing.lossframe import FORMAT_VERSION, Ladder, LossFrame, fit_loss_frame, simulate_ladder
from densing.lossframe._predictive import law_error_model

LAD = Ladder(
    checkpoints=4,
    benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6), "arc": (1.1, 0.8, 0.2, -2.5, 3.9)},
)


@pytest.fixture(scope="module")
def frame() -> LossFrame:
    t = simulate_ladder(4, LAD)
    spec = BootstrapSpec(n_resamples=60, seed=2, warm_start=True, n_jobs=1)
    return fit_loss_frame(t, t, form="chinchilla", bootstrap=spec)


@pytest.fixture(scope="module")
def frame_file(frame, tmp_path_factory) -> Path:
    return frame.to_json(tmp_path_factory.mktemp("f") / "frame.json")


def test_inside_is_ok_and_beyond_is_extrapolated_with_distances(frame):
    res = frame.predict([2e8, 2e10], [4e9, 4e11], names=["in", "out"])
    assert list(res["name"]) == ["in", "in", "out", "out"]
    assert list(res["benchmark"]) == ["mmlu", "arc", "mmlu", "arc"]
    inside, beyond = res.iloc[0], res.iloc[2]
    assert inside["status"] == "ok" and inside["params_outside_decades"] == 0
    assert beyond["status"] == "extrapolated"
    assert beyond["params_outside_decades"] == pytest.approx(1.0)  # 2e10 vs the largest 2e9
    assert beyond["tokens_outside_decades"] == pytest.approx(np.log10(4e11 / 1.6e11))
    assert beyond["loss_outside_calibration"] > 0  # its loss lies below every calibration loss
    for r in (inside, beyond):
        assert r["loss_pred_lo"] < r["loss_lo"] < r["loss"] < r["loss_hi"] < r["loss_pred_hi"]
        assert (
            r["score_pred_lo"] <= r["score_lo"] <= r["score"] <= r["score_hi"] <= r["score_pred_hi"]
        )
    w = (res["loss_pred_hi"] - res["loss_pred_lo"]) / res["loss"]
    assert w.iloc[2] > 2 * w.iloc[0]  # the predictive interval widens with the distance


def test_error_model_of_a_correct_law_is_the_noise():
    """Data from the Chinchilla form with 1% log noise: LOSO error ≈ the noise, little growth."""
    rng = np.random.default_rng(0)
    form = get_form("chinchilla")
    N = np.repeat(np.geomspace(2e7, 2e9, 6), 4)
    D = N * np.tile([10.0, 20.0, 40.0, 80.0], 6)
    truth = {"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}
    sig0 = []
    for _ in range(4):
        L = np.asarray(form.predict(truth, N, D)) * np.exp(rng.normal(0, 0.01, N.size))
        em = law_error_model(N, D, L, form, "lsq-log")
        assert em is not None and em.n_outside > 0
        sig0.append(em.sigma0)
    assert 0.007 < np.mean(sig0) < 0.016


def test_predictive_interval_carries_the_error_of_a_wrong_form():
    """Fit the Densing form (no irreducible term) to Chinchilla-form data and extrapolate 10x:
    the bootstrap interval misses the truth; the predictive one, widened by the measured
    leave-one-size-out error, holds it."""
    t = simulate_ladder(6, Ladder(checkpoints=2))
    spec = BootstrapSpec(n_resamples=60, seed=0, warm_start=True, n_jobs=1)
    fr = fit_loss_frame(t, t, form="densing", bootstrap=spec)
    N, D = 2e10, 4e11
    true = float(get_form("chinchilla").predict(Ladder().law_of("mmlu"), N, D))
    r = fr.predict(N, D).iloc[0]
    assert not r["loss_lo"] <= true <= r["loss_hi"]
    assert r["loss_pred_lo"] <= true <= r["loss_pred_hi"]
    assert fr.fit_for("mmlu").law_error.kappa > 0


def test_round_trip_keeps_the_error_models(frame, frame_file):
    back = load_frame(frame_file)
    assert isinstance(back, LossFrame)
    a, b = frame.fit_for("arc"), back.fit_for("arc")
    assert a.law_error == b.law_error and a.sigmoid_error == b.sigmoid_error
    assert a.reference_box == b.reference_box and a.calibration_range == b.calibration_range
    pd.testing.assert_frame_equal(back.predict(3e9, 6e10), frame.predict(3e9, 6e10))
    assert "predictive law error: σ0" in back.summary()


def test_old_frame_files_are_refused_in_one_line(frame_file, tmp_path, capsys):
    d = json.loads(Path(frame_file).read_text())
    d["format_version"] = 2
    old = tmp_path / "old.json"
    old.write_text(json.dumps(d))
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--frame", str(old), "--params", "1B", "--tokens", "20B"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"densing: error: {old}: format version 2, this densing reads {FORMAT_VERSION}: refit the "
        "frame with `densing fit-frame`"
    )


def _targets(path: Path, n: int) -> Path:
    pd.DataFrame(
        {"name": [f"m{i}" for i in range(n)], "params": np.geomspace(1e8, 1e11, n),
         "tokens": np.geomspace(1e10, 1e13, n)}
    ).to_csv(path, index=False)  # fmt: skip
    return path


def test_batch_predict_1000_rows(frame_file, tmp_path, capsys):
    t = _targets(tmp_path / "t.csv", 1000)
    out = tmp_path / "p.csv"
    main(["predict", "--frame", str(frame_file), "--targets", str(t), "--out", str(out), "--csv"])
    capsys.readouterr()
    # speed is measured in benchmarks/bench_lossframe.py --predict, not asserted here
    main(["predict", "--frame", str(frame_file), "--targets", str(t), "--out", str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert (
        set(res) == {"frame", "targets", "level", "intervals", "rows"} and len(res["rows"]) == 2000
    )
    csv = pd.read_csv(out)
    assert list(csv["name"][:4]) == ["m0", "m0", "m1", "m1"] and len(csv) == 2000
    assert {"loss_pred_lo", "score_pred_hi", "status"} <= set(csv.columns)
    assert (csv.loc[csv["params"] > 2e9, "status"] == "extrapolated").all()


def test_batch_predict_errors(frame_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    t = _targets(tmp_path / "t.csv", 3)
    pd.read_csv(t).drop(columns=["tokens"]).to_csv(tmp_path / "nt.csv", index=False)
    pd.read_csv(t).assign(name="same").to_csv(tmp_path / "dup.csv", index=False)
    cases = [
        (["--targets", str(tmp_path / "nt.csv")], "nt.csv, column 'tokens': missing column"),
        (["--targets", str(tmp_path / "dup.csv")], "dup.csv, row 2, column 'name': duplicated model id 'same'"),
        (["--targets", str(t), "--params", "1B"], "give either --params and --tokens, or --targets"),
        (["--params", "1B"], "--params and --tokens go together"),
    ]  # fmt: skip
    for args, msg in cases:
        with pytest.raises(SystemExit) as exc:
            main(["predict", "--frame", str(frame_file), *args])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and msg in err and err.count("\n") == 1, err
    main(["predict", "--frame", str(frame_file), "--targets", str(t)])
    out = capsys.readouterr().out
    assert "m2" in out and "extrapolated" in out and "score pred. 95%" in out


def test_predict_out_writes_the_table_by_suffix_and_prints_no_table(frame_file, tmp_path, capsys):
    t = _targets(tmp_path / "t.csv", 30)
    out = tmp_path / "p.parquet"
    main(["predict", "--frame", str(frame_file), "--targets", str(t), "--out", str(out)])
    printed = capsys.readouterr().out
    assert printed.strip() == f"wrote 60 rows to {out}"
    assert len(pd.read_parquet(out)) == 60
    for bad in (tmp_path / "p.txt", tmp_path / "missing" / "p.csv"):  # refused before any work
        with pytest.raises(SystemExit) as exc:
            main(["predict", "--frame", str(frame_file), "--targets", str(t), "--out", str(bad)])
        assert exc.value.code == 2
        assert not bad.exists()

"""Sigmoid control in loss frames: fixed floor and ceiling, a default ceiling, the robust loss,
a settings file, refusal of a floor above the data, and parameters at a bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from densing.cli import main
from densing.errors import DensingInputError
from densing.lossframe import Ladder, fit_loss_frame, read_benchmark_settings, simulate_ladder
from densing.sigmoid import fit_sigmoid

TWO = Ladder(
    checkpoints=4,
    benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6), "arc": (1.1, 0.8, 0.2, -2.5, 3.9)},
)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return simulate_ladder(2, TWO)


def test_fixed_ceiling_and_floor_reach_the_fit():
    L = np.linspace(1.0, 4.0, 40)
    S = 0.25 + 0.75 / (1 + np.exp(4 * (L - 2.5)))
    f = fit_sigmoid(L, S, ceiling=1.0)
    assert f.c + f.d == pytest.approx(1.0, abs=1e-12) and f.d == pytest.approx(0.25, abs=1e-4)
    g = fit_sigmoid(L, S, floor=0.25, ceiling=1.0)
    assert (g.c, g.d) == (0.75, 0.25) and g.pinned == ("c", "d") and g.fixed == ("d", "c+d")
    assert g.gamma == pytest.approx(-4.0, rel=1e-4) and g.l == pytest.approx(2.5, abs=1e-4)
    with pytest.raises(ValueError, match=r"floor 0\.5 must be below ceiling 0\.4"):
        fit_sigmoid(L, S, floor=0.5, ceiling=0.4)


def test_a_sigmoid_pressed_against_its_top_is_flagged():
    L = np.linspace(1.0, 4.0, 40)
    S = np.clip(0.2 + 0.82 / (1 + np.exp(4 * (L - 2.5))), 0, 1)  # wants c + d > 1
    f = fit_sigmoid(L, S)
    assert "c+d=1" in f.at_bound and f.c + f.d == pytest.approx(1.0, abs=1e-5)
    assert f.to_dict()["at_bound"] == ["c+d=1"]


def test_settings_priority_default_ceiling_and_notes(table, tmp_path):
    settings = tmp_path / "s.yaml"
    settings.write_text(
        "mmlu: {floor: 0.2, sigmoid_loss: huber, f_scale: 0.02}\narc: {f_scale: 0.1}\n"
    )
    fs = read_benchmark_settings(settings)
    fr = fit_loss_frame(
        table, table, form="chinchilla", settings=fs, floors={"mmlu": 0.15},
        default_ceiling=1.0, predictive=False,
    )  # fmt: skip
    m, a = fr.fit_for("mmlu").sigmoid, fr.fit_for("arc").sigmoid
    assert m.floor == 0.15 and m.loss_fn == "huber" and m.f_scale == 0.02  # the option wins
    assert m.ceiling == 1.0 and m.c + m.d == pytest.approx(1.0)  # default ceiling pinned
    assert a.ceiling == 1.0 and a.loss_fn == "soft_l1" and a.f_scale == 0.1
    low = fit_loss_frame(table, table, form="chinchilla", default_ceiling=0.5, predictive=False)
    assert low.fit_for("mmlu").sigmoid.ceiling is None
    assert any("exceeds the default ceiling 0.5" in n for n in low.notes)


def test_settings_table_and_its_errors(tmp_path):
    csv = tmp_path / "s.csv"
    pd.DataFrame(
        {"benchmark": ["mmlu", "arc"], "floor": [0.25, None], "sigmoid_loss": ["linear", None]}
    ).to_csv(csv, index=False)
    assert read_benchmark_settings(csv) == {
        "mmlu": {"floor": 0.25, "sigmoid_loss": "linear"},
        "arc": {},
    }
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"benchmark": ["mmlu"], "floor": [1.5]}).to_csv(bad, index=False)
    with pytest.raises(
        DensingInputError, match=r"bad.csv, row 1, column 'floor': floor 1.5 must be in \[0, 1\)"
    ):
        read_benchmark_settings(bad)
    pd.DataFrame({"benchmark": ["mmlu"], "shots": [5]}).to_csv(bad, index=False)
    with pytest.raises(DensingInputError, match="unknown setting 'shots'"):
        read_benchmark_settings(bad)
    y = tmp_path / "bad.yaml"
    y.write_text("mmlu: {sigmoid_loss: cauchy}\n")
    with pytest.raises(DensingInputError, match="sigmoid_loss 'cauchy' must be one of"):
        read_benchmark_settings(y)


def test_a_floor_above_scores_is_refused_naming_the_points(table):
    cal = table.copy()
    cal.attrs["source"] = "cal.csv"
    with pytest.raises(DensingInputError) as exc:
        fit_loss_frame(table, cal, form="chinchilla", floors={"arc": 0.3}, predictive=False)
    msg = str(exc.value)
    assert msg.startswith("cal.csv: benchmark 'arc': the fixed floor 0.3 is above")
    low = cal[(cal["benchmark"] == "arc") & (cal["score"] < 0.3)]
    first = int(low.index[0]) + 1
    assert f"row {first} ({low['run'].iloc[0]}, loss" in msg and "leave it free" in msg
    with pytest.raises(DensingInputError, match=r"fixed ceiling 0\.5 is below"):
        fit_loss_frame(table, cal, form="chinchilla", ceilings={"mmlu": 0.5}, predictive=False)


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(argv)
        rc = 0
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_sigmoid_options_pinned_parameters_and_floor_error(table, tmp_path, capsys):
    table.to_csv(tmp_path / "runs.csv", index=False)
    runs = str(tmp_path / "runs.csv")
    out = str(tmp_path / "f.json")
    rc, so, se = _cli(["fit-frame", "--reference", runs, "--calibration", runs, "--form", "chinchilla",
                       "--floor", "mmlu=0.2", "--ceiling", "mmlu=1", "--sigmoid-loss", "linear",
                       "--bootstrap", "8", "--warm-start", "--no-predictive", "--out", out, "--json"], capsys)  # fmt: skip
    assert rc == 0, se
    m = json.loads(so)["benchmarks"]["mmlu"]
    assert m["sigmoid_settings"] == {
        "floor": 0.2,
        "ceiling": 1.0,
        "loss": "linear",
        "f_scale": 0.05,
    }
    assert m["pinned"] == ["c", "d"]
    assert m["sigmoid_intervals"]["c"] == [None, None] and m["sigmoid_intervals"]["d"] == [
        None,
        None,
    ]
    saved = json.loads(Path(out).read_text())["benchmarks"][0]["sigmoid"]
    assert saved["ceiling"] == 1.0 and saved["floor"] == 0.2
    rc, so, se = _cli(["fit-frame", "--reference", runs, "--calibration", runs, "--form", "chinchilla",
                       "--bootstrap", "8", "--warm-start", "--no-predictive", "--out", out,
                       "--floor", "mmlu=0.2", "--ceiling", "mmlu=1"], capsys)  # fmt: skip
    assert rc == 0 and "fixed (floor)" in so and "pinned: d is pinned and the ceiling 1" in so
    rc, so, se = _cli(["fit-frame", "--reference", runs, "--calibration", runs, "--form", "chinchilla",
                       "--floor", "arc=0.35", "--out", out], capsys)  # fmt: skip
    assert rc == 2 and se.count("\n") == 1
    assert "runs.csv: benchmark 'arc': the fixed floor 0.35 is above" in se
    rc, so, se = _cli(
        ["fit-frame", "--reference", runs, "--calibration", runs, "--ceiling", "mmlu=1.5"], capsys
    )
    assert rc == 2 and "--ceiling 'mmlu=1.5' must be BENCHMARK=VALUE with VALUE in (0, 1]" in se


def test_many_points_are_fitted_from_screened_starts():
    """Above 2,000 points the grid's starts are built and ranked on 2,000 of them (evenly spaced
    in loss); the polish uses every point and recovers the truth."""
    rng = np.random.default_rng(5)
    L = rng.uniform(1.0, 4.0, 6000)
    S = 0.25 + 0.7 / (1 + np.exp(3.0 * (L - 2.5))) + rng.normal(0, 0.02, L.size)
    f = fit_sigmoid(L, S, loss_fn="linear")
    assert f.n_points == 6000
    assert f.c == pytest.approx(0.7, abs=0.01) and f.d == pytest.approx(0.25, abs=0.01)
    assert f.gamma == pytest.approx(-3.0, rel=0.05) and f.l == pytest.approx(2.5, abs=0.02)

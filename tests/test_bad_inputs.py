"""The bad-input corpus of the commands that read or write files (tests/data/bad/<command>/).

Every case must end with exit code 2 and exactly one line on stderr that names the file (or the
option) and says what was expected, without a traceback. The catalog's own corpus is
tests/test_catalog_bad_inputs.py; the evaluation commands' is in the eval tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from densing.cli import main
from densing.laws import get_form
from densing.lossframe import fit_loss_frame
from densing.sigmoid import sigmoid_value

BAD = Path(__file__).parent / "data" / "bad"


@pytest.fixture(scope="module")
def loss_frame(tmp_path_factory) -> Path:
    """A small loss frame (mmlu) to place targets in."""
    rng = np.random.default_rng(0)
    f = get_form("densing")
    N = np.repeat(np.geomspace(1e8, 1e10, 6), 2)
    D = np.tile([2e10, 2e11], 6)
    loss = f.predict({"a": 1000, "alpha": 0.3, "b": 200, "beta": 0.2}, N, D)
    ref = pd.DataFrame(
        {
            "model": [f"r{i}" for i in range(12)],
            "params": N,
            "tokens": D,
            "benchmark": "mmlu",
            "loss": loss,
        }
    )
    L = np.linspace(1.2, 3.5, 20)
    cal = pd.DataFrame({"model": [f"c{i}" for i in range(20)], "benchmark": "mmlu", "loss": L,
                        "score": sigmoid_value(L, 0.7, 0.25, -5.0, 2.4) + rng.normal(0, 0.005, 20)})  # fmt: skip
    return fit_loss_frame(ref, cal).to_json(tmp_path_factory.mktemp("f") / "frame.json")


def _cases(loss_frame: Path, tmp: Path) -> list[tuple[str, list[str], str]]:
    good = tmp / "good.csv"
    pd.DataFrame({"model": ["x"], "params": [7e9], "benchmark": ["mmlu"], "score": [0.6]}).to_csv(
        good, index=False
    )
    (tmp / "a-file").write_text("x")
    two = tmp / "two-benchmarks.csv"
    pd.DataFrame({"model": ["m", "m"], "params": [1e8, 1e8], "tokens": [2e9, 2e9], "benchmark": ["a", "b"],
                  "loss": [3.0, 3.1]}).to_csv(two, index=False)  # fmt: skip
    cases: list[tuple[str, list[str], str]] = []
    for p in sorted((BAD / "fit-loss").iterdir()):
        cases.append((p.name, ["fit-loss", str(p)], p.name))
    for p in sorted((BAD / "fit-loss").iterdir()):  # select-law reads the same run tables
        cases.append(("select-law-" + p.name, ["select-law", str(p)], p.name))
    for p in sorted((BAD / "trend").iterdir()):
        cases.append((p.name, ["trend", str(p)], p.name))
    for p in sorted((BAD / "density").iterdir()):
        cases.append((p.name, ["density", str(p), "--frame", str(loss_frame)], p.name))
    for p in sorted((BAD / "frame").iterdir()):
        cases.append(("density-" + p.name, ["density", str(good), "--frame", str(p)], p.name))
        cases.append(
            (
                "predict-" + p.name,
                ["predict", "--frame", str(p), "--params", "1e9", "--tokens", "1e12"],
                p.name,
            )
        )
    for p in sorted((BAD / "report").iterdir()):
        cases.append((p.name, ["report", str(p)], p.name))
    for p in sorted((BAD / "run").iterdir()):
        cases.append(
            (
                p.name,
                ["run", "--extra", str(p), "--out", str(tmp / "o"), "--no-sensitivity"],
                p.name,
            )
        )
    cases += [
        ("density-out-missing-dir", ["density", str(good), "--frame", str(loss_frame), "--out", str(tmp / "nope" / "d.csv")], "does not exist"),
        ("density-out-dir", ["density", str(good), "--frame", str(loss_frame), "--out", str(tmp)], "is a directory"),
        ("density-out-suffix", ["density", str(good), "--frame", str(loss_frame), "--out", str(tmp / "d.txt")], "unsupported suffix"),
        ("run-out-file", ["run", "--out", str(tmp / "a-file")], "is an existing file"),
        ("run-bootstrap-0", ["run", "--bootstrap", "0", "--out", str(tmp / "o")], "--bootstrap"),
        ("run-top-negative", ["run", "--top", "-5", "--out", str(tmp / "o")], "--top"),
        ("run-benchmarks-empty", ["run", "--benchmarks", "", "--out", str(tmp / "o")], "--benchmarks"),
        ("run-unknown-family", ["run", "--reference-family", "nope", "--out", str(tmp / "o")], "--reference-family"),
        ("backtest-out-suffix", ["backtest", "--out", str(tmp / "b.txt")], "unsupported suffix"),
        ("forecast-score-percent", ["forecast", "--benchmark", "mmlu", "--score", "70", "--params", "3B"], "percentage"),
        ("forecast-params", ["forecast", "--benchmark", "mmlu", "--score", "0.7", "--params", "three"], "--params"),
        ("report-missing", ["report", str(tmp / "none")], "no bundle.json"),
        ("select-law-objective", ["select-law", str(good), "--objective", "nope"], "--objective 'nope'"),
        ("select-law-form", ["select-law", str(good), "--form", "nope"], "--form 'nope'"),
        ("select-law-ratio", ["select-law", str(good), "--min-ratio", "0"], "--min-ratio"),
        ("select-law-which-benchmark", ["select-law", str(two)], "choose one with --benchmark"),
        ("select-law-no-benchmark", ["select-law", str(two), "--benchmark", "c"], "--benchmark 'c'"),
        ("select-law-final-k-no-runs", ["select-law", str(two), "--benchmark", "a", "--final-k", "2"], "--final-k needs checkpoints"),
        ("select-law-out-suffix", ["select-law", str(good), "--out", str(tmp / "s.txt")], "unsupported suffix"),
    ]  # fmt: skip
    return cases


def test_every_bad_input_gives_one_line_and_exit_2(loss_frame, tmp_path, capsys) -> None:
    failures = []
    for name, args, fragment in _cases(loss_frame, tmp_path):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(args)
        err = capsys.readouterr().err.strip()
        lines = err.splitlines()
        ok = exc.value.code == 2 and len(lines) == 1 and fragment in err and "Traceback" not in err
        if not ok:
            failures.append((name, exc.value.code, err[:300]))
    assert failures == []

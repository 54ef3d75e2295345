"""`densing fit-loss`: JSON schema, options, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from densing.cli import main


def _law_csv(tmp_path: Path, name: str = "runs.csv", n: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), n))
    L = (1.7 + 400 * N**-0.34 + 410 * D**-0.28) * np.exp(rng.normal(0, 0.005, n))
    p = tmp_path / name
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(p, index=False)
    return p


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    main(argv)
    return json.loads(capsys.readouterr().out)


def test_json_schema_and_recovery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["fit-loss", str(_law_csv(tmp_path)), "--json"], capsys)
    assert set(out) >= {"form", "params", "objective", "n_points"}
    assert "intervals" not in out
    assert out["form"] == "chinchilla" and out["n_points"] == 40
    assert set(out["params"]) == {"A", "B", "E", "alpha", "beta"}
    assert out["params"]["alpha"] == pytest.approx(0.34, abs=0.05)
    assert out["params"]["E"] == pytest.approx(1.7, rel=0.05)


def test_bootstrap_intervals_densing_form_and_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _law_csv(tmp_path)
    out = _run(
        [
            "fit-loss",
            str(f),
            "--form",
            "densing",
            "--bootstrap",
            "20",
            "--seed",
            "3",
            "--drop-highest",
            "2",
            "--json",
        ],
        capsys,
    )
    assert set(out["params"]) == {"a", "alpha", "b", "beta"}
    assert out["n_points"] == 38
    assert set(out["intervals"]) == {"a", "alpha", "b", "beta"}
    for name, (lo, hi) in out["intervals"].items():
        assert lo <= out["params"][name] <= hi or np.isclose(lo, hi), name
    again = _run(
        [
            "fit-loss",
            str(f),
            "--form",
            "densing",
            "--bootstrap",
            "20",
            "--seed",
            "3",
            "--drop-highest",
            "2",
            "--json",
        ],
        capsys,
    )
    assert again["intervals"] == out["intervals"]  # seeded: reproducible


def test_column_overrides_and_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.read_csv(_law_csv(tmp_path)).rename(columns={"params": "N", "tokens": "D", "loss": "L"})
    p = tmp_path / "runs.parquet"
    df.to_parquet(p)
    out = _run(
        [
            "fit-loss",
            str(p),
            "--params-col",
            "N",
            "--tokens-col",
            "D",
            "--loss-col",
            "L",
            "--objective",
            "lsq-log",
            "--json",
        ],
        capsys,
    )
    assert out["objective_name"] == "lsq-log" and out["n_points"] == 40


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("params,tokens,loss\n1e9,1e10,2.1\n-1,1e10,2\n", ["row 2", "'params'", "> 0"]),
        ("params,tokens,loss\n1e9,1e10,2.1\n1e8,nan,2\n", ["row 2", "'tokens'"]),
        ("params,tokens,loss\n1e9,1e10,2.1\n1e8,1e10,inf\n", ["row 2", "'loss'", "finite"]),
        ("params,tokens\n1e9,1e10\n", ["'loss'", "missing column"]),
        ("params,tokens,loss\n1e9,1e10,2.1\n1e8,1e10,2.5\n", ["needs more than 5 points"]),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragments: list[str]
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(SystemExit) as e:
        main(["fit-loss", str(f)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("densing: error: ") and err.count("\n") == 1
    assert "bad.csv" in err
    for frag in fragments:
        assert frag in err


def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _law_csv(tmp_path)
    for argv in (
        ["--form", "kaplan"],
        ["--objective", "l1"],
        ["--bootstrap", "-1"],
        ["--level", "1.5"],
        ["--drop-highest", "40"],
    ):
        with pytest.raises(SystemExit) as e:
            main(["fit-loss", str(f), *argv])
        assert e.value.code == 2, argv
        assert capsys.readouterr().err.count("\n") == 1

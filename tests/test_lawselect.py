"""Choosing a law's setting by leaving the largest size out (densing.lawselect, select-law)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from densing.cli import main
from densing.errors import DensingInputError, FitError
from densing.laws import fit_loss_law
from densing.lawselect import LawSelection, select_law
from densing.lossframe import Ladder, simulate_ladder


def _ladder(seed: int, noise: float = 0.005) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five sizes x four token ratios from a Chinchilla law with log-normal noise."""
    rng = np.random.default_rng(seed)
    N = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 4)
    D = N * np.tile([5.0, 10.0, 20.0, 80.0], 5)
    L = 1.7 + 400 * N**-0.34 + 410 * D**-0.28
    return N, D, L * np.exp(rng.normal(0, noise, L.size))


def test_errors_match_a_naive_leave_largest_out_oracle() -> None:
    N, D, L = _ladder(0)
    sel = select_law(N, D, L, forms=("chinchilla", "densing"), objectives=("huber-log", "lsq"),
                     min_ratios=(None, 10.0), holdout_min_ratio=20.0)  # fmt: skip
    test = (N.max() == N) & (D / N >= 20)
    for _, row in sel.table.iterrows():
        keep = (N.max() > N) & (
            np.ones_like(N, bool) if pd.isna(row.min_ratio) else row.min_ratio <= D / N
        )
        fit = fit_loss_law(N[keep], D[keep], L[keep], form=row.form, objective=row.objective)
        rel = 100 * (fit.predict(N[test], D[test]) / L[test] - 1)
        assert row.n_fit == keep.sum() and row.n_fit_sizes == 4
        assert row.heldout_error_pct == pytest.approx(np.mean(np.abs(rel)), rel=1e-12)
        assert row.heldout_bias_pct == pytest.approx(np.mean(rel), rel=1e-12)
        assert row.heldout_max_error_pct == pytest.approx(np.max(np.abs(rel)), rel=1e-12)
    assert sel.n_heldout == 2 and sel.heldout_params == 1e9
    best = sel.table["heldout_error_pct"].idxmin()
    assert sel.best["form"] == sel.table.loc[best, "form"]
    assert sel.best["objective"] == sel.table.loc[best, "objective"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_generating_form_beats_a_law_without_a_data_term(seed: int) -> None:
    N, D, L = _ladder(seed)
    sel = select_law(N, D, L, forms=("power-n", "chinchilla"), objectives=("huber-log",))
    assert sel.best["form"] == "chinchilla"
    err = sel.table.set_index("form")["heldout_error_pct"]
    assert err["chinchilla"] < 0.5 * err["power-n"]


def test_ties_go_to_the_first_candidate_and_failed_ones_are_kept_not_chosen() -> None:
    N, D, L = _ladder(0)
    # the same candidate twice: identical errors, the first row is chosen; no run has D/N >= 100
    # (the largest ratio is 80), so those candidates have nothing to fit on
    sel = select_law(N, D, L, forms=("chinchilla", "chinchilla"), objectives=("lsq-log",),
                     min_ratios=(10.0, 100.0))  # fmt: skip
    t = sel.table
    assert list(t["status"]) == ["ok", "failed", "ok", "failed"]
    assert t.loc[1, "note"] == "0 sizes to fit on" and np.isnan(t.loc[1, "heldout_error_pct"])
    assert t.loc[0, "heldout_error_pct"] == t.loc[2, "heldout_error_pct"]
    assert sel.best["min_ratio"] == 10.0 and sel.ranked().index[0] == 0
    with pytest.raises(FitError, match="no law candidate"):
        select_law(N, D, L, forms=("chinchilla",), objectives=("lsq",), min_ratios=(100.0,))


def test_bad_arguments_are_refused() -> None:
    N, D, L = _ladder(0)
    with pytest.raises(DensingInputError, match="row 3"):
        select_law(N, D, np.where(np.arange(L.size) == 2, -1.0, L))
    with pytest.raises(DensingInputError, match="objective"):
        select_law(N, D, L, objectives=("nope",))
    with pytest.raises(DensingInputError, match="no run of the largest size"):
        select_law(N, D, L, holdout_min_ratio=1000.0)


def test_json_round_trip(tmp_path) -> None:
    N, D, L = _ladder(0)
    sel = select_law(
        N, D, L, forms=("chinchilla",), objectives=("lsq-log",), min_ratios=(None, 10.0)
    )
    back = LawSelection.from_json(sel.to_json(tmp_path / "s.json"))
    assert back.summary() == sel.summary()
    pd.testing.assert_frame_equal(back.table, sel.table)
    (tmp_path / "bad.json").write_text('{"kind": "law-selection"}')
    with pytest.raises(DensingInputError, match=r"bad\.json"):
        LawSelection.from_json(tmp_path / "bad.json")


def test_cli_table_json_and_out(tmp_path, capsys) -> None:
    N, D, L = _ladder(0)
    f = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(f, index=False)
    args = [
        "select-law",
        str(f),
        "--form",
        "chinchilla",
        "--form",
        "power-n",
        "--objective",
        "lsq-log",
    ]
    main(args)
    out = capsys.readouterr().out
    assert "chinchilla" in out and "held-out mean |relative error|" in out
    main([*args, "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["best"] == {"form": "chinchilla", "objective": "lsq-log", "min_ratio": None}
    assert len(d["candidates"]) == 2
    main([*args, "--out", str(tmp_path / "s.csv")])
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 's.csv'}"
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["form"]) == ["chinchilla", "power-n"]  # ranked by held-out error


def test_cli_reads_a_checkpoint_table_as_the_frame_does(tmp_path, capsys) -> None:
    """A fit-frame reference table (run, step, benchmark): one point per run, the mean loss of
    its last K checkpoints, as the frame's law sees them."""
    ladder = Ladder(
        benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6), "arc": (1.1, 0.8, 0.2, -2.5, 3.9)}
    )
    ck = simulate_ladder(0, ladder)
    f = tmp_path / "checkpoints.csv"
    ck.to_csv(f, index=False)
    main(["select-law", str(f), "--benchmark", "arc", "--final-k", "2", "--form", "chinchilla",
          "--objective", "lsq-log", "--json"])  # fmt: skip
    got = json.loads(capsys.readouterr().out)
    arc = ck[ck["benchmark"] == "arc"].sort_values(["run", "step"])
    last = (
        arc.groupby("run")
        .tail(2)
        .groupby("run")
        .agg(params=("params", "first"), tokens=("tokens", "last"), loss=("loss", "mean"))
    )
    want = select_law(last["params"], last["tokens"], last["loss"], forms=("chinchilla",),
                      objectives=("lsq-log",))  # fmt: skip
    assert got["n_heldout"] == want.n_heldout == (last["params"] == last["params"].max()).sum()
    assert got["candidates"][0]["heldout_error_pct"] == pytest.approx(
        want.table["heldout_error_pct"].iloc[0], rel=1e-9
    )


def test_cli_reads_checkpoints_without_a_benchmark_column(tmp_path, capsys) -> None:
    """run/step columns alone: still one point per run (never every checkpoint as a run)."""
    ck = simulate_ladder(0, Ladder(benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6)}))
    one = ck.drop(columns=["benchmark", "score"])
    f = tmp_path / "runs.csv"
    one.to_csv(f, index=False)
    main(["select-law", str(f), "--form", "chinchilla", "--objective", "lsq-log", "--json"])
    got = json.loads(capsys.readouterr().out)
    top = one[one["params"] == one["params"].max()]
    assert got["n_heldout"] == top["run"].nunique() < len(top)

"""Loss frames on training ladders: runs and checkpoints as data, the cluster bootstrap (checked
by simulation), the few-sizes warning, and the chinchilla-tied form."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.lossframe import (
    CheckpointOptions,
    DensingWarning,
    Ladder,
    fit_loss_frame,
    simulate_ladder,
)
from densing.lossframe._runs import law_points, sigmoid_points
from densing.lossframe._tables import calibration_table, reference_table
from densing.sigmoid import bootstrap_sigmoid

SMALL = Ladder(checkpoints=8)
# 40 runs (8 sizes x 5 budgets) of 8 checkpoints
COVERAGE = Ladder(
    sizes=tuple(np.geomspace(2e7, 2e9, 8)),
    multipliers=tuple(np.geomspace(10, 80, 5)),
    checkpoints=8,
    benchmarks={"mmlu": (1.0, 0.7, 0.25, -3.0, 3.6)},
)


@pytest.fixture(scope="module")
def ladder() -> pd.DataFrame:
    return simulate_ladder(0, SMALL)


def _runs_table() -> pd.DataFrame:
    """Two runs with three checkpoints each (steps out of order in the file)."""
    return pd.DataFrame(
        {
            "run": ["a", "a", "a", "b", "b", "b"],
            "step": [30, 10, 20, 10, 20, 30],
            "params": [1e8] * 3 + [4e8] * 3,
            "tokens": [3e9, 1e9, 2e9, 4e9, 8e9, 12e9],
            "benchmark": "x",
            "loss": [3.0, 3.4, 3.2, 2.9, 2.7, 2.6],
            "score": [0.50, 0.30, 0.40, 0.55, 0.60, 0.70],
        }
    )


def test_law_uses_the_mean_of_the_last_k_checkpoints_at_the_final_tokens():
    ref = reference_table(_runs_table(), uses_tokens=True)
    one = law_points(ref, 1).set_index("run")
    assert one.loc["a", "loss"] == 3.0 and one.loc["a", "tokens"] == 3e9
    two = law_points(ref, 2).set_index("run")
    assert two.loc["a", "loss"] == pytest.approx(3.1) and two.loc["a", "tokens"] == 3e9
    assert two.loc["b", "loss"] == pytest.approx(2.65) and two.loc["b", "n_checkpoints"] == 3


def test_drop_first_and_trailing_mean_stay_inside_each_run():
    cal = calibration_table(_runs_table())
    kept = sigmoid_points(cal, CheckpointOptions(drop_first=0.34)).set_index(["run", "order"])
    assert sorted(kept.index) == [("a", 20), ("a", 30), ("b", 20), ("b", 30)]
    sm = sigmoid_points(cal, CheckpointOptions(smooth=2)).set_index(["run", "order"])
    assert sm.loc[("a", 10), "score"] == pytest.approx(0.30)  # the window never reaches run b
    assert sm.loc[("a", 30), "score"] == pytest.approx(0.45)
    assert sm.loc[("b", 10), "loss"] == pytest.approx(2.9)
    assert sm.loc[("b", 30), "loss"] == pytest.approx(2.65)


def test_run_tables_are_checked():
    t = _runs_table()
    t.attrs["source"] = "runs.csv"
    with pytest.raises(
        DensingInputError, match=r"runs.csv, row 2, column 'step'.*duplicated checkpoint"
    ):
        calibration_table(t.assign(step=[30, 30, 20, 10, 20, 30]))
    no_order = t.drop(columns=["step", "tokens"])
    with pytest.raises(DensingInputError, match=r"run 'a' has several rows.*add a step"):
        calibration_table(no_order)
    with pytest.raises(DensingInputError, match=r"row 2, column 'params'.*one run has one size"):
        reference_table(t.assign(params=[1e8, 2e8, 1e8, 4e8, 4e8, 4e8]), uses_tokens=True)
    without_runs = t.drop(columns=["run"]).assign(model="m")
    with pytest.raises(DensingInputError, match=r"duplicated calibration point.*need a run column"):
        calibration_table(without_runs)
    ok = calibration_table(t.assign(loss=[0.0, 3.4, 3.2, 2.9, 2.7, 2.6]))  # a perfect model
    assert ok["loss"].min() == 0.0


def test_frame_resamples_runs_as_clusters(ladder):
    spec = BootstrapSpec(n_resamples=12, seed=5, warm_start=True, n_jobs=1)
    fr = fit_loss_frame(ladder, ladder, form="chinchilla", bootstrap=spec, predictive=False)
    bf = fr.fit_for("mmlu")
    assert bf.law_n_points == 24 and bf.n_reference_checkpoints == 24 * 8
    assert bf.n_calibration == 24 * 8 and bf.n_calibration_runs == 24
    assert "runs as clusters" in fr.describe()
    # the frame's sigmoid replicates are the cluster bootstrap of the calibration checkpoints
    by_run = calibration_table(ladder)  # the rows the frame saw, in its order
    sb = bootstrap_sigmoid(
        by_run["loss"], by_run["score"], BootstrapSpec(12, seed=5 + 7919, warm_start=True, n_jobs=1),
        groups=by_run["run"].to_numpy(), n_polish=1, point_start=True,
    )  # fmt: skip
    np.testing.assert_allclose(bf.sigmoid_samples, sb.samples, rtol=1e-6)
    ck = fit_loss_frame(ladder, ladder, form="chinchilla", bootstrap=spec, predictive=False,
                        resample="checkpoints")  # fmt: skip
    assert not np.allclose(ck.fit_for("mmlu").sigmoid_samples, bf.sigmoid_samples)
    assert "single checkpoints" in ck.describe()


def test_warns_when_replicates_hold_few_sizes(ladder):
    four = ladder[ladder["params"] < 5e8]  # 4 sizes: resamples often hold fewer
    spec = BootstrapSpec(n_resamples=40, seed=1, warm_start=True, n_jobs=1)
    with pytest.warns(
        DensingWarning, match=r"of the 40 bootstrap replicates of the law hold fewer than 4"
    ):
        fr = fit_loss_frame(four, four, form="chinchilla", bootstrap=spec, predictive=False)
    bf = fr.fit_for("mmlu")
    assert bf.few_sizes_share > 0.05 and any("fewer than 4" in n for n in fr.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DensingWarning)
        big = fit_loss_frame(ladder, ladder, form="chinchilla", bootstrap=spec, predictive=False)
    assert big.fit_for("mmlu").few_sizes_share <= 0.05


def _sd_ratios(sims: int, B: int) -> dict[str, np.ndarray]:
    """Bootstrap standard error / Monte-Carlo standard deviation of each sigmoid parameter,
    resampling runs and resampling checkpoints (1 = the bootstrap measures the real spread)."""
    rng = np.random.default_rng(11)
    est, sd = [], {"runs": [], "checkpoints": []}
    for s in range(sims):
        t = calibration_table(simulate_ladder(rng, COVERAGE))
        for unit, groups in (("runs", t["run"].to_numpy()), ("checkpoints", None)):
            spec = BootstrapSpec(n_resamples=B, seed=s, warm_start=True, n_jobs=1)
            sb = bootstrap_sigmoid(t["loss"], t["score"], spec, groups=groups, loss_fn="linear")
            sd[unit].append(np.nanstd(sb.samples, axis=0, ddof=1))
        est.append(list(sb.fit.params.values()))
    mc = np.std(np.array(est), axis=0, ddof=1)
    return {unit: np.mean(v, axis=0) / mc for unit, v in sd.items()}


@pytest.mark.slow
def test_cluster_bootstrap_measures_the_spread_and_checkpoint_resampling_does_not():
    """Checkpoints of a run share a score offset: resampling them one by one is too narrow.

    Over simulated ladders the bootstrap standard error of each sigmoid parameter is compared
    with the parameters' real spread across ladders. The coverage of the intervals themselves
    (200 ladders, 200 replicates, full frames) is ``validation/lossframe_coverage.py --ladder``.
    """
    r = _sd_ratios(16, 30)
    print(f"bootstrap s.e. / real spread: runs {r['runs']}, checkpoints {r['checkpoints']}")
    assert np.all((r["runs"] > 0.6) & (r["runs"] < 1.6)), r
    assert np.exp(np.mean(np.log(r["runs"]))) > 0.8
    assert np.all(r["checkpoints"] < 0.7 * r["runs"]), r


def test_tied_form_recovers_a_tied_law():
    tied = Ladder(
        checkpoints=4, law={"E": 1.8, "A": 400.0, "B": 1500.0, "alpha": 0.33, "beta": 0.33}
    )
    t = simulate_ladder(3, tied)
    fr = fit_loss_frame(t, t, form="chinchilla-tied", predictive=False)
    p = fr.fit_for("mmlu").law_params
    assert set(p) == {"E", "A", "B", "alpha"}
    assert p["alpha"] == pytest.approx(0.33, abs=0.03) and p["E"] == pytest.approx(1.8, abs=0.1)


def test_benchmarks_fitted_as_pooled_tasks_match_the_serial_fit():
    """With two tasks or more per worker, each law and each sigmoid is one task in a process
    pool (its replicates serial): the same seeds give the same frame as one process, and the
    progress callback still counts every replicate (a law shared by two benchmarks counts
    for both)."""
    benches = {f"b{k}": (1.0 + 0.05 * k, 0.7, 0.25, -3.0, 3.3 + 0.05 * k) for k in range(3)}
    t = simulate_ladder(5, Ladder(checkpoints=4, benchmarks=benches))
    ref = pd.concat([t, t[t["benchmark"] == "b0"].assign(benchmark="b0-again")])
    cal = pd.concat([t, t[t["benchmark"] == "b1"].assign(benchmark="b0-again")])
    frames, counts = [], []
    for jobs in (1, 2):
        seen: list[int] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DensingWarning)
            spec = BootstrapSpec(12, seed=3, n_jobs=jobs)
            frame = fit_loss_frame(
                ref, cal, form="chinchilla", progress=seen.append, bootstrap=spec
            )
            frames.append(frame)
        counts.append(sum(seen))
    serial, pooled = frames
    assert counts == [2 * 12 * 4, 2 * 12 * 4]
    for a, b in zip(serial.fits, pooled.fits, strict=True):
        assert a.benchmark == b.benchmark
        np.testing.assert_array_equal(a.law_samples, b.law_samples)
        np.testing.assert_array_equal(a.sigmoid_samples, b.sigmoid_samples)
        assert a.law_params == b.law_params and a.sigmoid.params == b.sigmoid.params
        assert a.law_error == b.law_error and a.sigmoid_error == b.sigmoid_error
    assert serial.fits[0].law_params == serial.fits[3].law_params  # b0-again shares b0's law

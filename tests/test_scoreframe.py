"""Score-mode frames: recovery on synthetic data, self-consistency, bootstrap, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.scoreframe import (
    FORMAT_VERSION,
    ScoreFrame,
    bootstrap_score_frame,
    fit_score_frame,
)
from densing.sigmoid import sigmoid_inverse, sigmoid_value


def sigmoid_score(theta, mid, gamma, c, d):
    return sigmoid_value(theta, c, d, gamma, mid)


ALPHA = 0.35
SIGMOIDS = {  # benchmark: (l, gamma, c, d); floors of mmlu / gsm8k / hellaswag are the defaults
    "mmlu": (0.45, -6.0, 0.65, 0.25),
    "arc_challenge": (0.9, -3.0, 0.6, 0.2),
    "gsm8k": (0.5, -8.0, 0.9, 0.0),
    "hellaswag": (1.2, -3.5, 0.7, 0.25),
}
REF_SIZES = np.array([0.1, 0.3, 1.0, 2.8, 7.0, 20.0]) * 1e9


def synthetic(seed: int = 0, n_other: int = 40, noise: float = 0.01, missing: float = 0.15):
    """Known θ, sigmoids and law; returns (models, scores, true θ)."""
    rng = np.random.default_rng(seed)
    ref_theta = (REF_SIZES / 1e9) ** (-ALPHA)
    other_theta = rng.uniform(-0.05, 2.0, n_other)
    theta = np.r_[ref_theta, other_theta]
    ids = [f"ref-{i}" for i in range(len(REF_SIZES))] + [f"m{i}" for i in range(n_other)]
    fams = ["Ref"] * len(REF_SIZES) + [f"F{i % 8}" for i in range(n_other)]
    params = np.r_[REF_SIZES, rng.uniform(0.5, 30, n_other) * 1e9]
    models = pd.DataFrame(
        {"id": ids, "family": fams, "params": params, "active_params": params, "tokens": 3e11}
    )
    cols = {}
    for b, (mid, g, c, d) in SIGMOIDS.items():
        s = sigmoid_score(theta, mid, g, c, d) + rng.normal(0, noise, theta.size)
        s = np.clip(s, 0, 1)
        drop = rng.random(theta.size) < missing
        drop[: len(REF_SIZES)] = False  # reference members fully observed
        s[drop] = np.nan
        cols[b] = s
    scores = pd.DataFrame(cols, index=ids)
    return models, scores, pd.Series(theta, index=ids)


@pytest.fixture(scope="module")
def synth():
    models, scores, theta = synthetic()
    frame = fit_score_frame(models, scores, reference_family="Ref")
    return models, scores, theta, frame


def test_sigmoid_inverse_round_trip():
    th = np.linspace(-1, 3, 50)
    s = sigmoid_score(th, 0.5, -4.0, 0.7, 0.25)
    back, status = sigmoid_inverse(s, 0.7, 0.25, -4.0, 0.5)
    assert np.allclose(back, th, atol=1e-6) and (status == "ok").all()
    _, status = sigmoid_inverse(np.array([0.25, 0.95, 0.1]), 0.7, 0.25, -4.0, 0.5)
    assert list(status) == ["below_range", "above_range", "below_range"]


def test_recovers_law_sigmoids_and_theta(synth):
    _, scores, theta, frame = synth
    # α is only weakly identified (sigmoid slopes absorb part of the curvature)
    assert frame.alpha == pytest.approx(ALPHA, abs=0.07)
    for b, (mid, g, c, d) in SIGMOIDS.items():
        s = frame.sigmoids.loc[b]
        assert s["l"] == pytest.approx(mid, abs=0.08), b
        assert s["c"] == pytest.approx(c, abs=0.06), b
        assert s["d"] == pytest.approx(d, abs=0.03), b
        assert s["gamma"] == pytest.approx(g, rel=0.3), b
        assert s["r2"] > 0.95
    est = frame.models.set_index("id")["theta"]
    other = [i for i in theta.index if i.startswith("m")]
    err = (est[other] - theta[other]).abs()
    assert np.median(err) < 0.08
    assert np.corrcoef(est[other].rank(), theta[other].rank())[0, 1] > 0.99
    # what matters: effective params of in-range models (true N̂ = θ^(-1/α) billions)
    lo, hi = theta[[i for i in theta.index if i.startswith("ref")]].agg(["min", "max"])
    inside = [i for i in other if lo <= theta[i] <= hi]
    true_n = 1e9 * theta[inside] ** (-1 / ALPHA)
    got = frame.densities().set_index("model").loc[inside, "effective_params"]
    assert np.median(np.abs(np.log(got[inside] / true_n))) < 0.2
    assert frame.residuals["residual"].abs().median() < 0.015
    # missing cells are absent, not imputed
    assert len(frame.residuals) == int(scores.notna().sum().sum())


def test_reference_members_have_unit_density(synth):
    _, _, _, frame = synth
    d = frame.densities()
    assert set(d.columns) >= {
        "model",
        "family",
        "params",
        "active_params",
        "theta",
        "effective_params",
        "density_active",
        "density_total",
        "status",
        "n_benchmarks",
    }
    ref = d[d["family"] == "Ref"]
    assert np.all(np.abs(np.log(ref["density_active"])) < 0.25), ref["density_active"].tolist()
    # a model exactly on the law (all four sigmoids at θ_law(N)) gets ρ = 1
    n = 5e9
    th = float(frame.law_theta(n))
    row = frame.predict_scores([th])
    row.index = ["on-curve"]
    got = frame.effective_params(row)
    assert got["effective_params"].iloc[0] / n == pytest.approx(1.0, rel=1e-3)


def test_monotone_and_out_of_range_statuses(synth):
    _, _, _, frame = synth
    th = np.linspace(frame.theta_bounds[0] + 0.01, frame.theta_bounds[1] - 0.01, 40)
    n_hat, status = frame.invert(th)
    finite = np.isfinite(n_hat)
    assert np.all(np.diff(n_hat[finite]) <= 0)  # higher θ (worse) → fewer effective params
    assert "above_range" in set(status) and "extrapolated" in set(status)
    assert (n_hat[status == "above_range"] == np.inf).all()
    # per-benchmark: saturated scores are flagged, not NaN
    per = frame.benchmark_densities()
    assert per["status"].isin(["ok", "extrapolated", "above_range", "below_range"]).all()
    assert not per.loc[per["status"] == "ok", "effective_params"].isna().any()


def test_insufficient_scores_flagged_not_dropped():
    models, scores, _ = synthetic(seed=1)
    scores.loc["m0", ["arc_challenge", "gsm8k", "hellaswag"]] = np.nan
    frame = fit_score_frame(models, scores, reference_family="Ref", min_benchmarks=2)
    d = frame.densities().set_index("model")
    assert len(d) == len(models)
    assert d.loc["m0", "status"] == "insufficient_scores"
    assert d.loc["m0", "n_benchmarks"] == 1
    enough = d["n_benchmarks"] >= 2
    assert (d.loc[enough, "status"] != "insufficient_scores").all()
    assert (d.loc[~enough, "status"] == "insufficient_scores").all()


def test_json_round_trip_and_version(tmp_path, synth):
    _, _, _, frame = synth
    path = tmp_path / "frame.json"
    frame.to_json(path)
    back = ScoreFrame.from_json(path)
    a, b = frame.densities(), back.densities()
    assert np.allclose(a["effective_params"], b["effective_params"], rtol=1e-9)
    assert (a["status"] == b["status"]).all()
    assert back.alpha == frame.alpha and back.benchmarks == frame.benchmarks
    d = json.loads(path.read_text())
    d["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(d))
    with pytest.raises(DensingInputError, match=f"format version {FORMAT_VERSION + 1}, this"):
        ScoreFrame.from_json(path)
    with pytest.raises(DensingInputError, match="unknown benchmark"):
        frame.effective_params(pd.DataFrame({"bbh": [0.5], "mmlu": [0.5]}, index=["x"]))


def test_bad_input():
    models, scores, _ = synthetic(seed=2, n_other=10)
    with pytest.raises(DensingInputError, match="reference family 'Nope'"):
        fit_score_frame(models, scores, reference_family="Nope")
    with pytest.raises(DensingInputError, match="3 are needed"):
        fit_score_frame(models, scores, reference_family="F1")
    with pytest.raises(DensingInputError, match="unknown benchmark 'bbh'"):
        fit_score_frame(models, scores, reference_family="Ref", benchmarks=["mmlu", "bbh"])
    pct = scores * 100
    with pytest.raises(DensingInputError, match="percentages") as exc:
        fit_score_frame(models, pct, reference_family="Ref")
    assert exc.value.location.column is not None and exc.value.location.row is not None
    billions = models.assign(params=models["params"] / 1e9)
    with pytest.raises(DensingInputError, match="billions"):
        fit_score_frame(billions, scores, reference_family="Ref")
    stray = pd.concat([scores, pd.DataFrame({"mmlu": [0.5]}, index=["ghost"])])
    with pytest.raises(DensingInputError, match="not in the models table"):
        fit_score_frame(models, stray, reference_family="Ref")


def test_bootstrap_reference_intervals_and_warm_vs_cold():
    models, scores, _ = synthetic(seed=3, n_other=30)
    frame = fit_score_frame(models, scores, reference_family="Ref")
    warm = bootstrap_score_frame(
        frame, BootstrapSpec(n_resamples=40, seed=1, warm_start=True, n_jobs=1)
    )
    cold = bootstrap_score_frame(
        frame, BootstrapSpec(n_resamples=40, seed=1, warm_start=False, n_jobs=1)
    )
    assert warm.replicates.effective_params.shape == (40, len(models))
    iw = warm.densities().set_index("model")
    ic = cold.densities().set_index("model")
    ref = iw[iw["family"] == "Ref"].index
    # the reference members' intervals contain 1 (cold: the faithful version)
    for iv in (ic, iw):
        assert (
            (iv.loc[ref, "density_active_lo"] <= 1) & (iv.loc[ref, "density_active_hi"] >= 1)
        ).all()
    # warm-start intervals are close to cold-start ones (log-width and log-bounds)
    ok = iw["status"] == "ok"
    for col in ("density_active_lo", "density_active_hi"):
        a, b = iw.loc[ok, col].to_numpy(float), ic.loc[ok, col].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.where(a == b, 0.0, np.abs(np.log(a) - np.log(b)))  # equal infinities agree
        assert np.isfinite(diff).mean() > 0.9
        assert np.median(diff[np.isfinite(diff)]) < 0.05, col
    assert np.isfinite(warm.replicates.alpha).all()
    ci = warm.conf_int()
    assert list(ci.columns) == ["estimate", "lower", "upper"]
    assert ci.loc["alpha", "lower"] <= warm.alpha <= ci.loc["alpha", "upper"]
    assert {"mmlu.l", "mmlu.gamma", "mmlu.c", "mmlu.d"} <= set(ci.index)


def test_leave_one_out_reduced():
    models, scores, _ = synthetic(seed=4, n_other=30)
    hits = 0
    held = ["ref-1", "ref-2", "ref-3", "ref-4"]
    for mid in held:
        keep = models["id"] != mid
        frame_models = models[keep].reset_index(drop=True)
        boot = fit_score_frame(
            frame_models,
            scores.drop(index=mid),
            reference_family="Ref",
            bootstrap=BootstrapSpec(n_resamples=30, seed=2, warm_start=True, n_jobs=1),
        )
        target = scores.loc[[mid]].assign(params=models.loc[~keep, "params"].to_numpy())
        pred = boot.density(target.rename_axis("model").reset_index())
        lo, hi = pred["density_active_lo"].iloc[0], pred["density_active_hi"].iloc[0]
        assert abs(np.log(pred["density_active"].iloc[0])) < 0.3
        hits += lo <= 1 <= hi
    assert hits >= 3


def test_obscaling_pythia_frame(shared_data):
    from densing.catalog.sources.obscaling import obscaling_tables

    models, scores = obscaling_tables(shared_data / "obscaling" / "base_llm_benchmark_eval.csv")
    frame = fit_score_frame(
        models,
        scores,
        reference_family="Pythia",
        benchmarks=["mmlu", "arc_challenge", "hellaswag", "winogrande", "gsm8k", "humaneval"],
    )
    assert frame.law.kind == "fixed_budget" and frame.law.d0 == pytest.approx(3e11)
    d = frame.densities().set_index("model")
    ref = d[d["family"] == "Pythia"]
    rho = ref["density_active"]
    assert ((rho > 0.7) & (rho < 1.4)).all(), rho.tolist()
    assert len(d) == len(models)
    # a stronger recipe is denser than the reference at a similar size
    assert (
        d.loc["meta-llama/Llama-2-7b-hf", "density_active"]
        > d.loc["EleutherAI/pythia-6.9b-deduped", "density_active"]
    )
    assert "Pythia" in frame.summary()


def test_law_choice_from_reference_tokens():
    models, scores, _ = synthetic(seed=5, n_other=15)
    ref = models["family"] == "Ref"
    models.loc[ref, "tokens"] = np.linspace(1e11, 6e11, int(ref.sum()))
    frame = fit_score_frame(models, scores, reference_family="Ref")
    assert frame.law.kind == "with_tokens"
    assert frame.law.d0 == pytest.approx(float(np.median(models.loc[ref, "tokens"])))
    assert "median budget" in frame.describe()
    models.loc[models.index[ref][-1], "tokens"] = np.nan
    frame = fit_score_frame(models, scores, reference_family="Ref")
    assert frame.law.kind == "fixed_budget"
    assert "without tokens" in frame.d0_note
    with pytest.raises(DensingInputError, match="needs tokens"):
        fit_score_frame(models, scores, reference_family="Ref", law="with_tokens")

"""The stitched score frame, informative models and the frontier estimators."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.frames import load_frame
from densing.frontier import quantile_line, quantile_trend
from densing.scoreframe import StitchedFrame, build_items, fit_stitched_frame, item_id
from densing.sigmoid import sigmoid_value

ALPHA = 0.3
REF = np.array([0.2, 0.5, 1.0, 3.0, 8.0, 20.0]) * 1e9
#: item → (benchmark, setting, shots, c, d, gamma, l): the same benchmark in two settings has
#: two different sigmoids (a developer's report runs high)
ITEMS = {
    "mmlu@openllm-v1": ("mmlu", "openllm-v1", 5, 0.6, 0.25, -5.0, 0.9),
    "mmlu@reported:5s": ("mmlu", "reported", 5, 0.65, 0.25, -5.5, 1.0),
    "arc_challenge@openllm-v1": ("arc_challenge", "openllm-v1", 25, 0.6, 0.2, -3.0, 1.1),
    "gsm8k@reported:8s": ("gsm8k", "reported", 8, 0.9, 0.0, -7.0, 0.6),
    "bbh@reported:3s:cot": ("bbh", "reported", 3, 0.75, 0.0, -4.0, 0.8),
}


def synthetic(seed: int = 0, n_old: int = 32, n_new: int = 32, noise: float = 0.01):
    """Old models scored under the uniform harness, new ones only in reports; a few bridge."""
    rng = np.random.default_rng(seed)
    ids = [f"ref{i}" for i in range(REF.size)] + [f"m{i}" for i in range(n_old + n_new)]
    theta = np.r_[(REF / 1e9) ** -ALPHA, rng.uniform(0.5, 2.2, n_old), rng.uniform(0.3, 1.6, n_new)]
    params = np.r_[REF, rng.uniform(1, 30, n_old + n_new) * 1e9]
    fam = ["Ref"] * REF.size + ["Other"] * (n_old + n_new)
    models = pd.DataFrame({"id": ids, "family": fam, "params": params, "active_params": params})
    rows = []
    for i, m in enumerate(ids):
        old = REF.size <= i < REF.size + n_old
        bridge = i < REF.size or (old and i % 4 == 0)
        for key, (b, st, sh, c, d, g, l) in ITEMS.items():  # noqa: E741
            if (st == "openllm-v1" and not (old or bridge)) or (
                st == "reported" and old and not bridge
            ):
                continue
            s = float(np.clip(sigmoid_value(theta[i], c, d, g, l) + rng.normal(0, noise), 0, 1))
            rows.append(
                {
                    "id": m,
                    "benchmark": b,
                    "setting": st,
                    "shots": sh,
                    "cot": key.endswith("cot"),
                    "score": s,
                }
            )
    return models, pd.DataFrame(rows), pd.Series(theta, index=ids)


@pytest.fixture(scope="module")
def stitched():
    models, scores, theta = synthetic()
    frame = fit_stitched_frame(
        models, scores, reference_family="Ref", min_item_models=8, law="fixed_budget",
        bootstrap=BootstrapSpec(30, seed=1, warm_start=True, n_jobs=1),
    )  # fmt: skip
    return models, scores, theta, frame


def test_items_split_settings_average_duplicates_and_list_sparse_items():
    scores = pd.DataFrame(
        {
            "id": ["a", "a", "a", "b", "b"],
            "benchmark": ["mmlu", "mmlu", "mmlu", "mmlu", "bbh"],
            "setting": ["openllm-v1", "reported", "reported", "reported", "reported"],
            "shots": [5, 5, 5, 0, 3],
            "cot": [False, False, False, False, True],
            "score": [0.5, 0.6, 0.7, 0.4, 0.3],
        }
    )
    wide, info = build_items(scores, min_models=1)
    assert set(wide.columns) == {
        "mmlu@openllm-v1",
        "mmlu@reported:5s",
        "mmlu@reported:0s",
        "bbh@reported:3s:cot",
    }
    assert wide.loc["a", "mmlu@reported:5s"] == pytest.approx(0.65)  # two reports averaged
    assert info.set_index("item").loc["mmlu@reported:5s", "n_reports"] == 2
    _, info = build_items(scores, min_models=2)
    assert not info["used"].any() and info["note"].str.contains("fewer than 2").all()
    assert item_id("mmlu", "openllm-v2-norm", 5, False) == "mmlu@openllm-v2-norm"


def test_stitched_frame_links_old_and_new_models(stitched):
    _, _, theta, frame = stitched
    assert isinstance(frame, StitchedFrame) and frame.kind == "stitched-frame"
    assert set(frame.benchmarks) == set(ITEMS)
    # the two MMLU settings get their own sigmoids (the reported one runs high)
    s = frame.sigmoids
    assert s.loc["mmlu@reported:5s", "l"] > s.loc["mmlu@openllm-v1", "l"]
    # every model's own θ̂ tracks the truth, old (harness only) and new (reports only) alike
    d = frame.densities().set_index("model")
    est = frame.models.set_index("id")["theta"]
    other = pd.Index([i for i in theta.index if i.startswith("m")])
    rank = est[other].rank().corr(theta[other].rank())
    assert rank > 0.9, rank
    ref = d[d["family"] == "Ref"]
    inside = (ref["density_active_lo"] <= 1) & (ref["density_active_hi"] >= 1)
    assert inside.mean() >= 0.8, ref[["density_active", "density_active_lo", "density_active_hi"]]
    links = frame.item_info.set_index("item")["n_linked"]
    assert (links[list(ITEMS)] >= 8).all()


def test_heldout_cells_are_covered(stitched):
    """Hide 20% of cells, refit, predict them: predictive intervals cover new scores (two
    draws of hidden cells pooled; the catalog's own figure is in validation/stitched_frame.py)."""
    models, scores, _, _ = stitched
    covered, errors = [], []
    for seed in (7, 8):
        rng = np.random.default_rng(seed)
        hide = (rng.random(len(scores)) < 0.2) & ~scores["id"].str.startswith("ref")
        fr = fit_stitched_frame(
            models, scores[~hide], reference_family="Ref", min_item_models=8, law="fixed_budget",
            bootstrap=BootstrapSpec(40, seed=3, warm_start=True, n_jobs=1),
        )  # fmt: skip
        held = scores[hide].copy()
        cols = zip(held["benchmark"], held["setting"], held["shots"], held["cot"], strict=True)
        held["item"] = [item_id(*t) for t in cols]
        held = held[held["id"].isin(fr.models.loc[fr.models["theta"].notna(), "id"])]
        p = fr.predict_cells(held.rename(columns={"id": "model"})[["model", "item"]])
        obs = held["score"].to_numpy()
        covered += list((p["lo"].to_numpy() <= obs) & (obs <= p["hi"].to_numpy()))
        errors += list(p["predicted"].to_numpy() - obs)
    assert len(covered) >= 30
    assert np.mean(covered) >= 0.75, np.mean(covered)
    assert float(np.sqrt(np.mean(np.square(errors)))) < 0.04


def test_stitched_round_trip_and_long_targets(stitched, tmp_path):
    _, scores, _, frame = stitched
    back = load_frame(frame.to_json(tmp_path / "f.json"))
    assert isinstance(back, StitchedFrame) and list(back.item_info["item"]) == list(
        frame.item_info["item"]
    )
    t = scores[scores["id"] == "m50"].rename(columns={"id": "model"}).assign(params=5e9)
    a, b = frame.density(t), back.density(t)
    assert a["effective_params"].iloc[0] == pytest.approx(b["effective_params"].iloc[0])
    with pytest.raises(DensingInputError, match="needs the setting"):
        frame.density(t.drop(columns="setting"))
    bad = t.assign(shots=1)
    with pytest.raises(DensingInputError, match="not an item of this frame"):
        frame.density(bad)
    assert json.loads((tmp_path / "f.json").read_text())["kind"] == "stitched-frame"


def test_quantile_line_recovers_an_upper_quantile():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1000, 400)
    y = 0.003 * t + rng.normal(0, 0.4, 400)
    slope, icpt = quantile_line(t, y, 0.9)
    assert slope == pytest.approx(0.003, rel=0.1)
    assert icpt == pytest.approx(0.4 * 1.2816, abs=0.12)
    assert np.isnan(quantile_line(np.ones(5), np.ones(5), 0.9)[0])  # one date: no slope


def test_quantile_trend_interval_covers_the_slope():
    """Coverage of the bootstrap interval of the quantile slope on simulated releases."""
    hits, sims = 0, 40
    for k in range(sims):
        rng = np.random.default_rng(100 + k)
        t = rng.uniform(0, 900, 120)
        y = 0.004 * t - 1 + rng.normal(0, 0.5, 120)
        dates = [dt.date(2023, 1, 1) + dt.timedelta(days=int(x)) for x in t]
        res = quantile_trend(
            [f"m{i}" for i in range(120)], dates, np.exp(y), BootstrapSpec(60, seed=k)
        )
        lo, hi = res.intervals["A_per_day"]
        hits += lo <= 0.004 <= hi
    assert hits / sims >= 0.8


def test_moe_targets_get_both_densities_with_intervals(stitched):
    """One naming everywhere: density_active and density_total, both with intervals."""
    _, scores, _, frame = stitched
    t = scores[scores["id"] == "m50"].rename(columns={"id": "model"})
    t = t.assign(params=47e9, active_params=13e9)
    r = frame.density(t).iloc[0]
    assert r["density_active"] == pytest.approx(r["effective_params"] / 13e9)
    assert r["density_total"] == pytest.approx(r["effective_params"] / 47e9)
    for col in ("density_active", "density_total"):
        assert 0 < r[f"{col}_lo"] <= r[col] <= r[f"{col}_hi"] < np.inf
    assert "density" not in frame.density(t).columns

"""Effective parameters and density: inversion round trips, monotonicity, statuses, MoE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from densing.density import (
    aggregate_effective_params,
    density,
    effective_params,
    estimate_density,
    law_floor,
    log_interval,
)
from densing.laws import get_form
from densing.sigmoid import SigmoidFit, sigmoid_inverse

D0 = 1e12
LAWS = {
    "densing": {"a": 1000.0, "alpha": 0.3, "b": 200.0, "beta": 0.2},
    "chinchilla": {"E": 1.2, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28},
    "power-n": {"E": 1.5, "A": 300.0, "alpha": 0.32},
}


def _sigmoid(c=0.7, d=0.25, gamma=-5.0, l=2.4) -> SigmoidFit:  # noqa: E741
    return SigmoidFit(c=c, d=d, gamma=gamma, l=l, n_points=10, cost=0.0, converged=True)


@pytest.mark.parametrize("form", ["densing", "chinchilla", "power-n"])
def test_law_inversion_round_trip(form):
    p = LAWS[form]
    N = np.geomspace(1e7, 1e12, 11)
    L = get_form(form).predict(p, N, np.full_like(N, D0))
    n_hat, status = effective_params(form, p, L, D0)
    assert (status == "ok").all()
    np.testing.assert_allclose(n_hat, N, rtol=1e-9)


def test_explicit_formulas():
    p = LAWS["chinchilla"]
    L = 2.1
    want = ((L - p["E"] - p["B"] * D0 ** -p["beta"]) / p["A"]) ** (-1 / p["alpha"])
    assert effective_params("chinchilla", p, L, D0)[0] == pytest.approx(want, rel=1e-12)
    q = LAWS["densing"]
    want = ((L - q["b"] * D0 ** -q["beta"]) / q["a"]) ** (-1 / q["alpha"])
    assert effective_params("densing", q, L, D0)[0] == pytest.approx(want, rel=1e-12)
    r = LAWS["power-n"]
    want = ((L - r["E"]) / r["A"]) ** (-1 / r["alpha"])
    assert effective_params("power-n", r, L, D0)[0] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("form", ["densing", "chinchilla"])
def test_score_on_reference_curve_gives_density_one(form):
    """A target with score = sigmoid(law(N, D0)) gets ρ = 1 within 1e-6."""
    p = LAWS[form]
    law_form = get_form(form)
    N = np.array([3e8, 1e9, 4e9, 1.3e10, 7e10])
    L = law_form.predict(p, N, np.full_like(N, D0))
    sig = _sigmoid(l=float(np.median(L)), gamma=-3.0)
    S = sig.predict(L)
    est = estimate_density(S, N, law_form=form, law_params=p, sigmoid=sig, D0=D0)
    assert (est.status == "ok").all()
    np.testing.assert_allclose(est.density, 1.0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    s1=st.floats(0.0, 1.0, allow_nan=False),
    s2=st.floats(0.0, 1.0, allow_nan=False),
    form=st.sampled_from(["densing", "chinchilla"]),
)
def test_higher_score_never_smaller_n_hat(s1, s2, form):
    lo, hi = sorted((s1, s2))
    sig = _sigmoid(l=2.3)
    est = estimate_density([lo, hi], [1e9, 1e9], law_form=form, law_params=LAWS[form], sigmoid=sig)
    assert est.effective_params[1] >= est.effective_params[0]


def test_monotone_dense_grid():
    S = np.linspace(0.0, 1.0, 2001)
    est = estimate_density(
        S, 1e9, law_form="densing", law_params=LAWS["densing"], sigmoid=_sigmoid()
    )
    assert not np.isnan(est.effective_params).any()
    n_hat = est.effective_params
    assert np.all(n_hat[1:] >= n_hat[:-1])
    assert set(est.status) == {"ok", "above_range", "below_range"}


def test_status_flags():
    p = LAWS["densing"]
    floor = float(law_floor("densing", p, D0))
    n_hat, status = effective_params(
        "densing", p, [np.inf, -np.inf, floor, floor - 0.1, floor + 0.5, np.nan], D0
    )
    assert list(status) == [
        "below_range",
        "above_range",
        "above_range",
        "above_range",
        "ok",
        "failed",
    ]
    assert n_hat[0] == 0 and np.isinf(n_hat[1]) and np.isinf(n_hat[2]) and np.isinf(n_hat[3])
    assert np.isfinite(n_hat[4]) and n_hat[4] > 0
    # scores outside the sigmoid's range: explicit, never a silent NaN
    sig = _sigmoid(c=0.6, d=0.25)
    est = estimate_density(
        [0.1, 0.25, 0.85, 0.95, 0.5], 1e9, law_form="densing", law_params=p, sigmoid=sig
    )
    assert list(est.status) == ["below_range", "below_range", "above_range", "above_range", "ok"]
    assert list(est.effective_params[:4]) == [0.0, 0.0, np.inf, np.inf]
    assert not np.isnan(est.density).any()


def test_score_reaching_below_law_floor_is_above_range():
    """A loss below the reachable floor at D0 (but finite) → above_range, N̂ = inf."""
    p = LAWS["densing"]
    floor = float(law_floor("densing", p, D0))
    sig = _sigmoid(l=floor, gamma=-5.0)  # half the scores map to losses below the floor
    est = estimate_density([0.8, 0.85], 1e9, law_form="densing", law_params=p, sigmoid=sig)
    assert list(est.status) == ["above_range", "above_range"]
    assert np.isinf(est.effective_params).all()


def test_moe_density_against_active_and_total():
    p = LAWS["densing"]
    sig = _sigmoid()
    est = estimate_density(
        [0.6], 47e9, law_form="densing", law_params=p, sigmoid=sig, active_params=13e9
    )
    assert est.density_active[0] == pytest.approx(est.effective_params[0] / 13e9)
    assert est.density[0] == pytest.approx(est.effective_params[0] / 47e9)
    assert est.density_active[0] / est.density[0] == pytest.approx(47 / 13)
    d = est.to_dict()
    assert set(d) >= {"density", "density_active", "effective_params", "status", "D0"}


def test_density_rejects_bad_params():
    with pytest.raises(ValueError, match="> 0"):
        density([1e9], [0.0])


def test_broadcast_sigmoid_inverse_matches_fit_inverse():
    sig = _sigmoid()
    S = np.array([0.1, 0.3, 0.5, 0.9, 0.96])
    loss, status = sigmoid_inverse(S, sig.c, sig.d, sig.gamma, sig.l)
    inv = sig.inverse(S)
    np.testing.assert_array_equal(status, inv.status)
    np.testing.assert_allclose(loss, inv.loss)
    # replicate rows broadcast against targets; a NaN replicate is "failed"
    c = np.array([[0.7], [np.nan]])
    loss2, st2 = sigmoid_inverse(S[None, :], c, 0.25, -5.0, 2.4)
    assert loss2.shape == (2, 5) and (st2[1] == "failed").all()


def test_aggregate_rules():
    n = np.array([[1e9, np.inf, 0.0, np.inf, np.nan], [4e9, np.inf, 0.0, 0.0, np.nan]])
    s = np.array(
        [
            ["ok", "above_range", "below_range", "above_range", "no_score"],
            ["ok", "above_range", "below_range", "below_range", "no_score"],
        ]
    )
    agg, st_ = aggregate_effective_params(n, s, axis=0)
    assert agg[0] == pytest.approx(2e9)  # geometric mean of 1e9 and 4e9
    assert list(st_) == ["ok", "above_range", "below_range", "mixed", "no_score"]
    assert np.isinf(agg[1]) and agg[2] == 0 and np.isnan(agg[3])
    # ok benchmarks win over out-of-range ones (geometric mean over ok only)
    agg2, st2 = aggregate_effective_params(np.array([3e9, np.inf]), np.array(["ok", "above_range"]))
    assert st2 == "ok" and agg2 == pytest.approx(3e9)


def test_log_interval_handles_infinite_replicates():
    x = np.array([1e9] * 90 + [np.inf] * 10)
    lo, hi = log_interval(x, 0.95)
    assert lo == pytest.approx(1e9) and np.isinf(hi)
    lo, hi = log_interval(np.array([np.nan, 2.0, 8.0]), 0.5)
    assert 2.0 < lo < hi < 8.0

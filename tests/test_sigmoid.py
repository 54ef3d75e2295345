from __future__ import annotations

import numpy as np
import pytest

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.sigmoid import SigmoidFit, bootstrap_sigmoid, fit_sigmoid

TRUE = {"c": 0.7, "d": 0.25, "gamma": -3.0, "l": 2.5}


def _data(seed: int, n: int = 60, noise: float = 0.01, **kw):
    p = {**TRUE, **kw}
    rng = np.random.default_rng(seed)
    L = rng.uniform(1.0, 4.0, n)
    S = p["c"] / (1 + np.exp(-p["gamma"] * (L - p["l"]))) + p["d"] + rng.normal(0, noise, n)
    return L, S


@pytest.mark.parametrize("loss_fn", ["soft_l1", "linear", "huber"])
def test_recovers_known_parameters(loss_fn):
    L, S = _data(1)
    f = fit_sigmoid(L, S, loss_fn=loss_fn)
    assert f.converged
    assert f.c == pytest.approx(TRUE["c"], rel=0.03)
    assert f.d == pytest.approx(TRUE["d"], abs=0.01)
    assert f.gamma == pytest.approx(TRUE["gamma"], rel=0.05)
    assert f.l == pytest.approx(TRUE["l"], abs=0.03)
    assert f.n_points == 60


def test_exact_data_recovered_tightly_and_with_floor():
    L, S = _data(2, noise=0.0)
    f = fit_sigmoid(L, S, loss_fn="linear")
    for k, v in TRUE.items():
        assert getattr(f, k) == pytest.approx(v, rel=1e-5, abs=1e-6)
    g = fit_sigmoid(L, S, floor=0.25, loss_fn="linear")
    assert g.d == 0.25
    assert g.c == pytest.approx(0.7, rel=1e-5)


def test_robust_loss_resists_outliers():
    L, S = _data(3)
    S = S.copy()
    S[:4] = 0.99  # four gross outliers
    robust = fit_sigmoid(L, S, loss_fn="soft_l1", f_scale=0.02)
    assert robust.l == pytest.approx(TRUE["l"], abs=0.05)
    assert robust.gamma == pytest.approx(TRUE["gamma"], rel=0.15)


def test_bounds_respected_when_data_push_past_them():
    # data whose unconstrained fit would put c + d above 1 and d below 0
    rng = np.random.default_rng(4)
    L = np.linspace(0.5, 4.0, 40)
    S = 1.2 / (1 + np.exp(4.0 * (L - 2.0))) - 0.1 + rng.normal(0, 0.01, L.size)
    S = np.clip(S, 0.0, 1.0)
    f = fit_sigmoid(L, S)
    assert f.d >= 0.0
    assert f.c > 0.0
    assert f.c + f.d <= 1.0 + 1e-12
    assert f.gamma < 0
    free = fit_sigmoid(L, S, fractional=False)
    assert free.c + free.d > 1.0 or free.d < 0.0  # the bound mattered


def test_inverse_of_predict_is_identity():
    f = SigmoidFit(c=0.6, d=0.25, gamma=-4.0, l=2.0, n_points=10, cost=0.0, converged=True)
    L = np.linspace(0.5, 3.5, 31)
    inv = f.inverse(f.predict(L))
    assert np.all(inv.status == "ok")
    np.testing.assert_allclose(inv.loss, L, atol=1e-9)
    # the score falls as the loss rises
    assert np.all(np.diff(f.predict(L)) < 0)


def test_inverse_status_flags():
    f = SigmoidFit(c=0.6, d=0.25, gamma=-4.0, l=2.0, n_points=10, cost=0.0, converged=True)
    inv = f.inverse([0.1, 0.25, 0.5, 0.85, 0.95])
    assert inv.status.tolist() == ["below_range", "below_range", "ok", "above_range", "above_range"]
    assert np.isposinf(inv.loss[0]) and np.isposinf(inv.loss[1])
    assert np.isneginf(inv.loss[3]) and np.isneginf(inv.loss[4])
    assert np.isfinite(inv.loss[2])
    assert not np.isnan(inv.loss).any()
    with pytest.raises(DensingInputError, match="not finite"):
        f.inverse([0.5, np.nan])


def test_bad_input():
    with pytest.raises(DensingInputError, match="too few"):
        fit_sigmoid([1, 2, 3], [0.5, 0.4, 0.3])
    with pytest.raises(DensingInputError, match="row 2"):
        fit_sigmoid([1, np.nan, 3, 4, 5, 6], [0.9, 0.8, 0.7, 0.5, 0.4, 0.3])
    with pytest.raises(DensingInputError, match="all losses are equal"):
        fit_sigmoid([2.0] * 6, [0.9, 0.8, 0.7, 0.5, 0.4, 0.3])


def test_summary_and_dict():
    L, S = _data(5)
    f = fit_sigmoid(L, S)
    assert "gamma" in f.summary()
    d = f.to_dict()
    assert set(d["params"]) == {"c", "d", "gamma", "l"}


def test_bootstrap_is_reproducible_and_warm_start_agrees():
    L, S = _data(6, n=40)
    spec = BootstrapSpec(n_resamples=40, seed=3, n_jobs=1)
    a = bootstrap_sigmoid(L, S, spec)
    b = bootstrap_sigmoid(L, S, spec)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.n_failed == 0
    warm = bootstrap_sigmoid(L, S, BootstrapSpec(n_resamples=40, seed=3, n_jobs=1, warm_start=True))
    np.testing.assert_allclose(warm.samples, a.samples, rtol=1e-3, atol=1e-4)
    lo, hi = a.intervals["l"]
    assert lo < a.fit.l < hi
    inv = a.inverse_samples([0.5, 0.99])
    assert inv.loss.shape == (40, 2)
    assert np.all(inv.status[:, 1] == "above_range")
    assert "95% lo" in a.summary()


def test_bootstrap_groups():
    L, S = _data(7, n=40)
    groups = np.repeat(np.arange(10), 4)
    r = bootstrap_sigmoid(L, S, BootstrapSpec(n_resamples=20, seed=1, n_jobs=1), groups=groups)
    assert r.samples.shape == (20, 4)


def test_bootstrap_interval_coverage_sanity():
    """Reduced coverage check: the 90% interval for l covers the truth in most of 30 datasets."""
    hits = 0
    n_sim = 30
    for k in range(n_sim):
        L, S = _data(100 + k, n=30, noise=0.02)
        r = bootstrap_sigmoid(
            L, S, BootstrapSpec(n_resamples=60, seed=k, n_jobs=1, level=0.9, warm_start=True)
        )
        lo, hi = r.intervals["l"]
        hits += lo <= TRUE["l"] <= hi
    assert 0.7 * n_sim <= hits <= n_sim

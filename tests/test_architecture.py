"""The seams of the design (Frame protocol, registries, one vocabulary) and the defects fixed
while building them; each defect test failed on the code before the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import densing.scoreframe._solver as solver
from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.frames import Frame, frame_from_dict, load_frame, register_frame_kind
from densing.laws import LawForm, Term, get_form, register_form
from densing.lossframe import fit_loss_frame
from densing.scoreframe import bootstrap_score_frame, fit_score_frame
from densing.sigmoid import sigmoid_value
from densing.units import DAYS_PER_MONTH

SRC = Path(__file__).resolve().parents[1] / "src" / "densing"


def _score_data(seed: int = 0, n_other: int = 12):
    rng = np.random.default_rng(seed)
    sizes = np.array([0.1, 0.3, 1.0, 3.0, 10.0]) * 1e9
    theta = np.r_[(sizes / 1e9) ** -0.35, rng.uniform(0.2, 2.0, n_other)]
    ids = [f"r{i}" for i in range(sizes.size)] + [f"m{i}" for i in range(n_other)]
    models = pd.DataFrame(
        {
            "id": ids,
            "family": ["Ref"] * sizes.size + ["Other"] * n_other,
            "params": np.r_[sizes, rng.uniform(1, 20, n_other) * 1e9],
        }
    )
    sig = {"mmlu": (0.7, 0.25, -5.0, 1.0), "arc_challenge": (0.6, 0.2, -3.0, 1.2)}
    scores = pd.DataFrame(
        {
            b: np.clip(sigmoid_value(theta, *p) + rng.normal(0, 0.01, theta.size), 0, 1)
            for b, p in sig.items()
        },
        index=ids,
    )
    return models, scores


@pytest.fixture(scope="module")
def score_frame():
    models, scores = _score_data()
    return fit_score_frame(
        models, scores, reference_family="Ref",
        bootstrap=BootstrapSpec(n_resamples=12, seed=None, warm_start=True, n_jobs=1),
    )  # fmt: skip


def test_ftol_reaches_the_solver(monkeypatch, score_frame):
    """Defect: the joint solver passed a hard-coded ftol=1e-7 to least_squares."""
    seen = []
    real = solver.least_squares

    def spy(*args: Any, **kwargs: Any):
        seen.append(kwargs.get("ftol"))
        return real(*args, **kwargs)

    monkeypatch.setattr(solver, "least_squares", spy)
    prob = score_frame.problem()
    start = solver._initial(prob, 0.3, 0.0)
    solver.joint(prob, start, ftol=1e-3, max_nfev=5)
    assert seen[-1] == 1e-3


def test_warm_replicates_keep_a_fixed_alpha():
    """Defect: warm-started replicates let a user-fixed alpha move."""
    models, scores = _score_data(1)
    fr = fit_score_frame(
        models, scores, reference_family="Ref", alpha=0.4,
        bootstrap=BootstrapSpec(n_resamples=6, seed=0, warm_start=True, n_jobs=1),
    )  # fmt: skip
    assert np.allclose(fr.replicates.alpha, 0.4, rtol=1e-6)


def test_score_frame_targets_accept_metadata_columns(score_frame):
    """Defect: a `source` column was refused under a score frame, accepted under a loss frame."""
    t = pd.DataFrame(
        {
            "model": ["x"],
            "params": [2e9],
            "mmlu": [0.6],
            "arc_challenge": [0.5],
            "source": ["our report"],
            "release_date": ["2025-01-01"],
            "tokens": [1e12],
        }
    )
    out = score_frame.density(t)
    assert out["status"].iloc[0] in ("ok", "extrapolated")


def test_bootstrap_takes_the_frame_not_stray_tables(score_frame):
    """Defect: bootstrap_score_frame silently ignored models/scores/kwargs when frame= was given."""
    with pytest.raises(TypeError):
        bootstrap_score_frame(score_frame, BootstrapSpec(3, n_jobs=1), models=pd.DataFrame())  # type: ignore[call-arg]
    b = bootstrap_score_frame(score_frame, BootstrapSpec(3, seed=1, n_jobs=1, warm_start=True))
    assert b.n_resamples == 3 and b.replicates.effective_params.shape == (
        3,
        len(score_frame.models),
    )


def test_unseeded_bootstrap_draws_fresh_residuals(score_frame):
    """Defect: seed=None behaved like seed 0 when predicting new targets."""
    t = pd.DataFrame({"model": ["x"], "params": [2e9], "mmlu": [0.6], "arc_challenge": [0.5]})
    a = score_frame.density(t)["effective_params_hi"].iloc[0]
    draws = {score_frame.density(t)["effective_params_hi"].iloc[0] for _ in range(4)}
    assert len(draws | {a}) > 1


def test_custom_law_form_survives_a_frame_file(tmp_path):
    """Defect: a loss frame with a custom LawForm saved only its name and could not be used."""
    form = LawForm("shifted-n", (Term("E"), Term("K", "kappa", "N")), "L = E + K·N^-kappa")
    rng = np.random.default_rng(0)
    N = np.geomspace(1e8, 3e10, 10)
    ref = pd.DataFrame(
        {"model": [f"r{i}" for i in range(10)], "params": N, "benchmark": "mmlu",
         "loss": (1.2 + 300 * N**-0.3) * np.exp(rng.normal(0, 0.005, 10))}
    )  # fmt: skip
    L = np.linspace(1.3, 3.0, 20)
    cal = pd.DataFrame(
        {"model": [f"c{i}" for i in range(20)], "benchmark": "mmlu", "loss": L,
         "score": sigmoid_value(L, 0.7, 0.25, -5.0, 2.0)}
    )  # fmt: skip
    frame = fit_loss_frame(ref, cal, form=form)
    path = frame.to_json(tmp_path / "f.json")
    assert isinstance(path, Path)
    back = load_frame(path)
    t = pd.DataFrame({"model": ["x"], "params": [1e9], "benchmark": ["mmlu"], "score": [0.6]})
    pd.testing.assert_frame_equal(back.density(t), frame.density(t))
    assert back.form == form


def test_register_form_refuses_a_clash():
    register_form(LawForm("test-form", (Term("A", "a", "N"),), "L = A·N^-a"))
    assert get_form("test-form").param_names == ("A", "a")
    with pytest.raises(DensingInputError, match="already registered"):
        register_form(LawForm("test-form", (Term("E"), Term("A", "a", "N")), "other"))
    with pytest.raises(DensingInputError, match="exponent"):
        LawForm.from_dict({"name": "bad", "terms": [{"coef": "A", "var": "N"}]})


def test_one_days_per_month():
    """Defect: 30.44 in five places and 365.25/12 in another; now one constant."""
    assert pytest.approx(365.25 / 12) == DAYS_PER_MONTH
    hits = []
    for p in SRC.rglob("*.py"):
        if p.name == "units.py":
            continue
        text = p.read_text()
        if re.search(r"30\.44|365\.25\s*/\s*12", text):
            hits.append(str(p))
    assert hits == []


def test_frames_implement_the_protocol_and_round_trip(score_frame, tmp_path):
    assert isinstance(score_frame, Frame)
    back = load_frame(score_frame.to_json(tmp_path / "s.json"))
    assert isinstance(back, Frame) and back.kind == "score-frame"
    t = pd.DataFrame({"model": ["x"], "params": [2e9], "mmlu": [0.6], "arc_challenge": [0.5]})
    assert back.density(t)["effective_params"].iloc[0] == pytest.approx(
        score_frame.density(t)["effective_params"].iloc[0]
    )
    assert isinstance(back.describe(), str) and isinstance(back.summary(), str)
    ci = back.conf_int(0.9)
    assert list(ci.columns) == ["estimate", "lower", "upper"] and "alpha" in ci.index


def test_a_new_frame_kind_is_one_class_and_one_line():
    @dataclass(frozen=True)
    class ConstantFrame:
        kind: ClassVar[str] = "constant-frame"
        rho: float
        level: float = 0.95

        @property
        def benchmarks(self) -> tuple[str, ...]:
            return ("mmlu",)

        @property
        def n_resamples(self) -> int:
            return 0

        def density(self, targets, *, level=None):  # noqa: ARG002
            return pd.DataFrame({"model": targets["model"], "density_active": self.rho})

        def describe(self) -> str:
            return f"constant {self.rho}"

        def summary(self) -> str:
            return self.describe()

        def conf_int(self, level=None):  # noqa: ARG002
            return pd.DataFrame()

        def to_dict(self):
            return {"kind": self.kind, "rho": self.rho}

        @classmethod
        def from_dict(cls, d, *, file=None):  # noqa: ARG003
            return cls(float(d["rho"]))

        def to_json(self, path):
            return Path(path)

    register_frame_kind("constant-frame", ConstantFrame)
    fr = frame_from_dict({"kind": "constant-frame", "rho": 2.0})
    assert isinstance(fr, Frame)
    assert fr.density(pd.DataFrame({"model": ["a"]}))["density_active"].iloc[0] == 2.0
    with pytest.raises(DensingInputError, match="unknown frame kind 'nope'"):
        frame_from_dict({"kind": "nope"})


def test_trend_result_round_trips_with_its_replicates(tmp_path):
    import datetime as dt

    from densing.trend import TrendResult, bootstrap_trend

    rng = np.random.default_rng(0)
    days = np.sort(rng.integers(0, 800, 40))
    res = bootstrap_trend(
        [f"m{i}" for i in range(40)],
        [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in days],
        np.exp(0.004 * days + rng.normal(0, 0.3, 40)),
        BootstrapSpec(50, seed=0),
        breakpoint="2023-06-01",
    )
    back = TrendResult.from_json(res.to_json(tmp_path / "t.json"))
    pd.testing.assert_frame_equal(back.conf_int(), res.conf_int())
    assert back.to_dict() == res.to_dict() and back.forecast_date(5.0) == res.forecast_date(5.0)

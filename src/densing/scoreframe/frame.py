"""A fitted score-mode frame (a :class:`~densing.frames.Frame`): results, densities, files."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.density import log_interval
from densing.errors import DensingInputError
from densing.formatting import fmt_num
from densing.results import JsonResult, conf_int_table
from densing.scoreframe._bootstrap import ReplicateFit, ScoreReplicates, residual_scores
from densing.scoreframe._kernels import item_scores
from densing.scoreframe._law import PARAM_UNIT, ReferenceLaw, invert
from densing.scoreframe._solver import Problem, theta_given_sigmoids
from densing.sigmoid import sigmoid_inverse
from densing.status import Status
from densing.targets import density_columns, parse_targets, targets_wide

FORMAT_VERSION = 2
KIND = "score-frame"


@dataclass(frozen=True)
class ScoreFrame(JsonResult):
    """One latent capability θ per model, one sigmoid per item, the reference family's law.

    ``models``: id, family, params, active_params, tokens, is_reference, in_fit, n_benchmarks,
    theta_fit (the fitted θ, law-tied for reference members) and theta (each model's own θ̂
    from its own scores under the fitted sigmoids). ``scores``: wide, index id, NaN = missing.
    ``replicates``: the bootstrap (None: point estimates only).
    """

    kind: ClassVar[str] = KIND

    reference_family: str
    law: ReferenceLaw
    items: tuple[str, ...]
    sigmoids: pd.DataFrame  # index item; l, gamma, c, d, floor_fixed, r2, n
    models: pd.DataFrame
    scores: pd.DataFrame
    theta_bounds: tuple[float, float]
    min_benchmarks: int
    f_scale: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    alpha_fixed: bool = False
    replicates: ScoreReplicates | None = None
    level: float = 0.95
    item_info: pd.DataFrame | None = None  # stitched frames: one row per item (items.py)

    # ---- Frame protocol ---------------------------------------------------------------------
    @property
    def benchmarks(self) -> tuple[str, ...]:
        return self.items

    @property
    def n_resamples(self) -> int:
        return 0 if self.replicates is None else self.replicates.n_resamples

    # ---- the law ----------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return self.law.alpha

    @property
    def d0_note(self) -> str:
        return self.law.d0_note

    @property
    def reference_members(self) -> list[str]:
        m = self.models
        return m.loc[m["is_reference"] & m["in_fit"], "id"].tolist()

    @property
    def reference_theta_range(self) -> tuple[float, float]:
        ref = self.models[self.models["is_reference"] & self.models["in_fit"]]
        th = self.law.theta(ref["params"].to_numpy(float))
        return float(th.min()), float(th.max())

    def law_theta(self, params: Any) -> np.ndarray:
        """θ of a reference-family model of ``params`` parameters at D0."""
        return self.law.theta(params)

    def invert(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        """θ → (effective params, status); ``extrapolated`` outside the reference θ range."""
        th = np.atleast_1d(np.asarray(theta, dtype=float))
        n_hat, status = invert(self.law, th, self.theta_bounds)
        lo, hi = self.reference_theta_range
        outside = (status == Status.OK) & ((th < lo) | (th > hi))
        return n_hat, np.where(outside, Status.EXTRAPOLATED, status).astype(object)

    # ---- scores ↔ θ -----------------------------------------------------------------------
    def sig_array(self) -> np.ndarray:
        s = self.sigmoids
        return np.c_[s["l"], np.log(-s["gamma"]), s["c"] / (1 - s["d"]), s["d"]].astype(float)

    def problem(self) -> Problem:
        """The fitting problem of the in-fit models (for the bootstrap)."""
        m = self.models
        fit = m["in_fit"].to_numpy(bool)
        return Problem.build(
            self.scores.to_numpy(float)[fit],
            m["is_reference"].to_numpy(bool)[fit],
            m["params"].to_numpy(float)[fit],
            m["tokens"].to_numpy(float)[fit],
            np.where(self.sigmoids["floor_fixed"].to_numpy(bool), self.sigmoids["d"], np.nan),
            self.law.with_tokens,
            self.law.beta,
            self.f_scale,
            self.law.alpha if self.alpha_fixed else None,
        )

    def predict_scores(self, theta: Any) -> pd.DataFrame:
        """Predicted score on every item for each θ (rows): the fitted sigmoids."""
        th = np.atleast_1d(np.asarray(theta, dtype=float))
        return pd.DataFrame(item_scores(th, self.sig_array()), columns=list(self.items))

    def _score_matrix(self, wide: pd.DataFrame) -> np.ndarray:
        """Rows of scores (wide; columns = items) as an (n × B) matrix in item order."""
        unknown = [c for c in wide.columns if c not in self.items]
        if unknown:
            raise DensingInputError(
                f"unknown benchmark '{unknown[0]}'; this frame knows {list(self.items)}",
                file=wide.attrs.get("source"),
                column=str(unknown[0]),
            )
        Y = np.full((len(wide), len(self.items)), np.nan)
        for j, b in enumerate(self.items):
            if b in wide.columns:
                Y[:, j] = pd.to_numeric(wide[b], errors="coerce").to_numpy(float)
        fin = Y[np.isfinite(Y)]
        if fin.size and (fin.max() > 1 or fin.min() < 0):
            raise DensingInputError(
                "scores must be fractions in [0, 1]", file=wide.attrs.get("source")
            )
        return Y

    def theta_from_scores(self, wide: pd.DataFrame) -> pd.DataFrame:
        """Each row's own θ̂ under the fitted sigmoids (rows need ≥ min_benchmarks scores)."""
        Y = self._score_matrix(wide)
        n_obs = (~np.isnan(Y)).sum(axis=1)
        ok = n_obs >= self.min_benchmarks
        th = np.full(len(wide), np.nan)
        if ok.any():
            th[ok] = theta_given_sigmoids(Y[ok], self.sig_array(), self.theta_bounds, self.f_scale)
        return pd.DataFrame(
            {"model": [str(i) for i in wide.index], "theta": th, "n_benchmarks": n_obs}
        )

    def effective_params(self, wide: pd.DataFrame) -> pd.DataFrame:
        """Point N̂ and status for rows of scores (wide, index = model): no sizes needed."""
        out = self.theta_from_scores(wide)
        n_hat, status = self.invert(out["theta"].to_numpy(float))
        out["effective_params"] = n_hat
        out["status"] = status.astype(str)
        return out

    def residual_pools(self) -> list[np.ndarray]:
        """Per item: residuals of the fitted models' scores at their own θ̂, each scaled by
        √(k / (k − 1)) for a model with k scores: its own θ̂ was fitted on those k scores, so
        raw residuals understate the noise of a new score (most for models with 2 scores)."""
        m = self.models
        fit = m["in_fit"].to_numpy(bool)
        Y = self.scores.to_numpy(float)[fit]
        R = Y - self.predict_scores(m["theta"].to_numpy(float)[fit]).to_numpy()
        k = (~np.isnan(Y)).sum(axis=1).astype(float)
        R = R * np.sqrt(k / np.maximum(k - 1.0, 1.0))[:, None]
        return [R[~np.isnan(R[:, b]), b] for b in range(Y.shape[1])]

    @cached_property
    def residuals(self) -> pd.DataFrame:
        """id, benchmark, observed, predicted (at the fitted θ), residual of every fitted cell."""
        m = self.models.set_index("id")
        fit_ids = set(m.index[m["in_fit"].astype(bool)])
        sc = self.scores.loc[[i for i in self.scores.index if i in fit_ids]]
        pred = self.predict_scores(m.loc[sc.index, "theta_fit"].to_numpy(float)).to_numpy()
        obs = sc.to_numpy(float)
        ii, jj = np.nonzero(~np.isnan(obs))
        res = pd.DataFrame(
            {
                "id": sc.index[ii],
                "benchmark": np.array(self.items)[jj],
                "observed": obs[ii, jj],
                "predicted": pred[ii, jj],
            }
        )
        res["residual"] = res["observed"] - res["predicted"]
        return res

    # ---- densities ---------------------------------------------------------------------------
    def densities(self, level: float | None = None) -> pd.DataFrame:
        """One row per frame model: θ̂, N̂ and densities with intervals (NaN without replicates)."""
        m = self.models
        n_hat, status = self.invert(m["theta"].to_numpy(float))
        lo = hi = np.full(len(m), np.nan)
        if self.replicates is not None:
            lo, hi = log_interval(self.replicates.effective_params, level or self.level, axis=0)
        params, active = m["params"].to_numpy(float), m["active_params"].to_numpy(float)
        out = pd.DataFrame(
            {
                "model": m["id"],
                "family": m["family"],
                "params": params,
                "active_params": active,
                "theta": m["theta"],
                "effective_params": n_hat,
                "effective_params_lo": lo,
                "effective_params_hi": hi,
                **density_columns(n_hat, lo, hi, params, active),
                "status": status.astype(str),
                "n_benchmarks": m["n_benchmarks"],
            }
        )
        return out.reset_index(drop=True)

    def benchmark_densities(self) -> pd.DataFrame:
        """Per-item effective params: each observed score inverted through its sigmoid alone."""
        out = []
        m = self.models.set_index("id")
        for b in self.items:
            col = self.scores[b]
            col = col[col.notna()]
            s = self.sigmoids.loc[b]
            th, st = sigmoid_inverse(col.to_numpy(float), s["c"], s["d"], s["gamma"], s["l"])
            n_hat, status = self.invert(th)
            n_hat = np.where(
                st == Status.ABOVE_RANGE, np.inf, np.where(st == Status.BELOW_RANGE, 0.0, n_hat)
            )
            status = np.where(st != Status.OK, st, status)
            act = m.loc[col.index, "active_params"].to_numpy(float)
            tot = m.loc[col.index, "params"].to_numpy(float)
            out.append(
                pd.DataFrame(
                    {
                        "model": col.index,
                        "benchmark": b,
                        "score": col.to_numpy(float),
                        "theta": np.where(np.isfinite(th), th, np.nan),
                        "effective_params": n_hat,
                        "density_active": n_hat / act,
                        "density_total": n_hat / tot,
                        "status": status.astype(str),
                    }
                )
            )
        return pd.concat(out, ignore_index=True)

    def _replicate_effective(self, Y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """(B, n) N̂ of new rows under every replicate (residual-bootstrapped own scores)."""
        reps = self.replicates
        assert reps is not None
        out = np.full((reps.n_resamples, Y.shape[0]), np.nan)
        pools = self.residual_pools()
        pred = self.predict_scores(theta).to_numpy()
        root = np.random.SeedSequence(None if reps.seed is None else [reps.seed, 7])
        for i, (rf, ss) in enumerate(zip(reps.fits, root.spawn(reps.n_resamples), strict=True)):
            if rf is None:
                continue
            Yown = (
                residual_scores(np.random.default_rng(ss), Y, pred, pools)
                if reps.resample_cells
                else Y
            )
            th = theta_given_sigmoids(Yown, rf.sig, rf.theta_bounds, self.f_scale)
            out[i], _ = invert(
                self.law, th, rf.theta_bounds, alpha=rf.alpha, token_coef=rf.token_coef
            )
        return out

    def predict_cells(
        self, cells: pd.DataFrame, *, level: float | None = None, seed: int | None = 0
    ) -> pd.DataFrame:
        """Predicted scores of (model, item) cells the frame did not see, with predictive
        intervals.

        ``cells``: columns ``model`` (a model of the frame, with ≥ min_benchmarks other scores)
        and ``item``. The point prediction is the item's sigmoid at the model's own θ̂. The
        interval is the percentile interval over replicates of that prediction under the
        replicate's refitted frame (θ̂ refitted from residual-bootstrap scores) plus a residual
        drawn from the item's residual pool, so it covers a new observation, not the mean.
        """
        m = self.models.set_index("id")
        missing = [x for x in cells["model"] if x not in m.index]
        if missing:
            raise DensingInputError(f"model '{missing[0]}' is not in this frame")
        col = {b: j for j, b in enumerate(self.items)}
        j = np.array([col[i] for i in cells["item"]])
        theta = m.loc[cells["model"], "theta"].to_numpy(float)
        point = item_scores(theta, self.sig_array())[np.arange(len(cells)), j]
        lo = hi = np.full(len(cells), np.nan)
        if self.replicates is not None:
            reps = self._replicate_cells(cells["model"].to_numpy(), j, seed)
            a = (1 - (level or self.level)) / 2
            lo, hi = np.nanquantile(reps, [a, 1 - a], axis=0)
        return cells.assign(predicted=point, lo=lo, hi=hi)

    def _replicate_cells(self, models: np.ndarray, j: np.ndarray, seed: int | None) -> np.ndarray:
        reps = self.replicates
        assert reps is not None
        uniq = list(dict.fromkeys(models))
        Y = self.scores.loc[uniq].to_numpy(float)
        theta = self.models.set_index("id").loc[uniq, "theta"].to_numpy(float)
        pools, pred = self.residual_pools(), self.predict_scores(theta).to_numpy()
        where = np.array([uniq.index(x) for x in models])
        draws = 10  # new-score noise draws per replicate (smooth percentiles from few replicates)
        out = np.full((reps.n_resamples, draws, len(models)), np.nan)
        root = np.random.SeedSequence(seed)
        for i, (rf, ss) in enumerate(zip(reps.fits, root.spawn(reps.n_resamples), strict=True)):
            if rf is None:
                continue
            rng = np.random.default_rng(ss)
            Yown = residual_scores(rng, Y, pred, pools) if reps.resample_cells else Y
            th = theta_given_sigmoids(Yown, rf.sig, rf.theta_bounds, self.f_scale)
            s = item_scores(th, rf.sig)[where, j]
            noise = np.stack(
                [rng.choice(pools[k], draws) if pools[k].size else np.zeros(draws) for k in j],
                axis=1,
            )
            out[i] = np.clip(s[None, :] + noise, 0.0, 1.0)
        return out.reshape(-1, len(models))

    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """One aggregate row per target model: θ̂, N̂ and densities with intervals, status."""
        long = parse_targets(targets, self.items)
        wide, params, active = targets_wide(long, self.items)
        point = self.theta_from_scores(wide)
        theta = point["theta"].to_numpy(float)
        n_hat, status = self.invert(theta)
        lo = hi = np.full(len(wide), np.nan)
        ok = point["n_benchmarks"].to_numpy() >= self.min_benchmarks
        if self.replicates is not None and ok.any():
            reps = np.full((self.n_resamples, len(wide)), np.nan)
            reps[:, ok] = self._replicate_effective(self._score_matrix(wide)[ok], theta[ok])
            lo, hi = log_interval(reps, level or self.level, axis=0)
        return pd.DataFrame(
            {
                "model": point["model"],
                "benchmark": "aggregate",
                "params": params,
                "active_params": active,
                "theta": theta,
                "n_benchmarks": point["n_benchmarks"],
                "effective_params": n_hat,
                "effective_params_lo": lo,
                "effective_params_hi": hi,
                **density_columns(n_hat, lo, hi, params, active),
                "status": status.astype(str),
            }
        )

    # ---- results vocabulary ------------------------------------------------------------------
    def _param_samples(self) -> tuple[dict[str, float], dict[str, np.ndarray] | None]:
        est: dict[str, float] = {"alpha": self.law.alpha}
        if self.law.with_tokens:
            est["token_coef"] = self.law.token_coef
        for b in self.items:
            for k in ("l", "gamma", "c", "d"):
                est[f"{b}.{k}"] = float(self.sigmoids[k].to_numpy(float)[self.items.index(b)])
        if self.replicates is None:
            return est, None
        fits = self.replicates.fits
        nan4 = np.full((len(self.items), 4), np.nan)
        sig = np.stack([nan4 if f is None else f.sig for f in fits])  # (B, items, 4)
        samples = {"alpha": self.replicates.alpha}
        if self.law.with_tokens:
            samples["token_coef"] = np.array([np.nan if f is None else f.token_coef for f in fits])
        for j, b in enumerate(self.items):
            u, d = sig[:, j, 2], sig[:, j, 3]
            samples[f"{b}.l"], samples[f"{b}.d"] = sig[:, j, 0], d
            samples[f"{b}.gamma"], samples[f"{b}.c"] = -np.exp(sig[:, j, 1]), u * (1 - d)
        return est, samples

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """The law exponent and every item's sigmoid parameters with percentile intervals."""
        est, samples = self._param_samples()
        return conf_int_table(est, samples, level or self.level)

    def describe(self) -> str:
        lo, hi = self.reference_theta_range
        boot = (
            f"{self.n_resamples} bootstrap replicates ({self.level:.0%} intervals)"
            if self.replicates is not None
            else "no bootstrap (point estimates only)"
        )
        return (
            f"score-mode frame: reference {self.reference_family} "
            f"({len(self.reference_members)} members; {self.law.kind}, {self.law.d0_note}); "
            f"alpha {fmt_num(self.law.alpha)}; {len(self.items)} items "
            f"({', '.join(self.items)}); reference theta range [{fmt_num(lo)}, {fmt_num(hi)}]; {boot}"
        )

    def summary(self) -> str:
        ci = self.conf_int()
        a = ci.loc["alpha"]
        lines = [
            self.describe(),
            f"  law: {self.law.formula}; alpha {fmt_num(a['estimate'])} "
            f"[{fmt_num(a['lower'])}, {fmt_num(a['upper'])}]",
            f"  models fitted: {int(self.models['in_fit'].sum())} of {len(self.models)}; "
            f"cells: {len(self.residuals)}; loss soft_l1 (f_scale {self.f_scale})",
            f"  {'item':<24}{'l':>9}{'gamma':>9}{'c':>8}{'d':>8}{'fixed d':>9}{'R2':>7}{'n':>6}",
        ]
        for b in self.items:
            s = self.sigmoids.loc[b]
            lines.append(
                f"  {b:<24}{s['l']:>9.3f}{s['gamma']:>9.3f}{s['c']:>8.3f}{s['d']:>8.3f}"
                f"{'yes' if s['floor_fixed'] else 'no':>9}{s['r2']:>7.3f}{s['n']:>6.0f}"
            )
        counts = self.densities()["status"].value_counts().to_dict()
        lines.append("  statuses: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return "\n".join(lines)

    def metadata(self) -> dict[str, Any]:
        """What the frame is (without its data tables): for reports and ``--json`` output."""
        lo, hi = self.reference_theta_range
        return to_jsonable(
            {
                "kind": self.kind,
                "mode": "score",
                "format_version": FORMAT_VERSION,
                "reference_family": self.reference_family,
                "reference_members": self.reference_members,
                **self.law.to_dict(),
                "alpha_fixed": self.alpha_fixed,
                "theta_floor": self.law.theta_floor,
                "reference_theta_range": [lo, hi],
                "theta_bounds": list(self.theta_bounds),
                "benchmarks": list(self.items),
                "aggregate": "joint theta over all observed items of the model (robust soft_l1)",
                "n_models": len(self.models),
                "n_models_fitted": int(self.models["in_fit"].sum()),
                "min_benchmarks": self.min_benchmarks,
                "loss": f"soft_l1, f_scale={self.f_scale}",
                "level": self.level,
                "n_resamples": self.n_resamples,
                "diagnostics": self.diagnostics,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        from densing.scoreframe._persist import frame_to_dict

        return frame_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> ScoreFrame:
        from densing.scoreframe._persist import frame_from_dict

        return frame_from_dict(d, file=file, cls=cls)


__all__ = ["FORMAT_VERSION", "KIND", "PARAM_UNIT", "ReplicateFit", "ScoreFrame"]

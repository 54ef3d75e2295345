"""A fitted loss-mode frame (a :class:`~densing.frames.Frame`): per benchmark a loss law and a
loss → score sigmoid, inverted at a token budget ``D0``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.density import (
    aggregate_effective_params,
    effective_params,
    estimate_density,
    log_interval,
)
from densing.errors import DensingInputError
from densing.laws import LawForm, get_form
from densing.lossframe._predict import parse_predict_targets, predict_rows
from densing.lossframe._predictive import ErrorModel
from densing.results import JsonResult, conf_int_table
from densing.sigmoid import SigmoidFit, sigmoid_inverse
from densing.status import Status
from densing.targets import density_columns, parse_targets

FORMAT_VERSION = 3
KIND = "loss-frame"
AGGREGATE = "aggregate"


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _arr(v: Any) -> np.ndarray | None:
    if v is None:
        return None
    return np.array([[_f(x) for x in row] for row in v], dtype=float)


def _sigmoid_from_dict(sg: dict[str, Any]) -> SigmoidFit:
    p = sg["params"]
    return SigmoidFit(
        c=float(p["c"]),
        d=float(p["d"]),
        gamma=float(p["gamma"]),
        l=float(p["l"]),
        n_points=int(sg["n_points"]),
        cost=_f(sg.get("cost")),
        converged=bool(sg.get("converged", True)),
        loss_fn=sg.get("loss_fn", "soft_l1"),
        f_scale=float(sg.get("f_scale", 0.05)),
        floor=None if sg.get("floor") is None else float(sg["floor"]),
        fractional=bool(sg.get("fractional", True)),
        message=sg.get("message", ""),
        ceiling=None if sg.get("ceiling") is None else float(sg["ceiling"]),
        at_bound=tuple(sg.get("at_bound") or ()),
    )


def _error_model(d: dict[str, Any] | None) -> ErrorModel | None:
    return None if d is None else ErrorModel.from_dict(d)


@dataclass(frozen=True)
class BenchmarkFrame:
    """One benchmark's loss law and sigmoid (with bootstrap replicates if any).

    ``reference_box``: the (N, D) range of the reference runs; ``calibration_range``: the loss
    range of the calibration points; ``law_error`` / ``sigmoid_error``: the out-of-sample error
    models of the predictive intervals (None when the data cannot measure them);
    ``few_sizes_share``: the share of bootstrap replicates of the law holding fewer than 4
    distinct reference sizes; ``notes``: what a reader of the fit must know.
    """

    benchmark: str
    law_params: dict[str, float]
    sigmoid: SigmoidFit
    law_objective_value: float
    law_n_points: int
    law_convergence: dict[str, Any]
    n_reference_models: int
    n_calibration: int
    law_samples: np.ndarray | None = field(default=None, repr=False)  # B × p
    sigmoid_samples: np.ndarray | None = field(default=None, repr=False)  # B × 4 (c, d, γ, l)
    n_reference_checkpoints: int = 0
    n_calibration_runs: int = 0
    reference_box: dict[str, list[float]] = field(default_factory=dict)
    calibration_range: tuple[float, float] = (float("nan"), float("nan"))
    law_error: ErrorModel | None = None
    sigmoid_error: ErrorModel | None = None
    few_sizes_share: float = float("nan")
    notes: tuple[str, ...] = ()

    @property
    def n_resamples(self) -> int:
        return 0 if self.law_samples is None else int(self.law_samples.shape[0])

    def replicate_law_params(self, form: LawForm) -> dict[str, np.ndarray]:
        """Law parameters as (B, 1) arrays, ready to broadcast against targets."""
        assert self.law_samples is not None
        return {n: self.law_samples[:, j, None] for j, n in enumerate(form.param_names)}

    def samples(self, form: LawForm) -> dict[str, np.ndarray]:
        """Replicate values of every law and sigmoid parameter (empty without a bootstrap)."""
        if self.law_samples is None or self.sigmoid_samples is None:
            return {}
        out = {n: self.law_samples[:, j] for j, n in enumerate(form.param_names)}
        out.update({n: self.sigmoid_samples[:, j] for j, n in enumerate(("c", "d", "gamma", "l"))})
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "benchmark": self.benchmark,
            "law": {
                "params": dict(self.law_params),
                "objective_value": self.law_objective_value,
                "n_points": self.law_n_points,
                "convergence": self.law_convergence,
            },
            "sigmoid": self.sigmoid.to_dict(),
            "n_reference_models": self.n_reference_models,
            "n_reference_checkpoints": self.n_reference_checkpoints,
            "n_calibration": self.n_calibration,
            "n_calibration_runs": self.n_calibration_runs,
            "reference_box": self.reference_box,
            "calibration_range": list(self.calibration_range),
            "predictive": {
                "law": None if self.law_error is None else self.law_error.to_dict(),
                "sigmoid": None if self.sigmoid_error is None else self.sigmoid_error.to_dict(),
            },
            "few_sizes_share": self.few_sizes_share,
            "notes": list(self.notes),
        }
        if self.law_samples is not None:
            out["law_samples"] = self.law_samples
            out["sigmoid_samples"] = self.sigmoid_samples
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkFrame:
        law = d["law"]
        pred = d.get("predictive") or {}
        return cls(
            benchmark=str(d["benchmark"]),
            law_params={k: float(v) for k, v in law["params"].items()},
            sigmoid=_sigmoid_from_dict(d["sigmoid"]),
            law_objective_value=_f(law.get("objective_value")),
            law_n_points=int(law.get("n_points", 0)),
            law_convergence=dict(law.get("convergence", {})),
            n_reference_models=int(d.get("n_reference_models", 0)),
            n_calibration=int(d.get("n_calibration", 0)),
            law_samples=_arr(d.get("law_samples")),
            sigmoid_samples=_arr(d.get("sigmoid_samples")),
            n_reference_checkpoints=int(d.get("n_reference_checkpoints", 0)),
            n_calibration_runs=int(d.get("n_calibration_runs", 0)),
            reference_box={k: [float(x) for x in v] for k, v in d["reference_box"].items()},
            calibration_range=tuple(_f(x) for x in d["calibration_range"]),  # type: ignore[arg-type]
            law_error=_error_model(pred.get("law")),
            sigmoid_error=_error_model(pred.get("sigmoid")),
            few_sizes_share=_f(d.get("few_sizes_share")),
            notes=tuple(str(n) for n in d.get("notes") or ()),
        )


@dataclass(frozen=True)
class _Placed:
    """Per benchmark × target point estimates and (B × ...) replicates."""

    nhat: np.ndarray  # (n_bench, n_models)
    status: np.ndarray
    rep_nhat: np.ndarray | None  # (n_bench, B, n_models)
    rep_status: np.ndarray | None


@dataclass(frozen=True)
class LossFrame(JsonResult):
    """A loss-mode reference frame: per-benchmark loss law + sigmoid, inverted at ``D0``."""

    kind: ClassVar[str] = KIND

    form: LawForm
    objective: str
    D0: float
    fits: tuple[BenchmarkFrame, ...]
    level: float = 0.95
    bootstrap: dict[str, Any] | None = None  # n_resamples, seed, units, warm_start
    sources: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Any] = field(default_factory=dict)  # CheckpointOptions.to_dict()
    notes: tuple[str, ...] = ()  # warnings raised while fitting (also in each benchmark)

    # ---- Frame protocol ---------------------------------------------------------------------
    @property
    def benchmarks(self) -> tuple[str, ...]:
        return tuple(f.benchmark for f in self.fits)

    @property
    def n_resamples(self) -> int:
        return min((f.n_resamples for f in self.fits), default=0)

    def fit_for(self, benchmark: str) -> BenchmarkFrame:
        for f in self.fits:
            if f.benchmark.lower() == benchmark.lower():
                return f
        raise DensingInputError(
            f"benchmark '{benchmark}' is not in the frame; the frame has {list(self.benchmarks)}"
        )

    # ---- density ----------------------------------------------------------------------------
    def _place(self, bf: BenchmarkFrame, S: np.ndarray, N: np.ndarray):
        """Point (N̂, status, loss) and replicate (N̂, status) of scores S under one benchmark."""
        has = np.isfinite(S)
        est = estimate_density(
            np.where(has, S, 0.5), N, law_form=self.form, law_params=bf.law_params,
            sigmoid=bf.sigmoid, D0=self.D0,
        )  # fmt: skip
        status = np.where(has, est.status, Status.NO_SCORE)
        nhat = np.where(has, est.effective_params, np.nan)
        loss = np.where(has, est.loss, np.nan)
        if not bf.n_resamples:
            return nhat, status, loss, None, None
        sp = bf.sigmoid_samples
        assert sp is not None
        loss_b, st_sig = sigmoid_inverse(S[None, :], *(sp[:, j, None] for j in range(4)))
        nh_b, st_law = effective_params(
            self.form, bf.replicate_law_params(self.form), loss_b, self.D0
        )
        st_b = np.where(st_sig != Status.OK, st_sig, st_law)
        return nhat, status, loss, np.where(has, nh_b, np.nan), np.where(has, st_b, Status.NO_SCORE)

    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """Effective parameters and densities of every target, per benchmark and aggregated.

        One row per (model, benchmark) plus one ``benchmark == "aggregate"`` row per model
        (geometric mean of ``N̂`` over the benchmarks with status ``ok``). A blank score in a
        wide table gives status ``no_score`` for that pair.
        """
        level = self.level if level is None else level
        t = parse_targets(targets, self.benchmarks)
        models = list(dict.fromkeys(t["model"]))
        midx = {m: i for i, m in enumerate(models)}
        first = t.drop_duplicates("model").set_index("model").loc[models]
        N_m, A_m = first["params"].to_numpy(float), first["active_params"].to_numpy(float)
        B, nb, nm = self.n_resamples, len(self.fits), len(models)
        point = np.full((nb, nm), np.nan)
        pstat = np.full((nb, nm), Status.NO_SCORE, dtype=object)
        rep = np.full((nb, B, nm), np.nan) if B else None
        rstat = np.full((nb, B, nm), Status.NO_SCORE, dtype=object) if B else None
        rows: list[dict[str, Any]] = []
        for k, bf in enumerate(self.fits):
            sub = t[t["benchmark"] == bf.benchmark]
            if sub.empty:
                continue
            cols = np.array([midx[m] for m in sub["model"]])
            S = sub["score"].to_numpy(float)
            nhat, status, loss, nh_b, st_b = self._place(bf, S, N_m[cols])
            point[k, cols], pstat[k, cols] = nhat, status
            lo = hi = np.full(S.shape, np.nan)
            if rep is not None and rstat is not None:
                rep[k][:, cols], rstat[k][:, cols] = nh_b, st_b
                lo, hi = log_interval(np.where(st_b == Status.FAILED, np.nan, nh_b), level, axis=0)
            rows += self._rows(
                [models[i] for i in cols], bf.benchmark, N_m[cols], A_m[cols], S, loss, nhat, lo, hi,
                status, (status == Status.OK).astype(int),
            )  # fmt: skip
        rows += self._aggregate_rows(models, N_m, A_m, point, pstat, rep, rstat, level)
        order = {b: k for k, b in enumerate((*self.benchmarks, AGGREGATE))}
        out = pd.DataFrame(rows)
        out["_m"], out["_b"] = out["model"].map(midx), out["benchmark"].map(order)
        return out.sort_values(["_m", "_b"]).drop(columns=["_m", "_b"]).reset_index(drop=True)

    def _aggregate_rows(self, models, N_m, A_m, point, pstat, rep, rstat, level):
        agg, agg_status = aggregate_effective_params(point, pstat, axis=0)
        n_ok = (pstat == Status.OK).sum(axis=0)
        lo = hi = np.full(len(models), np.nan)
        if rep is not None:
            agg_b, agg_st_b = aggregate_effective_params(rep, rstat, axis=0)
            agg_b = np.where(np.isin(agg_st_b, (Status.FAILED, Status.MIXED)), np.nan, agg_b)
            lo, hi = log_interval(agg_b, level, axis=0)
        nan = np.full(len(models), np.nan)
        return self._rows(models, AGGREGATE, N_m, A_m, nan, nan, agg, lo, hi, agg_status, n_ok)

    @staticmethod
    def _rows(models, bench, N, A, S, L, nhat, lo, hi, status, n_ok) -> list[dict[str, Any]]:
        dens = density_columns(nhat, lo, hi, N, A)
        return [
            {
                "model": m,
                "benchmark": bench,
                "params": float(N[j]),
                "active_params": float(A[j]),
                "score": float(S[j]),
                "loss": float(L[j]),
                "effective_params": float(nhat[j]),
                "effective_params_lo": float(lo[j]),
                "effective_params_hi": float(hi[j]),
                **{k: float(v[j]) for k, v in dens.items()},
                "n_benchmarks_ok": int(n_ok[j]),
                "status": str(status[j]),
            }
            for j, m in enumerate(models)
        ]

    # ---- predict ----------------------------------------------------------------------------
    def predict(
        self,
        N: float | np.ndarray,
        D: float | np.ndarray,
        level: float | None = None,
        *,
        names: list[str] | None = None,
    ) -> pd.DataFrame:
        """Predicted loss and score of planned models (N params, D tokens; scalars or arrays).

        One row per (model, benchmark), models in input order: ``loss`` from the law, ``score``
        = sigmoid(loss); ``*_lo`` / ``*_hi``: bootstrap percentile interval (NaN without a
        bootstrap); ``*_pred_lo`` / ``*_pred_hi``: predictive interval, which adds the
        out-of-sample error measured by leave-one-size-out (NaN when it could not be measured);
        the distance beyond the reference runs (``params_outside_decades``,
        ``tokens_outside_decades``) and beyond the calibration losses
        (``loss_outside_calibration``), and ``status`` ``extrapolated`` when any is > 0.
        ``names`` adds a first column ``name``.
        """
        level = self.level if level is None else level
        arrays = []
        for label, v in (("params", N), ("tokens", D)):
            a = np.atleast_1d(np.asarray(v, dtype=float))
            bad = np.flatnonzero(~np.isfinite(a) | (a <= 0))
            if bad.size:
                raise DensingInputError(f"{label} must be a finite number > 0, got {a[bad[0]]!r}")
            arrays.append(a)
        Na, Da = np.broadcast_arrays(*arrays)
        return predict_rows(self, Na.astype(float), Da.astype(float), level, names)

    def predict_targets(self, targets: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
        """:meth:`predict` for a table ``name`` (or ``model``), ``params``, ``tokens``."""
        names, N, D = parse_predict_targets(targets)
        return self.predict(N, D, level, names=names)

    # ---- results vocabulary ------------------------------------------------------------------
    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Every benchmark's law and sigmoid parameters (index ``bench.param``) with intervals.

        A parameter that is fixed (a floor, a ceiling) or held at a bound by active
        constraints, or whose replicates do not vary, has no interval: NaN bounds, and its
        name is listed in ``attrs["pinned"]`` (never a zero-width interval).
        """
        est: dict[str, float] = {}
        samples: dict[str, np.ndarray] = {}
        pinned: list[str] = []
        for bf in self.fits:
            est.update({f"{bf.benchmark}.{k}": v for k, v in bf.law_params.items()})
            est.update({f"{bf.benchmark}.{k}": v for k, v in bf.sigmoid.params.items()})
            samples.update({f"{bf.benchmark}.{k}": v for k, v in bf.samples(self.form).items()})
            pinned += [f"{bf.benchmark}.{k}" for k in bf.sigmoid.pinned]
        ci = conf_int_table(est, samples or None, level or self.level)
        flat = np.isclose(ci["lower"], ci["upper"], rtol=1e-12, atol=0.0)
        pinned += [n for n in ci.index[flat] if n not in pinned]
        ci.loc[pinned, ["lower", "upper"]] = np.nan
        ci.attrs["pinned"] = pinned
        return ci

    def describe(self) -> str:
        boot = self.bootstrap
        lines = [
            f"Loss frame: {self.form.formula} ({self.form.name}), objective {self.objective}, "
            f"inverted at D0 = {self.D0:.3g} tokens",
            f"benchmarks: {', '.join(self.benchmarks)}",
        ]
        for f in self.fits:
            runs = f"{f.law_n_points} runs"
            if f.n_reference_checkpoints > f.law_n_points:
                runs += f" from {f.n_reference_checkpoints} checkpoints"
            lines.append(
                f"  {f.benchmark}: {f.n_reference_models} reference models ({runs}), "
                f"{f.n_calibration} calibration points ({f.n_calibration_runs} runs)"
            )
        ck = self.checkpoints
        if ck and ck != {"final_k": 1, "drop_first": 0.0, "smooth": 1}:
            lines.append(
                f"checkpoints: law = mean of the last {ck['final_k']} per run; sigmoid drops the "
                f"first {100 * ck['drop_first']:g}% of each run, trailing mean over {ck['smooth']}"
            )
        if boot:
            search = "warm-start" if boot.get("warm_start") else "full global search"
            lines.append(
                f"bootstrap: {boot['n_resamples']} replicates resampling {boot['units']}, "
                f"seed {boot['seed']}, {search}; {100 * self.level:g}% percentile intervals"
            )
        else:
            lines.append("no bootstrap: point estimates only, no intervals")
        lines.append(
            "effective parameters: the law inverted at D0; aggregate over benchmarks = "
            "geometric mean of N̂ over benchmarks with status ok"
        )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def summary(self) -> str:
        ci = self.conf_int()
        pinned = set(ci.attrs["pinned"])
        pct = f"{100 * self.level:g}%"
        lines = [self.describe(), ""]
        for f in self.fits:
            conv = f.law_convergence
            lines.append(
                f"[{f.benchmark}] law objective {f.law_objective_value:.6g}; "
                f"{conv.get('n_at_best', '?')}/{conv.get('n_polished', '?')} polished starts "
                f"reached the best; converged={conv.get('converged', '?')}"
            )
            lines.append(f"  {'param':<8}{'estimate':>14}{pct + ' lo':>14}{pct + ' hi':>14}")
            for name in (*self.form.param_names, "c", "d", "gamma", "l"):
                key = f"{f.benchmark}.{name}"
                r = ci.loc[key]
                tail = f"{r['lower']:>14.6g}{r['upper']:>14.6g}"
                if key in pinned:
                    tail = f"  {_pin_reason(f.sigmoid, name)}"
                lines.append(f"  {name:<8}{r['estimate']:>14.6g}{tail}")
            sg = f.sigmoid
            lines.append(
                f"  sigmoid: loss {sg.loss_fn} (f_scale {sg.f_scale:g})"
                + (f", floor {sg.floor:g}" if sg.floor is not None else "")
                + (f", ceiling {sg.ceiling:g}" if sg.ceiling is not None else "")
                + (f"; at bound: {', '.join(sg.at_bound)}" if sg.at_bound else "")
            )
            for label, em in (("law", f.law_error), ("sigmoid", f.sigmoid_error)):
                lines.append(
                    f"  predictive {label} error: "
                    + (em.describe() if em is not None else "not measurable (too few sizes)")
                )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "format_version": FORMAT_VERSION,
                "kind": KIND,
                "form": self.form.name,
                "form_spec": self.form.to_dict(),
                "formula": self.form.formula,
                "objective": self.objective,
                "D0": self.D0,
                "level": self.level,
                "bootstrap": self.bootstrap,
                "sources": self.sources,
                "aggregation": "geometric mean of effective params over benchmarks with status ok",
                "checkpoints": self.checkpoints,
                "notes": list(self.notes),
                "benchmarks": [f.to_dict() for f in self.fits],
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> LossFrame:
        if d.get("kind") != KIND:
            raise DensingInputError(f"kind {d.get('kind')!r}, expected {KIND!r}", file=file)
        if d.get("format_version") != FORMAT_VERSION:
            raise DensingInputError(
                f"format version {d.get('format_version')}, this densing reads {FORMAT_VERSION}: "
                "refit the frame with `densing fit-frame`",
                file=file,
            )
        try:
            spec = d.get("form_spec")
            return cls(
                form=LawForm.from_dict(spec) if spec else get_form(str(d["form"])),
                objective=str(d["objective"]),
                D0=float(d["D0"]),
                fits=tuple(BenchmarkFrame.from_dict(b) for b in d["benchmarks"]),
                level=float(d.get("level", 0.95)),
                bootstrap=d.get("bootstrap"),
                sources=dict(d.get("sources") or {}),
                checkpoints=dict(d.get("checkpoints") or {}),
                notes=tuple(str(n) for n in d.get("notes") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DensingInputError(f"malformed loss frame ({exc!r})", file=file) from exc


def _pin_reason(sg: SigmoidFit, name: str) -> str:
    if name == "d":
        return "fixed (floor)" if sg.floor is not None else "at bound 0"
    if name == "c":
        top = f"the ceiling {sg.ceiling:g}" if sg.ceiling is not None else "c + d = 1"
        return f"pinned: d is pinned and {top}"
    if name in sg.at_bound:
        return "at the search bound"
    return "no interval: the replicates do not vary"

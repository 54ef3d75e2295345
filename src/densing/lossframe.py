"""Loss-mode reference frames (the paper's method).

A :class:`LossFrame` holds, for every benchmark,

* a loss law ``L(N, D)`` fitted on the reference runs (columns ``model``, ``params``,
  ``tokens``, ``benchmark``, ``loss``; the output of ``densing eval export`` plus a
  ``tokens`` column),
* a loss → score sigmoid fitted on calibration models (``model``, ``benchmark``,
  ``loss``, ``score``),

plus the token budget ``D0`` at which the law is inverted, the law's form and the
fitting objective. With a bootstrap, every replicate resamples the reference runs by
model and the calibration points by model, refits the law (full global search unless
``warm_start``) and the sigmoid, and stores the replicate parameters, so densities and
predictions carry intervals that include both fits' uncertainty.

Replicate ``b`` of every benchmark uses the same seed, so when the benchmarks share the
same reference (and calibration) models, replicate ``b`` resamples the same models on
every benchmark (a joint resample, which the aggregate across benchmarks needs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.bootstrap import BootstrapSpec, percentile_interval
from densing.density import (
    DEFAULT_D0,
    aggregate_effective_params,
    effective_params,
    estimate_density,
    log_interval,
    sigmoid_inverse,
)
from densing.errors import DensingInputError, FitError
from densing.io import numeric_column, require_columns, score_column, source_of
from densing.laws import OBJECTIVES, fit_loss_law, get_form
from densing.sigmoid import SigmoidFit, bootstrap_sigmoid, fit_sigmoid

FORMAT_VERSION = 1
KIND = "loss-frame"
AGGREGATE = "aggregate"
#: columns of a wide targets table that are not benchmarks
TARGET_META_COLUMNS = (
    "model",
    "params",
    "active_params",
    "tokens",
    "family",
    "release_date",
    "notes",
    "source",
)
_SIGMOID_SEED_OFFSET = 7919  # calibration resamples independent of reference resamples


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BenchmarkFrame:
    """One benchmark's loss law and sigmoid (with bootstrap replicates if any)."""

    benchmark: str
    law_params: dict[str, float]
    sigmoid: SigmoidFit
    law_objective_value: float
    law_n_points: int
    law_convergence: dict[str, Any]
    n_reference_models: int
    n_calibration: int
    law_samples: np.ndarray | None = field(default=None, repr=False)  # B × p
    sigmoid_samples: np.ndarray | None = field(default=None, repr=False)  # B × 4

    @property
    def n_resamples(self) -> int:
        return 0 if self.law_samples is None else int(self.law_samples.shape[0])

    def replicate_law_params(self, form_name: str) -> dict[str, np.ndarray]:
        """Law parameters as (B, 1) arrays, ready to broadcast against targets."""
        names = get_form(form_name).param_names
        assert self.law_samples is not None
        return {n: self.law_samples[:, j, None] for j, n in enumerate(names)}

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
            "n_calibration": self.n_calibration,
        }
        if self.law_samples is not None:
            out["law_samples"] = self.law_samples
            out["sigmoid_samples"] = self.sigmoid_samples
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkFrame:
        sg = d["sigmoid"]
        p = sg["params"]
        sigmoid = SigmoidFit(
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
        )
        law = d["law"]
        return cls(
            benchmark=str(d["benchmark"]),
            law_params={k: float(v) for k, v in law["params"].items()},
            sigmoid=sigmoid,
            law_objective_value=_f(law.get("objective_value")),
            law_n_points=int(law.get("n_points", 0)),
            law_convergence=dict(law.get("convergence", {})),
            n_reference_models=int(d.get("n_reference_models", 0)),
            n_calibration=int(d.get("n_calibration", 0)),
            law_samples=_arr(d.get("law_samples")),
            sigmoid_samples=_arr(d.get("sigmoid_samples")),
        )


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _arr(v: Any) -> np.ndarray | None:
    if v is None:
        return None
    rows = [[np.nan if x is None else float(x) for x in row] for row in v]
    return np.array(rows, dtype=float)


@dataclass(frozen=True)
class LossFrame:
    """A loss-mode reference frame: per-benchmark loss law + sigmoid, inverted at ``D0``."""

    form: str
    objective: str
    D0: float
    fits: tuple[BenchmarkFrame, ...]
    level: float = 0.95
    bootstrap: dict[str, Any] | None = None  # n_resamples, seed, units, warm_start
    sources: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    @property
    def benchmarks(self) -> tuple[str, ...]:
        return tuple(f.benchmark for f in self.fits)

    @property
    def n_resamples(self) -> int:
        return min((f.n_resamples for f in self.fits), default=0)

    def fit_for(self, benchmark: str) -> BenchmarkFrame:
        for f in self.fits:
            if f.benchmark == benchmark:
                return f
        raise DensingInputError(
            f"benchmark '{benchmark}' is not in the frame; the frame has {list(self.benchmarks)}"
        )

    # ----------------------------------------------------------------- density
    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """Effective parameters and density of every target, per benchmark and aggregated.

        ``targets``: long (``model, params, [active_params], benchmark, score``) or wide
        (``model, params, [active_params]`` and one score column per benchmark; the
        columns in :data:`TARGET_META_COLUMNS` are not benchmarks). A blank score in a
        wide table gives status ``no_score`` for that pair. Returns one row per
        (model, benchmark) plus one ``benchmark == "aggregate"`` row per model
        (geometric mean of ``N̂`` over the benchmarks with status ``ok``).
        """
        level = self.level if level is None else level
        t = parse_targets(targets, self.benchmarks)
        models = list(dict.fromkeys(t["model"]))
        n_models = len(models)
        midx = {m: i for i, m in enumerate(models)}
        first = t.drop_duplicates("model").set_index("model")
        N_model = first.loc[models, "params"].to_numpy(dtype=float)
        has_active = "active_params" in t.columns
        A_model = first.loc[models, "active_params"].to_numpy(dtype=float) if has_active else None

        B = self.n_resamples
        n_b = len(self.benchmarks)
        point_nhat = np.full((n_b, n_models), np.nan)
        point_status = np.full((n_b, n_models), "no_score", dtype=object)
        rep_nhat = np.full((n_b, B, n_models), np.nan) if B else None
        rep_status = np.full((n_b, B, n_models), "no_score", dtype=object) if B else None
        rows: list[dict[str, Any]] = []
        for k, bf in enumerate(self.fits):
            sub = t[t["benchmark"] == bf.benchmark]
            if sub.empty:
                continue
            cols = np.array([midx[m] for m in sub["model"]])
            S = sub["score"].to_numpy(dtype=float)
            has_score = np.isfinite(S)
            est = estimate_density(
                np.where(has_score, S, 0.5),
                sub["params"].to_numpy(dtype=float),
                law_form=self.form,
                law_params=bf.law_params,
                sigmoid=bf.sigmoid,
                D0=self.D0,
            )
            status = np.where(has_score, est.status, "no_score")
            nhat = np.where(has_score, est.effective_params, np.nan)
            point_nhat[k, cols] = nhat
            point_status[k, cols] = status
            lo = hi = np.full(S.shape, np.nan)
            if B:
                assert rep_nhat is not None and rep_status is not None
                sp = bf.sigmoid_samples
                loss_b, st_sig = sigmoid_inverse(
                    S[None, :], sp[:, 0, None], sp[:, 1, None], sp[:, 2, None], sp[:, 3, None]
                )
                nh_b, st_law = effective_params(
                    self.form, bf.replicate_law_params(self.form), loss_b, self.D0
                )
                st_b = np.where(st_sig != "ok", st_sig, st_law)
                st_b = np.where(has_score[None, :], st_b, "no_score")
                nh_b = np.where(has_score[None, :], nh_b, np.nan)
                rep_nhat[k][:, cols] = nh_b
                rep_status[k][:, cols] = st_b
                lo, hi = log_interval(np.where(st_b == "failed", np.nan, nh_b), level, axis=0)
            for j in range(len(sub)):
                i = cols[j]
                rows.append(
                    self._row(
                        models[i],
                        bf.benchmark,
                        N_model[i],
                        None if A_model is None else A_model[i],
                        S[j] if has_score[j] else np.nan,
                        est.loss[j] if has_score[j] else np.nan,
                        nhat[j],
                        lo[j],
                        hi[j],
                        str(status[j]),
                        1 if status[j] == "ok" else 0,
                    )
                )
        agg, agg_status = aggregate_effective_params(point_nhat, point_status, axis=0)
        n_ok = (point_status == "ok").sum(axis=0)
        if B:
            assert rep_nhat is not None and rep_status is not None
            agg_b, agg_st_b = aggregate_effective_params(rep_nhat, rep_status, axis=0)
            agg_b = np.where(np.isin(agg_st_b, ("failed", "mixed")), np.nan, agg_b)
            agg_lo, agg_hi = log_interval(agg_b, level, axis=0)
        else:
            agg_lo = agg_hi = np.full(n_models, np.nan)
        for i, m in enumerate(models):
            rows.append(
                self._row(
                    m,
                    AGGREGATE,
                    N_model[i],
                    None if A_model is None else A_model[i],
                    np.nan,
                    np.nan,
                    agg[i],
                    agg_lo[i],
                    agg_hi[i],
                    str(agg_status[i]),
                    int(n_ok[i]),
                )
            )
        out = pd.DataFrame(rows)
        if not has_active:
            out = out.drop(
                columns=[
                    "active_params",
                    "density_active",
                    "density_active_lo",
                    "density_active_hi",
                ]
            )
        order = {b: k for k, b in enumerate((*self.benchmarks, AGGREGATE))}
        out["_m"] = out["model"].map(midx)
        out["_b"] = out["benchmark"].map(order)
        return out.sort_values(["_m", "_b"]).drop(columns=["_m", "_b"]).reset_index(drop=True)

    @staticmethod
    def _row(model, bench, N, A, S, L, nhat, lo, hi, status, n_ok) -> dict[str, Any]:
        row = {
            "model": model,
            "benchmark": bench,
            "params": float(N),
            "active_params": np.nan if A is None else float(A),
            "score": float(S),
            "loss": float(L),
            "effective_params": float(nhat),
            "effective_params_lo": float(lo),
            "effective_params_hi": float(hi),
            "density": float(nhat) / float(N),
            "density_lo": float(lo) / float(N),
            "density_hi": float(hi) / float(N),
            "density_active": np.nan,
            "density_active_lo": np.nan,
            "density_active_hi": np.nan,
            "n_benchmarks_ok": int(n_ok),
            "status": status,
        }
        if A is not None and np.isfinite(A):
            row["density_active"] = float(nhat) / float(A)
            row["density_active_lo"] = float(lo) / float(A)
            row["density_active_hi"] = float(hi) / float(A)
        return row

    # ----------------------------------------------------------------- predict
    def predict(self, N: float, D: float, level: float | None = None) -> pd.DataFrame:
        """Predicted conditional loss and score of a planned model (N params, D tokens).

        One row per benchmark: ``loss`` from the law, ``score`` = sigmoid(loss), and
        percentile intervals over the bootstrap replicates (NaN without a bootstrap).
        """
        level = self.level if level is None else level
        for name, v in (("params", N), ("tokens", D)):
            if not np.isfinite(v) or v <= 0:
                raise DensingInputError(f"{name} must be a finite number > 0, got {v!r}")
        form = get_form(self.form)
        rows = []
        for bf in self.fits:
            loss = float(form.predict(bf.law_params, float(N), float(D)))
            score = float(bf.sigmoid.predict(loss))
            l_lo = l_hi = s_lo = s_hi = float("nan")
            if bf.n_resamples:
                lb = _replicate_losses(form, bf.law_samples, float(N), float(D))
                sp = bf.sigmoid_samples
                sb = sp[:, 0] / (1.0 + np.exp(-sp[:, 2] * (lb - sp[:, 3]))) + sp[:, 1]
                l_lo, l_hi = percentile_interval(lb, level)
                s_lo, s_hi = percentile_interval(sb, level)
            rows.append(
                {
                    "benchmark": bf.benchmark,
                    "params": float(N),
                    "tokens": float(D),
                    "loss": loss,
                    "loss_lo": l_lo,
                    "loss_hi": l_hi,
                    "score": score,
                    "score_lo": s_lo,
                    "score_hi": s_hi,
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------- describing
    def describe(self) -> str:
        form = get_form(self.form)
        boot = self.bootstrap
        lines = [
            f"Loss frame: {form.formula} ({self.form}), objective {self.objective}, "
            f"inverted at D0 = {self.D0:.3g} tokens",
            f"benchmarks: {', '.join(self.benchmarks)}",
        ]
        for f in self.fits:
            lines.append(
                f"  {f.benchmark}: {f.n_reference_models} reference models "
                f"({f.law_n_points} runs), {f.n_calibration} calibration points"
            )
        if boot:
            lines.append(
                f"bootstrap: {boot['n_resamples']} replicates resampling {boot['units']}, "
                f"seed {boot['seed']}, {'warm-start' if boot.get('warm_start') else 'full global search'}; "
                f"{100 * self.level:g}% percentile intervals"
            )
        else:
            lines.append("no bootstrap: point estimates only, no intervals")
        lines.append(
            "effective parameters: the law inverted at D0; aggregate over benchmarks = "
            "geometric mean of N̂ over benchmarks with status ok"
        )
        return "\n".join(lines)

    def summary(self) -> str:
        form = get_form(self.form)
        pct = f"{100 * self.level:g}%"
        lines = [self.describe(), ""]
        for f in self.fits:
            conv = f.law_convergence
            lines.append(
                f"[{f.benchmark}] law objective {f.law_objective_value:.6g}; "
                f"{conv.get('n_at_best', '?')}/{conv.get('n_polished', '?')} polished starts "
                f"reached the best; converged={conv.get('converged', '?')}"
            )
            head = f"  {'param':<8}{'estimate':>14}"
            if f.n_resamples:
                head += f"{pct + ' lo':>14}{pct + ' hi':>14}"
            lines.append(head)
            entries = [(n, f.law_params[n], j, "law") for j, n in enumerate(form.param_names)]
            entries += [
                (n, f.sigmoid.params[n], j, "sig") for j, n in enumerate(("c", "d", "gamma", "l"))
            ]
            for name, val, j, kind in entries:
                row = f"  {name:<8}{val:>14.6g}"
                if f.n_resamples:
                    s = f.law_samples if kind == "law" else f.sigmoid_samples
                    lo, hi = percentile_interval(s[:, j], self.level)
                    row += f"{lo:>14.6g}{hi:>14.6g}"
                lines.append(row)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "format_version": FORMAT_VERSION,
                "kind": KIND,
                "form": self.form,
                "formula": get_form(self.form).formula,
                "objective": self.objective,
                "D0": self.D0,
                "level": self.level,
                "bootstrap": self.bootstrap,
                "sources": self.sources,
                "aggregation": "geometric mean of effective params over benchmarks with status ok",
                "benchmarks": [f.to_dict() for f in self.fits],
            }
        )

    def to_json(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict()) + "\n")
        return p

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str = "<dict>") -> LossFrame:
        _check_header(d, file, KIND)
        try:
            return cls(
                form=str(d["form"]),
                objective=str(d["objective"]),
                D0=float(d["D0"]),
                fits=tuple(BenchmarkFrame.from_dict(b) for b in d["benchmarks"]),
                level=float(d.get("level", 0.95)),
                bootstrap=d.get("bootstrap"),
                sources=dict(d.get("sources") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DensingInputError(f"frame file {file}: malformed loss frame ({exc!r})") from exc

    @classmethod
    def from_json(cls, path: str | Path) -> LossFrame:
        return cls.from_dict(_read_json(path), file=str(path))


def _replicate_losses(form, samples: np.ndarray, N: float, D: float) -> np.ndarray:
    out = np.full(samples.shape[0], np.nan)
    for b in range(samples.shape[0]):
        row = samples[b]
        if np.all(np.isfinite(row)) and np.all(row[: len(form.terms)] > 0):
            params = dict(zip(form.param_names, row.tolist(), strict=True))
            out[b] = float(form.predict(params, N, D))
    return out


# ---------------------------------------------------------------------- frame files


def _read_json(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise DensingInputError(f"frame file {p}: not found")
    try:
        d = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DensingInputError(f"frame file {p}: not valid JSON ({exc})") from exc
    if not isinstance(d, dict):
        raise DensingInputError(f"frame file {p}: expected a JSON object")
    return d


def _check_header(d: dict[str, Any], file: str, kind: str) -> None:
    if d.get("kind") != kind:
        raise DensingInputError(f"frame file {file}: kind {d.get('kind')!r}, expected {kind!r}")
    v = d.get("format_version")
    if v != FORMAT_VERSION:
        raise DensingInputError(
            f"frame file {file}: format version {v}, this densing reads {FORMAT_VERSION}"
        )


#: ``kind`` → loader(dict, file) for :func:`load_frame`; other frame kinds register here.
FRAME_LOADERS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    KIND: lambda d, file: LossFrame.from_dict(d, file=file),
}


def load_frame(path: str | Path) -> Any:
    """Load any saved frame: read its ``"kind"`` and dispatch to the matching loader."""
    d = _read_json(path)
    kind = d.get("kind")
    loader = FRAME_LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise DensingInputError(
            f"frame file {path}: unknown frame kind {kind!r}; this densing reads "
            f"{sorted(FRAME_LOADERS)}"
        )
    return loader(d, str(path))


# ------------------------------------------------------------------------- fitting


def _str_column(df: pd.DataFrame, col: str, file: str | None) -> np.ndarray:
    require_columns(df, [col], file=file)
    vals = df[col].tolist()
    for i, v in enumerate(vals):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            raise DensingInputError("missing value", file=file, row=i + 1, column=col)
    return np.array([str(v).strip() for v in vals], dtype=object)


def _reference_table(df: pd.DataFrame, uses_tokens: bool) -> pd.DataFrame:
    file = source_of(df)
    need = ["model", "params", "benchmark", "loss"] + (["tokens"] if uses_tokens else [])
    if uses_tokens and "tokens" not in df.columns:
        raise DensingInputError(
            "missing column 'tokens' (training tokens of each reference run); "
            "`densing eval export` writes model, benchmark, loss, params — add a tokens column, "
            f"or use the 'power-n' form; the table has {list(map(str, df.columns))}",
            file=file,
            column="tokens",
        )
    require_columns(df, need, file=file)
    out = pd.DataFrame(
        {
            "model": _str_column(df, "model", file),
            "benchmark": _str_column(df, "benchmark", file),
            "params": numeric_column(df, "params", positive=True, file=file),
            "tokens": numeric_column(df, "tokens", positive=True, file=file)
            if uses_tokens
            else np.ones(len(df)),
            "loss": numeric_column(df, "loss", positive=True, file=file),
        }
    )
    dup = out.duplicated(["model", "benchmark", "params", "tokens"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DensingInputError(
            f"duplicated reference run (model '{out['model'][i]}', benchmark "
            f"'{out['benchmark'][i]}', same params and tokens)",
            file=file,
            row=i + 1,
            column="model",
        )
    return out


def _calibration_table(df: pd.DataFrame) -> pd.DataFrame:
    file = source_of(df)
    require_columns(df, ["model", "benchmark", "loss", "score"], file=file)
    out = pd.DataFrame(
        {
            "model": _str_column(df, "model", file),
            "benchmark": _str_column(df, "benchmark", file),
            "loss": numeric_column(df, "loss", positive=True, file=file),
            "score": score_column(df, "score", file=file),
        }
    )
    dup = out.duplicated(["model", "benchmark"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DensingInputError(
            f"duplicated calibration point (model '{out['model'][i]}', benchmark "
            f"'{out['benchmark'][i]}')",
            file=file,
            row=i + 1,
            column="model",
        )
    return out


def fit_loss_frame(
    reference: pd.DataFrame,
    calibration: pd.DataFrame,
    *,
    form: str = "densing",
    objective: str = "huber-log",
    D0: float = DEFAULT_D0,
    floors: dict[str, float] | None = None,
    bootstrap: BootstrapSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> LossFrame:
    """Fit a loss-mode frame: a loss law and a sigmoid per benchmark.

    ``reference``: ``model, params, tokens, benchmark, loss`` (``tokens`` may be absent
    for the ``power-n`` form). ``calibration``: ``model, benchmark, loss, score``.
    Benchmarks are those of the reference table; each must have calibration points
    (calibration rows of other benchmarks are an error, not silently ignored).
    ``floors``: fixed chance-level sigmoid floor ``d`` per benchmark.
    ``bootstrap``: replicates resample reference runs by model and calibration points
    by model; ``progress(k)`` is called as replicates finish (total ``2·B·n_bench``).
    """
    law_form = get_form(form)
    if objective not in OBJECTIVES:
        raise DensingInputError(f"unknown objective '{objective}'; expected one of {OBJECTIVES}")
    if not np.isfinite(D0) or D0 <= 0:
        raise DensingInputError(f"D0 must be a finite number > 0, got {D0!r}")
    ref = _reference_table(reference, law_form.uses_tokens)
    cal = _calibration_table(calibration)
    ref_file, cal_file = source_of(reference), source_of(calibration)
    benches = list(dict.fromkeys(ref["benchmark"]))
    extra = sorted(set(cal["benchmark"]) - set(benches))
    if extra:
        i = int(np.flatnonzero(cal["benchmark"].to_numpy() == extra[0])[0])
        raise DensingInputError(
            f"benchmark '{extra[0]}' has calibration points but no reference runs; "
            f"reference benchmarks: {benches}",
            file=cal_file,
            row=i + 1,
            column="benchmark",
        )
    floors = dict(floors or {})
    for b in floors:
        if b not in benches:
            raise DensingInputError(f"floor given for unknown benchmark '{b}'; known: {benches}")
    fits = []
    for b in benches:
        r = ref[ref["benchmark"] == b]
        c = cal[cal["benchmark"] == b]
        if c.empty:
            raise DensingInputError(
                f"benchmark '{b}' has reference runs but no calibration points",
                file=cal_file,
                column="benchmark",
            )
        floor = floors.get(b)
        try:
            sigmoid, sig_samples = _fit_sigmoid(c, floor, bootstrap, progress)
        except (FitError, DensingInputError) as exc:
            raise DensingInputError(
                f"benchmark '{b}': calibration points: {getattr(exc, 'reason', exc)}",
                file=cal_file,
            ) from exc
        try:
            law = fit_loss_law(
                r["params"].to_numpy(),
                r["tokens"].to_numpy(),
                r["loss"].to_numpy(),
                form=law_form,
                objective=objective,  # type: ignore[arg-type]
                bootstrap=bootstrap,
                groups=r["model"].to_numpy() if bootstrap else None,
                progress=progress,
            )
        except (FitError, DensingInputError) as exc:
            raise DensingInputError(
                f"benchmark '{b}': reference runs: {getattr(exc, 'reason', exc)}", file=ref_file
            ) from exc
        fits.append(
            BenchmarkFrame(
                benchmark=b,
                law_params=dict(law.params),
                sigmoid=sigmoid,
                law_objective_value=law.objective_value,
                law_n_points=law.n_points,
                law_convergence=law.convergence.to_dict(),
                n_reference_models=int(r["model"].nunique()),
                n_calibration=len(c),
                law_samples=None if law.bootstrap is None else law.bootstrap.samples,
                sigmoid_samples=sig_samples,
            )
        )
    return _assemble(fits, law_form.name, objective, D0, bootstrap, ref_file, cal_file)


def _fit_sigmoid(
    c: pd.DataFrame,
    floor: float | None,
    bootstrap: BootstrapSpec | None,
    progress: Callable[[int], None] | None,
) -> tuple[SigmoidFit, np.ndarray | None]:
    if bootstrap is not None and bootstrap.n_resamples > 0:
        spec = replace(
            bootstrap,
            seed=None if bootstrap.seed is None else bootstrap.seed + _SIGMOID_SEED_OFFSET,
        )
        sb = bootstrap_sigmoid(
            c["loss"].to_numpy(),
            c["score"].to_numpy(),
            spec,
            groups=c["model"].to_numpy(),
            progress=progress,
            floor=floor,
        )
        return sb.fit, sb.samples
    return fit_sigmoid(c["loss"].to_numpy(), c["score"].to_numpy(), floor=floor), None


def _assemble(
    fits: list[BenchmarkFrame],
    form: str,
    objective: str,
    D0: float,
    bootstrap: BootstrapSpec | None,
    ref_file: str | None,
    cal_file: str | None,
) -> LossFrame:
    boot = None
    level = 0.95
    if bootstrap is not None and bootstrap.n_resamples > 0:
        level = bootstrap.level
        boot = {
            "n_resamples": bootstrap.n_resamples,
            "seed": bootstrap.seed,
            "units": "models (reference runs and calibration points)",
            "warm_start": bootstrap.warm_start,
        }
    return LossFrame(
        form=form,
        objective=objective,
        D0=float(D0),
        fits=tuple(fits),
        level=level,
        bootstrap=boot,
        sources={"reference": ref_file, "calibration": cal_file},
    )


# ------------------------------------------------------------------------- targets


def parse_targets(df: pd.DataFrame, benchmarks: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Validate a targets table (long or wide) into long form.

    Returns columns ``model, params, [active_params], benchmark, score`` (score NaN for a
    blank wide cell). Unknown benchmarks are an error naming file, row and column and
    listing the frame's benchmarks.
    """
    file = source_of(df)
    known = list(benchmarks)
    long = "benchmark" in df.columns and "score" in df.columns
    require_columns(df, ["model", "params"], file=file)
    models = _str_column(df, "model", file)
    N = numeric_column(df, "params", positive=True, file=file)
    has_active = "active_params" in df.columns
    A = None
    if has_active:  # blank active_params: a dense model (activated = total)
        A = numeric_column(df, "active_params", positive=True, allow_missing=True, file=file)
        A = np.where(np.isnan(A), N, A)
    if A is not None:
        bad = np.flatnonzero(A > N)
        if bad.size:
            raise DensingInputError(
                f"active_params {A[bad[0]]:g} exceeds params {N[bad[0]]:g}",
                file=file,
                row=int(bad[0]) + 1,
                column="active_params",
            )
    if long:
        bench = _str_column(df, "benchmark", file)
        for i, b in enumerate(bench):
            if b not in known:
                raise DensingInputError(
                    f"unknown benchmark '{b}'; the frame has {known}",
                    file=file,
                    row=i + 1,
                    column="benchmark",
                )
        S = score_column(df, "score", file=file)
        out = pd.DataFrame({"model": models, "params": N, "benchmark": bench, "score": S})
        if A is not None:
            out.insert(2, "active_params", A)
        dup = out.duplicated(["model", "benchmark"])
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise DensingInputError(
                f"duplicated target (model '{models[i]}', benchmark '{bench[i]}')",
                file=file,
                row=i + 1,
                column="model",
            )
        _check_consistent(out, "params", file)
        if A is not None:
            _check_consistent(out, "active_params", file)
        return out
    # wide
    bench_cols = [str(c) for c in df.columns if str(c) not in TARGET_META_COLUMNS]
    for c in bench_cols:
        if c not in known:
            raise DensingInputError(
                f"unknown benchmark column '{c}'; the frame has {known} "
                f"(non-benchmark columns allowed: {list(TARGET_META_COLUMNS)})",
                file=file,
                column=c,
            )
    if not bench_cols:
        raise DensingInputError(
            f"no score columns: give long columns 'benchmark' and 'score', or one column per "
            f"benchmark of the frame {known}",
            file=file,
        )
    seen: dict[str, int] = {}
    for i, m in enumerate(models):
        if m in seen:
            raise DensingInputError(
                f"duplicated model '{m}' in a wide table (first seen in row {seen[m]})",
                file=file,
                row=i + 1,
                column="model",
            )
        seen[m] = i + 1
    parts = []
    for c in bench_cols:
        S = score_column(df, c, allow_missing=True, file=file)
        part = pd.DataFrame({"model": models, "params": N, "benchmark": c, "score": S})
        if A is not None:
            part.insert(2, "active_params", A)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _check_consistent(out: pd.DataFrame, col: str, file: str | None) -> None:
    first: dict[str, float] = {}
    for i, (m, v) in enumerate(zip(out["model"], out[col], strict=True)):
        if m in first and not np.isclose(first[m], v, rtol=1e-9):
            raise DensingInputError(
                f"model '{m}' has {col} {v:g} here but {first[m]:g} in an earlier row",
                file=file,
                row=i + 1,
                column=col,
            )
        first.setdefault(m, v)

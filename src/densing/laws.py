"""Scaling-law forms for conditional loss and their global fitting.

A *form* is a sum of non-negative power-law terms,

    L(N, D) = sum_k  C_k · V_k^(−x_k)        (V_k ∈ {1, N, D})

written in log space as ``log L = LSE_k(c_k − x_k · ln V_k)`` with ``c_k = ln C_k``
(Epoch AI's parametrisation of the Chinchilla fit). Built in:

* ``chinchilla``: ``L = E + A·N^−α + B·D^−β``
* ``densing``:    ``L = a·N^−α + b·D^−β``  (Xiao et al. 2024)
* ``power-n``:    ``L = E + A·N^−α``       (one family at one token budget)

A third form is a :class:`LawForm` with a list of :class:`Term` — see
:data:`FORMS`.

Global search
-------------
A grid over the exponents with exact non-negative least squares for the coefficients, the
best distinct grid points descended with a quasi-Newton method and the best of them polished
tightly: :mod:`densing.lawsearch`. :class:`Convergence` reports how many starts reached the
best value, so a user can see whether the optimum is well supported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from densing._json import to_jsonable
from densing.bootstrap import BootstrapSpec, percentile_interval, resampled
from densing.errors import DensingInputError, FitError
from densing.lawsearch import Convergence, _Problem, _search, default_exponent_grid
from densing.results import JsonResult, conf_int_table

Objective = Literal["huber-log", "lsq-log", "lsq"]
OBJECTIVES: tuple[str, ...] = ("huber-log", "lsq-log", "lsq")


# --------------------------------------------------------------------------- forms


@dataclass(frozen=True)
class Term:
    """One additive term ``coef · var^(−exponent)`` (``var=None``: a constant)."""

    coef: str
    exponent: str | None = None
    var: Literal["N", "D"] | None = None


@dataclass(frozen=True)
class LawForm:
    """An additive power-law form: a named list of terms."""

    name: str
    terms: tuple[Term, ...]
    formula: str

    @property
    def coef_names(self) -> tuple[str, ...]:
        return tuple(t.coef for t in self.terms)

    @property
    def exponent_names(self) -> tuple[str, ...]:
        """Distinct exponents, in order of first use (terms may share one, e.g. ``tied``)."""
        return tuple(dict.fromkeys(t.exponent for t in self.terms if t.exponent is not None))

    @property
    def exponent_index(self) -> tuple[int | None, ...]:
        """For every term, the position of its exponent in :attr:`exponent_names`."""
        names = self.exponent_names
        return tuple(None if t.exponent is None else names.index(t.exponent) for t in self.terms)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Public parameter names, in the order used by ``params`` dicts."""
        return self.coef_names + self.exponent_names

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def uses_tokens(self) -> bool:
        return any(t.var == "D" for t in self.terms)

    # internal vector θ = (ln coefs..., exponents...)
    def theta_from_params(self, params: dict[str, float]) -> np.ndarray:
        coefs = [np.log(params[c]) for c in self.coef_names]
        exps = [params[e] for e in self.exponent_names]
        return np.array(coefs + exps, dtype=float)

    def params_from_theta(self, theta: np.ndarray) -> dict[str, float]:
        k = len(self.terms)
        out = {c: float(np.exp(theta[i])) for i, c in enumerate(self.coef_names)}
        out.update({e: float(theta[k + j]) for j, e in enumerate(self.exponent_names)})
        return out

    def _logvars(self, logN: np.ndarray, logD: np.ndarray) -> list[np.ndarray | None]:
        return [None if t.var is None else (logN if t.var == "N" else logD) for t in self.terms]

    def log_terms(self, theta: np.ndarray, logN: np.ndarray, logD: np.ndarray) -> np.ndarray:
        """Matrix (n_terms × n) of ``c_k − x_k ln V_k``."""
        k = len(self.terms)
        z = np.empty((k, logN.shape[0]))
        for i, (lv, e) in enumerate(
            zip(self._logvars(logN, logD), self.exponent_index, strict=True)
        ):
            z[i] = theta[i] if lv is None or e is None else theta[i] - theta[k + e] * lv
        return z

    def log_predict(self, theta, logN, logD) -> tuple[np.ndarray, np.ndarray]:
        """``log L`` and the Jacobian ``∂ log L / ∂θ`` (n_params × n)."""
        z = self.log_terms(theta, logN, logD)
        zmax = z.max(axis=0)
        ez = np.exp(z - zmax)
        s = ez.sum(axis=0)
        logL = zmax + np.log(s)
        w = ez / s  # softmax weights
        k = len(self.terms)
        jac = np.zeros((self.n_params, logN.shape[0]))
        jac[:k] = w
        for i, (lv, e) in enumerate(
            zip(self._logvars(logN, logD), self.exponent_index, strict=True)
        ):
            if lv is not None and e is not None:
                jac[k + e] -= w[i] * lv  # a shared exponent collects every term's derivative
        return logL, jac

    def basis(self, exps: np.ndarray, logN: np.ndarray, logD: np.ndarray) -> np.ndarray:
        """Linear-space design: (G × n × n_terms) for G exponent vectors ``exps`` (G × n_exp)."""
        G = exps.shape[0]
        X = np.empty((G, logN.shape[0], len(self.terms)))
        for i, (lv, e) in enumerate(
            zip(self._logvars(logN, logD), self.exponent_index, strict=True)
        ):
            X[:, :, i] = 1.0 if lv is None or e is None else np.exp(-np.outer(exps[:, e], lv))
        return X

    def to_dict(self) -> dict[str, Any]:
        """The form as data (saved in frame files, so a custom form survives a round trip)."""
        return {
            "name": self.name,
            "formula": self.formula,
            "terms": [{"coef": t.coef, "exponent": t.exponent, "var": t.var} for t in self.terms],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LawForm:
        """Rebuild (and check) a form saved by :meth:`to_dict`."""
        try:
            terms = tuple(Term(str(t["coef"]), t.get("exponent"), t.get("var")) for t in d["terms"])
            form = cls(str(d["name"]), terms, str(d.get("formula", d["name"])))
        except (KeyError, TypeError) as exc:
            raise DensingInputError(f"malformed law form {d!r}: missing {exc}") from exc
        _check_terms(form)
        return form

    def predict(self, params: dict[str, float], N, D=None) -> np.ndarray:
        N = np.asarray(N, dtype=float)
        D = np.ones_like(N) if D is None else np.broadcast_to(np.asarray(D, dtype=float), N.shape)
        theta = self.theta_from_params(params)
        logL, _ = self.log_predict(theta, np.log(np.atleast_1d(N)), np.log(np.atleast_1d(D)))
        out = np.exp(logL)
        return out if N.ndim else out[0]


def _check_terms(form: LawForm) -> None:
    names = form.param_names
    if not form.terms:
        raise DensingInputError(f"law form '{form.name}' has no terms")
    if len(set(names)) != len(names):
        raise DensingInputError(f"law form '{form.name}' repeats a parameter name: {names}")
    for t in form.terms:
        if t.var not in (None, "N", "D"):
            raise DensingInputError(
                f"law form '{form.name}': term variable {t.var!r} is not N or D"
            )
        if (t.var is None) != (t.exponent is None):
            raise DensingInputError(
                f"law form '{form.name}': term '{t.coef}' needs an exponent exactly when it has a "
                "variable"
            )


FORMS: dict[str, LawForm] = {
    "chinchilla": LawForm(
        "chinchilla",
        (Term("E"), Term("A", "alpha", "N"), Term("B", "beta", "D")),
        "L = E + A·N^-alpha + B·D^-beta",
    ),
    "densing": LawForm(
        "densing",
        (Term("a", "alpha", "N"), Term("b", "beta", "D")),
        "L = a·N^-alpha + b·D^-beta",
    ),
    "power-n": LawForm(
        "power-n",
        (Term("E"), Term("A", "alpha", "N")),
        "L = E + A·N^-alpha",
    ),
    # one exponent for N and D (Chinchilla's form with alpha = beta; Gadre et al. 2024)
    "chinchilla-tied": LawForm(
        "chinchilla-tied",
        (Term("E"), Term("A", "alpha", "N"), Term("B", "alpha", "D")),
        "L = E + A·N^-alpha + B·D^-alpha",
    ),
}


def get_form(name: str | LawForm) -> LawForm:
    """A registered form by name (a :class:`LawForm` passes through)."""
    if isinstance(name, LawForm):
        return name
    try:
        return FORMS[name]
    except KeyError:
        raise DensingInputError(
            f"unknown law form '{name}'; known forms: {sorted(FORMS)}"
        ) from None


def register_form(form: LawForm, *, overwrite: bool = False) -> LawForm:
    """Add a form to the registry (one line per extension: ``register_form(LawForm(...))``).

    A different form under an existing name is refused unless ``overwrite``; registering the
    same form twice is harmless.
    """
    form = LawForm.from_dict(form.to_dict())  # validates the terms
    known = FORMS.get(form.name)
    if known is not None and known != form and not overwrite:
        raise DensingInputError(
            f"law form '{form.name}' is already registered with other terms; "
            "pass overwrite=True or choose another name"
        )
    FORMS[form.name] = form
    return form


# --------------------------------------------------------------------- results


@dataclass(frozen=True)
class LossLawBootstrap:
    """Bootstrap replicates of the law parameters (rows: resamples)."""

    samples: np.ndarray  # B × p, columns in form.param_names order
    param_names: tuple[str, ...]
    level: float
    n_failed: int
    seed: int | None
    units: str

    def interval(self, name: str, level: float | None = None) -> tuple[float, float]:
        j = self.param_names.index(name)
        return percentile_interval(self.samples[:, j], level or self.level)

    def std_error(self, name: str) -> float:
        j = self.param_names.index(name)
        col = self.samples[:, j]
        return float(np.nanstd(col, ddof=1))


@dataclass(frozen=True)
class LossLawFit(JsonResult):
    """A fitted loss law: parameters, objective value and diagnostics."""

    kind: ClassVar[str] = "loss-law"

    form: LawForm
    params: dict[str, float]
    objective: str
    objective_value: float
    n_points: int
    delta: float
    convergence: Convergence
    residuals: np.ndarray = field(repr=False)  # log(pred) − log(L), input order
    bootstrap: LossLawBootstrap | None = field(default=None, repr=False)

    def predict(self, N, D=None) -> np.ndarray:
        return self.form.predict(self.params, N, D)

    def intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        if self.bootstrap is None:
            return {}
        return {n: self.bootstrap.interval(n, level) for n in self.form.param_names}

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Parameters with percentile intervals (NaN bounds without a bootstrap)."""
        b = self.bootstrap
        samples = None
        if b is not None:
            samples = {n: b.samples[:, j] for j, n in enumerate(b.param_names)}
        lvl = level or (b.level if b is not None else 0.95)
        return conf_int_table(self.params, samples, lvl)

    def to_dict(self) -> dict:
        out = {
            "kind": self.kind,
            "form_spec": self.form.to_dict(),
            "residuals": self.residuals,
            "form": self.form.name,
            "formula": self.form.formula,
            "params": dict(self.params),
            "objective": self.objective_value,
            "objective_name": self.objective,
            "delta": self.delta if self.objective == "huber-log" else None,
            "n_points": self.n_points,
            "convergence": self.convergence.to_dict(),
        }
        if self.bootstrap is not None:
            out["intervals"] = {k: list(v) for k, v in self.intervals().items()}
            out["std_errors"] = {n: self.bootstrap.std_error(n) for n in self.form.param_names}
            out["bootstrap"] = {
                "n_resamples": int(self.bootstrap.samples.shape[0]),
                "n_failed": self.bootstrap.n_failed,
                "level": self.bootstrap.level,
                "seed": self.bootstrap.seed,
                "units": self.bootstrap.units,
            }
            out["samples"] = self.bootstrap.samples
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> LossLawFit:
        """Rebuild a fit saved by :meth:`to_dict` (``to_json`` / ``from_json``)."""
        try:
            form = LawForm.from_dict(d["form_spec"])
            boot = None
            if d.get("bootstrap") is not None:
                bd = d["bootstrap"]
                boot = LossLawBootstrap(
                    samples=_float_array(d["samples"]).reshape(-1, form.n_params),
                    param_names=form.param_names,
                    level=float(bd["level"]),
                    n_failed=int(bd["n_failed"]),
                    seed=bd.get("seed"),
                    units=str(bd["units"]),
                )
            conv = d["convergence"]
            return cls(
                form=form,
                params={k: float(v) for k, v in d["params"].items()},
                objective=str(d["objective_name"]),
                objective_value=float(d["objective"]),
                n_points=int(d["n_points"]),
                delta=float(d["delta"]) if d.get("delta") is not None else 1e-3,
                convergence=Convergence(**conv),
                residuals=_float_array(d.get("residuals") or []),
                bootstrap=boot,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DensingInputError(f"malformed loss-law file ({exc!r})", file=file) from exc

    def summary(self) -> str:
        lines = [
            f"Loss law  {self.form.formula}",
            f"objective {self.objective} = {self.objective_value:.10g}  (n = {self.n_points})",
            f"search    {self.convergence.n_grid} grid points, {self.convergence.n_polished} "
            f"polished, {self.convergence.n_at_best} reached the best; "
            f"converged={self.convergence.converged}",
        ]
        b = self.bootstrap
        head = f"{'param':>8} {'estimate':>14}"
        if b is not None:
            pct = round(b.level * 100)
            head += f" {'std.err':>12} {f'[{pct}% interval]':>30}"
        lines.append(head)
        for n in self.form.param_names:
            row = f"{n:>8} {self.params[n]:>14.6g}"
            if b is not None:
                lo, hi = b.interval(n)
                row += f" {b.std_error(n):>12.4g}   [{lo:>12.6g}, {hi:>12.6g}]"
            lines.append(row)
        if b is not None:
            lines.append(
                f"bootstrap: {b.samples.shape[0]} resamples of {b.units}, seed {b.seed}, "
                f"{b.n_failed} failed"
            )
        return "\n".join(lines)


# ------------------------------------------------------------------------ fitting


def _float_array(values: Any) -> np.ndarray:
    """JSON numbers (null → NaN, "inf" → inf) as a float array."""
    return np.array(
        [[_num(v) for v in row] if isinstance(row, list) else _num(row) for row in values],
        dtype=float,
    )


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def check_points(N, D, L) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, D, L)`` as float arrays of one length, every value finite and > 0 (``D`` None →
    ones); otherwise a :class:`DensingInputError` naming the first bad row and column."""
    N = np.asarray(N, dtype=float).ravel()
    L = np.asarray(L, dtype=float).ravel()
    D = np.ones_like(N) if D is None else np.asarray(D, dtype=float).ravel()
    if not (N.shape == D.shape == L.shape):
        raise DensingInputError("params, tokens and loss must have the same length")
    for name, arr in (("params", N), ("tokens", D), ("loss", L)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if bad.size:
            raise DensingInputError(
                f"value {arr[bad[0]]!r} must be a finite number > 0",
                row=int(bad[0]) + 1,
                column=name,
            )
    return N, D, L


def _validate_arrays(form: LawForm, N, D, L) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    N, D, L = check_points(N, D, L)
    if N.size <= form.n_params:
        raise FitError(
            f"the '{form.name}' form has {form.n_params} parameters and needs more than "
            f"{form.n_params} points; got {N.size}"
        )
    return N, D, L


def fit_loss_law(
    N,
    D,
    L,
    *,
    form: str | LawForm = "chinchilla",
    objective: Objective = "huber-log",
    delta: float = 1e-3,
    n_polish: int = 5,
    grid: np.ndarray | None = None,
    bootstrap: BootstrapSpec | None = None,
    groups: Sequence | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> LossLawFit:
    """Fit a loss law globally.

    Parameters
    ----------
    N, D, L : array-like
        Parameters, training tokens (ignored by forms without a D term; may be
        None) and loss per run.
    form : "chinchilla" | "densing" | "power-n" | LawForm
    objective : "huber-log" (Huber on log residuals, δ = ``delta``, summed),
        "lsq-log" (½ Σ log-residual²) or "lsq" (½ Σ (pred − L)²).
    n_polish : number of distinct grid starts polished with L-BFGS-B.
    bootstrap : when given, resample and refit (full global search per resample
        unless ``bootstrap.warm_start``) and attach the replicates.
    groups : resampling units for the bootstrap (e.g. model family per run).
    """
    form = get_form(form)
    if objective not in OBJECTIVES:
        raise DensingInputError(f"unknown objective '{objective}'; expected one of {OBJECTIVES}")
    if delta <= 0:
        raise DensingInputError("delta must be > 0")
    N, D, L = _validate_arrays(form, N, D, L)
    if groups is not None and len(groups) != N.size:
        raise DensingInputError(
            f"groups must give one label per point: got {len(groups)} labels for {N.size} points"
        )
    grid = default_exponent_grid(len(form.exponent_names)) if grid is None else grid
    prob = _Problem(form, np.log(N), np.log(D), np.log(L), L, objective, delta)
    # L-BFGS-B calls LAPACK on tiny matrices: a multi-threaded BLAS only adds
    # synchronisation cost (10-100x slower on a loaded machine), so use one thread.
    with threadpool_limits(limits=1):
        theta, val, conv = _search(prob, grid, n_polish)
    logp, _ = form.log_predict(theta, prob.logN, prob.logD)
    fit = LossLawFit(
        form=form,
        params=form.params_from_theta(theta),
        objective=objective,
        objective_value=val,
        n_points=int(N.size),
        delta=delta,
        convergence=conv,
        residuals=logp - prob.logL,
    )
    if bootstrap is not None and bootstrap.n_resamples > 0:
        with threadpool_limits(limits=1):
            boot = _bootstrap(prob, grid, n_polish, theta, bootstrap, groups, progress)
        fit = replace(fit, bootstrap=boot)
    return fit


def _one_replicate(
    idx: np.ndarray,
    prob: _Problem,
    grid: np.ndarray,
    n_polish: int,
    theta0: np.ndarray,
    warm: bool,
) -> np.ndarray:
    sub = replace(
        prob, logN=prob.logN[idx], logD=prob.logD[idx], logL=prob.logL[idx], L=prob.L[idx]
    )
    try:
        theta, _, _ = _search(sub, grid, n_polish, x0=theta0 if warm else None)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return np.full(theta0.shape, np.nan)
    return theta


def _bootstrap(
    prob: _Problem,
    grid: np.ndarray,
    n_polish: int,
    theta0: np.ndarray,
    spec: BootstrapSpec,
    groups: Sequence | np.ndarray | None,
    progress: Callable[[int], None] | None,
) -> LossLawBootstrap:
    fit = partial(
        _one_replicate, prob=prob, grid=grid, n_polish=n_polish, theta0=theta0,
        warm=spec.warm_start,
    )  # fmt: skip
    thetas = resampled(fit, prob.L.size, spec, groups, progress)
    T = np.vstack(thetas)
    failed = int(np.isnan(T).any(axis=1).sum())
    form = prob.form
    k = len(form.terms)
    samples = np.hstack([np.exp(T[:, :k]), T[:, k:]])
    return LossLawBootstrap(
        samples=samples,
        param_names=form.param_names,
        level=spec.level,
        n_failed=failed,
        seed=spec.seed,
        units="points" if groups is None else "groups",
    )

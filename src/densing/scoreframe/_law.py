"""The reference family's law in score mode: capability θ as a power law in N (and D).

In the gauge ``E = 0, A = 1`` with ``N`` in billions and ``D`` in trillions,
``θ = (N/1e9)^-α`` (one token budget, ``fixed_budget``) or
``θ = (N/1e9)^-α + B·(D/1e12)^-β`` (``with_tokens``). The law is a registered
:class:`~densing.laws.LawForm` (``power-n`` / ``densing``) with parameters in raw units, so the
inversion θ → N̂ is :func:`densing.density.effective_params`, the same as in loss mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from densing.density import effective_params
from densing.errors import DensingInputError
from densing.laws import LawForm, get_form
from densing.scoreframe._inputs import PreparedInputs
from densing.status import Status

PARAM_UNIT = 1e9  # the gauge: N is counted in billions of parameters
TOKEN_UNIT = 1e12  # D is counted in trillions of tokens
DEFAULT_BETA = 0.3  # token exponent when the law has a D term (fixed, see README)
LawKind = Literal["fixed_budget", "with_tokens"]


@dataclass(frozen=True)
class ReferenceLaw:
    """θ(N, D0) of the reference family, in the E = 0, A = 1 gauge."""

    kind: LawKind
    alpha: float
    token_coef: float  # B in the gauge (0 for a fixed budget)
    beta: float
    d0: float  # tokens at which the law is inverted (NaN: fixed budget, unknown)
    d0_note: str

    @property
    def with_tokens(self) -> bool:
        return self.kind == "with_tokens"

    @property
    def form(self) -> LawForm:
        return get_form("densing" if self.with_tokens else "power-n")

    def form_params(self, alpha: Any = None, token_coef: Any = None) -> dict[str, Any]:
        """Parameters of :attr:`form` in raw units (arrays broadcast, e.g. per replicate)."""
        a = self.alpha if alpha is None else np.asarray(alpha, dtype=float)
        if self.with_tokens:
            b = self.token_coef if token_coef is None else np.asarray(token_coef, dtype=float)
            return {
                "a": PARAM_UNIT**a,
                "alpha": a,
                "b": b * TOKEN_UNIT**self.beta,
                "beta": self.beta,
            }
        return {"E": 0.0, "A": PARAM_UNIT**a, "alpha": a}

    @property
    def theta_floor(self) -> float:
        """Capability of an infinitely large reference model at D0."""
        if self.with_tokens:
            return float(self.token_coef * (self.d0 / TOKEN_UNIT) ** (-self.beta))
        return 0.0

    def theta(self, params: Any) -> np.ndarray:
        """θ of a reference-family model of ``params`` parameters at D0."""
        return self.theta_floor + (np.asarray(params, dtype=float) / PARAM_UNIT) ** (-self.alpha)

    @property
    def formula(self) -> str:
        if self.with_tokens:
            return "theta = N^-alpha + B*D^-beta (E=0, A=1 gauge; N in 1e9, D in 1e12)"
        return "theta = N^-alpha (E=0, A=1 gauge; N in 1e9)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.kind,
            "law_formula": self.formula,
            "law_form": self.form.name,
            "alpha": self.alpha,
            "token_coef": self.token_coef,
            "beta": self.beta,
            "d0_tokens": self.d0,
            "d0_note": self.d0_note,
        }


def invert(
    law: ReferenceLaw,
    theta: Any,
    bounds: tuple[float, float],
    *,
    alpha: Any = None,
    token_coef: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """θ → (N̂, status) under the law at D0 (per-replicate ``alpha``/``token_coef`` broadcast).

    θ at the lower search bound (or at/below the law's asymptote) → ``above_range`` (N̂ = inf);
    θ at the upper bound → ``below_range`` (N̂ = 0); NaN θ → ``insufficient_scores``.
    """
    th = np.asarray(theta, dtype=float)
    d0 = law.d0 if law.with_tokens else 1.0
    n_hat, status = effective_params(law.form, law.form_params(alpha, token_coef), th, d0)
    lo, hi = bounds
    tol = 1e-6 * (hi - lo)
    above = th <= lo + tol
    below = th >= hi - tol
    n_hat = np.where(above, np.inf, np.where(below, 0.0, n_hat))
    status = np.where(above, Status.ABOVE_RANGE, np.where(below, Status.BELOW_RANGE, status))
    status = np.where(np.isnan(th), Status.INSUFFICIENT_SCORES, status)
    return np.where(np.isnan(th), np.nan, n_hat), status.astype(str)


def _budget(prep: PreparedInputs, ref: np.ndarray, law: str) -> tuple[str, bool]:
    tok = prep.tokens[ref]
    known = tok[np.isfinite(tok)]
    varies = bool(known.size > 1 and known.max() / known.min() > 1.05)
    if law == "auto":
        # varying budgets with some unknown cannot carry a D term: treat as one budget, say so
        fallback = varies and known.size < tok.size
        return ("with_tokens" if varies and not fallback else "fixed_budget"), fallback
    if law not in ("fixed_budget", "with_tokens"):
        raise DensingInputError(f"unknown law '{law}'; use auto, fixed_budget or with_tokens")
    return law, False


def _d0(prep: PreparedInputs, ref: np.ndarray, kind: str, d0: float | None, fb: bool):
    tok = prep.tokens[ref]
    known = tok[np.isfinite(tok)]
    if kind == "with_tokens":
        if known.size < tok.size:
            raise DensingInputError(
                "law 'with_tokens' needs tokens for every reference member",
                file=prep.source,
                column="tokens",
            )
        if d0 is not None:
            return float(d0), "chosen D0"
        return float(np.median(known)), "median budget of the reference family"
    if d0 is not None:
        raise DensingInputError(
            "d0 only applies to law 'with_tokens'; a fixed-budget frame "
            "is evaluated at the family's own budget"
        )
    if not known.size:
        return float("nan"), "family budget (unknown)"
    varies = known.size > 1 and known.max() / known.min() > 1.05
    if not varies:
        return float(np.median(known)), "family budget"
    note = "family budgets vary, treated as one budget (median shown)"
    if fb:
        note += f"; {tok.size - known.size} member(s) without tokens"
    return float(np.median(known)), note


def law_setup(
    prep: PreparedInputs, reference_family: str, law: str, d0: float | None
) -> tuple[np.ndarray, LawKind, float, str]:
    """Reference rows, the law's kind, D0 and a note saying how D0 was chosen."""
    fams = sorted(set(prep.family.tolist()))
    if reference_family not in fams:
        raise DensingInputError(
            f"reference family '{reference_family}' is not among the models' families "
            f"({', '.join(fams)})",
            file=prep.source,
            column="family",
        )
    ref = (prep.family == reference_family) & prep.usable
    sizes = np.unique(prep.params[ref])
    if sizes.size < 3:
        raise DensingInputError(
            f"reference family '{reference_family}' has {sizes.size} distinct size(s) with at "
            f"least {prep.min_benchmarks} scores; at least 3 are needed",
            file=prep.source,
            column="family",
        )
    kind, fallback = _budget(prep, ref, law)
    d0_used, note = _d0(prep, ref, kind, d0, fallback)
    return ref, kind, d0_used, note  # type: ignore[return-value]

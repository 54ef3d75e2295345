"""Choosing a loss law's setting out of sample: leave the largest size out.

A law that fits the runs it saw can still extrapolate badly; which form, objective and smallest
token ratio to use should be chosen by how well each predicts runs it did not see, one size up —
the situation of every real prediction. :func:`select_law` does that:

1. **Split.** The held-out runs are those of the largest size (``N`` equal to its maximum),
   optionally only those with ``D/N >= holdout_min_ratio`` (e.g. the compute-optimal and
   over-trained runs, when the targets are such runs); every other run may be used for fitting.
2. **Candidates.** Every (form, objective, smallest ratio kept) combination, in the order given:
   forms, then objectives, then ratios. A ratio ``r`` keeps the fitting runs with ``D/N >= r``
   (``None``: every run). Forms without a D term ignore the ratio's meaning for the law but the
   filter still applies.
3. **Fit and score.** Each candidate is fitted by :func:`densing.laws.fit_loss_law` (full global
   search) on its runs and predicts the held-out runs; the score is the mean absolute relative
   error of the predicted loss, in percent (``heldout_error_pct``), next to its signed mean
   (``heldout_bias_pct``: > 0 over-predicts) and the largest error.
4. **Choose.** The candidate with the smallest error; ties go to the first in candidate order.

A candidate that cannot be scored — fewer than :data:`MIN_SIZES` distinct sizes after its ratio
filter, or a fit that fails — stays in the table with status ``failed``, a ``note`` saying why
and no error (NaN), and is never chosen. If no candidate can be scored, :class:`FitError`.

The score rests on one held-out size, so close scores do not separate candidates: read the
table, not only the winner.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from densing.errors import DensingInputError, FitError
from densing.laws import FORMS, OBJECTIVES, check_points, fit_loss_law, get_form
from densing.results import JsonResult
from densing.status import Status

#: Fewest distinct sizes a candidate may be fitted on.
MIN_SIZES = 3

TABLE_COLUMNS = (
    "form", "objective", "min_ratio", "n_fit", "n_fit_sizes", "heldout_error_pct",
    "heldout_bias_pct", "heldout_max_error_pct", "status", "note",
)  # fmt: skip


@dataclass(frozen=True)
class LawSelection(JsonResult):
    """The candidates' held-out errors (``table``, candidate order) and the chosen one.

    Not a bootstrap estimate, so no ``conf_int``: ``summary()``, ``to_dict()``, ``to_json``."""

    table: pd.DataFrame
    heldout_params: float
    n_heldout: int
    holdout_min_ratio: float | None

    kind = "law-selection"

    @property
    def best(self) -> dict[str, Any]:
        """The chosen candidate's row (smallest held-out error, first on ties)."""
        err = self.table["heldout_error_pct"].to_numpy(dtype=float)
        row = self.table.iloc[int(np.nanargmin(err))]  # failed rows are NaN
        return {str(k): v for k, v in row.items()}

    def ranked(self) -> pd.DataFrame:
        """The table sorted by held-out error (failed candidates last), stable on ties."""
        return self.table.sort_values("heldout_error_pct", kind="stable", na_position="last")

    def summary(self) -> str:
        b = self.best
        ratio = "every run" if b["min_ratio"] is None else f"D/N >= {b['min_ratio']:g}"
        return (
            f"law chosen by leaving the largest size out (N = {self.heldout_params:.4g}, "
            f"{self.n_heldout} held-out runs): {b['form']} / {b['objective']} / {ratio}, "
            f"held-out mean |relative error| {b['heldout_error_pct']:.3g}% "
            f"(bias {b['heldout_bias_pct']:+.3g}%) over {len(self.table)} candidates"
        )

    def to_dict(self) -> dict[str, Any]:
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        best = self.best
        return {
            "kind": self.kind,
            "heldout_params": self.heldout_params,
            "n_heldout": self.n_heldout,
            "holdout_min_ratio": self.holdout_min_ratio,
            "best": {k: best[k] for k in ("form", "objective", "min_ratio")},
            "candidates": rows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> LawSelection:
        try:
            table = pd.DataFrame(d["candidates"], columns=list(TABLE_COLUMNS))
            for c in ("heldout_error_pct", "heldout_bias_pct", "heldout_max_error_pct"):
                table[c] = pd.to_numeric(table[c]).astype(float)
            ratio = d["holdout_min_ratio"]
            return cls(
                table, float(d["heldout_params"]), int(d["n_heldout"]),
                None if ratio is None else float(ratio),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DensingInputError(f"not a law selection ({exc!r})", file=file) from exc


def _check_choices(forms: Sequence[str], objectives: Sequence[str], ratios: Sequence) -> None:
    for f in forms:
        get_form(f)
    for o in objectives:
        if o not in OBJECTIVES:
            raise DensingInputError(f"unknown objective '{o}'; expected one of {OBJECTIVES}")
    for r in ratios:
        if r is not None and not (np.isfinite(r) and r > 0):
            raise DensingInputError(f"smallest ratio {r} must be > 0 (or None: every run)")
    if not (forms and objectives and ratios):
        raise DensingInputError("select_law needs at least one form, objective and ratio")


def _split(
    N: np.ndarray, tpp: np.ndarray, holdout_min_ratio: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (fitting runs, held-out runs); ``tpp``: tokens per parameter D/N."""
    top = np.equal(N, N.max())
    held = top if holdout_min_ratio is None else top & np.greater_equal(tpp, holdout_min_ratio)
    if not held.any():
        raise DensingInputError(
            f"no run of the largest size (N = {N.max():.4g}) has D/N >= {holdout_min_ratio:g}"
        )
    return ~top, held


def _score(
    fit_mask: np.ndarray, test: np.ndarray, data: tuple[np.ndarray, ...], form: str, obj: str
) -> dict[str, Any]:
    N, D, L = data
    sizes = int(np.unique(N[fit_mask]).size)
    row: dict[str, Any] = {"n_fit": int(fit_mask.sum()), "n_fit_sizes": sizes}
    nan = {k: np.nan for k in ("heldout_error_pct", "heldout_bias_pct", "heldout_max_error_pct")}
    if sizes < MIN_SIZES:
        return row | nan | {"status": Status.FAILED.value, "note": f"{sizes} sizes to fit on"}
    try:
        fit = fit_loss_law(N[fit_mask], D[fit_mask], L[fit_mask], form=form, objective=obj)  # type: ignore[arg-type]
    except (FitError, DensingInputError) as exc:
        return row | nan | {"status": Status.FAILED.value, "note": f"fit failed: {exc}"}
    rel = 100 * (np.asarray(fit.predict(N[test], D[test]), dtype=float) / L[test] - 1)
    return row | {
        "heldout_error_pct": float(np.mean(np.abs(rel))),
        "heldout_bias_pct": float(np.mean(rel)),
        "heldout_max_error_pct": float(np.max(np.abs(rel))),
        "status": Status.OK.value,
        "note": "",
    }


def select_law(
    N,
    D,
    L,
    *,
    forms: Sequence[str] = tuple(FORMS),
    objectives: Sequence[str] = OBJECTIVES,
    min_ratios: Sequence[float | None] = (None,),
    holdout_min_ratio: float | None = None,
) -> LawSelection:
    """Score every (form, objective, smallest D/N kept) on the largest size's held-out runs.

    ``N``, ``D``, ``L``: parameters, training tokens and loss per run (one point per run, e.g.
    each run's final checkpoint). See the module docstring for the split, the score and ties.
    """
    if D is None:
        raise DensingInputError("select_law needs the training tokens D of every run")
    N, D, L = check_points(N, D, L)
    _check_choices(forms, objectives, min_ratios)
    tpp = D / N  # tokens per parameter
    fit_pool, test = _split(N, tpp, holdout_min_ratio)
    rows = []
    for form, obj, ratio in itertools.product(forms, objectives, min_ratios):
        mask = fit_pool if ratio is None else fit_pool & np.greater_equal(tpp, ratio)
        rows.append({"form": form, "objective": obj, "min_ratio": ratio}
                    | _score(mask, test, (N, D, L), form, obj))  # fmt: skip
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    if not (table["status"] == Status.OK.value).any():
        raise FitError(f"no law candidate could be scored: {table['note'].iloc[0]}")
    return LawSelection(table, float(N.max()), int(test.sum()), holdout_min_ratio)


__all__ = ["MIN_SIZES", "LawSelection", "select_law"]

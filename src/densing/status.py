"""The one status vocabulary of densities, frames and trends (never a silent NaN).

Every estimate that can fail to be a finite number carries a :class:`Status`. The members are
strings (``Status.OK == "ok"``), so status columns of tables and JSON stay plain text.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Why an estimate is, or is not, a finite number."""

    OK = "ok"
    EXTRAPOLATED = "extrapolated"
    ABOVE_RANGE = "above_range"
    BELOW_RANGE = "below_range"
    UNINFORMATIVE = "uninformative"
    INSUFFICIENT_SCORES = "insufficient_scores"
    NO_SCORE = "no_score"
    MIXED = "mixed"
    FAILED = "failed"


#: One sentence per status, for help texts, summaries and the report's how-to-read.
STATUS_HELP: dict[Status, str] = {
    Status.OK: "finite estimate inside the reference frame's calibrated range",
    Status.EXTRAPOLATED: (
        "finite point estimate outside the reference frame's calibrated range "
        "(beyond its largest or smallest member): read it with its interval"
    ),
    Status.ABOVE_RANGE: (
        "the score is at or above what the frame can reach: the effective size is infinite "
        "(a lower bound only)"
    ),
    Status.BELOW_RANGE: (
        "the score is at or below the frame's floor (chance level): the effective size is 0 "
        "(an upper bound only)"
    ),
    Status.UNINFORMATIVE: (
        "scores indistinguishable from chance, or an interval without an upper bound: "
        "carries no information about the frontier"
    ),
    Status.INSUFFICIENT_SCORES: "too few usable scores for the frame",
    Status.NO_SCORE: "no score for this benchmark",
    Status.MIXED: "aggregate only: no benchmark is ok and they disagree",
    Status.FAILED: "a bootstrap replicate whose fit failed (inside replicate arrays only)",
}

#: Statuses of a finite, positive density (usable by the densing law).
FINITE_STATUSES: frozenset[Status] = frozenset({Status.OK, Status.EXTRAPOLATED})

__all__ = ["FINITE_STATUSES", "STATUS_HELP", "Status"]

"""Units and calendar constants: one definition each, used by every module."""

from __future__ import annotations

#: Mean Gregorian month in days (365.25 / 12 = 30.4375): months = days / DAYS_PER_MONTH.
DAYS_PER_MONTH: float = 365.25 / 12
#: Token budget at which a reference law is inverted when none is given (1T tokens).
DEFAULT_D0: float = 1e12

__all__ = ["DAYS_PER_MONTH", "DEFAULT_D0"]

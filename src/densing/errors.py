"""Errors raised for bad user input.

Every input problem is reported as a :class:`DensingInputError` that names the
file, row and column involved, so the CLI can print one clear line and exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the user's input a problem was found (all parts optional)."""

    file: str | None = None
    row: int | None = None  # 1-based data row (header excluded) or line number for JSONL
    column: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)


class DensingError(Exception):
    """Base class of densing's own errors."""


class DensingInputError(DensingError, ValueError):
    """Bad user input: the message says where and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.location = Location(file=file, row=row, column=column)
        self.reason = message
        where = str(self.location)
        super().__init__(f"{where}: {message}" if where else message)


class FitError(DensingError, RuntimeError):
    """A fit could not be carried out (e.g. too few points for the form)."""

"""Internal records passed between the catalog's stages, and the problem collector.

Data flows one way: a source adapter turns a file into :class:`RawModel` records, the rules turn
each into a :class:`Parsed` model (or problems), the loader merges them into a catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from densing.catalog.schema import ModelEntry, SourceEntry
from densing.errors import DensingInputError


@dataclass
class Problems:
    """Every problem found so far (validation reports them all, loading the first)."""

    items: list[DensingInputError] = field(default_factory=list)

    def add(
        self, message: str, *, file: str, row: int | None = None, column: str | None = None
    ) -> None:
        self.items.append(DensingInputError(message, file=file, row=row, column=column))

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class RawModel:
    """One model as read from a file, before validation."""

    raw: Any  # the model mapping (YAML entry, or a table row converted to that shape)
    file: str
    row: int  # 1-based position in the file's models list, or the table's data row
    family: str
    builtin: bool
    local_sources: Mapping[str, str] = field(default_factory=dict)  # local key -> qualified key
    columns: dict[str, str] = field(default_factory=dict)  # field path -> label in messages
    rows: dict[str, int] = field(default_factory=dict)  # field path -> its own row (long tables)

    def column(self, path: str) -> str:
        return self.columns.get(path, path)

    def row_of(self, path: str) -> int:
        return self.rows.get(path, self.row)

    @property
    def label(self) -> str:
        if isinstance(self.raw, Mapping) and self.raw.get("id") not in (None, ""):
            return f"model '{self.raw.get('id')}'"
        return "model (no id)"


@dataclass
class Parsed:
    """One validated model with its origin."""

    entry: ModelEntry
    raw: RawModel


@dataclass
class SourceRead:
    """What a source adapter read from one file."""

    models: list[RawModel] = field(default_factory=list)
    sources: dict[str, SourceEntry] = field(default_factory=dict)  # qualified key -> entry


def _loc_str(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_PLAIN = {
    "missing": "missing field (required)",
    "extra_forbidden": "unknown field (not part of the catalog format)",
}


def pydantic_messages(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs from a pydantic error."""
    out = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif err["type"] in _PLAIN:
            msg = _PLAIN[err["type"]]
        else:
            msg = f"{msg} (got {err.get('input')!r})"
        out.append((_loc_str(tuple(err["loc"])), msg))
    return out

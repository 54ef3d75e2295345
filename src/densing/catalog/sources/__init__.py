"""Source adapters: how one kind of file becomes catalog models, registered by file suffix.

An adapter is a function ``read(path, ctx) -> SourceRead``: the file's models as
:class:`~densing.catalog._records.RawModel` records (not validated yet) and the sources it
defines. It adds what is wrong with the file itself to ``ctx.problems``; the models' own
checks are :mod:`densing.catalog.rules`. Adding a source = one module with a ``read`` function
+ one :func:`register_source` line below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from densing.catalog._records import Problems, SourceRead
from densing.catalog.schema import SourceEntry


@dataclass
class ReadContext:
    """What an adapter may use: the sources known so far and the problem list."""

    problems: Problems
    known_sources: Mapping[str, SourceEntry]
    builtin: bool = False  # a file of the built-in data (stricter naming, qualified keys)
    preloaded: Mapping[str, Any] = field(default_factory=dict)  # path -> parsed YAML (cache)


Reader = Callable[[Path, ReadContext], SourceRead]
_READERS: dict[str, Reader] = {}


def register_source(suffixes: Iterable[str], reader: Reader) -> None:
    """Read files ending in any of ``suffixes`` (``.csv``; case-insensitive) with ``reader``."""
    for s in suffixes:
        _READERS[s.lower()] = reader


def suffixes() -> list[str]:
    """Every registered file suffix."""
    return sorted(_READERS)


def reader_for(path: Path) -> Reader | None:
    """The adapter of ``path`` by its suffix, or None."""
    return _READERS.get(path.suffix.lower())


from densing.catalog.sources import family_yaml, table  # noqa: E402 (the adapters register)

register_source((".yaml", ".yml"), family_yaml.read)
register_source((".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl"), table.read)

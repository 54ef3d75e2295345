"""User tables (``.csv``, ``.tsv``, ``.parquet``, ``.pq``, ``.json``, ``.jsonl``).

The layouts (one row per model, or one row per score) are described in
:mod:`densing.catalog.tables`.
"""

from __future__ import annotations

from pathlib import Path

from densing.catalog._records import SourceRead
from densing.catalog.sources import ReadContext
from densing.catalog.tables import read_user_table
from densing.errors import DensingInputError


def read(path: Path, ctx: ReadContext) -> SourceRead:
    """The models of a user table; a file that cannot be read is one problem."""
    try:
        return read_user_table(path, known_sources=ctx.known_sources, problems=ctx.problems)
    except DensingInputError as exc:
        ctx.problems.items.append(exc)
        return SourceRead()

"""Family files (``.yaml`` / ``.yml``): ``family``, family-local ``sources``, ``models``.

A family-local source key ``k`` of ``families/llama-2.yaml`` is called ``llama-2:k`` in the
catalog (``user:<stem>:k`` for a user's YAML file); global keys of ``sources.yaml`` keep their
names and may not be shadowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from densing.catalog._records import Problems, RawModel, SourceRead, pydantic_messages
from densing.catalog._yaml import read_yaml
from densing.catalog.schema import FamilyFile, SourceEntry
from densing.catalog.sources import ReadContext
from densing.errors import DensingInputError

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")


def _source_key_problem(key: str, global_keys: set[str]) -> str | None:
    if not _KEY_RE.match(key):
        return f"source key '{key}' has characters outside [A-Za-z0-9._:/+-]"
    if key in global_keys:
        return (
            f"source key '{key}' clashes with the global source of that name in sources.yaml; "
            "rename the family-local key"
        )
    return None


def parse_sources(
    raw: Any, *, file: str, prefix: str, problems: Problems, global_keys: Iterable[str] = ()
) -> tuple[dict[str, SourceEntry], dict[str, str]]:
    """Validate a ``key -> {citation, url}`` mapping; return (qualified -> entry, local -> qualified)."""
    entries: dict[str, SourceEntry] = {}
    local: dict[str, str] = {}
    if raw is None:
        return entries, local
    if not isinstance(raw, Mapping):
        msg = "expected 'sources' to be a mapping key -> {citation, url}"
        problems.add(msg, file=file, column="sources")
        return entries, local
    reserved = set(global_keys)
    for key, value in raw.items():
        key, column = str(key), f"sources.{key}"
        problem = _source_key_problem(key, reserved)
        if problem is not None:
            problems.add(problem, file=file, column=column)
            continue
        try:
            entry = SourceEntry.model_validate(value)
        except ValidationError as exc:
            for loc, msg in pydantic_messages(exc):
                problems.add(msg, file=file, column=f"{column}.{loc}" if loc else column)
            continue
        local[key] = f"{prefix}{key}"
        entries[local[key]] = entry
    return entries, local


def _document(path: Path, ctx: ReadContext) -> Any:
    data = ctx.preloaded[str(path)] if str(path) in ctx.preloaded else read_yaml(path)
    if data is None:
        raise DensingInputError(
            "the file is empty; expected family, sources, models", file=str(path)
        )
    if not isinstance(data, Mapping):
        raise DensingInputError(
            "expected a mapping with keys family, sources, models", file=str(path)
        )
    return data


def read(path: Path, ctx: ReadContext) -> SourceRead:
    """A family file's models (row = 1-based position in ``models``) and its sources."""
    file = str(path)
    try:
        data = _document(path, ctx)
    except DensingInputError as exc:
        ctx.problems.items.append(exc)
        return SourceRead()
    if ctx.builtin and not _SLUG_RE.match(path.stem):
        msg = f"family file name '{path.name}' is not a slug; expected lowercase [a-z0-9-] + .yaml"
        ctx.problems.add(msg, file=file)
    try:
        fam = FamilyFile.model_validate({**data, "sources": {}})  # sources: below
    except ValidationError as exc:
        for loc, msg in pydantic_messages(exc):
            ctx.problems.add(msg, file=file, column=loc or None)
        return SourceRead()
    prefix = f"{path.stem}:" if ctx.builtin else f"user:{path.stem}:"
    entries, local = parse_sources(
        data.get("sources"),
        file=file,
        prefix=prefix,
        problems=ctx.problems,
        global_keys=ctx.known_sources,
    )
    models = [
        RawModel(raw, file, i + 1, fam.family, ctx.builtin, local_sources=local)
        for i, raw in enumerate(fam.models)
    ]
    return SourceRead(models=models, sources=entries)

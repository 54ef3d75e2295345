"""Collect, check, merge and load: from files to a :class:`~densing.catalog.catalog.Catalog`.

1. read ``sources.yaml`` and every file with the adapter registered for its suffix
   (:mod:`densing.catalog.sources`): raw models and the sources they define;
2. check each model (schema and :mod:`densing.catalog.rules`) against all sources read;
3. merge: an id twice in the built-in data or in one user file is an error, a user model with
   an existing id replaces it (in place);
4. build the catalog's tables.

:func:`validate` returns every problem; :func:`load` raises the first (counting the others).
Both take the same options, :class:`LoadOptions`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pandas as pd

from densing.catalog._records import Parsed, Problems, RawModel
from densing.catalog._yaml import read_yaml, with_yaml_lines
from densing.catalog.cache import cache_dir, cached_yaml
from densing.catalog.catalog import MODEL_COLUMNS, SCORE_COLUMNS, Catalog
from densing.catalog.rules import RuleContext, check_model
from densing.catalog.schema import SourceEntry
from densing.catalog.sources import ReadContext, reader_for, suffixes
from densing.catalog.sources.family_yaml import parse_sources
from densing.errors import DensingInputError

DATA_DIR = Path(__file__).resolve().parent.parent / "catalog_data"

Extra = str | Path | Sequence[str | Path] | None


class LoadOptions(TypedDict, total=False):
    """Options of :func:`load` and :func:`validate`.

    ``include_builtin`` (default True): load the built-in models (with False their sources
    stay known, so an exported table loads on its own); ``data_dir``: another catalog data
    directory (``sources.yaml`` + ``families/``); ``today``: the date future release dates
    are checked against; ``cache`` (default True): use the parse cache of
    :mod:`densing.catalog.cache`.
    """

    include_builtin: bool
    data_dir: str | Path | None
    today: _dt.date | None
    cache: bool


@dataclass
class _Collected:
    models: list[Parsed] = field(default_factory=list)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    overridden: list[str] = field(default_factory=list)


def _as_paths(extra: Extra) -> list[Path]:
    if extra is None:
        return []
    if isinstance(extra, str | Path):
        return [Path(extra)]
    return [Path(p) for p in extra]


def _builtin_files(data_dir: Path) -> list[Path]:
    families = data_dir / "families"
    return sorted([*families.glob("*.yaml"), *families.glob("*.yml")])


def _global_sources(file: Path, preloaded: dict[str, Any], problems: Problems) -> dict:
    if str(file) in preloaded:
        raw = preloaded[str(file)]
    else:
        try:
            raw = read_yaml(file)
        except DensingInputError as exc:
            problems.items.append(exc)
            return {}
    entries, _ = parse_sources(raw, file=str(file), prefix="", problems=problems)
    return entries


def _user_file_problem(path: Path) -> str | None:
    if not path.exists():
        return "file not found"
    if path.is_dir():
        return "expected a file, got a directory"
    if reader_for(path) is None:
        return f"unsupported file type '{path.suffix}'; expected one of {', '.join(suffixes())}"
    return None


def _read_files(
    builtin: list[Path], user: list[Path], ctx: ReadContext, sources: dict[str, SourceEntry]
) -> list[RawModel]:
    """Pass 1: every file's raw models; their sources are added to ``sources``."""
    raw: list[RawModel] = []
    for path in builtin + user:
        ctx.builtin = path in builtin
        problem = None if ctx.builtin else _user_file_problem(path)
        if problem is not None:
            ctx.problems.add(problem, file=str(path))
            continue
        reader = reader_for(path)
        assert reader is not None  # builtin files are YAML
        read = reader(path, ctx)
        sources.update(read.sources)
        raw.extend(read.models)
    return raw


def _merge(parsed: list[Parsed], problems: Problems) -> tuple[list[Parsed], list[str]]:
    """Ids are unique in the built-in data and in each user file; later user files replace."""
    final: dict[str, Parsed] = {}
    overridden: list[str] = []
    for p in parsed:
        mid = p.entry.id
        prev = final.get(mid)
        if prev is not None and (p.raw.builtin or prev.raw.file == p.raw.file):
            problems.add(
                f"duplicated model id '{mid}' (also {prev.raw.file}, row {prev.raw.row}); "
                "ids must be unique across the catalog",
                file=p.raw.file,
                row=p.raw.row,
                column=p.raw.column("id"),
            )
            continue
        if prev is not None:
            overridden.append(mid)
        final[mid] = p
    return list(final.values()), overridden


def _collect(extra: Extra, options: LoadOptions) -> tuple[_Collected, list[DensingInputError]]:
    data_dir = Path(options.get("data_dir") or DATA_DIR)
    include_builtin = options.get("include_builtin", True)
    today = options.get("today") or _dt.date.today()
    directory = cache_dir() if options.get("cache", True) else None
    problems = Problems()
    global_file = data_dir / "sources.yaml"
    builtin = _builtin_files(data_dir)
    preloaded = cached_yaml([global_file, *builtin], directory) if directory else {}
    sources: dict[str, SourceEntry] = {}
    if global_file.exists():
        sources.update(_global_sources(global_file, preloaded, problems))
    elif include_builtin:
        problems.add("global sources file is missing", file=str(global_file))
    ctx = ReadContext(problems, sources, preloaded=preloaded)
    raw = _read_files(builtin, _as_paths(extra), ctx, sources)
    if not include_builtin:
        raw = [r for r in raw if not r.builtin]
    parsed = []
    for r in raw:
        p = check_model(r, RuleContext(today, r.local_sources, sources), problems)
        if p is not None:
            parsed.append(p)
    models, overridden = _merge(parsed, problems)
    unique = list({str(p): p for p in problems.items}.values())  # e.g. defaulted active_params
    return _Collected(models, sources, overridden), with_yaml_lines(unique)


def validate(extra: Extra = None, **options: Unpack[LoadOptions]) -> list[DensingInputError]:
    """All problems in the built-in data (and ``extra`` user files); empty when valid."""
    return _collect(extra, options)[1]


def load(extra: Extra = None, **options: Unpack[LoadOptions]) -> Catalog:
    """Load and validate the built-in catalog, with user files ``extra`` merged on top.

    ``extra`` are CSV/TSV/Parquet/JSON tables (one row per model, or one row per score; see
    :mod:`densing.catalog.tables`) or YAML files in the family-file format. A user model whose
    id exists already replaces that entry entirely (all fields and scores). Options:
    :class:`LoadOptions`. Raises :class:`DensingInputError` for the first problem (the message
    counts the others; :func:`validate` lists them all).
    """
    collected, problems = _collect(extra, options)
    if problems:
        first = problems[0]
        if len(problems) == 1:
            raise first
        raise DensingInputError(
            f"{first.reason} (and {len(problems) - 1} more problem(s); "
            "run `densing catalog validate` to list them)",
            file=first.location.file,
            row=first.location.row,
            column=first.location.column,
        )
    return _build(collected)


def _origin(p: Parsed) -> str:
    path = Path(p.raw.file)
    if not p.raw.builtin:
        return str(path)
    try:
        return str(path.relative_to(DATA_DIR.parent))
    except ValueError:
        return f"catalog_data/families/{path.name}"


def _model_row(p: Parsed) -> dict[str, Any]:
    e = p.entry
    return {
        "id": e.id,
        "family": p.raw.family,
        "params": float(e.params),
        "active_params": float(e.active_params),
        "tokens": float("nan") if e.tokens is None else float(e.tokens),
        "release_date": pd.Timestamp(e.release_date),
        "arch": e.arch,
        "notes": e.notes,
        "params_source": e.params_source,
        "tokens_source": e.tokens_source,
        "date_source": e.date_source,
        "derived_from": e.derived_from,
        "origin": _origin(p),
    }


def _score_rows(p: Parsed) -> list[dict[str, Any]]:
    return [
        {
            "id": p.entry.id,
            "benchmark": s.benchmark,
            "score": float(s.score),
            "shots": s.shots,
            "cot": bool(s.cot),
            "setting": s.setting,
            "source": s.source,
        }
        for s in p.entry.scores
    ]


def _build(c: _Collected) -> Catalog:
    models = pd.DataFrame([_model_row(p) for p in c.models], columns=list(MODEL_COLUMNS))
    models["release_date"] = pd.to_datetime(models["release_date"])
    for col in ("params", "active_params", "tokens"):
        models[col] = models[col].astype(float)
    for col in ("tokens_source", "derived_from"):  # object columns, None where absent
        models[col] = models[col].astype(object)
        models.loc[models[col].isna(), col] = None
    srows = [row for p in c.models for row in _score_rows(p)]
    scores = pd.DataFrame(srows, columns=list(SCORE_COLUMNS))
    scores["score"] = scores["score"].astype(float)
    scores["shots"] = scores["shots"].astype("Int64")
    used = set(models["params_source"]) | set(models["date_source"]) | set(scores["source"])
    used |= {k for k in models["tokens_source"] if k is not None}
    sources = pd.DataFrame(
        [
            {"key": k, "citation": v.citation, "url": v.url}
            for k, v in sorted(c.sources.items())
            if k in used or ":" not in k
        ],
        columns=["key", "citation", "url"],
    )
    return Catalog(models=models, scores=scores, sources=sources, overridden=tuple(c.overridden))

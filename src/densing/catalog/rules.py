"""Validation rules of one catalog model, as small named functions.

A rule takes a schema-valid :class:`ModelEntry` and the :class:`RuleContext` of its file and
yields ``(field path, message)`` issues; :data:`RULES` lists them in the order they report.
:func:`check_model` runs the schema and every rule on one :class:`RawModel`; the issues become
problems naming the file, the model's row, the field (or the user table's column) and the model.
Adding a rule = one function + one entry in :data:`RULES`.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from densing.catalog._records import Parsed, Problems, RawModel, pydantic_messages
from densing.catalog.schema import (
    EARLIEST_DATE,
    OPENLLM_V1_BENCHMARKS,
    OPENLLM_V2_BENCHMARKS,
    ModelEntry,
    SourceEntry,
    suggest,
)

Issue = tuple[str, str]  # (field path, message)

# tokens of a model id's name that mark a tuned (non-base) checkpoint
_TUNED_ID_TOKENS = frozenset({"chat", "it", "sft", "rlhf", "dpo", "orpo", "kto", "ppo", "simpo"})
_TUNED_NOTE_RE = re.compile(
    r"\b(instruction[- ]tuned|instruct[- ]tuned|chat[- ]tuned|chat model|chat version|"
    r"sft model|sft checkpoint|sft version|rlhf[- ]tuned|rlhf model|dpo[- ]tuned|dpo model|"
    r"fine[- ]tuned (?:for|on) (?:chat|dialogue|instructions?))\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"\b(not|no|non|without|before|prior to|base of|from)\b\W*$", re.I)
_BASE_ONLY = "the catalog holds pretrained base models only"


@dataclass(frozen=True)
class RuleContext:
    """What the rules of one model may consult besides the model itself."""

    today: _dt.date
    local_sources: Mapping[str, str]  # the file's own keys -> qualified keys
    known_sources: Mapping[str, SourceEntry]  # qualified keys of every source read so far


def base_model_id(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """The id must not mark an instruction-tuned or chat checkpoint."""
    name = e.id.rsplit("/", 1)[-1].lower()
    tuned = [t for t in re.split(r"[-_.\s]+", name) if t in _TUNED_ID_TOKENS]
    if "instruct" in name or tuned:
        what = "instruct" if "instruct" in name else tuned[0]
        yield (
            "id",
            f"not a base model (the id contains '{what}', which marks an instruction-tuned/chat "
            f"checkpoint); {_BASE_ONLY}",
        )


def base_model_notes(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """The notes must not describe a tuned checkpoint (negations like 'not' are fine)."""
    for m in _TUNED_NOTE_RE.finditer(e.notes):
        if not _NEGATION_RE.search(e.notes[max(0, m.start() - 15) : m.start()]):
            yield "notes", f"not a base model (notes say '{m.group(0)}'); {_BASE_ONLY}"
            return


def active_params_fit_arch(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """active_params <= params; == for dense models, < for mixture-of-experts."""
    if e.active_params > e.params * (1 + 1e-9):
        yield (
            "active_params",
            f"active_params {e.active_params:g} is larger than params {e.params:g}; "
            "expected active_params <= params",
        )
    elif e.arch == "dense" and not math.isclose(e.active_params, e.params, rel_tol=1e-9):
        yield (
            "active_params",
            f"a dense model has active_params == params; got {e.active_params:g} and "
            f"{e.params:g} (use arch: moe for mixture-of-experts)",
        )
    elif e.arch == "moe" and e.active_params >= e.params:
        yield (
            "active_params",
            "a moe model activates fewer parameters than it has; got active_params == params "
            f"== {e.params:g}",
        )


def tokens_source_iff_tokens(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """A token count has a source, and a source has a token count."""
    if e.tokens is None and e.tokens_source not in (None, ""):
        yield (
            "tokens_source",
            f"tokens_source '{e.tokens_source}' is given but tokens is null; give both or neither",
        )
    if e.tokens is not None and e.tokens_source in (None, ""):
        yield (
            "tokens_source",
            f"tokens {e.tokens:g} has no tokens_source; every value needs a source",
        )


def release_date_in_range(e: ModelEntry, ctx: RuleContext) -> Iterator[Issue]:
    """The release date lies between 2018-01-01 and today."""
    day = e.release_date.isoformat()
    if e.release_date > ctx.today:
        yield (
            "release_date",
            f"release date {day} is in the future (today is {ctx.today.isoformat()}); "
            "expected the first public release date",
        )
    if e.release_date < EARLIEST_DATE:
        yield (
            "release_date",
            f"release date {day} is before {EARLIEST_DATE.isoformat()}; expected a date from "
            "2018 on (check the year)",
        )


def scores_unique(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """No two scores share benchmark, setting, shots, cot and source."""
    seen: dict[tuple[str, str, int | None, bool, str], int] = {}
    for i, s in enumerate(e.scores):
        key = (s.benchmark, s.setting, s.shots, s.cot, s.source)
        if key in seen:
            yield (
                f"scores[{i}].benchmark",
                f"benchmark '{s.benchmark}' with setting '{s.setting}', shots {s.shots}, cot "
                f"{s.cot} and source '{s.source}' appears twice (scores[{seen[key]}] and "
                f"scores[{i}]); keep one",
            )
        seen[key] = i


_SETTING_BENCHMARKS = {"openllm-v1": OPENLLM_V1_BENCHMARKS, "openllm-v2": OPENLLM_V2_BENCHMARKS}


def leaderboard_settings_fit_benchmark(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """openllm-v1 / openllm-v2* settings only for the benchmarks of that leaderboard."""
    for i, s in enumerate(e.scores):
        board = "openllm-v2" if s.setting.startswith("openllm-v2") else s.setting
        allowed = _SETTING_BENCHMARKS.get(board)
        if allowed is not None and s.benchmark not in allowed:
            yield (
                f"scores[{i}].setting",
                f"benchmark '{s.benchmark}' is not part of the {board} setting "
                f"({', '.join(sorted(allowed))})",
            )


def _source_fields(e: ModelEntry) -> Iterator[tuple[str, str | None]]:
    yield "params_source", e.params_source
    yield "tokens_source", e.tokens_source
    yield "date_source", e.date_source
    for i, s in enumerate(e.scores):
        yield f"scores[{i}].source", s.source


def _resolve(key: str | None, ctx: RuleContext) -> str | None:
    if key is None:
        return None
    if key in ctx.local_sources:
        return ctx.local_sources[key]
    return key if key in ctx.known_sources else None


def sources_known(e: ModelEntry, ctx: RuleContext) -> Iterator[Issue]:
    """Every source key is one of the file's sources or of sources.yaml."""
    for path, key in _source_fields(e):
        if key in (None, "") or _resolve(key, ctx) is not None:
            continue
        options = sorted(set(ctx.local_sources) | {k for k in ctx.known_sources if ":" not in k})
        yield (
            path,
            f"unknown source key '{key}'{suggest(key, options)}; expected a key of the file's "
            f"'sources' or of sources.yaml ({', '.join(options) or 'none defined'})",
        )


def reported_scores_have_shots(e: ModelEntry, _ctx: RuleContext) -> Iterator[Issue]:
    """A developer-reported score says how many shots it used (its item depends on it)."""
    for i, s in enumerate(e.scores):
        if (s.setting == "reported" or s.setting.startswith("own-")) and s.shots is None:
            yield (
                f"scores[{i}].shots",
                f"benchmark '{s.benchmark}' with setting '{s.setting}' has no shots; a reported "
                "score needs the number of shots the source states (0 for zero-shot)",
            )


Rule = Callable[[ModelEntry, RuleContext], Iterable[Issue]]
RULES: tuple[Rule, ...] = (
    base_model_id,
    base_model_notes,
    active_params_fit_arch,
    tokens_source_iff_tokens,
    release_date_in_range,
    sources_known,
    scores_unique,
    leaderboard_settings_fit_benchmark,
    reported_scores_have_shots,
)


def _with_qualified_sources(e: ModelEntry, ctx: RuleContext) -> ModelEntry:
    """The entry with every source key replaced by its catalog-wide (qualified) key."""
    scores = [s.model_copy(update={"source": _resolve(s.source, ctx)}) for s in e.scores]
    fields = {p: _resolve(k, ctx) for p, k in _source_fields(e) if not p.startswith("scores")}
    return e.model_copy(update={**fields, "scores": scores})


def check_model(raw: RawModel, ctx: RuleContext, problems: Problems) -> Parsed | None:
    """Schema + rules of one model: a :class:`Parsed` model, or None with problems added."""
    if not isinstance(raw.raw, Mapping):
        msg = f"expected a model mapping (id, params, ...), got {raw.raw!r}"
        problems.add(msg, file=raw.file, row=raw.row)
        return None
    try:
        entry = ModelEntry.model_validate(dict(raw.raw))
    except ValidationError as exc:
        for loc, msg in pydantic_messages(exc):
            problems.add(
                f"{raw.label}: {msg}", file=raw.file, row=raw.row_of(loc), column=raw.column(loc)
            )
        return None
    issues = [issue for rule in RULES for issue in rule(entry, ctx)]
    for path, msg in issues:
        problems.add(
            f"{raw.label}: {msg}", file=raw.file, row=raw.row_of(path), column=raw.column(path)
        )
    return None if issues else Parsed(_with_qualified_sources(entry, ctx), raw)

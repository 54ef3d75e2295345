"""The built-in catalog of open base language models, with a source for every value.

Data lives in ``densing/catalog_data/`` (see ``CATALOG_FORMAT.md`` / the README section
"Built-in model catalog"): ``sources.yaml`` holds global sources and ``families/<slug>.yaml``
holds one family each. :func:`load` parses and validates everything and returns a frozen
:class:`Catalog` of pandas tables; users can merge their own CSV / Parquet / JSON / YAML files
of models and scores on top (same validation; a user row with an existing id replaces the
built-in entry).

Every problem is a :class:`~densing.errors.DensingInputError` naming the file, the model (row
= 1-based position of the model in the file's ``models`` list, or the CSV data row), the field
and what was expected. :func:`validate` returns all problems; :func:`load` raises the first.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from densing.errors import DensingInputError

__all__ = [
    "BENCHMARKS",
    "DATA_DIR",
    "OPENLLM_V1_BENCHMARKS",
    "OPENLLM_V2_BENCHMARKS",
    "Catalog",
    "ModelEntry",
    "ScoreEntry",
    "SourceEntry",
    "load",
    "setting_rank",
    "validate",
]

DATA_DIR = Path(__file__).resolve().parent / "catalog_data"

#: Canonical benchmark names (scores are fractions in [0, 1]; pass@1 for code).
BENCHMARKS: tuple[str, ...] = (
    "mmlu",
    "arc_challenge",
    "hellaswag",
    "winogrande",
    "truthfulqa",
    "gsm8k",
    "humaneval",
    "mbpp",
    "bbh",
    "math",
    "xwinograd",
    "mmlu_pro",
    "gpqa",
    "math_hard",
    "musr",
    "ifeval",
    # added for 2025-26 base-model reports (scores as fractions; pass@1 for code)
    "mmlu_redux",
    "supergpqa",
    "agieval",
    "arc_easy",
    "piqa",
    "siqa",
    "openbookqa",
    "boolq",
    "commonsenseqa",
    "triviaqa",
    "naturalquestions",
    "drop",
    "squad",
    "race",
    "lambada",
    "mgsm",
    "mmmlu",
    "include",
    "cmmlu",
    "ceval",
    "humaneval_plus",
    "mbpp_plus",
    "evalplus",
    "multipl_e",
    "livecodebench",
    "crux_o",
    "aime24",
    "aime25",
)
#: Benchmarks that exist under the Open LLM Leaderboard v1 / v2 settings.
OPENLLM_V1_BENCHMARKS = frozenset(
    {"mmlu", "arc_challenge", "hellaswag", "winogrande", "truthfulqa", "gsm8k"}
)
OPENLLM_V2_BENCHMARKS = frozenset({"bbh", "gpqa", "ifeval", "math_hard", "mmlu_pro", "musr"})

EARLIEST_DATE = _dt.date(2018, 1, 1)
MIN_PARAMS, MAX_PARAMS = 1e6, 1e13
MIN_TOKENS, MAX_TOKENS = 1e8, 1e15

_OWN_SETTING_RE = re.compile(r"^own-[a-z0-9][a-z0-9.+_-]*$")
#: Evaluation settings a score may carry (the stitched frame treats each (benchmark, setting)
#: as its own item). ``reported`` scores also need ``shots`` (and ``cot`` when chain-of-thought).
SETTINGS: dict[str, str] = {
    "openllm-v1": "Open LLM Leaderboard v1 (lm-eval-harness, uniform shots per benchmark)",
    "openllm-v2": "Open LLM Leaderboard v2 harness, raw accuracies (as in the ObsScaling v2 data)",
    "openllm-v2-norm": (
        "Open LLM Leaderboard v2 normalised scores as the leaderboard and model cards show them "
        "(0 = random baseline, 1 = perfect; the card's value / 100)"
    ),
    "obscaling": "ObsScaling re-runs of the v1 harness / EvalPlus HumanEval (uniform)",
    "reported": "the model developer's own report, or a technical report's comparison table",
}
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")
# tokens of a model id's name that mark a tuned (non-base) checkpoint
_TUNED_ID_TOKENS = frozenset({"chat", "it", "sft", "rlhf", "dpo", "orpo", "kto", "ppo", "simpo"})
_TUNED_NOTE_RE = re.compile(
    r"\b(instruction[- ]tuned|instruct[- ]tuned|chat[- ]tuned|chat model|chat version|"
    r"sft model|sft checkpoint|sft version|rlhf[- ]tuned|rlhf model|dpo[- ]tuned|dpo model|"
    r"fine[- ]tuned (?:for|on) (?:chat|dialogue|instructions?))\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"\b(not|no|non|without|before|prior to|base of|from)\b\W*$", re.I)


def setting_rank(setting: str) -> int:
    """Preference of an evaluation setting when one must be chosen (lower is better).

    Uniform harnesses first (``openllm-v1``, ``openllm-v2``, ``obscaling*``), then any other
    named harness setting, then ``reported`` (developer tech reports / model cards).
    """
    if setting == "openllm-v1":
        return 0
    if setting == "openllm-v2":
        return 1
    if setting == "obscaling" or setting.startswith("obscaling-"):
        return 2
    if setting == "reported":
        return 4
    return 3


# ----------------------------------------------------------------------------------------
# schema


def _suggest(value: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(value.lower(), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class SourceEntry(BaseModel):
    """A citation (paper, model card, data set) with an optional URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    citation: str
    url: str | None = None

    @field_validator("citation")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected a non-empty citation text")
        return v.strip()


class ScoreEntry(BaseModel):
    """One benchmark score of one model under one evaluation setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    benchmark: str
    score: float
    shots: int | None = None
    cot: bool = False
    setting: str
    source: str

    @field_validator("benchmark")
    @classmethod
    def _known_benchmark(cls, v: str) -> str:
        if v not in BENCHMARKS:
            raise ValueError(
                f"unknown benchmark '{v}'{_suggest(v, BENCHMARKS)}; expected one of "
                + ", ".join(BENCHMARKS)
            )
        return v

    @field_validator("score", mode="before")
    @classmethod
    def _score_is_number(cls, v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            raise ValueError(f"expected a score as a fraction in [0, 1], got {v!r}")
        return v

    @field_validator("score")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"score {v} is not finite; expected a fraction in [0, 1]")
        if 1.0 < v <= 100.0:
            raise ValueError(
                f"score {v:g} is outside [0, 1]: it looks like a percentage; "
                f"give the fraction {v / 100:g}"
            )
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"score {v:g} is outside [0, 1]; expected a fraction in [0, 1]")
        return v

    @field_validator("shots")
    @classmethod
    def _shots(cls, v: int | None) -> int | None:
        if v is not None and v < 0:
            raise ValueError(f"shots {v} is negative; expected an integer >= 0 or null")
        return v

    @field_validator("setting")
    @classmethod
    def _setting(cls, v: str) -> str:
        if v not in SETTINGS and not _OWN_SETTING_RE.match(v):
            raise ValueError(
                f"unknown setting '{v}'{_suggest(v, SETTINGS)}; expected one of "
                + ", ".join(SETTINGS)
                + ", or 'own-<name>' for your own harness runs (e.g. own-lm-eval-0.4)"
            )
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if not str(v).strip():
            raise ValueError("expected a source key, got an empty value")
        return str(v).strip()


class ModelEntry(BaseModel):
    """One base model: sizes, tokens, release date, each with a source, and its scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    params: float
    active_params: float
    params_source: str
    tokens: float | None = None
    tokens_source: str | None = None
    release_date: _dt.date
    date_source: str
    arch: Literal["dense", "moe"]
    notes: str = ""
    derived_from: str | None = None
    scores: list[ScoreEntry] = []

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        v = str(v).strip()
        if not v:
            raise ValueError("expected a non-empty model id")
        return v

    @field_validator("params", "active_params", "tokens", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"expected a number, got {v!r}")
        return v

    @field_validator("params", "active_params")
    @classmethod
    def _size(cls, v: float) -> float:
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"size {v:g} must be a positive number of parameters")
        if v < MIN_PARAMS:
            raise ValueError(
                f"size {v:g} is implausibly small: it looks like billions; "
                f"give the raw parameter count (e.g. {v:g}e9)"
            )
        if v > MAX_PARAMS:
            raise ValueError(f"size {v:g} is implausibly large (> {MAX_PARAMS:g} parameters)")
        return v

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: float | None) -> float | None:
        if v is None:
            return v
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"tokens {v:g} must be a positive token count (or null if unknown)")
        if v < MIN_TOKENS:
            raise ValueError(
                f"tokens {v:g} is implausibly small: it looks like trillions or billions; "
                "give the raw token count (e.g. 2.0e12)"
            )
        if v > MAX_TOKENS:
            raise ValueError(f"tokens {v:g} is implausibly large (> {MAX_TOKENS:g})")
        return v

    @field_validator("release_date", mode="before")
    @classmethod
    def _date_form(cls, v: Any) -> Any:
        if isinstance(v, _dt.datetime):
            return v.date()
        if isinstance(v, _dt.date):
            return v
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            return v.strip()
        raise ValueError(f"expected an ISO date YYYY-MM-DD, got {v!r}")

    @field_validator("arch", mode="before")
    @classmethod
    def _arch(cls, v: Any) -> Any:
        if v not in ("dense", "moe"):
            raise ValueError(f"expected 'dense' or 'moe', got {v!r}")
        return v

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, v: Any) -> Any:
        return "" if v is None else v


class FamilyFile(BaseModel):
    """A family file: display name, family-local sources and models."""

    model_config = ConfigDict(extra="forbid")
    family: str
    sources: dict[str, SourceEntry] = {}
    models: list[Any]

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        if not str(v).strip():
            raise ValueError("expected a non-empty family display name")
        return str(v).strip()


# ----------------------------------------------------------------------------------------
# parsing


@dataclass
class _Parsed:
    """One validated model with its origin (internal)."""

    entry: ModelEntry
    family: str
    file: str
    row: int
    builtin: bool
    # (field path) -> column label used in error messages (CSV columns differ from YAML paths)
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class _Problems:
    items: list[DensingInputError] = field(default_factory=list)

    def add(self, message: str, *, file: str, row: int | None = None, column: str | None = None):
        self.items.append(DensingInputError(message, file=file, row=row, column=column))


def _loc_str(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_messages(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs from a pydantic error."""
    out = []
    for err in exc.errors(include_url=False):
        loc = _loc_str(tuple(err["loc"]))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif err["type"] == "missing":
            msg = "missing field (required)"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the catalog format)"
        else:
            msg = f"{msg} (got {err.get('input')!r})"
        out.append((loc, msg))
    return out


def _model_label(raw: Any) -> str:
    if isinstance(raw, Mapping) and raw.get("id") not in (None, ""):
        return f"model '{raw.get('id')}'"
    return "model (no id)"


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml parser; refuses duplicated mapping keys (YAML would keep the last silently)."""


def _no_duplicate_keys(loader: Any, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # complex keys: left to the constructor
        key = key_node.value
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicated key '{key}' (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def _read_yaml(path: Path, problems: _Problems) -> Any:
    try:
        with path.open("r", encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problems.add(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path))
    except OSError as exc:
        problems.add(f"cannot read file: {exc}", file=str(path))
    return None


def _parse_sources(
    raw: Any, *, file: str, prefix: str, problems: _Problems, global_keys: Iterable[str] = ()
) -> tuple[dict[str, SourceEntry], dict[str, str]]:
    """Validate a ``key -> {citation, url}`` mapping; return (qualified -> entry, local -> qualified)."""
    entries: dict[str, SourceEntry] = {}
    local: dict[str, str] = {}
    if raw is None:
        return entries, local
    if not isinstance(raw, Mapping):
        problems.add(
            "expected 'sources' to be a mapping key -> {citation, url}",
            file=file,
            column="sources",
        )
        return entries, local
    global_keys = set(global_keys)
    for key, value in raw.items():
        key = str(key)
        column = f"sources.{key}"
        if not _KEY_RE.match(key):
            problems.add(
                f"source key '{key}' has characters outside [A-Za-z0-9._:/+-]",
                file=file,
                column=column,
            )
            continue
        if key in global_keys:
            problems.add(
                f"source key '{key}' clashes with the global source of that name in sources.yaml; "
                "rename the family-local key",
                file=file,
                column=column,
            )
            continue
        try:
            entry = SourceEntry.model_validate(value)
        except ValidationError as exc:
            for loc, msg in _pydantic_messages(exc):
                problems.add(msg, file=file, column=f"{column}.{loc}" if loc else column)
            continue
        qualified = f"{prefix}{key}" if prefix else key
        entries[qualified] = entry
        local[key] = qualified
    return entries, local


def _validate_model(
    raw: Any,
    *,
    file: str,
    row: int,
    family: str,
    builtin: bool,
    local_sources: Mapping[str, str],
    known_sources: Mapping[str, SourceEntry],
    problems: _Problems,
    today: _dt.date,
    columns: Mapping[str, str] | None = None,
) -> _Parsed | None:
    """Schema + semantic checks of one model; problems are appended, None when invalid."""
    columns = dict(columns or {})

    def col(path: str) -> str:
        return columns.get(path, path)

    label = _model_label(raw)
    if not isinstance(raw, Mapping):
        problems.add(f"expected a model mapping (id, params, ...), got {raw!r}", file=file, row=row)
        return None
    n_before = len(problems.items)
    try:
        entry = ModelEntry.model_validate(dict(raw))
    except ValidationError as exc:
        for loc, msg in _pydantic_messages(exc):
            problems.add(f"{label}: {msg}", file=file, row=row, column=col(loc))
        return None

    # base model only
    name = entry.id.rsplit("/", 1)[-1]
    tokens = [t for t in re.split(r"[-_.\s]+", name.lower()) if t]
    tuned = [t for t in tokens if t in _TUNED_ID_TOKENS]
    if "instruct" in name.lower() or tuned:
        what = "instruct" if "instruct" in name.lower() else tuned[0]
        problems.add(
            f"{label}: not a base model (the id contains '{what}', which marks an instruction-"
            "tuned/chat checkpoint); the catalog holds pretrained base models only",
            file=file,
            row=row,
            column=col("id"),
        )
    for m in _TUNED_NOTE_RE.finditer(entry.notes):
        if _NEGATION_RE.search(entry.notes[max(0, m.start() - 15) : m.start()]):
            continue
        problems.add(
            f"{label}: not a base model (notes say '{m.group(0)}'); the catalog holds "
            "pretrained base models only",
            file=file,
            row=row,
            column=col("notes"),
        )
        break

    # sizes
    if entry.active_params > entry.params * (1 + 1e-9):
        problems.add(
            f"{label}: active_params {entry.active_params:g} is larger than params "
            f"{entry.params:g}; expected active_params <= params",
            file=file,
            row=row,
            column=col("active_params"),
        )
    elif entry.arch == "dense" and not math.isclose(
        entry.active_params, entry.params, rel_tol=1e-9
    ):
        problems.add(
            f"{label}: a dense model has active_params == params; got {entry.active_params:g} "
            f"and {entry.params:g} (use arch: moe for mixture-of-experts)",
            file=file,
            row=row,
            column=col("active_params"),
        )
    elif entry.arch == "moe" and entry.active_params >= entry.params:
        problems.add(
            f"{label}: a moe model activates fewer parameters than it has; got active_params "
            f"== params == {entry.params:g}",
            file=file,
            row=row,
            column=col("active_params"),
        )

    # tokens_source iff tokens
    if entry.tokens is None and entry.tokens_source not in (None, ""):
        problems.add(
            f"{label}: tokens_source '{entry.tokens_source}' is given but tokens is null; "
            "give both or neither",
            file=file,
            row=row,
            column=col("tokens_source"),
        )
    if entry.tokens is not None and entry.tokens_source in (None, ""):
        problems.add(
            f"{label}: tokens {entry.tokens:g} has no tokens_source; every value needs a source",
            file=file,
            row=row,
            column=col("tokens_source"),
        )

    # dates
    if entry.release_date > today:
        problems.add(
            f"{label}: release date {entry.release_date.isoformat()} is in the future "
            f"(today is {today.isoformat()}); expected the first public release date",
            file=file,
            row=row,
            column=col("release_date"),
        )
    if entry.release_date < EARLIEST_DATE:
        problems.add(
            f"{label}: release date {entry.release_date.isoformat()} is before "
            f"{EARLIEST_DATE.isoformat()}; expected a date from 2018 on (check the year)",
            file=file,
            row=row,
            column=col("release_date"),
        )

    # sources: resolve local keys to qualified keys, refuse unknown ones
    def resolve(key: str | None, path: str) -> str | None:
        if key is None or key == "":
            return key
        if key in local_sources:
            return local_sources[key]
        if key in known_sources:
            return key
        options = sorted(set(local_sources) | {k for k in known_sources if ":" not in k})
        problems.add(
            f"{label}: unknown source key '{key}'{_suggest(key, options)}; expected a key of "
            f"the file's 'sources' or of sources.yaml ({', '.join(options) or 'none defined'})",
            file=file,
            row=row,
            column=col(path),
        )
        return None

    updates: dict[str, Any] = {
        "params_source": resolve(entry.params_source, "params_source"),
        "tokens_source": resolve(entry.tokens_source, "tokens_source"),
        "date_source": resolve(entry.date_source, "date_source"),
    }
    seen: dict[tuple[str, str, int | None, bool, str], int] = {}
    new_scores = []
    for i, s in enumerate(entry.scores):
        src = resolve(s.source, f"scores[{i}].source")
        key = (s.benchmark, s.setting, s.shots, s.cot, s.source)
        if key in seen:
            problems.add(
                f"{label}: benchmark '{s.benchmark}' with setting '{s.setting}', shots "
                f"{s.shots}, cot {s.cot} and source '{s.source}' appears twice "
                f"(scores[{seen[key]}] and scores[{i}]); keep one",
                file=file,
                row=row,
                column=col(f"scores[{i}].benchmark"),
            )
        seen[key] = i
        if s.setting == "openllm-v1" and s.benchmark not in OPENLLM_V1_BENCHMARKS:
            problems.add(
                f"{label}: benchmark '{s.benchmark}' is not part of the openllm-v1 setting "
                f"({', '.join(sorted(OPENLLM_V1_BENCHMARKS))})",
                file=file,
                row=row,
                column=col(f"scores[{i}].setting"),
            )
        if s.setting.startswith("openllm-v2") and s.benchmark not in OPENLLM_V2_BENCHMARKS:
            problems.add(
                f"{label}: benchmark '{s.benchmark}' is not part of the openllm-v2 setting "
                f"({', '.join(sorted(OPENLLM_V2_BENCHMARKS))})",
                file=file,
                row=row,
                column=col(f"scores[{i}].setting"),
            )
        new_scores.append(s.model_copy(update={"source": src}))
    updates["scores"] = new_scores
    if len(problems.items) > n_before:
        return None
    return _Parsed(
        entry=entry.model_copy(update=updates),
        family=family,
        file=file,
        row=row,
        builtin=builtin,
        columns=columns,
    )


def _parse_family_yaml(
    path: Path,
    *,
    builtin: bool,
    global_sources: Mapping[str, SourceEntry],
    problems: _Problems,
    preloaded: Mapping[str, Any] | None = None,
) -> tuple[FamilyFile | None, dict[str, SourceEntry], dict[str, str], list[Any]]:
    file = str(path)
    n_before = len(problems.items)
    if preloaded is not None and file in preloaded:
        data = preloaded[file]
    else:
        data = _read_yaml(path, problems)
    if data is None:
        if len(problems.items) == n_before:
            problems.add("the file is empty; expected family, sources, models", file=file)
        return None, {}, {}, []
    if not isinstance(data, Mapping):
        problems.add("expected a mapping with keys family, sources, models", file=file)
        return None, {}, {}, []
    if builtin and not _SLUG_RE.match(path.stem):
        problems.add(
            f"family file name '{path.name}' is not a slug; expected lowercase [a-z0-9-] + .yaml",
            file=file,
        )
    try:
        fam = FamilyFile.model_validate(
            {k: v for k, v in data.items() if k != "sources"} | {"sources": {}}
        )
    except ValidationError as exc:
        for loc, msg in _pydantic_messages(exc):
            problems.add(msg, file=file, column=loc or None)
        return None, {}, {}, []
    prefix = f"{path.stem}:" if builtin else f"user:{path.stem}:"
    entries, local = _parse_sources(
        data.get("sources"), file=file, prefix=prefix, problems=problems, global_keys=global_sources
    )
    return fam, entries, local, list(fam.models)


# ---------------------------- user tables (CSV / Parquet / JSON) -------------------------

_TABLE_FIELDS = (
    "id",
    "family",
    "params",
    "active_params",
    "tokens",
    "release_date",
    "arch",
    "notes",
    "source",
    "params_source",
    "tokens_source",
    "date_source",
    "derived_from",
    "setting",
)
_TABLE_REQUIRED = ("id", "family", "params", "release_date")


def _cell(v: Any) -> Any:
    """Table cell → Python value; empty / NaN → None; strings stripped."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def _table_source(
    value: Any, *, known: Mapping[str, SourceEntry], new: dict[str, SourceEntry]
) -> str | None:
    """A source cell is a known key, or a free citation (text with spaces, or a URL)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in known:
        return text
    if "://" in text or re.search(r"\s", text):
        url = text if re.match(r"^https?://\S+$", text) else None
        new.setdefault(text, SourceEntry(citation=text, url=url))
        return text
    return text  # left as a key: validation reports it as unknown


def _table_rows(
    path: Path, *, known_sources: Mapping[str, SourceEntry], problems: _Problems
) -> tuple[list[tuple[int, str, dict[str, Any], dict[str, str]]], dict[str, SourceEntry]]:
    """Convert a user table to (row, family, model dict, field->column map) per data row."""
    from densing.io import read_table

    file = str(path)
    df = read_table(path)
    rename: dict[str, str] = {}
    for c in df.columns:
        norm = str(c).strip().lower()
        if norm in rename.values():
            problems.add(
                f"column '{c}' appears twice (names are case-insensitive)", file=file, column=str(c)
            )
            return [], {}
        rename[c] = norm
    df = df.rename(columns=rename)
    allowed = set(_TABLE_FIELDS)
    for b in BENCHMARKS:
        allowed |= {b, f"{b}_shots", f"{b}_setting", f"{b}_source"}
    for c in df.columns:
        if c not in allowed:
            problems.add(
                f"unknown column '{c}'{_suggest(c, sorted(allowed))}; expected model fields "
                f"({', '.join(_TABLE_FIELDS)}) or benchmark columns like 'mmlu', 'mmlu_source', "
                "'mmlu_setting', 'mmlu_shots' (benchmarks: " + ", ".join(BENCHMARKS) + ")",
                file=file,
                column=c,
            )
    missing = [c for c in _TABLE_REQUIRED if c not in df.columns]
    if missing:
        problems.add(f"missing required column(s) {missing}", file=file, column=missing[0])
    if "params_source" not in df.columns and "source" not in df.columns:
        problems.add(
            "no source column: add 'source' (used for every value of the row) or "
            "'params_source' / 'date_source' / '<benchmark>_source'",
            file=file,
            column="source",
        )
    if problems.items:
        return [], {}
    new_sources: dict[str, SourceEntry] = {}
    out = []
    records = df.to_dict(orient="records")
    for i, rec in enumerate(records):
        row = i + 1
        r = {k: _cell(v) for k, v in rec.items()}
        cols: dict[str, str] = {}
        default_src = r.get("source")

        def src(name: str, r=r, cols=cols, default_src=default_src) -> str | None:
            own = r.get(name)
            cols[name] = name if own is not None or default_src is None else "source"
            return _table_source(
                own if own is not None else default_src, known=known_sources, new=new_sources
            )

        arch = r.get("arch") or "dense"
        params = r.get("params")
        active = r.get("active_params")
        if active is None and arch == "dense":
            active = params
            cols["active_params"] = "params"
        model: dict[str, Any] = {
            "id": None if r.get("id") is None else str(r["id"]),
            "params": params,
            "active_params": active,
            "params_source": src("params_source"),
            "tokens": r.get("tokens"),
            "tokens_source": (
                src("tokens_source")
                if r.get("tokens") is not None
                else _table_source(r.get("tokens_source"), known=known_sources, new=new_sources)
            ),
            "release_date": r.get("release_date"),
            "date_source": src("date_source"),
            "arch": arch,
            "notes": r.get("notes") or "",
            "scores": [],
        }
        if r.get("derived_from") is not None:
            model["derived_from"] = str(r["derived_from"])
        if r.get("tokens") is None:
            cols["tokens_source"] = "tokens_source"
        if model["active_params"] is None:
            model.pop("active_params")
        for name in ("params_source", "date_source"):
            if model[name] is None:
                model.pop(name)
        for b in BENCHMARKS:
            if r.get(b) is None:
                for extra in ("shots", "setting", "source"):
                    if r.get(f"{b}_{extra}") is not None:
                        problems.add(
                            f"{b}_{extra} is given but the score column '{b}' is empty",
                            file=file,
                            row=row,
                            column=f"{b}_{extra}",
                        )
                continue
            k = len(model["scores"])
            shots = r.get(f"{b}_shots")
            if isinstance(shots, float) and shots.is_integer():
                shots = int(shots)
            source = src(f"{b}_source")
            cols[f"scores[{k}].source"] = cols.pop(f"{b}_source")
            cols[f"scores[{k}].score"] = b
            cols[f"scores[{k}].benchmark"] = b
            cols[f"scores[{k}].shots"] = f"{b}_shots"
            cols[f"scores[{k}].setting"] = (
                f"{b}_setting" if r.get(f"{b}_setting") is not None else "setting"
            )
            score: dict[str, Any] = {
                "benchmark": b,
                "score": r[b],
                "shots": shots,
                "setting": r.get(f"{b}_setting") or r.get("setting") or "reported",
            }
            if source is not None:
                score["source"] = source
            model["scores"].append(score)
        family = r.get("family")
        out.append((row, "" if family is None else str(family), model, cols))
    return out, new_sources


# ---------------------------- assembling the catalog -------------------------------------


_CACHE_FORMAT = 1


def _cache_dir() -> Path | None:
    """Where the parse cache lives: ``$DENSING_CACHE_DIR`` (``off`` disables it), else
    ``$XDG_CACHE_HOME/densing`` or ``~/.cache/densing``."""
    env = os.environ.get("DENSING_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "densing"


def _json_default(o: Any) -> Any:
    if isinstance(o, _dt.datetime):
        return {"__datetime__": o.isoformat()}
    if isinstance(o, _dt.date):
        return {"__date__": o.isoformat()}
    raise TypeError(f"cannot cache a {type(o).__name__}")


def _json_hook(d: dict[str, Any]) -> Any:
    if len(d) == 1 and "__date__" in d:
        return _dt.date.fromisoformat(d["__date__"])
    if len(d) == 1 and "__datetime__" in d:
        return _dt.datetime.fromisoformat(d["__datetime__"])
    return d


def _string_keys_only(obj: Any) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) for k in obj) and all(
            _string_keys_only(v) for v in obj.values()
        )
    if isinstance(obj, list):
        return all(_string_keys_only(v) for v in obj)
    return True


def _cached_yaml(files: Sequence[Path], cache_dir: Path) -> dict[str, Any]:
    """Parsed YAML of ``files`` (path string -> data), from or into the JSON parse cache.

    Returns ``{}`` when the cache cannot be used (then files are parsed one by one, so that YAML
    errors are reported as usual); cache write failures are ignored (it is only a cache).
    """
    files = [f for f in files if f.exists()]
    digest = hashlib.sha256(f"densing-catalog-cache {_CACHE_FORMAT}\n".encode())
    contents = []
    for f in files:
        data = f.read_bytes()
        contents.append(data)
        digest.update(f"{f.name}\0{len(data)}\0".encode())
        digest.update(data)
    target = cache_dir / f"catalog-{digest.hexdigest()[:32]}.json"
    if target.exists():
        try:
            cached = json.loads(target.read_text(encoding="utf-8"), object_hook=_json_hook)
            if isinstance(cached, list) and len(cached) == len(files):
                return {str(f): d for f, d in zip(files, cached, strict=True)}
        except (OSError, ValueError):
            pass
    loader = _StrictLoader
    try:
        parsed = [yaml.load(c.decode("utf-8"), Loader=loader) for c in contents]
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}  # reported with file and line by the ordinary path
    if not _string_keys_only(parsed):
        return {str(f): d for f, d in zip(files, parsed, strict=True)}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(parsed, default=_json_default), encoding="utf-8")
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
        pass
    return {str(f): d for f, d in zip(files, parsed, strict=True)}


def _as_paths(extra: str | Path | Sequence[str | Path] | None) -> list[Path]:
    if extra is None:
        return []
    if isinstance(extra, str | Path):
        return [Path(extra)]
    return [Path(p) for p in extra]


@dataclass
class _Collected:
    models: list[_Parsed]
    sources: dict[str, SourceEntry]
    overridden: list[str]


def _collect(
    extra: str | Path | Sequence[str | Path] | None,
    *,
    include_builtin: bool,
    data_dir: Path,
    today: _dt.date | None,
    cache_dir: Path | None = None,
) -> tuple[_Collected, list[DensingInputError]]:
    today = today or _dt.date.today()
    problems = _Problems()
    sources: dict[str, SourceEntry] = {}
    global_file = data_dir / "sources.yaml"
    builtin_files = (
        sorted(
            list((data_dir / "families").glob("*.yaml"))
            + list((data_dir / "families").glob("*.yml"))
        )
        if include_builtin
        else []
    )
    preloaded = _cached_yaml([global_file, *builtin_files], cache_dir) if cache_dir else {}
    if global_file.exists():
        if str(global_file) in preloaded:
            raw = preloaded[str(global_file)]
        else:
            raw = _read_yaml(global_file, problems)
        entries, _ = _parse_sources(raw, file=str(global_file), prefix="", problems=problems)
        sources.update(entries)
    elif include_builtin:
        problems.add("global sources file is missing", file=str(global_file))

    # pass 1: read every file and its sources; pass 2: validate the models
    pending: list[tuple[Path, bool, str, dict[str, str], list[Any], dict[int, dict[str, str]]]] = []
    user_files = _as_paths(extra)
    for path in builtin_files + user_files:
        builtin = path in builtin_files
        if not builtin and not path.exists():
            problems.add("file not found", file=str(path))
            continue
        if path.suffix.lower() in (".yaml", ".yml"):
            fam, entries, local, models = _parse_family_yaml(
                path,
                builtin=builtin,
                global_sources=sources,
                problems=problems,
                preloaded=preloaded if builtin else None,
            )
            if fam is None:
                continue
            sources.update(entries)
            pending.append((path, builtin, fam.family, local, models, {}))
        else:
            try:
                rows, new_sources = _table_rows(path, known_sources=sources, problems=problems)
            except DensingInputError as exc:
                problems.items.append(exc)
                continue
            sources.update(new_sources)
            for row, family, model, cols in rows:
                pending.append((path, False, family, {}, [(row, model)], {row: cols}))

    parsed: list[_Parsed] = []
    for path, builtin, family, local, models, colmaps in pending:
        is_table = bool(colmaps)
        for i, item in enumerate(models):
            row, raw = item if is_table else (i + 1, item)
            if is_table and not family:
                problems.add(
                    f"{_model_label(raw)}: missing family; expected a family display name",
                    file=str(path),
                    row=row,
                    column="family",
                )
                continue
            p = _validate_model(
                raw,
                file=str(path),
                row=row,
                family=family,
                builtin=builtin,
                local_sources=local,
                known_sources=sources,
                problems=problems,
                today=today,
                columns=colmaps.get(row),
            )
            if p is not None:
                parsed.append(p)

    # duplicates: across built-in files always an error; within one user file an error;
    # a user row with a built-in (or earlier user-file) id replaces it.
    final: dict[str, _Parsed] = {}
    overridden: list[str] = []
    for p in parsed:
        mid = p.entry.id
        prev = final.get(mid)
        if prev is not None and (p.builtin or prev.file == p.file):
            problems.add(
                f"duplicated model id '{mid}' (also {prev.file}, row {prev.row}); "
                "ids must be unique across the catalog",
                file=p.file,
                row=p.row,
                column=p.columns.get("id", "id"),
            )
            continue
        if prev is not None:
            overridden.append(mid)
        final[mid] = p
    unique = list({str(p): p for p in problems.items}.values())  # e.g. defaulted active_params
    return _Collected(list(final.values()), sources, overridden), _with_yaml_lines(unique)


def _yaml_node_line(root: Any, path: list[str | int]) -> int | None:
    """1-based line of the node at ``path`` (deepest node found) in a composed YAML tree."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
            if nxt is None:
                break
            line = key.start_mark.line + 1
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _with_yaml_lines(problems: list[DensingInputError]) -> list[DensingInputError]:
    """Add the YAML line number to problems located in a YAML file (only on the error path)."""
    trees: dict[str, Any] = {}
    out = []
    for p in problems:
        loc = p.location
        if (
            loc.file is None
            or not loc.file.endswith((".yaml", ".yml"))
            or (loc.row is None and loc.column is None)
        ):
            out.append(p)
            continue
        if loc.file not in trees:
            try:
                text = Path(loc.file).read_text(encoding="utf-8")
                trees[loc.file] = yaml.compose(
                    text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                )
            except (OSError, yaml.YAMLError):
                trees[loc.file] = None
        root = trees[loc.file]
        path: list[str | int] = []
        if loc.row is not None:
            path += ["models", loc.row - 1]
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", loc.column or ""):
            path.append(int(part[1:-1]) if part.startswith("[") else part)
        line = _yaml_node_line(root, path) if root is not None else None
        if line is None:
            out.append(p)
            continue
        out.append(
            DensingInputError(
                f"line {line}: {p.reason}", file=loc.file, row=loc.row, column=loc.column
            )
        )
    return out


def validate(
    extra: str | Path | Sequence[str | Path] | None = None,
    *,
    include_builtin: bool = True,
    data_dir: str | Path | None = None,
    today: _dt.date | None = None,
    cache: bool = True,
) -> list[DensingInputError]:
    """All problems in the built-in data (and ``extra`` user files); empty when valid."""
    _, problems = _collect(
        extra,
        include_builtin=include_builtin,
        data_dir=Path(data_dir) if data_dir else DATA_DIR,
        today=today,
        cache_dir=_cache_dir() if cache else None,
    )
    return problems


def load(
    extra: str | Path | Sequence[str | Path] | None = None,
    *,
    include_builtin: bool = True,
    data_dir: str | Path | None = None,
    today: _dt.date | None = None,
    cache: bool = True,
) -> Catalog:
    """Load and validate the built-in catalog, with user files ``extra`` merged on top.

    ``extra`` are CSV/TSV/Parquet/JSON tables (one row per model, see the README) or YAML files
    in the family-file format. A user model whose id exists already replaces that entry
    entirely (all fields and scores). With ``cache=True`` the parsed built-in YAML is kept in
    a JSON file keyed by a SHA-256 of the YAML files (see :func:`_cache_dir`); it is only a
    parse cache, every load validates again. Raises :class:`DensingInputError` for the first problem
    (the message counts the others; :func:`validate` lists them all).
    """
    collected, problems = _collect(
        extra,
        include_builtin=include_builtin,
        data_dir=Path(data_dir) if data_dir else DATA_DIR,
        today=today,
        cache_dir=_cache_dir() if cache else None,
    )
    if problems:
        first = problems[0]
        if len(problems) > 1:
            raise DensingInputError(
                f"{first.reason} (and {len(problems) - 1} more problem(s); "
                "run `densing catalog validate` to list them)",
                file=first.location.file,
                row=first.location.row,
                column=first.location.column,
            )
        raise first
    return _build(collected)


_MODEL_COLUMNS = (
    "id",
    "family",
    "params",
    "active_params",
    "tokens",
    "release_date",
    "arch",
    "notes",
    "params_source",
    "tokens_source",
    "date_source",
    "derived_from",
    "origin",
)
_SCORE_COLUMNS = ("id", "benchmark", "score", "shots", "cot", "setting", "source")


def _origin(p: _Parsed) -> str:
    path = Path(p.file)
    if p.builtin:
        try:
            return str(path.relative_to(DATA_DIR.parent))
        except ValueError:
            return f"catalog_data/families/{path.name}"
    return str(path)


def _build(c: _Collected) -> Catalog:
    mrows, srows = [], []
    for p in c.models:
        e = p.entry
        mrows.append(
            {
                "id": e.id,
                "family": p.family,
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
        )
        for s in e.scores:
            srows.append(
                {
                    "id": e.id,
                    "benchmark": s.benchmark,
                    "score": float(s.score),
                    "shots": s.shots,
                    "cot": bool(s.cot),
                    "setting": s.setting,
                    "source": s.source,
                }
            )
    models = pd.DataFrame(mrows, columns=list(_MODEL_COLUMNS))
    models["release_date"] = pd.to_datetime(models["release_date"])
    for col in ("params", "active_params", "tokens"):
        models[col] = models[col].astype(float)
    for col in ("tokens_source", "derived_from"):
        models[col] = models[col].astype(object)
        models.loc[models[col].isna(), col] = None
    scores = pd.DataFrame(srows, columns=list(_SCORE_COLUMNS))
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


# ----------------------------------------------------------------------------------------
# the catalog


def _as_list(x: str | Sequence[str] | None) -> list[str] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else list(x)


@dataclass(frozen=True)
class Catalog:
    """Validated catalog tables.

    ``models``: one row per model (id, family, params, active_params, tokens [NaN if unknown],
    release_date [datetime64], arch, notes, params_source, tokens_source, date_source, origin).
    ``scores``: one row per (model, benchmark, setting) (id, benchmark, score, shots, setting,
    source). ``sources``: key, citation, url. Source columns hold keys of ``sources``.
    ``overridden``: ids of built-in entries replaced by user files.
    """

    models: pd.DataFrame
    scores: pd.DataFrame
    sources: pd.DataFrame
    overridden: tuple[str, ...] = ()

    # -- look-ups ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.models)

    @property
    def ids(self) -> list[str]:
        return list(self.models["id"])

    def _source(self, key: str | None) -> dict[str, Any]:
        if key is None:
            return {"key": None, "citation": None, "url": None}
        hit = self.sources[self.sources["key"] == key]
        if hit.empty:  # cannot happen for a validated catalog
            raise KeyError(f"source key '{key}' missing from the catalog's sources")
        row = hit.iloc[0]
        url = row["url"]
        return {
            "key": key,
            "citation": row["citation"],
            "url": None if url is None or (isinstance(url, float) and math.isnan(url)) else url,
        }

    def _model_row(self, model_id: str) -> pd.Series:
        hit = self.models[self.models["id"] == model_id]
        if hit.empty:
            lower = {i.lower(): i for i in self.ids}
            if model_id.lower() in lower:
                return self._model_row(lower[model_id.lower()])
            close = difflib.get_close_matches(model_id, self.ids, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise DensingInputError(f"no model '{model_id}' in the catalog{hint}", column="id")
        return hit.iloc[0]

    def provenance(self, model_id: str) -> dict[str, Any]:
        """Every field of one model with the citation and URL it comes from."""
        m = self._model_row(model_id)
        tokens = None if math.isnan(m["tokens"]) else float(m["tokens"])
        out: dict[str, Any] = {
            "id": m["id"],
            "family": m["family"],
            "arch": m["arch"],
            "notes": m["notes"],
            "origin": m["origin"],
            "params": {"value": float(m["params"]), "source": self._source(m["params_source"])},
            "active_params": {
                "value": float(m["active_params"]),
                "source": self._source(m["params_source"]),
            },
            "tokens": {"value": tokens, "source": self._source(m["tokens_source"])},
            "release_date": {
                "value": m["release_date"].date().isoformat(),
                "source": self._source(m["date_source"]),
            },
            "scores": [],
        }
        sc = self.scores[self.scores["id"] == m["id"]]
        for s in sc.itertuples(index=False):
            out["scores"].append(
                {
                    "benchmark": s.benchmark,
                    "score": float(s.score),
                    "shots": None if pd.isna(s.shots) else int(s.shots),
                    "setting": s.setting,
                    "source": self._source(s.source),
                }
            )
        return out

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready object per model: fields, scores and the sources they cite."""
        src = {
            r.key: {"citation": r.citation, "url": None if pd.isna(r.url) else r.url}
            for r in self.sources.itertuples(index=False)
        }
        by_id: dict[str, list[dict[str, Any]]] = {i: [] for i in self.ids}
        for s in self.scores.itertuples(index=False):
            by_id[s.id].append(
                {
                    "benchmark": s.benchmark,
                    "score": float(s.score),
                    "shots": None if pd.isna(s.shots) else int(s.shots),
                    "setting": s.setting,
                    "source": s.source,
                }
            )
        out = []
        for m in self.models.itertuples(index=False):
            keys = [m.params_source, m.tokens_source, m.date_source]
            keys += [s["source"] for s in by_id[m.id]]
            used = [k for k in dict.fromkeys(keys) if k is not None]
            out.append(
                {
                    "id": m.id,
                    "family": m.family,
                    "params": float(m.params),
                    "active_params": float(m.active_params),
                    "params_source": m.params_source,
                    "tokens": None if math.isnan(m.tokens) else float(m.tokens),
                    "tokens_source": m.tokens_source,
                    "release_date": m.release_date.date().isoformat(),
                    "date_source": m.date_source,
                    "arch": m.arch,
                    "notes": m.notes,
                    "scores": by_id[m.id],
                    "sources": {k: src[k] for k in used},
                }
            )
        return out

    # -- views ---------------------------------------------------------------------------
    def wide(
        self,
        benchmarks: str | Sequence[str] | None = None,
        setting: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Models × benchmarks score table (index: model id, in catalog order; NaN = no score).

        With ``setting=None`` each cell takes the preferred setting available for that model
        and benchmark (:func:`setting_rank`: openllm-v1, openllm-v2, obscaling*, other
        harnesses, then reported). A ``setting`` (or list, in order of preference) restricts
        the choice to those settings. The setting chosen for each cell is recorded in
        ``df.attrs["settings"]`` (``{benchmark: {model_id: setting}}``) and its source key in
        ``df.attrs["sources"]`` (same shape).
        """
        benches = _as_list(benchmarks)
        best = self._best(benches, setting)
        cols = (
            benches
            if benches is not None
            else [b for b in BENCHMARKS if b in set(best["benchmark"])]
        )
        table = best.pivot(index="id", columns="benchmark", values="score")
        table = table.reindex(index=self.ids, columns=cols).astype(float)
        table.index.name = "id"
        table.columns.name = None
        settings: dict[str, dict[str, str]] = {b: {} for b in cols}
        sources: dict[str, dict[str, str]] = {b: {} for b in cols}
        for r in best.itertuples(index=False):
            settings[r.benchmark][r.id] = r.setting
            sources[r.benchmark][r.id] = r.source
        table.attrs["settings"] = settings
        table.attrs["sources"] = sources
        return table

    def _best(self, benches: list[str] | None, setting: str | Sequence[str] | None) -> pd.DataFrame:
        """The preferred score row per (model, benchmark)."""
        if benches is not None:
            for b in benches:
                if b not in BENCHMARKS:
                    raise DensingInputError(
                        f"unknown benchmark '{b}'{_suggest(b, BENCHMARKS)}; expected one of "
                        + ", ".join(BENCHMARKS),
                        column="benchmark",
                    )
        sc = self.scores
        if benches is not None:
            sc = sc[sc["benchmark"].isin(benches)]
        allowed = _as_list(setting)
        if allowed is not None:
            present = set(self.scores["setting"])
            unknown = [a for a in allowed if a not in present]
            if unknown:
                raise DensingInputError(
                    f"no scores with setting {unknown}{_suggest(unknown[0], present)}; "
                    f"settings present: {', '.join(sorted(present))}",
                    column="setting",
                )
            sc = sc[sc["setting"].isin(allowed)]
            rank = sc["setting"].map({s: i for i, s in enumerate(allowed)})
        else:
            rank = sc["setting"].map(setting_rank)
        sc = sc.assign(_rank=rank.astype(int)).sort_values(
            ["id", "benchmark", "_rank"], kind="stable"
        )
        return sc.drop_duplicates(["id", "benchmark"], keep="first").drop(columns="_rank")

    def user_table(
        self,
        benchmarks: str | Sequence[str] | None = None,
        setting: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The catalog in the user CSV format (one row per model, the preferred score per
        benchmark with ``<b>_shots``, ``<b>_setting``, ``<b>_source``); :func:`load` reads it back."""
        benches = _as_list(benchmarks)
        best = self._best(benches, setting)
        cols = (
            benches
            if benches is not None
            else [b for b in BENCHMARKS if b in set(best["benchmark"])]
        )
        out = self.models.drop(columns=["origin"]).copy()
        out["release_date"] = out["release_date"].dt.strftime("%Y-%m-%d")
        for b in cols:
            sub = best[best["benchmark"] == b].set_index("id")
            out[b] = out["id"].map(sub["score"]).astype(float)
            out[f"{b}_shots"] = out["id"].map(sub["shots"]).astype("Int64")
            out[f"{b}_setting"] = out["id"].map(sub["setting"])
            out[f"{b}_source"] = out["id"].map(sub["source"])
        return out

    def scores_with_sources(self) -> pd.DataFrame:
        """The long score table with the citation and URL of each value."""
        src = self.sources.rename(columns={"key": "source"})
        return self.scores.merge(src, on="source", how="left", validate="many_to_one")

    def families(self) -> pd.DataFrame:
        """One row per family: model count, size range, first/last release, benchmarks."""
        rows = []
        for fam, g in self.models.groupby("family", sort=True):
            benches = set(self.scores.loc[self.scores["id"].isin(g["id"]), "benchmark"])
            rows.append(
                {
                    "family": fam,
                    "models": len(g),
                    "min_params": float(g["params"].min()),
                    "max_params": float(g["params"].max()),
                    "first_release": g["release_date"].min(),
                    "last_release": g["release_date"].max(),
                    "moe": int((g["arch"] == "moe").sum()),
                    "tokens_unknown": int(g["tokens"].isna().sum()),
                    "benchmarks": ",".join(b for b in BENCHMARKS if b in benches),
                }
            )
        return pd.DataFrame(rows)

    def filter(
        self,
        family: str | Sequence[str] | None = None,
        benchmark: str | Sequence[str] | None = None,
        arch: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Catalog:
        """Sub-catalog: models of the given families (display name or slug, any case), having
        a score on every given benchmark, of the given arch, among ``ids``. Scores of the kept
        models are all kept."""
        keep = pd.Series(True, index=self.models.index)
        fams = _as_list(family)
        if fams is not None:

            def norm(s: str) -> str:
                return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")

            wanted = {norm(f) for f in fams}
            keep &= self.models["family"].map(norm).isin(wanted)
        for b in _as_list(benchmark) or []:
            if b not in BENCHMARKS:
                raise DensingInputError(
                    f"unknown benchmark '{b}'{_suggest(b, BENCHMARKS)}; expected one of "
                    + ", ".join(BENCHMARKS),
                    column="benchmark",
                )
            have = set(self.scores.loc[self.scores["benchmark"] == b, "id"])
            keep &= self.models["id"].isin(have)
        if arch is not None:
            keep &= self.models["arch"] == arch
        if ids is not None:
            keep &= self.models["id"].isin(list(ids))
        models = self.models[keep].reset_index(drop=True)
        scores = self.scores[self.scores["id"].isin(models["id"])].reset_index(drop=True)
        return Catalog(
            models=models, scores=scores, sources=self.sources, overridden=self.overridden
        )

    def coverage(self) -> dict[str, Any]:
        """Counts behind the catalog's coverage bars (and its gaps)."""
        per_bench = {
            b: int(self.scores.loc[self.scores["benchmark"] == b, "id"].nunique())
            for b in BENCHMARKS
        }
        keys = set(self.sources["key"])
        unsourced = 0
        unsourced += int((~self.models["params_source"].isin(keys)).sum())
        unsourced += int((~self.models["date_source"].isin(keys)).sum())
        has_tok = self.models["tokens"].notna()
        unsourced += int((~self.models.loc[has_tok, "tokens_source"].isin(keys)).sum())
        unsourced += int((~self.scores["source"].isin(keys)).sum())
        return {
            "models": len(self.models),
            "models_with_date": int(self.models["release_date"].notna().sum()),
            "families": int(self.models["family"].nunique()),
            "moe_models": int((self.models["arch"] == "moe").sum()),
            "scores": len(self.scores),
            "models_per_benchmark": per_bench,
            "tokens_unknown": list(self.models.loc[~has_tok, "id"]),
            "first_release": None
            if self.models.empty
            else self.models["release_date"].min().date().isoformat(),
            "last_release": None
            if self.models.empty
            else self.models["release_date"].max().date().isoformat(),
            "values_without_source": unsourced,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": self.records(),
            "sources": {
                r.key: {"citation": r.citation, "url": None if pd.isna(r.url) else r.url}
                for r in self.sources.itertuples(index=False)
            },
        }

    def summary(self) -> str:
        cov = self.coverage()
        lines = [
            f"catalog: {cov['models']} models, {cov['families']} families, {cov['scores']} scores "
            f"({cov['first_release']} .. {cov['last_release']}), {cov['moe_models']} MoE, "
            f"{len(cov['tokens_unknown'])} with unknown training tokens",
            "models per benchmark: "
            + ", ".join(f"{b} {n}" for b, n in cov["models_per_benchmark"].items() if n),
        ]
        if self.overridden:
            lines.append(f"user entries replacing built-in ones: {', '.join(self.overridden)}")
        return "\n".join(lines)

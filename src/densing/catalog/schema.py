"""The catalog's vocabulary and entry schema.

Two registries, kept as data with one description each:

* :data:`BENCHMARK_INFO` — canonical benchmark names (scores are fractions in [0, 1]; pass@1
  for code). :data:`BENCHMARKS` is their tuple, in display order.
* :data:`SETTINGS` — evaluation settings a score may carry; users' own harness runs use
  ``own-<name>`` (:data:`OWN_SETTING`).

and the pydantic entries of one source (:class:`SourceEntry`), one score (:class:`ScoreEntry`),
one model (:class:`ModelEntry`) and one family file (:class:`FamilyFile`). Field checks that need
one value only live here; checks across fields and files are the rules of
:mod:`densing.catalog.rules`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from densing import io
from densing.errors import DensingInputError

#: Canonical benchmark name -> what it measures (scores are fractions in [0, 1]).
BENCHMARK_INFO: dict[str, str] = {
    "mmlu": "MMLU, 57-subject multiple-choice knowledge test (Hendrycks et al. 2021)",
    "arc_challenge": "ARC-Challenge, grade-school science questions, hard set (Clark et al. 2018)",
    "hellaswag": "HellaSwag, commonsense sentence completion (Zellers et al. 2019)",
    "winogrande": "WinoGrande, pronoun resolution (Sakaguchi et al. 2020)",
    "truthfulqa": "TruthfulQA, imitative falsehoods (Lin et al. 2022); MC2 in the v1 leaderboard",
    "gsm8k": "GSM8K, grade-school math word problems (Cobbe et al. 2021)",
    "humaneval": "HumanEval, Python function synthesis, pass@1 (Chen et al. 2021)",
    "mbpp": "MBPP, basic Python programming problems, pass@1 (Austin et al. 2021)",
    "bbh": "BIG-Bench Hard, 23 hard BIG-Bench tasks (Suzgun et al. 2022)",
    "math": "MATH, competition mathematics (Hendrycks et al. 2021)",
    "xwinograd": "XWinograd, multilingual Winograd schemas (Tikhonov and Ryabinin 2021)",
    "mmlu_pro": "MMLU-Pro, harder ten-option MMLU (Wang et al. 2024)",
    "gpqa": "GPQA, graduate-level Google-proof science questions (Rein et al. 2023)",
    "math_hard": "MATH level-5 subset of the Open LLM Leaderboard v2",
    "musr": "MuSR, multistep soft reasoning (Sprague et al. 2024)",
    "ifeval": "IFEval, verifiable instruction following (Zhou et al. 2023)",
    # added for 2025-26 base-model reports
    "mmlu_redux": "MMLU-Redux, MMLU with re-annotated questions (Gema et al. 2024)",
    "supergpqa": "SuperGPQA, graduate-level questions in 285 disciplines (M-A-P 2025)",
    "agieval": "AGIEval, admission and qualification exams (Zhong et al. 2023)",
    "arc_easy": "ARC-Easy, grade-school science questions, easy set (Clark et al. 2018)",
    "piqa": "PIQA, physical commonsense (Bisk et al. 2020)",
    "siqa": "Social IQa, social commonsense (Sap et al. 2019)",
    "openbookqa": "OpenBookQA, open-book science questions (Mihaylov et al. 2018)",
    "boolq": "BoolQ, yes/no reading comprehension (Clark et al. 2019)",
    "commonsenseqa": "CommonsenseQA, commonsense multiple choice (Talmor et al. 2019)",
    "triviaqa": "TriviaQA, trivia question answering (Joshi et al. 2017)",
    "naturalquestions": "Natural Questions, open-domain QA (Kwiatkowski et al. 2019)",
    "drop": "DROP, discrete reasoning over paragraphs, F1 (Dua et al. 2019)",
    "squad": "SQuAD, extractive reading comprehension (Rajpurkar et al. 2016, 2018)",
    "race": "RACE, exam reading comprehension (Lai et al. 2017)",
    "lambada": "LAMBADA, last-word prediction (Paperno et al. 2016)",
    "mgsm": "MGSM, GSM8K in ten languages (Shi et al. 2022)",
    "mmmlu": "MMMLU, MMLU translated into 14 languages (OpenAI 2024)",
    "include": "INCLUDE, regional-knowledge exams in 44 languages (Romanou et al. 2024)",
    "cmmlu": "CMMLU, Chinese multitask knowledge (Li et al. 2023)",
    "ceval": "C-Eval, Chinese exams (Huang et al. 2023)",
    "humaneval_plus": "HumanEval+, HumanEval with more tests, pass@1 (EvalPlus, Liu et al. 2023)",
    "mbpp_plus": "MBPP+, MBPP with more tests, pass@1 (EvalPlus, Liu et al. 2023)",
    "evalplus": "EvalPlus average of HumanEval(+) and MBPP(+) as a report gives it",
    "multipl_e": "MultiPL-E, HumanEval/MBPP in other programming languages (Cassano et al. 2023)",
    "livecodebench": "LiveCodeBench, coding problems released after a cutoff (Jain et al. 2024)",
    "crux_o": "CRUXEval-O, output prediction for Python functions (Gu et al. 2024)",
    "aime24": "AIME 2024 competition problems",
    "aime25": "AIME 2025 competition problems",
}
BENCHMARKS: tuple[str, ...] = tuple(BENCHMARK_INFO)

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
#: Users' own harness runs: ``own-<name>``, e.g. ``own-lm-eval-0.4``.
OWN_SETTING = re.compile(r"^own-[a-z0-9][a-z0-9.+_-]*$")

#: Benchmarks that exist under the Open LLM Leaderboard v1 / v2 settings.
OPENLLM_V1_BENCHMARKS = frozenset(
    {"mmlu", "arc_challenge", "hellaswag", "winogrande", "truthfulqa", "gsm8k"}
)
OPENLLM_V2_BENCHMARKS = frozenset({"bbh", "gpqa", "ifeval", "math_hard", "mmlu_pro", "musr"})

#: A model's fields in tables, in order (the loaded catalog adds ``origin``).
MODEL_FIELDS = (
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
)
#: A score's fields in tables, in order.
SCORE_FIELDS = ("id", "benchmark", "score", "shots", "cot", "setting", "source")

EARLIEST_DATE = _dt.date(2018, 1, 1)
MIN_PARAMS, MAX_PARAMS = 1e6, 1e13
MIN_TOKENS, MAX_TOKENS = 1e8, 1e15
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def setting_rank(setting: str) -> int:
    """Preference of an evaluation setting when one must be chosen (lower is better).

    Uniform harnesses first (``openllm-v1``, ``openllm-v2``, ``obscaling*``), then any other
    named harness setting, then ``reported`` (developer tech reports / model cards).
    """
    fixed = {"openllm-v1": 0, "openllm-v2": 1, "obscaling": 2, "reported": 4}
    if setting in fixed:
        return fixed[setting]
    return 2 if setting.startswith("obscaling-") else 3


def suggest(value: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(value.lower(), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_benchmark(name: str) -> str:
    """The message for a benchmark name outside :data:`BENCHMARKS`."""
    return f"unknown benchmark '{name}'{suggest(name, BENCHMARKS)}; expected one of " + ", ".join(
        BENCHMARKS
    )


def canonical_benchmark(name: str) -> str:
    """A benchmark name in any case (``MMLU``, ``MMLU-Pro``) as its canonical name."""
    key = re.sub(r"[\s-]+", "_", str(name).strip().lower())
    if key not in BENCHMARK_INFO:
        raise DensingInputError(unknown_benchmark(str(name)), column="benchmark")
    return key


def parse_iso_date(value: Any) -> _dt.date:
    """A ``YYYY-MM-DD`` text (or a date, or a timestamp without a time) as a date; anything
    else is a ``ValueError`` saying what was expected (:func:`densing.io.parse_iso_date`)."""
    if isinstance(value, _dt.datetime) and value.time() != _dt.time():
        raise ValueError(f"expected a date YYYY-MM-DD without a time, got {value!r}")
    day = io.parse_iso_date(value)
    if day is not None:
        return day
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        raise ValueError(f"'{value.strip()}' is not a calendar date; expected YYYY-MM-DD")
    raise ValueError(f"expected an ISO date YYYY-MM-DD, got {value!r}")


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
        if v not in BENCHMARK_INFO:
            raise ValueError(unknown_benchmark(v))
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

    @field_validator("shots", mode="before")
    @classmethod
    def _shots(cls, v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"expected the number of shots as an integer >= 0 or empty, got {v!r}")
        return v

    @field_validator("cot", mode="before")
    @classmethod
    def _cot(cls, v: Any) -> Any:
        words = {"true": True, "false": False}
        if isinstance(v, str) and v.strip().lower() in words:
            return words[v.strip().lower()]
        if isinstance(v, int | float) and not isinstance(v, bool) and v in (0, 1):
            return bool(v)  # 0/1, as tables with empty cells give them
        if not isinstance(v, bool):
            raise ValueError(f"expected cot as true or false, got {v!r}")
        return v

    @field_validator("setting")
    @classmethod
    def _setting(cls, v: str) -> str:
        if v not in SETTINGS and not OWN_SETTING.match(v):
            raise ValueError(
                f"unknown setting '{v}'{suggest(v, SETTINGS)}; expected one of "
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


def _check_range(v: float, what: str, low: float, high: float, hint: str) -> float:
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{what} {v:g} must be a positive number")
    if v < low:
        raise ValueError(f"{what} {v:g} is implausibly small: {hint}")
    if v > high:
        raise ValueError(f"{what} {v:g} is implausibly large (> {high:g})")
    return v


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
        hint = f"it looks like billions; give the raw parameter count (e.g. {v:g}e9)"
        return _check_range(v, "size", MIN_PARAMS, MAX_PARAMS, hint)

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: float | None) -> float | None:
        hint = "it looks like trillions or billions; give the raw token count (e.g. 2.0e12)"
        return None if v is None else _check_range(v, "tokens", MIN_TOKENS, MAX_TOKENS, hint)

    @field_validator("release_date", mode="before")
    @classmethod
    def _date_form(cls, v: Any) -> _dt.date:
        return parse_iso_date(v)

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
    sources: dict[str, Any] = {}
    models: list[Any]

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        if not str(v).strip():
            raise ValueError("expected a non-empty family display name")
        return str(v).strip()

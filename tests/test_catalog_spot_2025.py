"""Spot checks of the 2025–26 catalog additions against numbers written here independently.

Every number below was read from the cited public source (tech report table, model card) by a
reviewer, not copied from the catalog YAML: scores as printed (percent, divided by 100 here),
sizes as stated in the model card or report. A catalog value that drifts from its source fails.
Also the coverage bars of the catalog-through-2026 issue.
"""

from __future__ import annotations

import datetime as dt

import pytest

from densing.catalog import Catalog, load


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load(cache=False)


# (model id, benchmark, shots, percent as printed in the source), all setting "reported"
SCORES = [
    ("deepseek-ai/DeepSeek-V3-Base", "drop", 3, 89.0),  # arXiv 2412.19437 Table 3 (F1)
    ("deepseek-ai/DeepSeek-V3-Base", "triviaqa", 5, 82.9),  # same table (EM)
    ("deepseek-ai/DeepSeek-V4-Pro-Base", "mmlu", 5, 90.1),  # DeepSeek-V4 model card
    ("deepseek-ai/DeepSeek-V4-Pro-Base", "math", 4, 64.5),  # same card
    ("tiiuae/Falcon-H1-7B-Base", "mmlu", 5, 77.38),  # Falcon-H1 model card
    ("tiiuae/Falcon-H1-3B-Base", "mmlu_pro", 5, 40.58),  # Falcon-H1 model card
    ("tiiuae/Falcon-H1-0.5B-Base", "hellaswag", 10, 56.3),  # Falcon-H1 model card
    ("tiiuae/Falcon3-1B-Base", "mmlu_pro", 5, 16.11),  # Falcon3 model card
    ("tiiuae/Falcon3-3B-Base", "hellaswag", 10, 67.13),  # Falcon3 model card
    ("tiiuae/Falcon3-7B-Base", "winogrande", 5, 73.64),  # Falcon3 model card
    ("google/gemma-3-1b-pt", "triviaqa", 5, 39.8),  # Gemma 3 model card
    ("google/gemma-3-27b-pt", "arc_easy", 0, 89.0),  # Gemma 3 model card
    ("google/gemma-3n-E2B", "arc_challenge", 25, 51.7),  # Gemma 3n model card
    ("zai-org/GLM-4.5-Base", "race", 0, 92.15),  # GLM-4.5 report base table
    ("tencent/Hy3-preview-Base", "math", 4, 76.28),  # Hy3 model card
    ("kakaocorp/kanana-2-30b-a3b-base", "gsm8k", 8, 82.71),  # kanana-2 model card
    ("moonshotai/Kimi-K2-Base", "mmlu_pro", 5, 69.17),  # Kimi K2 model card
    ("moonshotai/Kimi-K2-Base", "arc_challenge", 25, 95.82),  # Kimi K2 model card
    ("Kwai-Klear/Klear-46B-A2.5B-Base", "mmlu", 5, 80.5),  # Klear model card
    ("inclusionAI/Ling-lite-base", "winogrande", 5, 74.58),  # Ling model card
    ("inclusionAI/Ling-flash-base-2.0", "humaneval", 0, 89.63),  # Ling 2.0 model card
    ("meta-llama/Llama-4-Scout-17B-16E", "mmlu", 5, 79.6),  # Llama 4 model card
    ("marin-community/marin-8b-base", "mmlu", 5, 67.6),  # Marin 8B model card
    ("XiaomiMiMo/MiMo-7B-Base", "gsm8k", 8, 75.2),  # MiMo report base table
    ("XiaomiMiMo/MiMo-V2.5-Base", "mmlu_redux", 5, 89.8),  # MiMo-V2.5 model card
    ("mistralai/Ministral-3-3B-Base-2512", "mmlu_redux", 5, 73.5),  # Ministral 3 report
    ("mistralai/Mistral-Small-3.1-24B-Base-2503", "mmlu_redux", 5, 82.7),  # model card
    ("Qwen/Qwen3-14B-Base", "mmlu", 5, 81.05),  # Qwen3 report (arXiv 2505.09388)
    ("Qwen/Qwen3-30B-A3B-Base", "mmlu_redux", 5, 81.17),  # Qwen3 report
    ("Qwen/Qwen3-0.6B-Base", "mbpp", 3, 36.60),  # Qwen3 report
    ("ByteDance-Seed/Seed-OSS-36B-Base", "humaneval_plus", 0, 78.66),  # Seed-OSS model card
    ("HuggingFaceTB/SmolLM3-3B-Base", "mbpp_plus", 0, 52.91),  # SmolLM3 model card
    ("tencent/Youtu-LLM-2B-Base", "mbpp", 3, 66.6),  # Youtu-LLM model card
    ("google/gemma-3-27b-pt", "mmlu_redux", 5, 76.53),  # Qwen3 report Table 4 (Gemma column)
    ("meta-llama/Llama-4-Maverick-17B-128E", "gsm8k", 8, 86.35),  # Kimi K2 card base table
]

# (model id, total parameters, activated parameters or None, as stated by the developer)
SIZES = [
    ("Qwen/Qwen3-8B-Base", 8.2e9, None),  # Qwen3-8B-Base card: 8.2B
    ("Qwen/Qwen3-14B-Base", 14.8e9, None),  # 14.8B
    ("Qwen/Qwen3-30B-A3B-Base", 30.5e9, 3.3e9),  # 30.5B total, 3.3B activated
    ("meta-llama/Llama-4-Scout-17B-16E", 109e9, 17e9),  # 109B total, 17B active
    ("meta-llama/Llama-4-Maverick-17B-128E", 400e9, 17e9),  # 400B total, 17B active
    ("deepseek-ai/DeepSeek-V3-Base", 671e9, 37e9),  # 671B total, 37B activated
    ("moonshotai/Kimi-K2-Base", 1.0e12, 32e9),  # 1T total, 32B activated
    ("google/gemma-3-27b-pt", 27e9, None),  # 27B
    ("allenai/OLMo-2-0325-32B", 32e9, None),  # 32B
    ("HuggingFaceTB/SmolLM3-3B-Base", 3e9, None),  # 3B
    ("google/gemma-4-31B", 31e9, None),  # Gemma 4 report, Sec. 1
    ("google/gemma-4-26B-A4B", 26e9, 3.8e9),  # 3.8B activated
    ("XiaomiMiMo/MiMo-V2.5-Base", 310e9, None),  # 310B total
    ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-Base-BF16", 120.6e9, None),  # 120.6B total
]

# (model id, release date as ISO, tokens or None)
DATES_TOKENS = [
    ("swiss-ai/Apertus-70B-2509", "2025-09-02", None),
    ("moonshotai/Kimi-Linear-48B-A3B-Base", "2025-10-30", None),
    ("mistralai/Mistral-Large-3-675B-Base-2512", "2025-12-02", None),
    ("allenai/Olmo-3-1025-7B", "2025-11-20", None),
    ("stepfun-ai/Step-3.5-Flash-Base", "2026-03-02", None),
    ("HuggingFaceTB/SmolLM3-3B-Base", "2025-07-08", None),
    ("common-pile/comma-v0.1-1t", None, 1e12),  # "1 trillion tokens"
    ("tiiuae/Falcon3-3B-Base", None, 100e9),  # 100 GT
    ("tencent/Youtu-LLM-2B-Base", None, 11e12),  # ~11T tokens
    ("meta-llama/Llama-4-Scout-17B-16E", None, 40e12),  # ~40T tokens
]


def test_at_least_30_new_values_are_checked() -> None:
    n = len(SCORES) + len(SIZES) + sum(v is not None for _, *vals in DATES_TOKENS for v in vals)
    assert n >= 30


@pytest.mark.parametrize(("model_id", "benchmark", "shots", "percent"), SCORES)
def test_reported_score_matches_the_source(
    shipped: Catalog, model_id: str, benchmark: str, shots: int, percent: float
) -> None:
    sc = shipped.scores
    same = (sc["id"] == model_id) & (sc["benchmark"] == benchmark) & (sc["shots"] == shots)
    rows = sc[same & (sc["setting"] == "reported")]
    assert len(rows) >= 1, f"{model_id} {benchmark} {shots}-shot reported: not in the catalog"
    assert (rows["score"] - percent / 100).abs().min() < 5.1e-5, rows.to_string()


@pytest.mark.parametrize(("model_id", "total", "active"), SIZES)
def test_size_matches_the_developer(
    shipped: Catalog, model_id: str, total: float, active: float | None
) -> None:
    row = shipped.models.set_index("id").loc[model_id]
    assert row["params"] == pytest.approx(total, rel=0.05)
    if active is not None:
        assert row["arch"] == "moe"
        assert row["active_params"] == pytest.approx(active, rel=0.05)


@pytest.mark.parametrize(("model_id", "date", "tokens"), DATES_TOKENS)
def test_date_and_tokens_match_the_source(
    shipped: Catalog, model_id: str, date: str | None, tokens: float | None
) -> None:
    row = shipped.models.set_index("id").loc[model_id]
    if date is not None:
        assert row["release_date"].date() == dt.date.fromisoformat(date)
    if tokens is not None:
        assert row["tokens"] == pytest.approx(tokens, rel=0.02)


def test_coverage_bars_of_the_2026_catalog(shipped: Catalog) -> None:
    models = shipped.models
    assert len(models) >= 260
    n_scores = shipped.scores.groupby("id").size()
    recent = models.loc[models["release_date"] >= "2025-01-01", "id"]
    assert int((n_scores.reindex(recent).fillna(0) >= 3).sum()) >= 40
    assert models["release_date"].max() >= dt.datetime(2026, 1, 1)
    assert shipped.coverage()["values_without_source"] == 0

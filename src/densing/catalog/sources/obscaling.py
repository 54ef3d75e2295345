"""The ObsScaling base-model CSV (Ruan et al. 2024, ryoungj/ObsScaling) as score-mode tables.

Not a registered catalog source: the built-in catalog holds these values already (written by
``scripts/build_obscaling_catalog.py``); this reader serves analyses that start from the
original CSV (``validation/``, tests).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: ObsScaling column -> harness-style benchmark name.
OBSCALING_BENCHMARKS = {
    "MMLU": "mmlu",
    "ARC-C": "arc_challenge",
    "HellaSwag": "hellaswag",
    "Winograd": "winogrande",
    "TruthfulQA": "truthfulqa",
    "GSM8K": "gsm8k",
    "XWinograd": "xwinograd",
    "HumanEval": "humaneval",
}


def obscaling_tables(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ObsScaling base-model CSV as (models, wide scores) tables for score mode.

    Sizes are given there in billions and token budgets in trillions; they are converted to
    raw counts. Benchmarks get harness-style names (mmlu, arc_challenge, hellaswag, winogrande,
    truthfulqa, gsm8k, xwinograd, humaneval).
    """
    raw = pd.read_csv(path)
    size = raw["Model Size (B)"].astype(float) * 1e9
    models = pd.DataFrame(
        {
            "id": raw["Model"].astype(str),
            "family": raw["Model Family"].astype(str),
            "params": size,
            "active_params": size,
            "tokens": raw["Pretraining Data Size (T)"].astype(float) * 1e12,
        }
    )
    scores = raw[list(OBSCALING_BENCHMARKS)].rename(columns=OBSCALING_BENCHMARKS)
    scores.index = models["id"].to_numpy()
    models.attrs["source"] = str(path)
    scores.attrs["source"] = str(path)
    return models, scores

"""Items of a stitched frame: each (benchmark, setting, shots, CoT) is its own item.

Scores of one benchmark under different settings are different measurements (a developer's
5-shot MMLU is not the leaderboard's 5-shot MMLU harness run), so each gets its own sigmoid;
models are linked through the items they share. Uniform harness settings (``openllm-v1``,
``openllm-v2``, ``openllm-v2-norm``, ``obscaling``) fix the protocol themselves; ``reported``
and users' ``own-*`` settings are split further by shots and chain-of-thought.

Several reports of the same (model, item) cell (e.g. a developer's table and a later
report's comparison table) are averaged into one cell; how many were averaged is recorded.
An item observed for fewer than ``min_models`` models cannot have its own sigmoid: its cells
are not used, and the item table says so (never silently).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from densing.errors import DensingInputError
from densing.scoreframe._inputs import floor_for

UNIFORM_SETTINGS = frozenset({"openllm-v1", "openllm-v2", "openllm-v2-norm", "obscaling"})
ITEM_COLUMNS = (
    "item", "benchmark", "setting", "shots", "cot", "n_models", "n_reports", "floor", "used", "note",
)  # fmt: skip


def item_id(benchmark: str, setting: str, shots: object = None, cot: bool = False) -> str:
    """``mmlu@openllm-v1``, ``bbh@reported:3s:cot``, ``mmlu@reported:5s``."""
    key = f"{benchmark}@{setting}"
    if setting in UNIFORM_SETTINGS:
        return key
    if shots is not None and not pd.isna(shots):  # type: ignore[call-overload]
        key += f":{int(shots)}s"  # type: ignore[call-overload]
    return key + (":cot" if bool(cot) else "")


def item_floor(benchmark: str, setting: str) -> float | None:
    """Chance floor of an item: 0 for normalised settings, else the benchmark's chance level."""
    if setting.endswith("-norm"):
        return 0.0
    return floor_for(benchmark, None)


def _check_long(scores: pd.DataFrame) -> None:
    need = ["id", "benchmark", "score", "setting"]
    missing = [c for c in need if c not in scores.columns]
    if missing:
        raise DensingInputError(
            f"missing column(s) {missing} in the long scores table; it has {list(scores.columns)}",
            file=scores.attrs.get("source"),
            column=missing[0],
        )


def build_items(
    scores: pd.DataFrame,
    *,
    min_models: int = 8,
    settings: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(wide model × used-item scores, item table) from long scores.

    ``scores``: id, benchmark, score, setting, optional shots and cot. ``settings`` /
    ``benchmarks`` restrict which rows may enter (None: all).
    """
    _check_long(scores)
    sc = scores.copy()
    for col, default in (("shots", None), ("cot", False)):
        if col not in sc.columns:
            sc[col] = default
    if settings is not None:
        sc = sc[sc["setting"].isin(list(settings))]
    if benchmarks is not None:
        sc = sc[sc["benchmark"].isin(list(benchmarks))]
    sc["item"] = [
        item_id(*t)
        for t in zip(sc["benchmark"], sc["setting"], sc["shots"], sc["cot"], strict=True)
    ]
    cells = sc.groupby(["id", "item"], sort=False)["score"].agg(["mean", "size"]).reset_index()
    info = (
        sc.drop_duplicates("item")
        .set_index("item")[["benchmark", "setting", "shots", "cot"]]
        .assign(
            n_models=cells.groupby("item")["id"].nunique(),
            n_reports=cells.groupby("item")["size"].sum(),
        )
        .reset_index()
    )
    info["floor"] = [
        item_floor(b, s) for b, s in zip(info["benchmark"], info["setting"], strict=True)
    ]
    info["used"] = info["n_models"] >= min_models
    info["note"] = np.where(info["used"], "", f"fewer than {min_models} models: not used")
    info = info.sort_values(["used", "n_models", "item"], ascending=[False, False, True])
    used = info.loc[info["used"], "item"].tolist()
    wide = cells[cells["item"].isin(used)].pivot(index="id", columns="item", values="mean")
    wide = wide.reindex(columns=used)
    wide.columns.name = None
    wide.index.name = "id"
    return wide, info[list(ITEM_COLUMNS)].reset_index(drop=True)


def item_links(wide: pd.DataFrame) -> pd.Series:
    """Per item: how many models it links to at least one other item (observed with ≥ 1 more)."""
    obs = wide.notna()
    multi = obs.sum(axis=1) >= 2
    return obs[multi].sum(axis=0).astype(int)

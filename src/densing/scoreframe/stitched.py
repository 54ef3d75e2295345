"""The stitched score frame: every (benchmark, setting) item with its own sigmoid.

Same latent-capability model as :class:`~densing.scoreframe.ScoreFrame` (one θ per model, the
reference family tied to its law), but its columns are *items* (see :mod:`.items`): MMLU 5-shot
under the uniform harness, MMLU as reported by developers, BBH 3-shot CoT reported, MMLU-Pro
under Open LLM Leaderboard v2, ... Reported scores enter as their own items instead of being
mixed with harness scores or dropped, and models are linked through the items they share
(benchmark stitching, as in item-response models and Epoch AI's Capabilities Index).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

import pandas as pd

from densing.bootstrap import BootstrapSpec
from densing.errors import DensingInputError
from densing.scoreframe._bootstrap import Groups
from densing.scoreframe._fit import fit_score_frame
from densing.scoreframe.frame import ScoreFrame
from densing.scoreframe.items import build_items, item_id, item_links

KIND = "stitched-frame"


@dataclass(frozen=True)
class StitchedFrame(ScoreFrame):
    """A score frame whose columns are (benchmark, setting) items; ``item_info`` describes them."""

    kind: ClassVar[str] = KIND

    def _long_to_items(self, targets: pd.DataFrame) -> pd.DataFrame:
        """Long targets with benchmark + setting (+ shots, cot) → wide by item id."""
        file = targets.attrs.get("source")
        if "setting" not in targets.columns:
            raise DensingInputError(
                "a stitched frame needs the setting of every score: add a 'setting' column "
                "(e.g. openllm-v1, reported) and 'shots' for reported scores",
                file=file,
                column="setting",
            )
        shots = targets["shots"] if "shots" in targets.columns else pd.Series([None] * len(targets))
        cot = targets["cot"] if "cot" in targets.columns else pd.Series([False] * len(targets))
        ids = [
            item_id(str(b), str(s), sh, bool(c) if not pd.isna(c) else False)
            for b, s, sh, c in zip(
                targets["benchmark"], targets["setting"], shots, cot, strict=True
            )
        ]
        unknown = [(i, x) for i, x in enumerate(ids) if x not in self.items]
        if unknown:
            i, x = unknown[0]
            raise DensingInputError(
                f"item '{x}' (benchmark@setting[:shots][:cot]) is not an item of this frame; "
                f"it has {len(self.items)} items, e.g. {list(self.items[:5])}",
                file=file,
                row=i + 1,
                column="benchmark",
            )
        keep = [c for c in ("model", "params", "active_params") if c in targets.columns]
        out = targets[keep].copy()
        out["benchmark"] = ids
        out["score"] = targets["score"].to_numpy()
        agg = {c: "first" for c in keep if c != "model"} | {"score": "mean"}
        out = out.groupby(["model", "benchmark"], sort=False, as_index=False).agg(agg)
        out.attrs["source"] = file
        return out

    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """As :meth:`ScoreFrame.density`; long targets give benchmark, setting (and shots, cot)
        per score; wide targets name items (``mmlu@openllm-v1``) as columns."""
        if "benchmark" in targets.columns and "score" in targets.columns:
            targets = self._long_to_items(targets)
        return super().density(targets, level=level)

    def describe(self) -> str:
        info = self.item_info
        n_unused = 0 if info is None else int((~info["used"]).sum())
        return (
            super().describe().replace("score-mode frame", "stitched score frame", 1)
            + f"; {n_unused} sparse item(s) not used"
        )


def fit_stitched_frame(
    models: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    reference_family: str,
    min_item_models: int = 8,
    settings: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    min_items: int = 2,
    law: Literal["auto", "fixed_budget", "with_tokens"] = "auto",
    alpha: float | None = None,
    bootstrap: BootstrapSpec | None = None,
    groups: Groups = "model",
    progress: Callable[[int], None] | None = None,
    **fit_kwargs: Any,
) -> StitchedFrame:
    """Fit a stitched frame from long scores (id, benchmark, score, setting, shots, cot).

    ``min_item_models``: an item needs this many models to have its own sigmoid (sparser items
    are listed in ``item_info`` as not used). ``min_items``: a model needs this many observed
    items to enter the fit and get a density. Other arguments as :func:`fit_score_frame`.
    """
    wide, info = build_items(
        scores, min_models=min_item_models, settings=settings, benchmarks=benchmarks
    )
    if wide.shape[1] == 0:
        raise DensingInputError(
            f"no item is observed for {min_item_models} or more models; lower min_item_models"
        )
    wide = wide.reindex(index=[i for i in models["id"] if i in wide.index])
    used = info[info["used"]]
    floors: dict[str, float | None] = {
        str(item): None if pd.isna(f) else float(f)
        for item, f in zip(used["item"], used["floor"].astype(float), strict=True)
    }
    frame = fit_score_frame(
        models, wide, reference_family=reference_family, floors=floors,
        min_benchmarks=min_items, law=law, alpha=alpha, bootstrap=bootstrap, groups=groups,
        progress=progress, **fit_kwargs,
    )  # fmt: skip
    links = item_links(wide)
    info = info.assign(n_linked=info["item"].map(links).fillna(0).astype(int))
    values = {f.name: getattr(frame, f.name) for f in fields(ScoreFrame)}
    values["item_info"] = info
    return StitchedFrame(**values)


__all__ = ["KIND", "StitchedFrame", "fit_stitched_frame"]

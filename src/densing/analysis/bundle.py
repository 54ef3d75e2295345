"""From an analysis to the report's inputs (the report renders, it never computes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.analysis.specs import PAPER, FrameSpec
from densing.scoreframe import ScoreFrame
from densing.sigmoid import sigmoid_value


def method_note(spec: FrameSpec, frame: ScoreFrame) -> str:
    members = frame.reference_members
    law = (
        f"The {len(members)} members of the reference family {spec.reference_family} have θ tied "
        f"to the power law θ = N^-α (α = {frame.alpha:.3g}; {frame.d0_note}); a model's effective "
        "size N̂ is that law inverted at the model's own θ̂, and its density is ρ = N̂ / N "
        "(against activated and against total parameters for MoE)."
    )
    if frame.item_info is not None:
        n_used = int(frame.item_info["used"].sum())
        return (
            f"Stitched score frame: each of {n_used} benchmark × setting items (e.g. MMLU 5-shot "
            "under the Open LLM Leaderboard harness, MMLU 5-shot as developers report it, BBH "
            "3-shot CoT reported) has its own sigmoid from one latent, loss-like capability θ per "
            "model, so every published score counts and models are linked through the items they "
            "share; missing scores are absent, not imputed. "
            + law
            + " Intervals: bootstrap over models (each replicate refits the frame), carried into "
            "the law's bootstrap."
        )
    return (
        f"Score mode, one capability: one latent, loss-like θ per model is shared across "
        f"{len(frame.benchmarks)} benchmarks ({', '.join(frame.benchmarks)}), each with its own "
        "sigmoid, fitted jointly on every observed score (missing scores are absent, not imputed). "
        + law
        + " Intervals: bootstrap over models, refitting the frame each time."
    )


def paper_comparison() -> dict[str, Any]:
    """The paper's published figures (the report puts this run's values beside them)."""
    return to_jsonable(PAPER)


def law_points(frame: ScoreFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference members' own θ̂ against N, and the fitted law's curve."""
    m = frame.models
    ref = m[m["is_reference"] & m["in_fit"] & m["theta"].notna()]
    fitted = frame.law_theta(ref["params"].to_numpy(float))
    pts = pd.DataFrame(
        {
            "x": ref["params"].to_numpy(float),
            "y": ref["theta"].to_numpy(float),
            "fitted": fitted,
            "residual": ref["theta"].to_numpy(float) - fitted,
            "label": ref["id"].to_numpy(),
            "group": f"reference: {frame.reference_family}",
        }
    )
    xs = np.geomspace(pts["x"].min() / 3, pts["x"].max() * 3, 60)
    curve = pd.DataFrame({"x": xs, "y": frame.law_theta(xs), "group": "law θ = N^-α"})
    return pts, curve


def sigmoid_points(frame: ScoreFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each item's fitted sigmoid over θ, and the observed (θ̂, score) points."""
    th = frame.models.set_index("id")["theta"]
    lo, hi = np.nanpercentile(th.to_numpy(float), [1, 99])
    pad = 0.1 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, 80)
    curves, points = [], []
    for b in frame.benchmarks:
        s = frame.sigmoids.loc[b]
        y = sigmoid_value(grid, s["c"], s["d"], s["gamma"], s["l"])
        curves.append(pd.DataFrame({"benchmark": b, "x": grid, "y": y}))
        col = frame.scores[b]
        col = col[col.notna()]
        th_b = th.reindex(col.index)
        ok = th_b.notna()
        points.append(
            pd.DataFrame(
                {
                    "benchmark": b,
                    "x": th_b[ok].to_numpy(float),
                    "y": col[ok].to_numpy(float),
                    "model": col.index[ok],
                }
            )
        )
    return pd.concat(curves, ignore_index=True), pd.concat(points, ignore_index=True)

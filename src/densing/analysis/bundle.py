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
    return (
        f"Score mode. One latent, loss-like capability θ per model is shared across "
        f"{len(spec.benchmarks)} benchmarks ({', '.join(spec.benchmarks)}); each benchmark maps θ "
        f"to score with its own sigmoid, fitted jointly on every observed score of the catalog "
        f"(missing scores are absent, not imputed). The {len(members)} members of the reference "
        f"family {spec.reference_family} have θ tied to the power law θ = N^-α (α = "
        f"{frame.alpha:.3g}; {frame.d0_note}). A model's effective size N̂ is that law "
        f"inverted at the model's own θ̂; density ρ = N̂ / N (activated parameters for MoE). "
        f"Intervals: bootstrap over models, refitting the frame each time."
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

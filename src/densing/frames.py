"""Any saved frame, loss mode or score mode, behind one small interface.

``load_frame(path)`` reads a frame JSON and returns an object with
``.density(targets, level=)``, ``.describe()``, ``.level`` and ``.n_resamples``:
a :class:`~densing.lossframe.LossFrame`, or a :class:`ScoreFrameTargets` for the
score-mode frames written by ``densing run`` (``frame.json``). (The default frame fitted
on the built-in catalog is :func:`densing.analysis.builtin_frame`.)

A score-mode frame file carries its bootstrap replicates (each replicate's law
exponent, sigmoids and capability bounds), so densities of new targets get
intervals without refitting: each replicate maps the target's scores to its own
capability θ̂ and inverts its own law.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.errors import DensingInputError
from densing.io import id_column, numeric_column, require_columns, score_column, source_of
from densing.lossframe import AGGREGATE
from densing.lossframe import load_frame as load_loss_frame
from densing.scoreframe import FRAME_KIND, ScoreFrame, ScoreFrameBootstrap

TARGET_META = ("model", "params", "active_params", "family", "release_date", "tokens", "notes")


def score_frame_payload(boot: ScoreFrameBootstrap | None, frame: ScoreFrame) -> dict[str, Any]:
    """The JSON of a score-mode frame plus its bootstrap replicates (for ``frame.json``)."""
    d = frame.to_dict()
    if boot is not None:
        reps = [
            None
            if rf is None
            else {
                "alpha": float(rf[0]),
                "token_coef": float(rf[1]),
                "sigmoids": np.asarray(rf[2], dtype=float).tolist(),
                "theta_bounds": [float(rf[3][0]), float(rf[3][1])],
            }
            for rf in boot.replicate_fits
        ]
        d["bootstrap"] = {
            "level": boot.level,
            "groups": boot.groups,
            "warm_start": boot.warm_start,
            "resample_cells": boot.resample_cells,
            "seed": boot.seed,
            "replicates": reps,
        }
    return to_jsonable(d)


@dataclass(frozen=True)
class ScoreFrameTargets:
    """A score-mode frame (and its replicates) applied to the user's own targets."""

    frame: ScoreFrame
    boot: ScoreFrameBootstrap | None
    level: float = 0.95
    source: str = "built-in"

    @property
    def n_resamples(self) -> int:
        return 0 if self.boot is None else len(self.boot.replicate_fits)

    def describe(self) -> str:
        f = self.frame
        return (
            f"score-mode frame ({self.source}): reference {f.reference_family}, "
            f"benchmarks {', '.join(f.benchmarks)}, alpha {f.alpha:.3g}, {f.d0_note}; "
            f"{self.n_resamples} bootstrap replicates"
        )

    def _wide(self, targets: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        file = source_of(targets)
        require_columns(targets, ["model", "params"], file=file)
        if "benchmark" in targets.columns and "score" in targets.columns:  # long format
            unknown = targets.loc[~targets["benchmark"].isin(self.frame.benchmarks)]
            if len(unknown):
                i = int(np.flatnonzero(~targets["benchmark"].isin(self.frame.benchmarks))[0])
                raise DensingInputError(
                    f"unknown benchmark '{unknown.iloc[0]['benchmark']}'; the frame has "
                    f"{list(self.frame.benchmarks)}",
                    file=file,
                    row=i + 1,
                    column="benchmark",
                )
            score_column(targets, "score", file=file)
            numeric_column(targets, "params", positive=True, file=file)
            dup = targets.duplicated(["model", "benchmark"])
            if dup.any():
                i = int(np.flatnonzero(dup.to_numpy())[0])
                raise DensingInputError(
                    "duplicated (model, benchmark) row", file=file, row=i + 1, column="benchmark"
                )
            wide = targets.pivot(index="model", columns="benchmark", values="score")
            meta = targets.groupby("model", sort=False).first()
            wide = wide.reindex(meta.index)
        else:
            extra = [c for c in targets.columns if c not in TARGET_META]
            unknown_cols = [c for c in extra if c not in self.frame.benchmarks]
            if unknown_cols:
                raise DensingInputError(
                    f"unknown benchmark column '{unknown_cols[0]}'; the frame has "
                    f"{list(self.frame.benchmarks)}",
                    file=file,
                    column=str(unknown_cols[0]),
                )
            ids = id_column(targets, "model", file=file)
            for b in extra:
                score_column(targets, b, allow_missing=True, file=file)
            numeric_column(targets, "params", positive=True, file=file)
            wide = targets[extra].astype(float)
            wide.index = pd.Index(ids, name="model")
            meta = targets.set_index(pd.Index(ids, name="model"))
        params = pd.to_numeric(meta["params"]).to_numpy(float)
        active = (
            pd.to_numeric(meta["active_params"]).fillna(meta["params"]).to_numpy(float)
            if "active_params" in meta.columns
            else params
        )
        return wide, params, active

    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """One aggregate row per target model: θ̂, N̂, ρ with intervals and status."""
        wide, params, active = self._wide(targets)
        wide.index.name = "id"
        if self.boot is not None:
            boot = self.boot
            if level is not None and level != boot.level:
                from dataclasses import replace

                boot = replace(boot, level=level)
            res = boot.predict(wide, params, active)
        else:
            res = self.frame.effective_params(wide)
            for c in ("effective_params_lo", "effective_params_hi"):
                res[c] = np.nan
        out = pd.DataFrame(
            {
                "model": res["id"].to_numpy(),
                "benchmark": AGGREGATE,
                "params": params,
                "active_params": active,
                "score": np.nan,
                "theta": res["theta"].to_numpy(float),
                "n_benchmarks": res["n_benchmarks"].to_numpy(int),
                "effective_params": res["effective_params"].to_numpy(float),
                "effective_params_lo": res["effective_params_lo"].to_numpy(float),
                "effective_params_hi": res["effective_params_hi"].to_numpy(float),
            }
        )
        out["density"] = out["effective_params"] / params
        out["density_lo"] = out["effective_params_lo"] / params
        out["density_hi"] = out["effective_params_hi"] / params
        out["density_active"] = out["effective_params"] / active
        out["status"] = res["status"].to_numpy()
        return out


def _score_targets_from_dict(d: dict[str, Any], file: str) -> ScoreFrameTargets:
    try:
        frame = ScoreFrame.from_json(json.dumps(d))
    except DensingInputError as exc:  # name the file: the frame was parsed from its text
        raise DensingInputError(exc.reason, file=file) from exc
    b = d.get("bootstrap")
    if not b:
        return ScoreFrameTargets(frame, None, source=file)
    fits = []
    for rep in b["replicates"]:
        if rep is None:
            fits.append(None)
            continue
        sig = np.asarray(rep["sigmoids"], dtype=float)
        if sig.shape != (len(frame.benchmarks), 4):
            raise DensingInputError(
                f"bootstrap replicate has sigmoids of shape {sig.shape}; expected "
                f"({len(frame.benchmarks)}, 4)",
                file=file,
            )
        fits.append((rep["alpha"], rep["token_coef"], sig, tuple(rep["theta_bounds"])))
    n = len(frame.models)
    boot = ScoreFrameBootstrap(
        frame=frame,
        ids=tuple(frame.models["id"]),
        density_replicates=np.full((len(fits), n), np.nan),
        effective_params_replicates=np.full((len(fits), n), np.nan),
        alpha_replicates=np.array([np.nan if f is None else f[0] for f in fits]),
        replicate_fits=tuple(fits),
        resample_cells=bool(b.get("resample_cells", True)),
        seed=b.get("seed"),
        level=float(b.get("level", 0.95)),
        groups=str(b.get("groups", "model")),
        warm_start=bool(b.get("warm_start", False)),
        seconds=0.0,
    )
    return ScoreFrameTargets(frame, boot, level=boot.level, source=file)


def load_frame(path: str | Path) -> Any:
    """Load a saved loss-mode or score-mode frame JSON (dispatch on its ``kind``)."""
    p = Path(path)
    if not p.exists():
        raise DensingInputError("file not found", file=str(p))
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise DensingInputError(f"not a JSON frame file: {exc}", file=str(p)) from exc
    if isinstance(d, dict) and d.get("kind") == FRAME_KIND:
        return _score_targets_from_dict(d, str(p))
    return load_loss_frame(p)

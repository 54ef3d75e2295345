"""Score-frame files: ``to_dict`` / ``from_dict`` (format version 2, kind ``score-frame``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.errors import DensingInputError
from densing.scoreframe._bootstrap import ReplicateFit, ScoreReplicates
from densing.scoreframe._law import ReferenceLaw

if TYPE_CHECKING:
    from densing.scoreframe.frame import ScoreFrame


def _num(v: Any) -> float:
    if v is None:
        return float("nan")
    return float(v)


def _matrix(rows: Any, n_cols: int) -> np.ndarray:
    return np.array([[_num(v) for v in row] for row in rows], dtype=float).reshape(-1, n_cols)


def frame_to_dict(frame: ScoreFrame) -> dict[str, Any]:
    d = frame.metadata()
    d["law_params"] = frame.law.to_dict()
    d["models"] = frame.models.to_dict(orient="list")
    d["scores"] = {
        "ids": [str(i) for i in frame.scores.index],
        "values": frame.scores.to_numpy(float).tolist(),
    }
    d["sigmoid_table"] = frame.sigmoids.reset_index().to_dict(orient="list")
    d["f_scale"] = frame.f_scale
    if frame.item_info is not None:
        d["item_table"] = frame.item_info.to_dict(orient="list")
    reps = frame.replicates
    if reps is not None:
        d["bootstrap"] = {
            "seed": reps.seed,
            "groups": reps.groups,
            "warm_start": reps.warm_start,
            "resample_cells": reps.resample_cells,
            "seconds": reps.seconds,
            "replicates": [None if f is None else f.to_dict() for f in reps.fits],
            "effective_params": reps.effective_params,
        }
    return to_jsonable(d)


def _check_header(d: dict[str, Any], file: str | None, kind: str) -> None:
    from densing.scoreframe.frame import FORMAT_VERSION

    if d.get("kind") != kind:
        raise DensingInputError(f"kind {d.get('kind')!r}, expected {kind!r}", file=file)
    if d.get("format_version") != FORMAT_VERSION:
        raise DensingInputError(
            f"frame file format version {d.get('format_version')}, this densing reads "
            f"{FORMAT_VERSION} (re-create the frame, e.g. with densing run)",
            file=file,
        )


def _replicates(
    b: dict[str, Any], n_items: int, n_models: int, file: str | None
) -> ScoreReplicates:
    fits = []
    for rep in b["replicates"]:
        fit = None if rep is None else ReplicateFit.from_dict(rep)
        if fit is not None and fit.sig.shape != (n_items, 4):
            raise DensingInputError(
                f"bootstrap replicate has sigmoids of shape {fit.sig.shape}; expected ({n_items}, 4)",
                file=file,
            )
        fits.append(fit)
    return ScoreReplicates(
        fits=tuple(fits),
        effective_params=_matrix(b["effective_params"], n_models),
        seed=b.get("seed"),
        groups=b.get("groups", "model"),
        warm_start=bool(b.get("warm_start", False)),
        resample_cells=bool(b.get("resample_cells", True)),
        seconds=float(b.get("seconds") or 0.0),
    )


def _tables(d: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sig = pd.DataFrame(d["sigmoid_table"]).set_index("benchmark")
    for c in sig.columns:
        if c != "floor_fixed":
            sig[c] = sig[c].map(_num).astype(float)
    models = pd.DataFrame(d["models"])
    for c in ("params", "active_params", "tokens", "theta_fit", "theta"):
        models[c] = models[c].map(_num).astype(float)
    items = list(d["benchmarks"])
    scores = pd.DataFrame(
        _matrix(d["scores"]["values"], len(items)), index=d["scores"]["ids"], columns=items
    )
    return sig, models, scores


def frame_from_dict(d: dict[str, Any], *, file: str | None = None, cls: Any = None) -> Any:
    from densing.scoreframe.frame import ScoreFrame

    cls = cls or ScoreFrame
    _check_header(d, file, cls.kind)
    try:
        lp = d["law_params"]
        law = ReferenceLaw(
            kind=lp["law"],
            alpha=float(lp["alpha"]),
            token_coef=float(lp["token_coef"]),
            beta=float(lp["beta"]),
            d0=_num(lp["d0_tokens"]),
            d0_note=str(lp["d0_note"]),
        )
        sig, models, scores = _tables(d)
        reps = None
        if d.get("bootstrap"):
            reps = _replicates(d["bootstrap"], len(sig), len(models), file)
        items = d.get("item_table")
        return cls(
            item_info=None if items is None else pd.DataFrame(items),
            reference_family=str(d["reference_family"]),
            law=law,
            items=tuple(d["benchmarks"]),
            sigmoids=sig,
            models=models,
            scores=scores,
            theta_bounds=(float(d["theta_bounds"][0]), float(d["theta_bounds"][1])),
            min_benchmarks=int(d["min_benchmarks"]),
            f_scale=float(d["f_scale"]),
            diagnostics=dict(d.get("diagnostics") or {}),
            alpha_fixed=bool(d.get("alpha_fixed", False)),
            replicates=reps,
            level=float(d.get("level", 0.95)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DensingInputError(f"malformed score frame ({exc!r})", file=file) from exc

"""The ``Frame`` protocol, the registry of frame kinds and the one loader of frame files.

A frame places models in a reference family's capability scale. Every frame kind (loss mode,
score mode, ...) implements :class:`Frame`; a frame file is the JSON of ``frame.to_dict()`` and
carries its ``kind``. :func:`load_frame` reads any frame file and dispatches on that kind.

Adding a frame kind = one module with a class implementing :class:`Frame` (with ``kind`` and
``from_dict``) plus one registration line: an entry in :data:`FRAME_KINDS` (``kind →
"module:Class"``, imported lazily) or a call ``register_frame_kind(kind, cls)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pandas as pd

from densing.errors import DensingInputError
from densing.results import read_json_file
from densing.targets import TARGET_META_COLUMNS

#: Columns every frame's ``density()`` output has (frames may add their own, e.g. ``loss``).
DENSITY_OUTPUT_COLUMNS: tuple[str, ...] = (
    "model",
    "benchmark",
    "params",
    "active_params",
    "effective_params",
    "effective_params_lo",
    "effective_params_hi",
    "density_active",
    "density_active_lo",
    "density_active_hi",
    "density_total",
    "density_total_lo",
    "density_total_hi",
    "status",
)


@runtime_checkable
class Frame(Protocol):
    """What every reference frame offers."""

    kind: ClassVar[str]

    @property
    def level(self) -> float:
        """Default interval level of the frame's intervals."""
        ...

    @property
    def benchmarks(self) -> tuple[str, ...]: ...

    @property
    def n_resamples(self) -> int: ...

    def density(self, targets: pd.DataFrame, *, level: float | None = None) -> pd.DataFrame:
        """Effective parameters and densities (columns :data:`DENSITY_OUTPUT_COLUMNS`)."""
        ...

    def describe(self) -> str: ...

    def summary(self) -> str: ...

    def conf_int(self, level: float | None = None) -> pd.DataFrame: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> Any: ...

    def to_json(self, path: str | Path) -> Path: ...


#: kind → "module:Class" of the built-in frame kinds (imported on first use).
FRAME_KINDS: dict[str, str | type] = {
    "loss-frame": "densing.lossframe:LossFrame",
    "score-frame": "densing.scoreframe:ScoreFrame",
    "stitched-frame": "densing.scoreframe:StitchedFrame",
}


def register_frame_kind(kind: str, cls: type, *, overwrite: bool = False) -> None:
    """Register a frame class under ``kind`` (the value of its files' ``"kind"``)."""
    if kind in FRAME_KINDS and FRAME_KINDS[kind] is not cls and not overwrite:
        raise DensingInputError(f"frame kind '{kind}' is already registered")
    FRAME_KINDS[kind] = cls


def frame_class(kind: str) -> type:
    """The class registered for ``kind``."""
    entry = FRAME_KINDS.get(kind)
    if entry is None:
        raise DensingInputError(
            f"unknown frame kind {kind!r}; this densing reads {sorted(FRAME_KINDS)}"
        )
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(module), name)
        FRAME_KINDS[kind] = entry
    return entry


def frame_from_dict(d: dict[str, Any], *, file: str | None = None) -> Frame:
    """A frame of any registered kind from its dict."""
    kind = d.get("kind")
    if not isinstance(kind, str) or kind not in FRAME_KINDS:
        raise DensingInputError(
            f"unknown frame kind {kind!r}; this densing reads {sorted(FRAME_KINDS)}", file=file
        )
    return frame_class(kind).from_dict(d, file=file)  # type: ignore[attr-defined,no-any-return]


def load_frame(path: str | Path) -> Frame:
    """Load any saved frame file (dispatch on its ``"kind"``); errors name the file."""
    return frame_from_dict(read_json_file(path), file=str(path))


__all__ = [
    "DENSITY_OUTPUT_COLUMNS",
    "FRAME_KINDS",
    "TARGET_META_COLUMNS",
    "Frame",
    "frame_class",
    "frame_from_dict",
    "load_frame",
    "register_frame_kind",
]

"""The results vocabulary shared by every bootstrap-backed estimate (statsmodels-style).

Every result object offers ``conf_int(level=None) -> DataFrame`` (index: quantity; columns
``estimate``, ``lower``, ``upper``), ``summary() -> str``, ``to_dict()`` and, through
:class:`JsonResult`, ``to_json(path) -> Path`` / ``from_json(path)``, symmetric with
``from_dict``. ``level=None`` means the level the result was computed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from densing._json import to_jsonable
from densing.bootstrap import percentile_interval
from densing.errors import DensingInputError

CONF_INT_COLUMNS = ("estimate", "lower", "upper")


@runtime_checkable
class Result(Protocol):
    """What every bootstrap-backed result offers."""

    def conf_int(self, level: float | None = None) -> pd.DataFrame: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


def conf_int_table(
    estimates: Mapping[str, float],
    samples: Mapping[str, np.ndarray] | None,
    level: float,
) -> pd.DataFrame:
    """A ``conf_int`` table: percentile intervals of the samples (NaN without samples)."""
    rows = []
    for name, est in estimates.items():
        s = None if samples is None else samples.get(name)
        lo, hi = (np.nan, np.nan) if s is None else percentile_interval(np.asarray(s), level)
        rows.append((float(est), lo, hi))
    out = pd.DataFrame(rows, index=pd.Index(list(estimates), name="name"), columns=CONF_INT_COLUMNS)
    out.attrs["level"] = level
    return out


def read_json_file(path: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """A JSON object from ``path``; one-line errors naming the file (and the expected kind)."""
    p = Path(path)
    if not p.is_file():
        raise DensingInputError("file not found", file=str(p))
    try:
        d = json.loads(p.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DensingInputError(f"not valid JSON ({exc})", file=str(p)) from exc
    if not isinstance(d, dict):
        raise DensingInputError("expected a JSON object", file=str(p))
    if kind is not None and d.get("kind") != kind:
        raise DensingInputError(f"kind {d.get('kind')!r}, expected {kind!r}", file=str(p))
    return d


def write_json_file(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as JSON (NaN → null, inf → "inf") and return the path."""
    p = Path(path)
    p.write_text(json.dumps(to_jsonable(obj), indent=1) + "\n", encoding="utf-8")
    return p


class JsonResult:
    """Mixin: ``to_json(path) -> Path`` and ``from_json(path)`` from ``to_dict``/``from_dict``.

    Subclasses set ``kind`` (written into the file and checked on reading) and implement
    ``to_dict()`` (including ``"kind"``) and ``from_dict(d, file=...)``.
    """

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> Self:  # pragma: no cover
        raise NotImplementedError

    def to_json(self, path: str | Path) -> Path:
        return write_json_file(self.to_dict(), path)

    @classmethod
    def from_json(cls, path: str | Path) -> Self:
        return cls.from_dict(read_json_file(path, kind=cls.kind), file=str(path))


__all__ = [
    "CONF_INT_COLUMNS",
    "JsonResult",
    "Result",
    "conf_int_table",
    "read_json_file",
    "write_json_file",
]

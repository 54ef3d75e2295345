"""What changed between two catalogs, for reviewers of catalog edits.

Each side is a catalog data directory (``sources.yaml`` + ``families/``) or an exported table
(:meth:`~densing.catalog.catalog.Catalog.long_table`), read with the sources of the other side's
directory known (or the installed catalog's). :func:`diff` lists models added and removed, model fields changed, and scores added,
removed or changed. A score is identified by (id, benchmark, setting, shots, cot, source): a new
value under the same identity is a change; a new setting or source of a benchmark is an added
score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from densing.catalog.catalog import Catalog
from densing.catalog.loader import load
from densing.catalog.schema import MODEL_FIELDS
from densing.errors import DensingInputError

SCORE_KEY = ("id", "benchmark", "setting", "shots", "cot", "source")
FIELDS = MODEL_FIELDS[1:]  # all but the id


def load_side(path: str | Path, sources_from: str | Path | None = None) -> Catalog:
    """A catalog data directory, or a table / family file loaded on its own; its source keys
    are those of the data directory ``sources_from`` (default: the installed catalog's)."""
    p = Path(path)
    if p.is_dir():
        if not (p / "sources.yaml").is_file() or not (p / "families").is_dir():
            raise DensingInputError(
                "expected a catalog data directory (sources.yaml and families/*.yaml) or an "
                "exported catalog table",
                file=str(p),
            )
        return load(data_dir=p)
    return load(p, include_builtin=False, data_dir=sources_from)


def _value(v: Any) -> Any:
    """A model field as plain JSON-ready data (NaN/None -> None, dates as ISO text)."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v.item() if hasattr(v, "item") else v


def _field_changes(old: Catalog, new: Catalog, common: list[str]) -> list[dict[str, Any]]:
    a = old.models.set_index("id")
    b = new.models.set_index("id")
    out = []
    for mid in common:
        for f in FIELDS:
            before, after = _value(a.at[mid, f]), _value(b.at[mid, f])
            if before != after:
                out.append({"id": mid, "field": f, "old": before, "new": after})
    return out


def _score_table(cat: Catalog) -> dict[tuple[Any, ...], float]:
    sc = cat.scores
    columns = ([_value(v) for v in sc[c].astype(object)] for c in SCORE_KEY)
    keys = zip(*columns, strict=True)
    return dict(zip(keys, sc["score"].astype(float), strict=True))


def _score_changes(old: Catalog, new: Catalog) -> list[dict[str, Any]]:
    a, b = _score_table(old), _score_table(new)
    out = []
    for key in [*a, *(k for k in b if k not in a)]:
        before, after = a.get(key), b.get(key)
        if before is not None and after is not None and math.isclose(before, after, rel_tol=1e-12):
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        out.append(
            {
                **dict(zip(SCORE_KEY, key, strict=True)),
                "change": change,
                "old": before,
                "new": after,
            }
        )
    return out


def _model_list(cat: Catalog, ids: list[str]) -> list[dict[str, Any]]:
    m = cat.models.set_index("id")
    n = cat.scores.groupby("id").size()
    return [
        {
            "id": mid,
            "family": m.at[mid, "family"],
            "release_date": _value(m.at[mid, "release_date"]),
            "scores": int(n.get(mid, 0)),
        }
        for mid in ids
    ]


@dataclass(frozen=True)
class CatalogDiff:
    """Models added/removed, fields changed, scores added/removed/changed (old -> new)."""

    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    scores: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.fields or self.scores)

    def counts(self) -> dict[str, int]:
        by_change = {
            c: sum(s["change"] == c for s in self.scores) for c in ("added", "removed", "changed")
        }
        return {
            "models_added": len(self.added),
            "models_removed": len(self.removed),
            "fields_changed": len(self.fields),
            **{f"scores_{c}": n for c, n in by_change.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "models_added": self.added,
            "models_removed": self.removed,
            "fields_changed": self.fields,
            "scores": self.scores,
        }

    def summary(self) -> str:
        c = self.counts()
        if not self:
            return "no changes"
        return (
            f"models: {c['models_added']} added, {c['models_removed']} removed; "
            f"{c['fields_changed']} field(s) changed; scores: {c['scores_added']} added, "
            f"{c['scores_removed']} removed, {c['scores_changed']} changed"
        )


def diff(old: Catalog, new: Catalog) -> CatalogDiff:
    """Everything that differs from ``old`` to ``new`` (the ``origin`` column is ignored)."""
    before, after = set(old.ids), set(new.ids)
    return CatalogDiff(
        added=_model_list(new, [i for i in new.ids if i not in before]),
        removed=_model_list(old, [i for i in old.ids if i not in after]),
        fields=_field_changes(old, new, [i for i in new.ids if i in before]),
        scores=_score_changes(old, new),
    )

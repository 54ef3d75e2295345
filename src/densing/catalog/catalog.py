"""The loaded catalog: frozen pandas tables and the queries over them.

Benchmark names in queries are case-insensitive (``MMLU``, ``mmlu_pro`` or ``MMLU-Pro``), as are
family names (display name or file slug, any case). Two export layouts read back by
:func:`densing.catalog.load`: :meth:`Catalog.long_table` (one row per score, lossless) and
:meth:`Catalog.user_table` (one row per model, the preferred score per benchmark).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from densing.catalog.schema import (
    BENCHMARKS,
    MODEL_FIELDS,
    SCORE_FIELDS,
    canonical_benchmark,
    setting_rank,
    suggest,
)
from densing.errors import DensingInputError

MODEL_COLUMNS = (*MODEL_FIELDS, "origin")
SCORE_COLUMNS = SCORE_FIELDS


def _as_list(x: str | Sequence[str] | None) -> list[str] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else list(x)


def _benchmarks(x: str | Sequence[str] | None) -> list[str] | None:
    names = _as_list(x)
    return None if names is None else [canonical_benchmark(b) for b in names]


def family_key(name: str) -> str:
    """A family's display name or file slug, compared case- and punctuation-insensitively."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as dicts (column -> value)."""
    return [{str(k): v for k, v in r.items()} for r in df.to_dict(orient="records")]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _score_record(s: dict[str, Any], source: Any) -> dict[str, Any]:
    return {
        "benchmark": s["benchmark"],
        "score": float(s["score"]),
        "shots": None if _missing(s["shots"]) else int(s["shots"]),
        "cot": bool(s["cot"]),
        "setting": s["setting"],
        "source": source,
    }


@dataclass(frozen=True)
class Catalog:
    """Validated catalog tables.

    ``models``: one row per model (id, family, params, active_params, tokens [NaN if unknown],
    release_date [datetime64], arch, notes, params_source, tokens_source, date_source,
    derived_from, origin). ``scores``: one row per (model, benchmark, setting, shots, cot,
    source) (id, benchmark, score, shots, cot, setting, source). ``sources``: key, citation, url.
    Source columns hold keys of ``sources``. ``overridden``: ids of built-in entries replaced
    by user files.
    """

    models: pd.DataFrame
    scores: pd.DataFrame
    sources: pd.DataFrame
    overridden: tuple[str, ...] = ()

    # -- look-ups ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.models)

    @property
    def ids(self) -> list[str]:
        return list(self.models["id"])

    def _citations(self) -> dict[str, dict[str, Any]]:
        return {
            r["key"]: {"citation": r["citation"], "url": None if _missing(r["url"]) else r["url"]}
            for r in rows(self.sources)
        }

    def _source(self, key: str | None) -> dict[str, Any]:
        if key is None:
            return {"key": None, "citation": None, "url": None}
        cited = self._citations().get(key)
        if cited is None:  # cannot happen for a validated catalog
            raise KeyError(f"source key '{key}' missing from the catalog's sources")
        return {"key": key, **cited}

    def _model_row(self, model_id: str) -> dict[str, Any]:
        hit = self.models[self.models["id"] == model_id]
        if not hit.empty:
            return rows(hit)[0]
        lower = {i.lower(): i for i in self.ids}
        if model_id.lower() in lower:
            return self._model_row(lower[model_id.lower()])
        close = difflib.get_close_matches(model_id, self.ids, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DensingInputError(f"no model '{model_id}' in the catalog{hint}", column="id")

    def provenance(self, model_id: str) -> dict[str, Any]:
        """Every field of one model with the citation and URL it comes from."""
        m = self._model_row(model_id)
        tokens = None if math.isnan(m["tokens"]) else float(m["tokens"])
        params_source = self._source(m["params_source"])
        sc = self.scores[self.scores["id"] == m["id"]]
        return {
            "id": m["id"],
            "family": m["family"],
            "arch": m["arch"],
            "notes": m["notes"],
            "derived_from": m["derived_from"],
            "origin": m["origin"],
            "params": {"value": float(m["params"]), "source": params_source},
            "active_params": {"value": float(m["active_params"]), "source": params_source},
            "tokens": {"value": tokens, "source": self._source(m["tokens_source"])},
            "release_date": {
                "value": m["release_date"].date().isoformat(),
                "source": self._source(m["date_source"]),
            },
            "scores": [_score_record(s, self._source(s["source"])) for s in rows(sc)],
        }

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready object per model: fields, scores and the sources they cite."""
        src = self._citations()
        by_id: dict[str, list[dict[str, Any]]] = {i: [] for i in self.ids}
        for s in rows(self.scores):
            by_id[s["id"]].append(_score_record(s, s["source"]))
        out = []
        for m in rows(self.models):
            keys = [m["params_source"], m["tokens_source"], m["date_source"]]
            keys += [s["source"] for s in by_id[m["id"]]]
            used = [k for k in dict.fromkeys(keys) if k is not None]
            out.append(
                {
                    "id": m["id"],
                    "family": m["family"],
                    "params": float(m["params"]),
                    "active_params": float(m["active_params"]),
                    "params_source": m["params_source"],
                    "tokens": None if math.isnan(m["tokens"]) else float(m["tokens"]),
                    "tokens_source": m["tokens_source"],
                    "release_date": m["release_date"].date().isoformat(),
                    "date_source": m["date_source"],
                    "arch": m["arch"],
                    "notes": m["notes"],
                    "derived_from": m["derived_from"],
                    "scores": by_id[m["id"]],
                    "sources": {k: src[k] for k in used},
                }
            )
        return out

    # -- views ---------------------------------------------------------------------------
    def _columns(self, benches: list[str] | None, best: pd.DataFrame) -> list[str]:
        present = set(best["benchmark"])
        return benches if benches is not None else [b for b in BENCHMARKS if b in present]

    def wide(
        self,
        benchmarks: str | Sequence[str] | None = None,
        setting: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Models × benchmarks score table (index: model id, in catalog order; NaN = no score).

        With ``setting=None`` each cell takes the preferred setting available for that model
        and benchmark (:func:`setting_rank`: openllm-v1, openllm-v2, obscaling*, other
        harnesses, then reported). A ``setting`` (or list, in order of preference) restricts
        the choice to those settings. The setting chosen for each cell is recorded in
        ``df.attrs["settings"]`` (``{benchmark: {model_id: setting}}``) and its source key in
        ``df.attrs["sources"]`` (same shape).
        """
        benches = _benchmarks(benchmarks)
        best = self._best(benches, setting)
        cols = self._columns(benches, best)
        table = best.pivot(index="id", columns="benchmark", values="score")
        table = table.reindex(index=self.ids, columns=cols).astype(float)
        table.index.name = "id"
        table.columns.name = None
        settings: dict[str, dict[str, str]] = {b: {} for b in cols}
        sources: dict[str, dict[str, str]] = {b: {} for b in cols}
        for r in rows(best):
            settings[r["benchmark"]][r["id"]] = r["setting"]
            sources[r["benchmark"]][r["id"]] = r["source"]
        table.attrs["settings"] = settings
        table.attrs["sources"] = sources
        return table

    def _best(self, benches: list[str] | None, setting: str | Sequence[str] | None) -> pd.DataFrame:
        """The preferred score row per (model, benchmark)."""
        sc = self.scores
        if benches is not None:
            sc = sc[sc["benchmark"].isin(benches)]
        allowed = _as_list(setting)
        if allowed is None:
            rank = sc["setting"].map(setting_rank)
        else:
            present = set(self.scores["setting"])
            unknown = [a for a in allowed if a not in present]
            if unknown:
                raise DensingInputError(
                    f"no scores with setting {unknown}{suggest(unknown[0], present)}; "
                    f"settings present: {', '.join(sorted(present))}",
                    column="setting",
                )
            sc = sc[sc["setting"].isin(allowed)]
            rank = sc["setting"].map({s: i for i, s in enumerate(allowed)})
        sc = sc.assign(_rank=rank.astype(int)).sort_values(
            ["id", "benchmark", "_rank"], kind="stable"
        )
        return sc.drop_duplicates(["id", "benchmark"], keep="first").drop(columns="_rank")

    def _model_fields(self) -> pd.DataFrame:
        out = self.models.drop(columns=["origin"]).copy()
        out["release_date"] = out["release_date"].dt.strftime("%Y-%m-%d")
        return out

    def user_table(
        self,
        benchmarks: str | Sequence[str] | None = None,
        setting: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The catalog in the wide user-table layout: one row per model, the preferred score
        per benchmark with ``<b>_shots``, ``<b>_cot``, ``<b>_setting``, ``<b>_source``.

        Lossy where a model has a benchmark under several settings (only the preferred one is
        kept); :meth:`long_table` keeps every score. :func:`load` reads both back.
        """
        benches = _benchmarks(benchmarks)
        best = self._best(benches, setting)
        out = self._model_fields()
        for b in self._columns(benches, best):
            sub = best[best["benchmark"] == b].set_index("id")
            out[b] = out["id"].map(sub["score"]).astype(float)
            out[f"{b}_shots"] = out["id"].map(sub["shots"]).astype("Int64")
            out[f"{b}_cot"] = out["id"].map(sub["cot"]).astype("boolean")
            out[f"{b}_setting"] = out["id"].map(sub["setting"])
            out[f"{b}_source"] = out["id"].map(sub["source"])
        return out

    def long_table(self) -> pd.DataFrame:
        """One row per score (id, benchmark, score, shots, cot, setting, source) followed by
        the model's columns; a model without scores has one row with an empty benchmark.
        Lossless: :func:`load` reads it back to the same models and scores."""
        fields = self._model_fields()
        merged = self.scores.merge(fields, on="id", how="right", validate="many_to_one")
        order = {mid: i for i, mid in enumerate(self.ids)}
        merged = merged.assign(_order=merged["id"].map(order)).sort_values("_order", kind="stable")
        cols = list(SCORE_COLUMNS) + [c for c in fields.columns if c != "id"]
        return merged[cols].reset_index(drop=True)

    def scores_with_sources(self) -> pd.DataFrame:
        """The long score table with the citation and URL of each value."""
        src = self.sources.rename(columns={"key": "source"})
        return self.scores.merge(src, on="source", how="left", validate="many_to_one")

    def families(self) -> pd.DataFrame:
        """One row per family: model count, size range, first/last release, benchmarks."""
        rows = []
        for fam, g in self.models.groupby("family", sort=True):
            benches = set(self.scores.loc[self.scores["id"].isin(g["id"]), "benchmark"])
            rows.append(
                {
                    "family": fam,
                    "models": len(g),
                    "min_params": float(g["params"].min()),
                    "max_params": float(g["params"].max()),
                    "first_release": g["release_date"].min(),
                    "last_release": g["release_date"].max(),
                    "moe": int((g["arch"] == "moe").sum()),
                    "tokens_unknown": int(g["tokens"].isna().sum()),
                    "benchmarks": ",".join(b for b in BENCHMARKS if b in benches),
                }
            )
        return pd.DataFrame(rows)

    def filter(
        self,
        family: str | Sequence[str] | None = None,
        benchmark: str | Sequence[str] | None = None,
        arch: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Catalog:
        """Sub-catalog: models of the given families (display name or slug, any case), having
        a score on every given benchmark (any case), of the given arch, among ``ids``. Scores
        of the kept models are all kept."""
        keep = pd.Series(True, index=self.models.index)
        fams = _as_list(family)
        if fams is not None:
            wanted = {family_key(f) for f in fams}
            keep &= self.models["family"].map(family_key).isin(wanted)
        for b in _benchmarks(benchmark) or []:
            keep &= self.models["id"].isin(
                set(self.scores.loc[self.scores["benchmark"] == b, "id"])
            )
        if arch is not None:
            keep &= self.models["arch"] == arch
        if ids is not None:
            keep &= self.models["id"].isin(list(ids))
        return self.subset(self.models.loc[keep, "id"])

    def subset(self, ids: Sequence[str] | pd.Series) -> Catalog:
        """The models with these ids (in catalog order) and all their scores."""
        models = self.models[self.models["id"].isin(list(ids))].reset_index(drop=True)
        scores = self.scores[self.scores["id"].isin(models["id"])].reset_index(drop=True)
        return Catalog(models, scores, self.sources, self.overridden)

    def released_since(self, day: Any) -> Catalog:
        """The models released on or after ``day`` (a date or ISO text)."""
        return self.subset(self.models.loc[self.models["release_date"] >= pd.Timestamp(day), "id"])

    def coverage(self) -> dict[str, Any]:
        """Counts behind the catalog's coverage bars (and its gaps)."""
        per_bench = {
            b: int(self.scores.loc[self.scores["benchmark"] == b, "id"].nunique())
            for b in BENCHMARKS
        }
        keys = set(self.sources["key"])
        m = self.models
        has_tok = m["tokens"].notna()
        unsourced = (
            int((~m["params_source"].isin(keys)).sum())
            + int((~m["date_source"].isin(keys)).sum())
            + int((~m.loc[has_tok, "tokens_source"].isin(keys)).sum())
            + int((~self.scores["source"].isin(keys)).sum())
        )
        dates = m["release_date"]
        return {
            "models": len(m),
            "models_with_date": int(dates.notna().sum()),
            "families": int(m["family"].nunique()),
            "moe_models": int((m["arch"] == "moe").sum()),
            "scores": len(self.scores),
            "models_per_benchmark": per_bench,
            "tokens_unknown": list(m.loc[~has_tok, "id"]),
            "first_release": None if m.empty else dates.min().date().isoformat(),
            "last_release": None if m.empty else dates.max().date().isoformat(),
            "values_without_source": unsourced,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.records(), "sources": self._citations()}

    def summary(self) -> str:
        cov = self.coverage()
        lines = [
            f"catalog: {cov['models']} models, {cov['families']} families, {cov['scores']} scores "
            f"({cov['first_release']} .. {cov['last_release']}), {cov['moe_models']} MoE, "
            f"{len(cov['tokens_unknown'])} with unknown training tokens",
            "models per benchmark: "
            + ", ".join(f"{b} {n}" for b, n in cov["models_per_benchmark"].items() if n),
        ]
        if self.overridden:
            lines.append(f"user entries replacing built-in ones: {', '.join(self.overridden)}")
        return "\n".join(lines)

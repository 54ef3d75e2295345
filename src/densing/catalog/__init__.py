"""The built-in catalog of open base language models, with a source for every value.

Data lives in ``densing/catalog_data/`` (see the README section "Built-in model catalog"):
``sources.yaml`` holds global sources and ``families/<slug>.yaml`` one family each. :func:`load`
parses and validates everything and returns a frozen :class:`Catalog` of pandas tables; users
can merge their own CSV / Parquet / JSON / YAML files of models and scores on top (same
validation; a user model with an existing id replaces the built-in entry).

Every problem is a :class:`~densing.errors.DensingInputError` naming the file, the model (row
= 1-based position of the model in the file's ``models`` list, or the table's data row), the
field and what was expected. :func:`validate` returns all problems; :func:`load` raises the
first.

Modules, in the direction data flows:

* :mod:`~densing.catalog.schema` — benchmark and setting registries, pydantic entries;
* :mod:`~densing.catalog._yaml`, :mod:`~densing.catalog.cache` — strict YAML, parse cache;
* :mod:`~densing.catalog.sources` — adapters by file suffix (family YAML, user tables of
  :mod:`~densing.catalog.tables`); :mod:`~densing.catalog.sources.obscaling` reads the
  ObsScaling CSV for analyses;
* :mod:`~densing.catalog.rules` — validation rules of one model;
* :mod:`~densing.catalog.loader` — collect, check, merge, build;
* :mod:`~densing.catalog.catalog` — the :class:`Catalog` and its queries;
* :mod:`~densing.catalog.diff` — what changed between two catalogs.
"""

from __future__ import annotations

from densing.catalog.catalog import Catalog
from densing.catalog.loader import DATA_DIR, LoadOptions, load, validate
from densing.catalog.schema import (
    BENCHMARK_INFO,
    BENCHMARKS,
    OPENLLM_V1_BENCHMARKS,
    OPENLLM_V2_BENCHMARKS,
    SETTINGS,
    ModelEntry,
    ScoreEntry,
    SourceEntry,
    setting_rank,
)

__all__ = [
    "BENCHMARKS",
    "BENCHMARK_INFO",
    "DATA_DIR",
    "OPENLLM_V1_BENCHMARKS",
    "OPENLLM_V2_BENCHMARKS",
    "SETTINGS",
    "Catalog",
    "LoadOptions",
    "ModelEntry",
    "ScoreEntry",
    "SourceEntry",
    "load",
    "setting_rank",
    "validate",
]

"""Measuring conditional loss and accuracy of causal LMs on benchmark items (``densing eval``).

torch and transformers (the ``densing[eval]`` extra), vLLM (``densing[vllm]``) and Ray
(``densing[ray]``) are imported only when a model is loaded or work is spread, so this package
imports without them.

Layout: :mod:`~densing.evaluation.tasks` (items, recipes) → :mod:`~densing.evaluation.engine`
(tokenisation, densing's transformers scorer) → :mod:`~densing.evaluation.backends` (the
``Backend`` protocol and registry: ``hf``, ``vllm``) → :mod:`~densing.evaluation.prepare`
(identities, tokenised tasks, shards) → :mod:`~densing.evaluation.runner` (one process) /
:mod:`~densing.evaluation.ray_runner` (Ray) / :mod:`~densing.evaluation.plan` (plan files,
run-unit, merge) → :mod:`~densing.evaluation.store` (SQLite) → :mod:`~densing.evaluation.export`.
"""

from densing.evaluation.backends import (
    Backend,
    BackendOptions,
    available_backends,
    backend_class,
    load_backend,
    register_backend,
)
from densing.evaluation.engine import Encoded, Request, Score, encode, score_encoded, score_naive
from densing.evaluation.export import export, status, summarize
from densing.evaluation.model import LoadedModel, count_params, load_model, wrap_model
from densing.evaluation.plan import make_plan, merge_stores, run_unit
from densing.evaluation.prepare import prepare_task
from densing.evaluation.runner import RayOptions, evaluate, run_eval, run_task
from densing.evaluation.store import ItemRow, ModelIdentity, Store, writer_lock
from densing.evaluation.tasks import Item, Recipe, Task, load_task, read_items

__all__ = [
    "Backend",
    "BackendOptions",
    "Encoded",
    "Item",
    "ItemRow",
    "LoadedModel",
    "ModelIdentity",
    "RayOptions",
    "Recipe",
    "Request",
    "Score",
    "Store",
    "Task",
    "available_backends",
    "backend_class",
    "count_params",
    "encode",
    "evaluate",
    "export",
    "load_backend",
    "load_model",
    "load_task",
    "make_plan",
    "merge_stores",
    "prepare_task",
    "read_items",
    "register_backend",
    "run_eval",
    "run_task",
    "run_unit",
    "score_encoded",
    "score_naive",
    "status",
    "summarize",
    "wrap_model",
    "writer_lock",
]

"""Measuring conditional loss and accuracy of causal LMs on benchmark items (``densing eval``).

torch and transformers (the ``densing[eval]`` extra) are imported only when a model is loaded or
scored, so this package imports without them.
"""

from densing.evaluation.engine import Encoded, Request, Score, encode, score_encoded, score_naive
from densing.evaluation.export import export, status, summarize
from densing.evaluation.model import LoadedModel, count_params, load_model, wrap_model
from densing.evaluation.runner import prepare_task, run_eval, run_task
from densing.evaluation.store import ItemRow, Store, writer_lock
from densing.evaluation.tasks import Item, Recipe, Task, load_task, read_items

__all__ = [
    "Encoded",
    "Item",
    "ItemRow",
    "LoadedModel",
    "Recipe",
    "Request",
    "Score",
    "Store",
    "Task",
    "count_params",
    "encode",
    "export",
    "load_model",
    "load_task",
    "prepare_task",
    "read_items",
    "run_eval",
    "run_task",
    "score_encoded",
    "score_naive",
    "status",
    "summarize",
    "wrap_model",
    "writer_lock",
]

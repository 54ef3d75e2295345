"""Everything decided before any scoring: tokenised tasks, model identities, shards.

Every task is rendered, tokenised with the model's tokenizer and checked (empty targets,
prompts longer than the context are refused, never truncated) *before* anything is written, for
every model of a run. A model's identity (fingerprint, dtype, backend and its version, parameter
counts) is computed here without loading its weights (:func:`plan_model`), so a driver can tell
which work is finished — and do nothing when all of it is — before any model is loaded.

Per item the requests are: the target (its loss) and, for multiple-choice items, each choice
(a choice equal to the target shares its request). Accuracy is ``argmax`` of the summed
log-likelihood of the choices; length-normalised accuracy divides it by the UTF-8 byte length of
the choice (the lm-evaluation-harness ``acc_norm``). For items without choices, ``greedy`` (every
target token is the model's argmax) is stored and reported as the task's accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from densing.errors import DensingInputError
from densing.evaluation.engine import Encoded, Score, check_encoded, encode
from densing.evaluation.store import ItemRow, ModelIdentity
from densing.evaluation.tasks import Item, Task, select


@dataclass(frozen=True)
class PreparedItem:
    item: Item
    index: int
    requests: tuple[int, ...]  # indices into the task's encoded list; [0] is the target
    choice_requests: tuple[int, ...] = ()

    @property
    def all_requests(self) -> set[int]:
        return {*self.requests, *self.choice_requests}


@dataclass(frozen=True)
class PreparedTask:
    task: Task
    items: tuple[PreparedItem, ...]
    encoded: tuple[Encoded, ...]
    groups: tuple[str, ...]
    n_selected: int

    @property
    def n_tokens(self) -> int:
        return sum(len(e.ids) for e in self.encoded)

    def tokens_of(self, items: Sequence[PreparedItem]) -> int:
        return sum(len(self.encoded[i].ids) for p in items for i in p.all_requests)

    def requests_of(self, items: Sequence[PreparedItem]) -> list[int]:
        """The request indices ``items`` need, sorted (shared requests once)."""
        return sorted({i for p in items for i in p.all_requests})


def prepare_task(
    task: Task, tokenizer: Any, max_length: int | None, *, limit: int | None = None
) -> PreparedTask:
    """Render and tokenise every selected item; refuse any item the model cannot score."""
    encoded: list[Encoded] = []
    groups: list[str] = []
    index: dict[tuple[str, str], int] = {}
    prepared: list[PreparedItem] = []
    items = select(task.items, limit)
    for pos, item in enumerate(items):

        def add(cont: str | None, item: Item = item) -> int:
            r = task.render(item, cont)
            key = (r.context, r.continuation)
            if key not in index:
                enc = encode(tokenizer, r.context, r.continuation)
                what = f"item '{item.id}'" + ("" if cont is None else f" choice {cont!r}")
                try:
                    check_encoded(enc, max_length, what=what)
                except DensingInputError as exc:
                    raise DensingInputError(exc.reason, file=item.source, row=item.line) from None
                index[key] = len(encoded)
                encoded.append(enc)
                groups.append(r.prefix)
            return index[key]

        target = add(None)
        choices = tuple(add(c) for c in item.choices) if item.choices is not None else ()
        prepared.append(
            PreparedItem(item=item, index=pos, requests=(target,), choice_requests=choices)
        )
    return PreparedTask(
        task=task,
        items=tuple(prepared),
        encoded=tuple(encoded),
        groups=tuple(groups),
        n_selected=len(items),
    )


def item_row(p: PreparedItem, scores: dict[int, Score]) -> ItemRow:
    """The stored row of one item from the scores of its requests."""
    t = scores[p.requests[0]]
    if not p.choice_requests:
        return ItemRow(p.item.id, p.index, t.nll_sum, t.n_tokens, t.greedy)
    ll = tuple(-scores[i].nll_sum for i in p.choice_requests)
    nbytes = tuple(len(c.encode("utf-8")) for c in (p.item.choices or ()))
    pred = max(range(len(ll)), key=lambda k: ll[k])
    pred_norm = max(range(len(ll)), key=lambda k: ll[k] / nbytes[k])
    return ItemRow(
        p.item.id,
        p.index,
        t.nll_sum,
        t.n_tokens,
        t.greedy,
        choice_ll=ll,
        choice_bytes=nbytes,
        correct=pred == p.item.label,
        correct_norm=pred_norm == p.item.label,
    )


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous, near-equal ``[start, stop)`` ranges over ``n`` items (none empty)."""
    k = max(1, min(int(shards), n))
    return [(j * n // k, (j + 1) * n // k) for j in range(k)]


def auto_shards(n: int, per_shard: int = 64) -> int:
    return max(1, -(-n // per_shard))


@dataclass
class ModelPlan:
    """One model of a run: its spec, identity, tokenizer and prepared tasks (no weights)."""

    model: str
    identity: ModelIdentity
    tokenizer: Any
    max_length: int | None
    prepared: list[PreparedTask]


def planned_dtype(dtype: str, device: str) -> str:
    """``--dtype`` resolved without a model: ``auto`` is float32 on CPU and bfloat16 on GPU."""
    if dtype == "auto":
        return "float32" if device == "cpu" else "bfloat16"
    if dtype not in {"float32", "bfloat16", "float16"}:
        raise DensingInputError(
            f"--dtype must be auto, float32, bfloat16 or float16, got {dtype!r}"
        )
    return dtype


def plan_model(
    model: str,
    tasks: Sequence[Task],
    *,
    backend: str,
    dtype: str,
    name: str | None = None,
    limit: int | None = None,
    max_model_len: int | None = None,
) -> ModelPlan:
    """Identity and prepared tasks of ``model`` from its files (config, tokenizer; weights are
    hashed, not loaded). ``dtype`` must already be resolved (see :func:`planned_dtype`)."""
    from densing.evaluation.backends import backend_class
    from densing.evaluation.model import (
        context_length,
        count_params_from_config,
        default_name,
        fingerprint_dir,
        load_config,
        load_tokenizer,
        resolve_model_dir,
    )

    version = backend_class(backend).engine_version()
    source = resolve_model_dir(model)
    config = load_config(source, model)
    tokenizer = load_tokenizer(source, model)
    try:
        params = count_params_from_config(config)
    except (ValueError, KeyError) as exc:
        raise DensingInputError(
            f"model type '{config.model_type}' is not a causal LM that transformers can build "
            f"({str(exc).splitlines()[0]})",
            file=model,
        ) from exc
    max_length = context_length(config)
    if max_model_len:
        max_length = min(max_length, max_model_len) if max_length else max_model_len
    identity = ModelIdentity(
        fingerprint=fingerprint_dir(source),
        dtype=dtype,
        backend=backend,
        backend_version=version,
        name=name or default_name(model),
        path=str(source.resolve()),
        params=params.total,
        params_nonembedding=params.nonembedding,
    )
    prepared = [prepare_task(t, tokenizer, max_length, limit=limit) for t in tasks]
    return ModelPlan(model, identity, tokenizer, max_length, prepared)


def identity_of(backend: Any) -> ModelIdentity:
    """The store identity of a loaded backend."""
    return ModelIdentity(
        fingerprint=backend.fingerprint(),
        dtype=backend.dtype,
        backend=backend.name,
        backend_version=backend.version,
        name=backend.model_name,
        path=backend.path,
        params=backend.params.total,
        params_nonembedding=backend.params.nonembedding,
    )


def check_same_model(planned: ModelIdentity, loaded: ModelIdentity, model: str) -> None:
    """The loaded model must be the planned one (else its rows would carry a wrong identity)."""
    a, b = planned, loaded
    if (a.key, a.params, a.params_nonembedding) != (b.key, b.params, b.params_nonembedding):
        raise DensingInputError(
            "the loaded model differs from the planned one "
            f"(planned {a.key[1:]} {a.params} params, loaded {b.key[1:]} {b.params} params); "
            "were the files changed during the run, or do the nodes have different copies?",
            file=model,
        )

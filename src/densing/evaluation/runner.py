"""Running tasks through the engine into the store (resumable, transactional per batch).

Every task is loaded, rendered, tokenised and checked *before* anything is written, so bad input
leaves no partial rows. Then, per task, the items already stored for this (model, task) are
skipped; every forward batch's completed items are written in one transaction.

Per item the requests are: the target (its loss) and, for multiple-choice items, each choice
(a choice equal to the target shares its request). Accuracy is ``argmax`` of the summed
log-likelihood of the choices; length-normalised accuracy divides it by the UTF-8 byte length of
the choice (the lm-evaluation-harness ``acc_norm``). For items without choices, ``greedy`` (every
target token is the model's argmax) is stored and reported as the task's accuracy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from densing.errors import DensingInputError
from densing.evaluation.engine import Encoded, Score, check_encoded, encode, score_encoded
from densing.evaluation.model import LoadedModel
from densing.evaluation.store import ItemRow, Store, writer_lock
from densing.evaluation.tasks import Item, Task, select


@dataclass(frozen=True)
class PreparedItem:
    item: Item
    index: int
    requests: tuple[int, ...]  # indices into the task's encoded list; [0] is the target
    choice_requests: tuple[int, ...] = ()


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


@dataclass(frozen=True)
class TaskRunSummary:
    task: str
    model: str
    n_items: int
    n_already_done: int
    n_scored: int
    tokens: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "n_items": self.n_items,
            "n_already_done": self.n_already_done,
            "n_scored": self.n_scored,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else None,
        }


@dataclass(frozen=True)
class RunSummary:
    db: str
    model: str
    fingerprint: str
    tasks: tuple[TaskRunSummary, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "model": self.model,
            "fingerprint": self.fingerprint,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    def summary(self) -> str:
        lines = [f"model {self.model} (fingerprint {self.fingerprint[:12]}) → {self.db}"]
        lines.append(f"{'task':<24}{'items':>8}{'resumed':>9}{'scored':>8}{'tokens/s':>11}")
        for t in self.tasks:
            tps = f"{t.tokens / t.seconds:.0f}" if t.seconds > 0 and t.n_scored else "-"
            lines.append(f"{t.task:<24}{t.n_items:>8}{t.n_already_done:>9}{t.n_scored:>8}{tps:>11}")
        return "\n".join(lines)


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


def _row(p: PreparedItem, scores: dict[int, Score]) -> ItemRow:
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


def run_task(
    lm: LoadedModel,
    prepared: PreparedTask,
    store: Store,
    *,
    batch_size: int | str = "auto",
    prefix_cache: bool = True,
    padding: str = "left",
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> TaskRunSummary:
    """Score the not-yet-stored items of one prepared task; ``on_progress(items, tokens)``."""
    task = prepared.task
    model_id = store.register_model(
        fingerprint=lm.fingerprint,
        dtype=lm.dtype,
        name=lm.name,
        path=lm.path,
        params=lm.params.total,
        params_nonembedding=lm.params.nonembedding,
    )
    task_id = store.register_task(
        hash=task.hash,
        name=task.name,
        recipe=task.recipe.to_dict(),
        n_items=len(task.items),
        has_choices=task.has_choices,
        source=task.source,
    )
    done = store.done_items(model_id, task_id)
    pending = [p for p in prepared.items if p.item.id not in done]
    n_done = prepared.n_selected - len(pending)
    if not pending:
        return TaskRunSummary(task.name, lm.name, prepared.n_selected, n_done, 0, 0, 0.0)
    run_id = store.start_run(model_id, task_id, dict(settings or {}))
    needed = sorted({i for p in pending for i in (*p.requests, *p.choice_requests)})
    waiting: dict[int, list[PreparedItem]] = {}
    remaining: dict[str, int] = {}
    for p in pending:
        reqs = set(p.requests) | set(p.choice_requests)
        remaining[p.item.id] = len(reqs)
        for i in reqs:
            waiting.setdefault(i, []).append(p)
    scores: dict[int, Score] = {}
    sub_enc = [prepared.encoded[i] for i in needed]
    sub_groups = [prepared.groups[i] for i in needed]
    t0 = time.perf_counter()
    tokens = 0
    scored = 0
    status = "failed"
    try:
        for chunk in score_encoded(
            lm.model,
            sub_enc,
            sub_groups,
            batch_size=batch_size,
            prefix_cache=prefix_cache,
            padding=padding,
            device=lm.device,
        ):
            complete: list[ItemRow] = []
            batch_tokens = 0
            for j, s in chunk:
                i = needed[j]
                scores[i] = s
                batch_tokens += len(prepared.encoded[i].ids)
                for p in waiting[i]:
                    remaining[p.item.id] -= 1
                    if remaining[p.item.id] == 0:
                        complete.append(_row(p, scores))
            scored += store.write_items(model_id, task_id, run_id, complete)
            tokens += batch_tokens
            if on_progress is not None:
                on_progress(len(complete), batch_tokens)
        status = "finished"
    finally:
        store.finish_run(run_id, status)
    return TaskRunSummary(
        task.name, lm.name, prepared.n_selected, n_done, scored, tokens, time.perf_counter() - t0
    )


def run_eval(
    lm: LoadedModel,
    tasks: Sequence[Task],
    db: str,
    *,
    limit: int | None = None,
    batch_size: int | str = "auto",
    prefix_cache: bool = True,
    padding: str = "left",
    wait: bool = False,
    on_prepared: Callable[[int, int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Evaluate ``lm`` on ``tasks`` into the store ``db`` (resuming; one writer at a time).

    ``on_prepared(items_to_score, tokens_to_score)`` is called once before scoring starts.
    """
    names = [t.name for t in tasks]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DensingInputError(f"two tasks share the name {sorted(dup)[0]!r}; names must differ")
    prepared = [prepare_task(t, lm.tokenizer, lm.max_length, limit=limit) for t in tasks]
    settings = {
        "batch_size": batch_size,
        "prefix_cache": prefix_cache,
        "padding": padding,
        "device": lm.device,
        "limit": limit,
    }
    summaries = []
    with writer_lock(db, wait=wait), Store(db) as store:
        if on_prepared is not None:
            todo_items = todo_tokens = 0
            for pt in prepared:
                mid = _existing_model(store, lm)
                tid = _existing_task(store, pt.task)
                done = store.done_items(mid, tid) if mid and tid else set()
                left = [p for p in pt.items if p.item.id not in done]
                todo_items += len(left)
                todo_tokens += sum(
                    len(pt.encoded[i].ids) for p in left for i in {*p.requests, *p.choice_requests}
                )
            on_prepared(todo_items, todo_tokens)
        for pt in prepared:
            summaries.append(
                run_task(
                    lm,
                    pt,
                    store,
                    batch_size=batch_size,
                    prefix_cache=prefix_cache,
                    padding=padding,
                    settings=settings,
                    on_progress=on_progress,
                )
            )
    return RunSummary(db=str(db), model=lm.name, fingerprint=lm.fingerprint, tasks=tuple(summaries))


def _existing_model(store: Store, lm: LoadedModel) -> int | None:
    row = store.conn.execute(
        "SELECT model_id FROM models WHERE fingerprint = ? AND dtype = ?",
        (lm.fingerprint, lm.dtype),
    ).fetchone()
    return int(row[0]) if row else None


def _existing_task(store: Store, task: Task) -> int | None:
    row = store.conn.execute("SELECT task_id FROM tasks WHERE hash = ?", (task.hash,)).fetchone()
    return int(row[0]) if row else None

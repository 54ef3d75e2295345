"""Running tasks through a backend into the store (resumable, transactional per batch).

:func:`evaluate` is ``densing eval``: every model is planned (identity + tokenised tasks, see
:mod:`densing.evaluation.prepare`) before anything is written; then, per model, the items already
stored for this (model identity, task) are skipped and the rest are scored — in this process
(each forward batch's completed items are written in one transaction) or spread over a Ray
cluster (:mod:`densing.evaluation.ray_runner`: one transaction per shard). :func:`run_eval` is the
same for one already loaded model (e.g. :func:`~densing.evaluation.model.wrap_model`).

A run row records each (model, task) invocation: ``finished``, ``failed`` (an error), or
``interrupted`` (Ctrl-C / SIGTERM; a run killed outright stays ``running`` and ``status`` shows
it as ``interrupted`` once no writer holds the store).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from densing.errors import DensingInputError
from densing.evaluation.engine import Score
from densing.evaluation.model import LoadedModel
from densing.evaluation.prepare import (
    ModelPlan,
    PreparedItem,
    PreparedTask,
    check_same_model,
    identity_of,
    item_row,
    plan_model,
    planned_dtype,
    prepare_task,
)
from densing.evaluation.store import ItemRow, ModelIdentity, Store, check_db_path, writer_lock
from densing.evaluation.tasks import Task

Progress = Callable[[int, int], None]


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
    backend: str = "hf"

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "model": self.model,
            "fingerprint": self.fingerprint,
            "backend": self.backend,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    def summary(self) -> str:
        lines = [
            f"model {self.model} (fingerprint {self.fingerprint[:12]}, {self.backend}) → {self.db}"
        ]
        lines.append(f"{'task':<24}{'items':>8}{'resumed':>9}{'scored':>8}{'tokens/s':>11}")
        for t in self.tasks:
            tps = f"{t.tokens / t.seconds:.0f}" if t.seconds > 0 and t.n_scored else "-"
            lines.append(f"{t.task:<24}{t.n_items:>8}{t.n_already_done:>9}{t.n_scored:>8}{tps:>11}")
        return "\n".join(lines)


@dataclass(frozen=True)
class EvalSummary:
    """The summary of a ``densing eval`` over one or several models."""

    db: str
    runs: tuple[RunSummary, ...]
    executor: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"db": self.db, "models": [r.to_dict() for r in self.runs]}
        if len(self.runs) == 1:
            out.update(model=self.runs[0].model, fingerprint=self.runs[0].fingerprint)
        out["tasks"] = [t.to_dict() for r in self.runs for t in r.tasks]
        if self.executor:
            out["executor"] = self.executor
        return out

    def summary(self) -> str:
        parts = [r.summary() for r in self.runs]
        if self.executor:
            parts.append(", ".join(f"{k} {v}" for k, v in self.executor.items()))
        return "\n".join(parts)


def _settings(backend: Any, limit: int | None) -> dict[str, Any]:
    return {
        "backend": backend.name,
        "backend_version": backend.version,
        "batch_size": getattr(backend, "batch_size", None),
        "prefix_cache": getattr(backend, "prefix_cache", None),
        "padding": getattr(backend, "padding", None),
        "device": getattr(backend, "device", None),
        "limit": limit,
    }


def register(store: Store, identity: ModelIdentity, task: Task) -> tuple[int, int]:
    model_id = store.register_model(identity)
    task_id = store.register_task(
        hash=task.hash,
        name=task.name,
        recipe=task.recipe.to_dict(),
        n_items=len(task.items),
        has_choices=task.has_choices,
        source=task.source,
    )
    return model_id, task_id


def pending_items(
    store: Store,
    identity: ModelIdentity,
    pt: PreparedTask,
    item_range: tuple[int, int] | None = None,
) -> list[PreparedItem]:
    """The prepared items of ``pt`` (in ``item_range``) not yet stored for ``identity``."""
    done = store.done_items(store.find_model(identity), store.find_task(pt.task.hash))
    items = pt.items if item_range is None else pt.items[slice(*item_range)]
    return [p for p in items if p.item.id not in done]


def run_status(exc: BaseException | None) -> str:
    """``finished``; ``interrupted`` for Ctrl-C / SIGTERM; ``failed`` for any other error."""
    if exc is None:
        return "finished"
    return "interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed"


def run_task(
    backend: Any,
    prepared: PreparedTask,
    store: Store,
    *,
    identity: ModelIdentity | None = None,
    settings: dict[str, Any] | None = None,
    on_progress: Progress | None = None,
    items: Sequence[PreparedItem] | None = None,
) -> TaskRunSummary:
    """Score the not-yet-stored items (of ``items``, default all) of one prepared task."""
    task = prepared.task
    ident = identity or identity_of(backend)
    model_id, task_id = register(store, ident, task)
    done = store.done_items(model_id, task_id)
    chosen = prepared.items if items is None else tuple(items)
    pending = [p for p in chosen if p.item.id not in done]
    n_done = len(chosen) - len(pending)
    if not pending:
        return TaskRunSummary(task.name, ident.name, len(chosen), n_done, 0, 0, 0.0)
    run_id = store.start_run(model_id, task_id, dict(settings or {}))
    needed = prepared.requests_of(pending)
    waiting: dict[int, list[PreparedItem]] = {}
    remaining: dict[str, int] = {}
    for p in pending:
        remaining[p.item.id] = len(p.all_requests)
        for i in p.all_requests:
            waiting.setdefault(i, []).append(p)
    scores: dict[int, Score] = {}
    t0 = time.perf_counter()
    tokens = scored = 0
    error: BaseException | None = None
    try:
        sub_enc = [prepared.encoded[i] for i in needed]
        sub_groups = [prepared.groups[i] for i in needed]
        for chunk in backend.loglikelihood(sub_enc, sub_groups):
            complete: list[ItemRow] = []
            batch_tokens = 0
            for j, s in chunk:
                i = needed[j]
                scores[i] = s
                batch_tokens += len(prepared.encoded[i].ids)
                for p in waiting[i]:
                    remaining[p.item.id] -= 1
                    if remaining[p.item.id] == 0:
                        complete.append(item_row(p, scores))
            scored += store.write_items(model_id, task_id, run_id, complete)
            tokens += batch_tokens
            if on_progress is not None:
                on_progress(len(complete), batch_tokens)
    except BaseException as exc:
        error = exc
        raise
    finally:
        store.finish_run(run_id, run_status(error))
    return TaskRunSummary(
        task.name, ident.name, len(chosen), n_done, scored, tokens, time.perf_counter() - t0
    )


def _check_task_names(tasks: Sequence[Task]) -> None:
    names = [t.name for t in tasks]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DensingInputError(f"two tasks share the name {sorted(dup)[0]!r}; names must differ")


def run_eval(
    lm: LoadedModel | Any,
    tasks: Sequence[Task],
    db: str,
    *,
    limit: int | None = None,
    batch_size: int | str = "auto",
    prefix_cache: bool = True,
    padding: str = "left",
    wait: bool = False,
    on_prepared: Progress | None = None,
    on_progress: Progress | None = None,
) -> RunSummary:
    """Evaluate one loaded model (a :class:`LoadedModel`, scored by the ``hf`` backend, or any
    loaded backend) on ``tasks`` into the store ``db`` (resuming; one writer at a time).

    ``on_prepared(items_to_score, tokens_to_score)`` is called once before scoring starts.
    """
    from densing.evaluation.backends.hf import HFBackend

    backend = (
        HFBackend(lm, batch_size=batch_size, prefix_cache=prefix_cache, padding=padding)
        if isinstance(lm, LoadedModel)
        else lm
    )
    _check_task_names(tasks)
    check_db_path(db)
    prepared = [prepare_task(t, backend.tokenizer, backend.max_length, limit=limit) for t in tasks]
    ident = identity_of(backend)
    plan = ModelPlan(backend.path, ident, backend.tokenizer, backend.max_length, prepared)
    with writer_lock(db, wait=wait), Store(db) as store:
        if on_prepared is not None:
            left = [(pt, pending_items(store, ident, pt)) for pt in prepared]
            on_prepared(sum(len(x) for _, x in left), sum(pt.tokens_of(x) for pt, x in left))
        return _run_model(backend, plan, store, limit, on_progress)


def _run_model(
    backend: Any,
    plan: ModelPlan,
    store: Store,
    limit: int | None,
    on_progress: Progress | None,
    item_range: tuple[int, int] | None = None,
) -> RunSummary:
    settings = _settings(backend, limit)
    if item_range is not None:
        settings["items"] = list(item_range)
    tasks = tuple(
        run_task(
            backend,
            pt,
            store,
            identity=plan.identity,
            settings=settings,
            on_progress=on_progress,
            items=None if item_range is None else pt.items[slice(*item_range)],
        )
        for pt in plan.prepared
    )
    ident = plan.identity
    return RunSummary(str(store.path), ident.name, ident.fingerprint, tasks, backend.name)


@dataclass(frozen=True)
class RayOptions:
    """Where and how to spread work over Ray (``--ray [ADDRESS]``)."""

    address: str | None = None
    replicas: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    shards: int | None = None


def evaluate(
    models: Sequence[str],
    tasks: Sequence[Task],
    db: str,
    *,
    backend: str = "hf",
    options: Any = None,
    names: Sequence[str] | None = None,
    limit: int | None = None,
    wait: bool = False,
    ray: RayOptions | None = None,
    item_range: tuple[int, int] | None = None,
    on_prepared: Progress | None = None,
    on_progress: Progress | None = None,
) -> EvalSummary:
    """``densing eval``: score ``tasks`` with every model of ``models`` into ``db``.

    ``item_range``: score only the selected items ``[start, stop)`` of every task (a plan unit).
    """
    from densing.evaluation.backends import BackendOptions, backend_class

    opts: BackendOptions = options or BackendOptions()
    _check_task_names(tasks)
    check_db_path(db)
    backend_class(backend).engine_version()  # unknown backend / engine not installed: exit 2
    if names is not None and len(names) != len(models):
        raise DensingInputError(
            f"--name given {len(names)} times for {len(models)} --model; give one per model"
        )
    device, dtype = _device_dtype(opts, ray)
    plans = [
        plan_model(
            m,
            tasks,
            backend=backend,
            dtype=dtype,
            name=names[k] if names else None,
            limit=limit,
            max_model_len=opts.max_model_len,
        )
        for k, m in enumerate(models)
    ]
    _check_distinct(plans)
    with writer_lock(db, wait=wait), Store(db) as store:
        todo = [
            [(pt, pending_items(store, p.identity, pt, item_range)) for pt in p.prepared]
            for p in plans
        ]
        if on_prepared is not None:
            flat = [x for per in todo for x in per]
            on_prepared(sum(len(x) for _, x in flat), sum(pt.tokens_of(x) for pt, x in flat))
        if ray is not None:
            from densing.evaluation.ray_runner import run_ray

            return run_ray(
                plans, todo, store, backend=backend, options=opts, ray=ray, limit=limit,
                on_progress=on_progress,
            )  # fmt: skip
        runs = []
        for plan, per in zip(plans, todo, strict=True):
            if not any(x for _, x in per):  # finished: the model is not even loaded
                runs.append(_nothing_left(plan, store))
                continue
            loaded = backend_class(backend).load(
                plan.model,
                replace(opts, device=device, dtype=dtype, name=plan.identity.name,
                        fingerprint=plan.identity.fingerprint),
            )  # fmt: skip
            try:
                check_same_model(plan.identity, identity_of(loaded), plan.model)
                runs.append(_run_model(loaded, plan, store, limit, on_progress, item_range))
            finally:
                loaded.close()
        return EvalSummary(str(db), tuple(runs))


def _device_dtype(opts: Any, ray: RayOptions | None) -> tuple[str, str]:
    """Device and dtype of the run: here, resolved on this machine; over Ray, from the worker
    size (``auto`` dtype: float32 on CPU workers, bfloat16 on GPU workers)."""
    from densing.evaluation.model import resolve_device, resolve_dtype

    if ray is not None:
        from densing.evaluation.ray_runner import check_ray

        check_ray(ray.address)
        device = "cuda" if ray.num_gpus > 0 else "cpu"
        return device, planned_dtype(opts.dtype, device)
    device = resolve_device(opts.device)
    return device, str(resolve_dtype(opts.dtype, device)).removeprefix("torch.")


def _nothing_left(plan: ModelPlan, store: Store) -> RunSummary:
    ident = plan.identity
    tasks = tuple(
        TaskRunSummary(pt.task.name, ident.name, pt.n_selected, pt.n_selected, 0, 0, 0.0)
        for pt in plan.prepared
    )
    return RunSummary(str(store.path), ident.name, ident.fingerprint, tasks, ident.backend)


def _check_distinct(plans: Sequence[ModelPlan]) -> None:
    seen: dict[tuple[str, ...], str] = {}
    for p in plans:
        if p.identity.key in seen:
            raise DensingInputError(
                f"--model {p.model} is the same model as --model {seen[p.identity.key]} "
                "(same fingerprint, dtype and backend)"
            )
        seen[p.identity.key] = p.model

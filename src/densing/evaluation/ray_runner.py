"""(model, task, shard) units spread over a Ray cluster (``densing eval --ray [ADDRESS]``).

densing does not schedule: Ray places the workers and carries the calls. The driver (the
process running ``densing eval``) plans every model and task (identity, tokenised requests)
before anything is written, splits each (model, task)'s pending items into shards, and starts
``replicas`` :class:`ShardWorker` actors per model (``num_gpus`` per replica — the
tensor-parallel size on GPUs —, or CPU-only). A worker loads its model once, checks that it is
the planned model (fingerprint, dtype, backend version, parameter counts) and scores the token
ids of whole shards; it never touches the store. The driver alone owns the SQLite store and
writes each returned shard in one transaction, so:

* a run stopped at any point resumes by skipping the shards already stored, and never writes a
  row twice (``UNIQUE(model, task, item)`` besides);
* a worker lost mid-shard (its node killed, its process crashed) loses only that shard's
  uncommitted work: the shard goes back to the queue and the dead worker is replaced by a new
  actor, which Ray places on a live node (at most ``MAX_ATTEMPTS`` tries per shard);
* a second run on a finished store does no work: the driver sees nothing pending and starts no
  worker (it does not even connect to Ray).

A model's workers are released as soon as its last shard is stored, so the next model's workers
can take their place on a small cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from densing.errors import DensingInputError
from densing.evaluation.engine import Encoded, Score
from densing.evaluation.prepare import (
    ModelPlan,
    PreparedItem,
    PreparedTask,
    auto_shards,
    check_same_model,
    identity_of,
    item_row,
    shard_bounds,
)
from densing.evaluation.store import ModelIdentity, Store

MAX_ATTEMPTS = 4
IN_FLIGHT = 2  # shards queued per worker, so a worker never waits for the driver
RAY_HINT = "--ray needs Ray: install it with  pip install 'densing[ray]'"


def check_ray(address: str | None) -> None:
    """Ray importable, and a given ``HOST:PORT`` address accepting connections (one line, exit 2,
    before any work)."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise DensingInputError(f"{RAY_HINT} ({exc})") from None
    if address in (None, "", "auto", "local"):
        return
    assert address is not None
    if address.startswith("ray://"):
        raise DensingInputError(
            "--ray takes the cluster's GCS address HOST:PORT (Ray Client ray:// addresses are not "
            "supported: run densing on a node of the cluster)"
        )
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise DensingInputError(f"--ray address must be HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise DensingInputError(
            f"--ray: the Ray cluster at {address} is unreachable ({exc.strerror or exc}); is "
            "`ray start --head` running there?"
        ) from None


class ShardWorker:
    """A Ray actor: one loaded model that scores shards of encoded requests."""

    def __init__(
        self, backend: str, model: str, options: dict[str, Any], planned: ModelIdentity
    ) -> None:
        from densing.evaluation.backends import BackendOptions, load_backend

        threads = max(1, int(options.pop("_threads", 1) or 1))
        opts = BackendOptions(**options)
        if opts.device == "cpu":
            import torch

            torch.set_num_threads(threads)
        self.backend = load_backend(backend, model, opts)
        check_same_model(planned, identity_of(self.backend), model)

    def ready(self) -> str:
        """Answers once the model is loaded (the driver then hands this worker units)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def score(
        self, requests: list[tuple[tuple[int, ...], int]], groups: list[str]
    ) -> list[tuple[float, int, bool]]:
        encoded = [Encoded(ids=tuple(ids), target_start=ts) for ids, ts in requests]
        out: list[tuple[float, int, bool] | None] = [None] * len(encoded)
        for chunk in self.backend.loglikelihood(encoded, groups):
            for i, s in chunk:
                out[i] = (s.nll_sum, s.n_tokens, s.greedy)
        return [x for x in out if x is not None]


@dataclass
class Unit:
    """One (model, task, shard): its pending items."""

    model: int
    task: int
    shard: int
    items: list[PreparedItem]
    attempts: int = 0


@dataclass
class _ModelState:
    queue: deque[Unit] = field(default_factory=deque)
    ready: list[Any] = field(default_factory=list)  # actors that finished loading
    starting: int = 0  # actors still loading (or waiting for resources)
    inflight: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.queue) or self.inflight > 0


def make_units(
    todo: Sequence[Sequence[tuple[PreparedTask, list[PreparedItem]]]], shards: int | None
) -> list[Unit]:
    """Shards of every (model, task)'s pending items; shard bounds are over the task's selected
    items, so they are the same in every run (``--shards K`` per task; default: 64 items)."""
    units = []
    for m, per in enumerate(todo):
        for t, (pt, pending) in enumerate(per):
            left = {p.item.id for p in pending}
            k = shards or auto_shards(pt.n_selected)
            for s, (a, b) in enumerate(shard_bounds(pt.n_selected, k)):
                items = [p for p in pt.items[a:b] if p.item.id in left]
                if items:
                    units.append(Unit(m, t, s, items))
    return units


def run_ray(
    plans: Sequence[ModelPlan],
    todo: Sequence[Sequence[tuple[PreparedTask, list[PreparedItem]]]],
    store: Store,
    *,
    backend: str,
    options: Any,
    ray: Any,
    limit: int | None,
    on_progress: Any = None,
) -> Any:
    """Score every pending unit on Ray; the driver commits each shard in one transaction."""
    from densing.evaluation.runner import EvalSummary, RunSummary, TaskRunSummary, register

    units = make_units(todo, ray.shards)
    ids = [[register(store, p.identity, pt.task) for pt in p.prepared] for p in plans]
    stats = {"units": len(units), "retried": 0, "workers_replaced": 0}
    done: dict[tuple[int, int], list[int]] = {}  # (model, task) -> [scored, tokens]
    t0 = time.perf_counter()
    if units:
        # Ray prints cluster events (e.g. a node's death) to stdout, from Python and from its
        # C++ core (file descriptor 1): keep stdout for our output until Ray has shut down
        with _stdout_to_stderr():
            driver = _Driver(plans, ids, store, backend, options, ray, limit, on_progress)
            try:
                driver.run(units, done, stats)
            finally:
                driver.shutdown()
    seconds = time.perf_counter() - t0
    runs = []
    for m, (plan, per) in enumerate(zip(plans, todo, strict=True)):
        tasks = tuple(
            TaskRunSummary(
                pt.task.name,
                plan.identity.name,
                pt.n_selected,
                pt.n_selected - len(pending),
                done.get((m, t), [0, 0])[0],
                done.get((m, t), [0, 0])[1],
                seconds if (m, t) in done else 0.0,
            )
            for t, (pt, pending) in enumerate(per)
        )
        ident = plan.identity
        runs.append(RunSummary(str(store.path), ident.name, ident.fingerprint, tasks, backend))
    return EvalSummary(str(store.path), tuple(runs), {"ray": stats})


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python's ``sys.stdout`` and file descriptor 1) to
    stderr for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class _Driver:
    """Hands units to each model's loaded workers, commits results, replaces lost workers.

    A unit is given only to a worker that has finished loading (``ready``), so a worker still
    waiting for resources never holds work that a live worker could do.
    """

    def __init__(
        self,
        plans: Sequence[ModelPlan],
        ids: list[list[tuple[int, int]]],
        store: Store,
        backend: str,
        options: Any,
        ray_opts: Any,
        limit: int | None,
        on_progress: Any,
    ) -> None:
        import ray

        self.ray = ray
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            address = None if ray_opts.address in (None, "", "local") else ray_opts.address
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        _check_resources(ray, ray_opts)
        self.plans, self.ids, self.store = plans, ids, store
        self.backend, self.opts, self.limit = backend, ray_opts, limit
        device = "cuda" if ray_opts.num_gpus > 0 else "cpu"
        self.options = replace(options, device=device)
        self.on_progress = on_progress
        self.remote = ray.remote(ShardWorker)
        self.state = [_ModelState() for _ in plans]
        self.actors: list[list[Any]] = [[] for _ in plans]
        self.run_ids: dict[tuple[int, int], int] = {}
        self.units: dict[Any, tuple[Unit, Any]] = {}  # unit ref -> (unit, actor)
        self.loading: dict[Any, tuple[int, Any]] = {}  # readiness ref -> (model, actor)

    def _start_actor(self, m: int) -> None:
        plan = self.plans[m]
        opts = replace(
            self.options,
            dtype=plan.identity.dtype,
            name=plan.identity.name,
            fingerprint=None,  # each worker hashes its own copy of the files
        ).to_dict()
        opts["_threads"] = self.opts.num_cpus
        actor = self.remote.options(
            num_cpus=self.opts.num_cpus, num_gpus=self.opts.num_gpus, max_restarts=0
        ).remote(self.backend, plan.model, opts, plan.identity)
        self.actors[m].append(actor)
        self.state[m].starting += 1
        self.loading[actor.ready.remote()] = (m, actor)  # type: ignore[attr-defined]

    def _submit(self, actor: Any, unit: Unit) -> None:
        pt = self.plans[unit.model].prepared[unit.task]
        needed = pt.requests_of(unit.items)
        reqs = [(pt.encoded[i].ids, pt.encoded[i].target_start) for i in needed]
        ref = actor.score.remote(reqs, [pt.groups[i] for i in needed])
        self.units[ref] = (unit, actor)
        self.state[unit.model].inflight += 1

    def _feed(self, m: int, actor: Any) -> None:
        st = self.state[m]
        while st.queue and sum(1 for _, a in self.units.values() if a is actor) < IN_FLIGHT:
            self._submit(actor, st.queue.popleft())
        if not st.busy:  # the model is finished: free its workers for the next model
            for a in self.actors[m]:
                self.ray.kill(a)
            self.actors[m].clear()
            st.ready.clear()

    def run(self, units: list[Unit], done: dict[tuple[int, int], list[int]], stats: dict) -> None:
        for u in units:
            self.state[u.model].queue.append(u)
        error: BaseException | None = None
        try:
            for m, st in enumerate(self.state):
                for _ in range(max(1, min(self.opts.replicas, len(st.queue))) if st.queue else 0):
                    self._start_actor(m)
            while any(st.busy for st in self.state):
                ready, _ = self.ray.wait([*self.units, *self.loading], num_returns=1)
                if ready[0] in self.loading:
                    self._loaded(ready[0], stats)
                else:
                    self._collect(ready[0], done, stats)
        except BaseException as exc:
            error = exc
            raise
        finally:
            from densing.evaluation.runner import run_status

            for run_id in self.run_ids.values():
                self.store.finish_run(run_id, run_status(error))

    def _get(self, ref: Any) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, None)`` when the worker was lost; densing's own
        errors inside a worker are raised here as one-line input errors."""
        from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

        try:
            return True, self.ray.get(ref)
        except RayTaskError as exc:
            cause = exc.as_instanceof_cause()
            if isinstance(cause, DensingInputError):
                raise DensingInputError(cause.reason, file=cause.location.file) from None
            raise
        except RayActorError as exc:
            if exc.actor_init_failed:  # the model failed to load: no retry will help
                raise _init_error(exc) from None
            return False, None
        except WorkerCrashedError:
            return False, None

    def _loaded(self, ref: Any, stats: dict) -> None:
        m, actor = self.loading.pop(ref)
        st = self.state[m]
        st.starting -= 1
        ok, _ = self._get(ref)
        if not ok:
            self._drop(m, actor, stats)
            return
        st.ready.append(actor)
        self._feed(m, actor)

    def _collect(self, ref: Any, done: dict[tuple[int, int], list[int]], stats: dict) -> None:
        unit, actor = self.units.pop(ref)
        self.state[unit.model].inflight -= 1
        ok, result = self._get(ref)
        if not ok:
            self._lost(unit, actor, stats)
            return
        self._commit(unit, result, done)
        self._feed(unit.model, actor)

    def _lost(self, unit: Unit, actor: Any, stats: dict) -> None:
        unit.attempts += 1
        stats["retried"] += 1
        if unit.attempts >= MAX_ATTEMPTS:
            pt = self.plans[unit.model].prepared[unit.task]
            raise RuntimeError(
                f"shard {unit.shard} of {pt.task.name} for {self.plans[unit.model].identity.name}"
                f" was lost on {unit.attempts} workers"
            )
        self.state[unit.model].queue.appendleft(unit)
        self._drop(unit.model, actor, stats)

    def _drop(self, m: int, actor: Any, stats: dict) -> None:
        """Forget a dead worker; start a new one when the model has none left."""
        st = self.state[m]
        if actor in st.ready:
            st.ready.remove(actor)
        if actor in self.actors[m]:
            self.actors[m].remove(actor)
            self.ray.kill(actor)
        for a in st.ready:  # its shards go to the live workers
            self._feed(m, a)
        if st.busy and not st.ready and st.starting == 0:
            self._start_actor(m)
            stats["workers_replaced"] += 1

    def _commit(self, unit: Unit, result: list[tuple[float, int, bool]], done: dict) -> None:
        pt = self.plans[unit.model].prepared[unit.task]
        needed = pt.requests_of(unit.items)
        scores = {i: Score(*r) for i, r in zip(needed, result, strict=True)}
        rows = [item_row(p, scores) for p in unit.items]
        model_id, task_id = self.ids[unit.model][unit.task]
        key = (unit.model, unit.task)
        if key not in self.run_ids:
            from densing.evaluation.runner import _settings

            settings = {**_settings(_Named(self.backend, self.plans[unit.model]), self.limit),
                        "ray_shards": self.opts.shards, "ray_replicas": self.opts.replicas}  # fmt: skip
            self.run_ids[key] = self.store.start_run(model_id, task_id, settings)
        written = self.store.write_items(model_id, task_id, self.run_ids[key], rows)
        tokens = pt.tokens_of(unit.items)
        acc = done.setdefault(key, [0, 0])
        acc[0] += written
        acc[1] += tokens
        if self.on_progress is not None:
            self.on_progress(len(rows), tokens)

    def shutdown(self) -> None:
        for actors in self.actors:
            for a in actors:
                self.ray.kill(a)
            actors.clear()
        if self.owns_ray:  # now, not at exit, where its last messages would reach stdout
            self.ray.shutdown()


def _init_error(exc: Any) -> Exception:
    """The error that stopped a worker from loading its model, as one line."""
    lines = [x.strip() for x in str(exc.error_msg).splitlines() if x.strip()]
    for line in reversed(lines):
        head, sep, msg = line.partition(": ")
        if sep and head.endswith("DensingInputError"):
            return DensingInputError(msg)
        if sep and head.endswith(("Error", "Exception")) and " " not in head:
            return RuntimeError(f"a Ray worker could not load its model: {line}")
    return RuntimeError(f"a Ray worker could not load its model: {lines[-1] if lines else exc}")


def _check_resources(ray: Any, opts: Any) -> None:
    """Refuse a worker size no node of the cluster can hold (it would wait forever)."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    fits = [
        n
        for n in nodes
        if n["Resources"].get("CPU", 0) >= opts.num_cpus
        and n["Resources"].get("GPU", 0) >= opts.num_gpus
    ]
    if not fits:
        have = sorted({(n["Resources"].get("CPU", 0), n["Resources"].get("GPU", 0)) for n in nodes})
        raise DensingInputError(
            f"no node of the Ray cluster has {opts.num_cpus:g} CPUs and {opts.num_gpus:g} GPUs "
            f"for one worker (nodes have (CPUs, GPUs) {have}); lower --num-cpus / --num-gpus"
        )


@dataclass(frozen=True)
class _Named:
    """The settings' view of a backend the driver never loads."""

    backend: str
    plan: ModelPlan

    @property
    def name(self) -> str:
        return self.backend

    @property
    def version(self) -> str:
        return self.plan.identity.backend_version

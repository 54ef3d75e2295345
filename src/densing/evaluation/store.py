"""The result store: one SQLite file (WAL journal) holding models, tasks, runs and scored items.

* ``models``: one row per (fingerprint, dtype); the fingerprint covers config + weights +
  tokenizer, so a changed model gets a new row and its results never mix with the old ones.
* ``tasks``: one row per task hash (prompt recipe + items + few-shot pool).
* ``runs``: one row per ``densing eval`` invocation per (model, task), with its settings.
* ``results``: one row per scored item, ``UNIQUE(model_id, task_id, item_id)``. Rows of a forward
  batch are written in one transaction, so a process killed at any moment (even SIGKILL) leaves
  only complete rows, and a rerun skips the items already stored.

Concurrency: a writer takes an exclusive ``fcntl.flock`` on the sidecar file ``<db>.lock`` for the
whole run. A second writer on the same store **refuses** with a clear error naming the holder's
pid (or, with ``wait=True`` / ``--wait``, blocks until the first finishes). The kernel drops the
lock when a process dies, so a killed run never leaves a stale lock. Readers (``status``,
``export``) need no lock: WAL lets them read while a run writes; ``busy_timeout`` covers short
contention.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from densing.errors import DensingError, DensingInputError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    dtype TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT,
    params INTEGER NOT NULL,
    params_nonembedding INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (fingerprint, dtype)
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    recipe TEXT NOT NULL,
    n_items INTEGER NOT NULL,
    has_choices INTEGER NOT NULL,
    source TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(model_id),
    task_id INTEGER NOT NULL REFERENCES tasks(task_id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    n_scored INTEGER NOT NULL DEFAULT 0,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    model_id INTEGER NOT NULL REFERENCES models(model_id),
    task_id INTEGER NOT NULL REFERENCES tasks(task_id),
    item_id TEXT NOT NULL,
    item_index INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    nll_sum REAL NOT NULL,
    n_tokens INTEGER NOT NULL CHECK (n_tokens > 0),
    nll_mean REAL NOT NULL,
    greedy INTEGER NOT NULL,
    choice_ll TEXT,
    choice_bytes TEXT,
    correct INTEGER,
    correct_norm INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (model_id, task_id, item_id)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ItemRow:
    """One scored item as stored."""

    item_id: str
    item_index: int
    nll_sum: float
    n_tokens: int
    greedy: bool
    choice_ll: tuple[float, ...] | None = None
    choice_bytes: tuple[int, ...] | None = None
    correct: bool | None = None
    correct_norm: bool | None = None

    @property
    def nll_mean(self) -> float:
        return self.nll_sum / self.n_tokens


class StoreLockedError(DensingError):
    """Another writer holds the store."""


@contextmanager
def writer_lock(db: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Exclusive lock on ``<db>.lock`` for the duration of a run (refuse, or wait if asked)."""
    lock_path = Path(f"{db}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise StoreLockedError(
                f"{db}: another densing eval (pid {holder}) is writing to this store; runs on one "
                "store are serialized — wait for it to finish, pass --wait to queue behind it, "
                "or use another --db"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


class Store:
    """Open (creating if needed) a result store."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise DensingInputError("result store not found", file=str(self.path))
        if self.path.is_dir():
            raise DensingInputError("--db must be a file, got a directory", file=str(self.path))
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if create:
                with self.transaction():
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            self.conn.execute(stmt)
                    self.conn.execute(
                        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
            version = self.conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise DensingInputError(
                f"not a densing result store: {exc}", file=str(self.path)
            ) from exc
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise DensingInputError(
                f"result store schema {version and version[0]} is not {SCHEMA_VERSION}",
                file=str(self.path),
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- registration ---------------------------------------------------------------------
    def register_model(
        self,
        *,
        fingerprint: str,
        dtype: str,
        name: str,
        path: str,
        params: int,
        params_nonembedding: int,
    ) -> int:
        with self.transaction() as c:
            row = c.execute(
                "SELECT model_id FROM models WHERE fingerprint = ? AND dtype = ?",
                (fingerprint, dtype),
            ).fetchone()
            if row:
                c.execute(
                    "UPDATE models SET name = ?, path = ? WHERE model_id = ?", (name, path, row[0])
                )
                return int(row[0])
            cur = c.execute(
                "INSERT INTO models(fingerprint, dtype, name, path, params, params_nonembedding,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fingerprint, dtype, name, path, params, params_nonembedding, _now()),
            )
            return int(cur.lastrowid)

    def register_task(
        self,
        *,
        hash: str,
        name: str,
        recipe: dict[str, Any],
        n_items: int,
        has_choices: bool,
        source: str | None,
    ) -> int:
        with self.transaction() as c:
            row = c.execute("SELECT task_id FROM tasks WHERE hash = ?", (hash,)).fetchone()
            if row:
                return int(row[0])
            cur = c.execute(
                "INSERT INTO tasks(hash, name, recipe, n_items, has_choices, source, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hash, name, json.dumps(recipe), n_items, int(has_choices), source, _now()),
            )
            return int(cur.lastrowid)

    def start_run(self, model_id: int, task_id: int, settings: dict[str, Any]) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs(model_id, task_id, started_at, status, settings)"
                " VALUES (?, ?, ?, 'running', ?)",
                (model_id, task_id, _now(), json.dumps(settings, sort_keys=True)),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str = "finished") -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                (_now(), status, run_id),
            )

    # -- results --------------------------------------------------------------------------
    def done_items(self, model_id: int, task_id: int) -> set[str]:
        rows = self.conn.execute(
            "SELECT item_id FROM results WHERE model_id = ? AND task_id = ?", (model_id, task_id)
        )
        return {r[0] for r in rows}

    def write_items(self, model_id: int, task_id: int, run_id: int, rows: Sequence[ItemRow]) -> int:
        """Insert ``rows`` in one transaction; items already stored are left as they are."""
        if not rows:
            return 0
        now = _now()
        with self.transaction() as c:
            before = c.total_changes
            c.executemany(
                "INSERT INTO results(model_id, task_id, item_id, item_index, run_id, nll_sum,"
                " n_tokens, nll_mean, greedy, choice_ll, choice_bytes, correct, correct_norm,"
                " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(model_id, task_id, item_id) DO NOTHING",
                [
                    (
                        model_id,
                        task_id,
                        r.item_id,
                        r.item_index,
                        run_id,
                        r.nll_sum,
                        r.n_tokens,
                        r.nll_mean,
                        int(r.greedy),
                        None if r.choice_ll is None else json.dumps(list(r.choice_ll)),
                        None if r.choice_bytes is None else json.dumps(list(r.choice_bytes)),
                        None if r.correct is None else int(r.correct),
                        None if r.correct_norm is None else int(r.correct_norm),
                        now,
                    )
                    for r in rows
                ],
            )
            written = c.total_changes - before
            c.execute("UPDATE runs SET n_scored = n_scored + ? WHERE run_id = ?", (written, run_id))
            return written

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        self.conn.row_factory = sqlite3.Row
        try:
            return list(self.conn.execute(sql, params))
        finally:
            self.conn.row_factory = None

"""The result store: one SQLite file (WAL journal) holding models, tasks, runs and scored items.

* ``models``: one row per (fingerprint, dtype, backend, backend_version); the fingerprint covers
  config + weights + tokenizer, so a changed model gets a new row and its results never mix with
  the old ones; the scoring engine (``hf``, ``vllm``) and its version are part of the identity, so
  results of two engines on the same weights never mix either.
* ``tasks``: one row per task hash (prompt recipe + items + few-shot pool).
* ``runs``: one row per ``densing eval`` invocation per (model, task), with its settings.
* ``results``: one row per scored item, ``UNIQUE(model_id, task_id, item_id)``. Rows of a forward
  batch (or of a distributed shard) are written in one transaction, so a process killed at any
  moment (even SIGKILL) leaves only complete rows, and a rerun skips the items already stored.

**Schema versions.** Version 2 added ``models.backend`` / ``models.backend_version`` (to the
unique identity) and ``runs.uid`` (so :func:`merge_stores` copies each run once). A store written
by schema 1 is migrated when it is opened: its models become ``backend = 'hf'`` with
``backend_version = ''`` (unknown: schema 1 did not record it), every row is kept, and the
migration is one transaction (a crash leaves the store at schema 1).

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
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from densing.errors import DensingInputError
from densing.io import check_output_file

SCHEMA_VERSION = 2
MODELS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    model_id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    dtype TEXT NOT NULL,
    backend TEXT NOT NULL,
    backend_version TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT,
    params INTEGER NOT NULL,
    params_nonembedding INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (fingerprint, dtype, backend, backend_version)
)"""
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    + MODELS_TABLE.format(name="models")
    + """;
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
    settings TEXT NOT NULL,
    uid TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_uid ON runs(uid);
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
)


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


class StoreLockedError(DensingInputError):
    """Another writer holds the store (a usage error: exit code 2, like any bad input)."""


@dataclass(frozen=True)
class ModelIdentity:
    """What identifies a model's results: weights + dtype + scoring engine and its version.

    ``name`` and ``path`` are labels (updated on every run); ``params`` are counted from the
    weights (or from the config on the meta device, which gives the same count).
    """

    fingerprint: str
    dtype: str
    backend: str
    backend_version: str
    name: str
    path: str
    params: int
    params_nonembedding: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.fingerprint, self.dtype, self.backend, self.backend_version)


def check_db_path(db: str | Path, *, option: str = "--db") -> Path:
    """Refuse an output store path that cannot be created, before any work starts."""
    return check_output_file(db, option=option)


@contextmanager
def writer_lock(db: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Exclusive lock on ``<db>.lock`` for the duration of a run (refuse, or wait if asked)."""
    check_db_path(db)
    lock_path = Path(f"{db}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise StoreLockedError(
                f"another densing eval (pid {holder}) is writing to this store; runs on one "
                "store are serialized — wait for it to finish, pass --wait to queue behind it, "
                "or use another --db",
                file=str(db),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Schema 1 → 2: backend identity on models (schema-1 rows are 'hf', version unknown) and
    a unique uid per run. The 12-step table rebuild of the SQLite docs, in one transaction."""
    conn.execute(MODELS_TABLE.format(name="models_v2"))
    conn.execute(
        "INSERT INTO models_v2(model_id, fingerprint, dtype, backend, backend_version, name, path,"
        " params, params_nonembedding, created_at) SELECT model_id, fingerprint, dtype, 'hf', '',"
        " name, path, params, params_nonembedding, created_at FROM models"
    )
    conn.execute("DROP TABLE models")
    conn.execute("ALTER TABLE models_v2 RENAME TO models")
    conn.execute("ALTER TABLE runs ADD COLUMN uid TEXT")
    conn.execute("UPDATE runs SET uid = lower(hex(randomblob(16)))")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_uid ON runs(uid)")


MIGRATIONS = {1: _migrate_1_to_2}


class Store:
    """Open (creating if needed) a result store; a store of an older schema is migrated."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise DensingInputError("result store not found", file=str(self.path))
        if self.path.is_dir():
            raise DensingInputError("--db must be a file, got a directory", file=str(self.path))
        if create:
            check_db_path(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            version = self._version()
            fresh = version is None and create and self._is_empty()
            if fresh or (version is not None and version <= SCHEMA_VERSION):  # else: hands off
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
            if fresh:
                with self.transaction():
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            self.conn.execute(stmt)
                    self.conn.execute(
                        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                version = SCHEMA_VERSION
            if version is not None and version < SCHEMA_VERSION:
                self._migrate(version)
                version = SCHEMA_VERSION
            self.conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise DensingInputError(
                f"not a densing result store: {exc}", file=str(self.path)
            ) from exc
        if version != SCHEMA_VERSION:
            self.conn.close()
            raise DensingInputError(
                f"not a densing result store of schema {SCHEMA_VERSION} (found schema "
                f"{version}); a newer densing wrote it?"
                if version
                else "not a densing result store (no schema version)",
                file=str(self.path),
            )

    def _is_empty(self) -> bool:
        return self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0

    def _version(self) -> int | None:
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            return int(row[0]) if row else None
        except ValueError:
            return None

    def _migrate(self, version: int) -> None:
        self.conn.execute("PRAGMA foreign_keys = OFF")  # table rebuilds, as the SQLite docs say
        with self.transaction() as c:
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](c)
                version += 1
            bad = c.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.DatabaseError(f"migration left dangling references: {bad[:3]}")
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
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
    def find_model(self, identity: ModelIdentity) -> int | None:
        row = self.conn.execute(
            "SELECT model_id FROM models WHERE fingerprint = ? AND dtype = ? AND backend = ?"
            " AND backend_version = ?",
            identity.key,
        ).fetchone()
        return int(row[0]) if row else None

    def register_model(self, identity: ModelIdentity) -> int:
        """The model's id (created if new); its name and path labels are updated."""
        with self.transaction() as c:
            found = self.find_model(identity)
            if found is not None:
                c.execute(
                    "UPDATE models SET name = ?, path = ? WHERE model_id = ?",
                    (identity.name, identity.path, found),
                )
                return found
            cur = c.execute(
                "INSERT INTO models(fingerprint, dtype, backend, backend_version, name, path,"
                " params, params_nonembedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *identity.key,
                    identity.name,
                    identity.path,
                    identity.params,
                    identity.params_nonembedding,
                    _now(),
                ),
            )
            return int(cur.lastrowid or 0)

    def find_task(self, hash: str) -> int | None:
        row = self.conn.execute("SELECT task_id FROM tasks WHERE hash = ?", (hash,)).fetchone()
        return int(row[0]) if row else None

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
            return int(cur.lastrowid or 0)

    def start_run(
        self, model_id: int, task_id: int, settings: dict[str, Any], *, uid: str | None = None
    ) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs(model_id, task_id, started_at, status, settings, uid)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (
                    model_id,
                    task_id,
                    _now(),
                    json.dumps(settings, sort_keys=True),
                    uid or uuid.uuid4().hex,
                ),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str = "finished") -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                (_now(), status, run_id),
            )

    # -- results --------------------------------------------------------------------------
    def done_items(self, model_id: int | None, task_id: int | None) -> set[str]:
        if model_id is None or task_id is None:
            return set()
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
                [(model_id, task_id, *_result_values(r, run_id), now) for r in rows],
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


def _result_values(r: ItemRow, run_id: int) -> tuple[Any, ...]:
    return (
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
    )

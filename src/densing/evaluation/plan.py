"""Plan files for clusters without Ray (Slurm arrays and the like), and merging stores.

``densing eval plan --models models.txt --task T … --shards K --out plan.jsonl`` writes one JSON
object per line, one line per (model, task, shard) unit, numbered from 0 (``index``)::

    {"index": 0, "model": "/abs/model", "name": "model", "task": "/abs/t.yaml",
     "task_name": "t", "task_hash": "…", "n_items": 200, "shard": 0, "shards": 4,
     "backend": "hf", "dtype": "auto", "device": "auto", "limit": null, "shots": null,
     "options": {…}}

``densing eval run-unit plan.jsonl --index I --out-db unitI.db`` scores one unit into its own
store (``--index`` defaults to ``$SLURM_ARRAY_TASK_ID``), resuming like any run; the task file
must be unchanged since planning (its hash is in the plan). ``densing eval merge unit*.db --db
all.db`` copies every model, task, run and row into one store under the same identity rules as a
run: a row already there is left as it is, a run already copied (same ``uid``) is not copied
again, so merging twice, or merging overlapping stores, never duplicates anything.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from densing.errors import DensingInputError
from densing.evaluation.store import ModelIdentity, Store, check_db_path, writer_lock

PLAN_KEYS = ("index", "model", "task", "task_hash", "shard", "shards", "backend")


def read_models_file(path: str | Path) -> list[str]:
    """One model directory (or cached hub id) per line; blank lines and ``#`` comments skipped.
    Relative paths are relative to the file."""
    p = Path(path)
    if not p.is_file():
        raise DensingInputError(
            "models file not found" if not p.exists() else "expected a file", file=str(p)
        )
    models = []
    for k, raw in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        local = (p.parent / line) if not Path(line).is_absolute() else Path(line)
        if not local.is_dir():
            raise DensingInputError(f"model directory {line!r} does not exist", file=str(p), row=k)
        if not (local / "config.json").exists():
            raise DensingInputError(
                f"{line!r} is not a model directory (no config.json)", file=str(p), row=k
            )
        models.append(str(local.resolve()))
    if not models:
        raise DensingInputError("the models file lists no model", file=str(p))
    return models


def make_plan(
    models: Sequence[str],
    task_paths: Sequence[str | Path],
    *,
    shards: int,
    out: str | Path,
    backend: str = "hf",
    dtype: str = "auto",
    device: str = "auto",
    limit: int | None = None,
    shots: int | None = None,
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Write the plan (every input checked first; nothing is loaded)."""
    from densing.evaluation.backends import backend_class
    from densing.evaluation.model import default_name
    from densing.evaluation.prepare import shard_bounds
    from densing.evaluation.tasks import load_task, select

    backend_class(backend)  # unknown backend: exit 2 (the engine need not be installed here)
    if shards < 1:
        raise DensingInputError(f"--shards must be >= 1, got {shards}")
    o = Path(out)
    from densing.io import check_output_file

    check_output_file(o, suffixes=(".jsonl",))
    tasks = [(Path(t).resolve(), load_task(t, num_fewshot=shots)) for t in task_paths]
    units: list[dict[str, Any]] = []
    for model in models:
        for path, task in tasks:
            n = len(select(task.items, limit))
            for s, _ in enumerate(shard_bounds(n, shards)):
                units.append(
                    {
                        "index": len(units),
                        "model": model,
                        "name": default_name(model),
                        "task": str(path),
                        "task_name": task.name,
                        "task_hash": task.hash,
                        "n_items": n,
                        "shard": s,
                        "shards": shards,
                        "backend": backend,
                        "dtype": dtype,
                        "device": device,
                        "limit": limit,
                        "shots": shots,
                        "options": options or {},
                    }
                )
    o.write_text("".join(json.dumps(u) + "\n" for u in units), encoding="utf-8")
    return units


def read_unit(plan: str | Path, index: int) -> dict[str, Any]:
    """Unit ``index`` of a plan file (errors name the file and line)."""
    p = Path(plan)
    if not p.is_file():
        raise DensingInputError(
            "plan file not found" if not p.exists() else "expected a file", file=str(p)
        )
    lines = [x for x in p.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
    if not 0 <= index < len(lines):
        raise DensingInputError(
            f"--index {index} is out of range: the plan has {len(lines)} units "
            f"(0..{len(lines) - 1})",
            file=str(p),
        )
    try:
        unit = json.loads(lines[index])
    except json.JSONDecodeError as exc:
        raise DensingInputError(f"malformed JSON: {exc.msg}", file=str(p), row=index + 1) from exc
    if not isinstance(unit, dict):
        raise DensingInputError("each line must be a JSON object", file=str(p), row=index + 1)
    missing = [k for k in PLAN_KEYS if k not in unit]
    if missing:
        raise DensingInputError(
            f"not a densing plan line: missing {missing}", file=str(p), row=index + 1,
            column=missing[0],
        )  # fmt: skip
    if unit["index"] != index:
        raise DensingInputError(
            f"line {index + 1} holds unit {unit['index']}, not {index}: edited plan?",
            file=str(p), row=index + 1, column="index",
        )  # fmt: skip
    return unit


def run_unit(plan: str | Path, index: int, out_db: str | Path, *, wait: bool = False) -> Any:
    """Score one unit of a plan into ``out_db`` (resumable, one writer at a time)."""
    from densing.evaluation.backends import BackendOptions
    from densing.evaluation.prepare import shard_bounds
    from densing.evaluation.runner import evaluate
    from densing.evaluation.tasks import load_task

    unit = read_unit(plan, index)
    check_db_path(out_db, option="--out-db")
    task = load_task(unit["task"], num_fewshot=unit.get("shots"))
    if task.hash != unit["task_hash"]:
        raise DensingInputError(
            "the task file changed since the plan was made (its hash differs); make a new plan",
            file=unit["task"],
        )
    known = set(BackendOptions.__dataclass_fields__)
    options = BackendOptions(
        device=unit.get("device", "auto"),
        dtype=unit.get("dtype", "auto"),
        name=unit.get("name"),
        **{k: v for k, v in (unit.get("options") or {}).items() if k in known},
    )
    a, b = shard_bounds(unit["n_items"], unit["shards"])[unit["shard"]]
    return evaluate(
        [unit["model"]], [task], str(out_db), backend=unit["backend"], options=options,
        limit=unit.get("limit"), item_range=(a, b), wait=wait,
    )  # fmt: skip


@dataclass(frozen=True)
class MergeResult:
    db: str
    sources: int
    rows_added: int
    rows_present: int
    runs_added: int

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def summary(self) -> str:
        return (
            f"merged {self.sources} store(s) into {self.db}: {self.rows_added} rows added, "
            f"{self.rows_present} already there; {self.runs_added} runs added"
        )


def merge_stores(
    sources: Sequence[str | Path], db: str | Path, *, wait: bool = False
) -> MergeResult:
    """Copy models, tasks, runs and rows of ``sources`` into ``db`` (idempotent)."""
    srcs = [Path(s) for s in sources]
    for s in srcs:
        if not s.is_file():
            raise DensingInputError("result store not found", file=str(s))
        if s.resolve() == Path(db).resolve():
            raise DensingInputError("--db is also one of the stores to merge", file=str(s))
    check_db_path(db)
    added = present = runs = 0
    with writer_lock(db, wait=wait), Store(db) as target, tempfile.TemporaryDirectory() as tmp:
        for s in srcs:
            copy = Path(tmp) / "src.db"
            shutil.copyfile(s, copy)  # migrating a copy leaves the input untouched
            for suffix in ("-wal",):
                if Path(f"{s}{suffix}").exists():
                    shutil.copyfile(f"{s}{suffix}", f"{copy}{suffix}")
            try:
                with Store(copy, create=False) as src:
                    a, p, r = _merge_one(src, target)
            except DensingInputError as exc:
                raise DensingInputError(exc.reason, file=str(s)) from None
            added, present, runs = added + a, present + p, runs + r
            for f in Path(tmp).iterdir():
                f.unlink()
    return MergeResult(str(db), len(srcs), added, present, runs)


def _merge_one(src: Store, dst: Store) -> tuple[int, int, int]:
    models = {}
    for m in src.query("SELECT * FROM models"):
        ident = ModelIdentity(
            m["fingerprint"], m["dtype"], m["backend"], m["backend_version"], m["name"],
            m["path"], m["params"], m["params_nonembedding"],
        )  # fmt: skip
        models[m["model_id"]] = dst.find_model(ident) or dst.register_model(ident)
    tasks = {}
    for t in src.query("SELECT * FROM tasks"):
        tasks[t["task_id"]] = dst.register_task(
            hash=t["hash"], name=t["name"], recipe=json.loads(t["recipe"]),
            n_items=t["n_items"], has_choices=bool(t["has_choices"]), source=t["source"],
        )  # fmt: skip
    runs: dict[int, int] = {}
    added = present = new_runs = 0
    with dst.transaction() as c:
        for r in src.query("SELECT * FROM runs ORDER BY run_id"):
            row = c.execute("SELECT run_id FROM runs WHERE uid = ?", (r["uid"],)).fetchone()
            if row is None:
                cur = c.execute(
                    "INSERT INTO runs(model_id, task_id, started_at, finished_at, status,"
                    " n_scored, settings, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (models[r["model_id"]], tasks[r["task_id"]], r["started_at"],
                     r["finished_at"], r["status"], r["n_scored"], r["settings"], r["uid"]),
                )  # fmt: skip
                row, new_runs = (cur.lastrowid,), new_runs + 1
            runs[r["run_id"]] = int(row[0])
        cols = [d[1] for d in src.conn.execute("PRAGMA table_info(results)")]
        for r in src.query("SELECT * FROM results"):
            vals = dict(r)
            vals.update(
                model_id=models[r["model_id"]], task_id=tasks[r["task_id"]],
                run_id=runs[r["run_id"]],
            )  # fmt: skip
            before = c.total_changes
            c.execute(
                f"INSERT INTO results({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                " ON CONFLICT(model_id, task_id, item_id) DO NOTHING",
                [vals[k] for k in cols],
            )
            if c.total_changes > before:
                added += 1
            else:
                present += 1
    return added, present, new_runs

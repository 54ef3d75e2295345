"""Per-(model, task) summaries of a result store: the input table of loss-mode frame fitting.

One row per (model, task) with columns ``model``, ``benchmark``, ``loss`` (mean over items of the
per-item mean per-token target NLL — the paper's conditional loss), ``loss_sum_mean`` (mean over
items of the summed target NLL), ``target_tokens_mean``, ``accuracy`` (mean over items of: for a
multiple-choice item, whether the correct choice has the highest log-likelihood; for an item
without choices, whether its whole target is the greedy continuation), ``accuracy_norm``
(length-normalised multiple-choice accuracy over the items with choices; empty when the task has
no choices),
``n_items`` (items scored), ``n_task_items`` (items in the task), ``params``,
``params_nonembedding``, ``dtype``, ``fingerprint``, ``backend`` (the engine that scored the
items: ``hf``, ``vllm``) and ``task_version`` (1 for the first version of a task name in the
store; an edited task file — other items, prompts or few-shot recipe — is the same benchmark
with the next version, never a renamed benchmark).

Warnings (to stderr, each printed once, one line each): rows with fewer items scored than the
task has; a model name that maps to several fingerprints, dtypes or backend versions (those rows
are labelled ``name@fingerprint-dtype``, plus the backend version when needed); benchmarks with
several versions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from densing.errors import DensingInputError
from densing.evaluation.store import Store
from densing.io import check_output_file

EXPORT_COLUMNS = [
    "model",
    "benchmark",
    "loss",
    "loss_sum_mean",
    "target_tokens_mean",
    "accuracy",
    "accuracy_norm",
    "n_items",
    "n_task_items",
    "params",
    "params_nonembedding",
    "dtype",
    "fingerprint",
    "backend",
    "task_version",
]

_SQL = """
SELECT m.name AS model, t.name AS benchmark,
       AVG(r.nll_mean) AS loss,
       AVG(r.nll_sum) AS loss_sum_mean,
       AVG(r.n_tokens) AS target_tokens_mean,
       AVG(COALESCE(r.correct, r.greedy)) AS accuracy,
       CASE WHEN t.has_choices THEN AVG(r.correct_norm) ELSE NULL END AS accuracy_norm,
       COUNT(*) AS n_items, t.n_items AS n_task_items,
       m.params AS params, m.params_nonembedding AS params_nonembedding,
       m.dtype AS dtype, m.fingerprint AS fingerprint, t.hash AS task_hash,
       m.backend AS backend, m.backend_version AS backend_version, t.task_id AS task_id
FROM results r JOIN models m USING (model_id) JOIN tasks t USING (task_id)
GROUP BY r.model_id, r.task_id
ORDER BY m.name, t.name, t.task_id, m.fingerprint, m.backend
"""


@dataclass(frozen=True)
class ExportResult:
    table: pd.DataFrame
    warnings: tuple[str, ...]

    def summary(self) -> str:
        return self.table.to_string(index=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.table.astype(object).where(self.table.notna(), None).to_dict("records"),
            "warnings": list(self.warnings),
        }


def summarize(db: str | Path) -> ExportResult:
    """Aggregate the store into the export table (never silently: partial tasks are warned)."""
    with Store(db, create=False) as store:
        df = pd.DataFrame([dict(r) for r in store.query(_SQL)])
        versions = pd.DataFrame(
            [dict(r) for r in store.query("SELECT task_id, name FROM tasks ORDER BY task_id")]
        )
    if df.empty:
        raise DensingInputError("the result store holds no scored items yet", file=str(db))
    rank = {
        tid: k + 1
        for _, g in versions.groupby("name", sort=False)
        for k, tid in enumerate(g["task_id"])
    }
    df["task_version"] = df["task_id"].map(rank).astype(int)
    warnings = []
    key = ["model", "benchmark", "task_version", "backend"]
    # the same label for two fingerprints/dtypes/engine versions would be ambiguous in a fit
    clash = df.duplicated(key, keep=False)
    if clash.any():
        df.loc[clash, "model"] = (
            df.loc[clash, "model"]
            + "@"
            + df.loc[clash, "fingerprint"].str[:8]
            + "-"
            + df.loc[clash, "dtype"]
        )
        still = df.duplicated(key, keep=False)
        df.loc[still, "model"] = df.loc[still, "model"] + "-" + df.loc[still, "backend_version"]
        warnings.append(
            "some model names map to several fingerprints, dtypes or backend versions; those "
            "rows are labelled name@fingerprint-dtype"
        )
    benches = set(df.benchmark)
    multi = sorted(str(n) for n, g in versions.groupby("name") if len(g) > 1 and n in benches)
    if multi:
        warnings.append(
            f"{len(multi)} benchmark(s) have several versions in this store (task file edited): "
            f"{', '.join(multi[:5])}{' …' if len(multi) > 5 else ''}; rows are told apart by "
            "the task_version column"
        )
    partial = df[df["n_items"] < df["n_task_items"]]
    if len(partial):
        shown = "; ".join(
            f"{r['model']} / {r['benchmark']}: {r['n_items']} of {r['n_task_items']}"
            for _, r in partial.head(3).iterrows()
        )
        more = f"; and {len(partial) - 3} more" if len(partial) > 3 else ""
        warnings.append(
            f"{len(partial)} row(s) have only some of their task's items scored (a --limit "
            f"run or an unfinished run): {shown}{more}; see n_items / n_task_items"
        )
    return ExportResult(table=df[EXPORT_COLUMNS].reset_index(drop=True), warnings=tuple(warnings))


def export(db: str | Path, out: str | Path) -> ExportResult:
    """Write the export table to ``out`` (``.csv`` or ``.parquet`` by suffix)."""
    o = check_output_file(out, suffixes=(".csv", ".parquet", ".pq"))
    res = summarize(db)
    if o.suffix.lower() == ".csv":
        res.table.to_csv(o, index=False)
    else:
        res.table.to_parquet(o, index=False)
    return res


@dataclass(frozen=True)
class StatusRow:
    model: str
    backend: str
    dtype: str
    fingerprint: str
    task: str
    done: int
    total: int
    runs: int
    last_status: str
    loss_so_far: float | None


@dataclass(frozen=True)
class StoreStatus:
    db: str
    rows: tuple[StatusRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"db": self.db, "rows": [r.__dict__ for r in self.rows]}

    def summary(self) -> str:
        if not self.rows:
            return f"{self.db}: empty store (no runs yet)"
        wm = max(5, *(len(r.model) for r in self.rows)) + 2
        wt = max(4, *(len(r.task) for r in self.rows)) + 2
        wb = max(7, *(len(r.backend) for r in self.rows)) + 2
        head = (
            f"{'model':<{wm}}{'backend':<{wb}}{'task':<{wt}}{'done':>12}{'runs':>6}  "
            f"{'last run':<12}{'loss':>9}"
        )
        lines = [f"{self.db}", head]
        for r in self.rows:
            loss = "-" if r.loss_so_far is None else f"{r.loss_so_far:.4f}"
            lines.append(
                f"{r.model:<{wm}}{r.backend:<{wb}}{r.task:<{wt}}{f'{r.done}/{r.total}':>12}"
                f"{r.runs:>6}  {r.last_status:<12}{loss:>9}"
            )
        return "\n".join(lines)


def status(db: str | Path) -> StoreStatus:
    """Progress per (model, task): items done of total, runs, status of the last run."""
    sql = """
    SELECT m.name, m.dtype, m.fingerprint, m.backend, m.backend_version, t.name AS task,
           t.n_items AS total,
           (SELECT COUNT(*) FROM results r WHERE r.model_id = ru.model_id
               AND r.task_id = ru.task_id) AS done,
           (SELECT AVG(nll_mean) FROM results r WHERE r.model_id = ru.model_id
               AND r.task_id = ru.task_id) AS loss,
           COUNT(*) AS runs,
           (SELECT status FROM runs x WHERE x.model_id = ru.model_id AND x.task_id = ru.task_id
               ORDER BY run_id DESC LIMIT 1) AS last_status
    FROM runs ru JOIN models m USING (model_id) JOIN tasks t USING (task_id)
    GROUP BY ru.model_id, ru.task_id ORDER BY m.name, t.name, m.backend
    """
    with Store(db, create=False) as store:
        rows = store.query(sql)
    live = _writer_active(db)
    return StoreStatus(
        db=str(db),
        rows=tuple(
            StatusRow(
                model=r["name"],
                backend=f"{r['backend']} {r['backend_version'] or '(version unknown)'}",
                dtype=r["dtype"],
                fingerprint=r["fingerprint"],
                task=r["task"],
                done=int(r["done"]),
                total=int(r["total"]),
                runs=int(r["runs"]),
                last_status=(
                    "interrupted"
                    if r["last_status"] == "running" and not live
                    else str(r["last_status"])
                ),
                loss_so_far=None if r["loss"] is None else float(r["loss"]),
            )
            for r in rows
        ),
    )


def _writer_active(db: str | Path) -> bool:
    """True when a ``densing eval`` currently holds the store's writer lock."""
    import fcntl
    import os

    lock = Path(f"{db}.lock")
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def print_warnings(warnings: tuple[str, ...]) -> None:
    for w in warnings:
        print(f"densing: warning: {w}", file=sys.stderr)

"""Store migration from schema 1, the backend registry, several models in one run, and plan
files (plan → run-unit per unit → merge) giving the same rows as one process, idempotently."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from _cli import run_cli as _cli
from densing.evaluation.backends import available_backends, backend_class

FIXTURES = Path(__file__).resolve().parent / "data" / "eval"
V1_COLUMNS = [
    "model", "benchmark", "loss", "loss_sum_mean", "target_tokens_mean", "accuracy",
    "accuracy_norm", "n_items", "n_task_items", "params", "params_nonembedding", "dtype",
    "fingerprint",
]  # fmt: skip


def test_schema_1_store_is_migrated_and_keeps_its_rows(tmp_path: Path, capsys) -> None:
    """tests/data/eval/store_v1.db and store_v1_export.csv were written by the schema-1 code
    (commit 12f830c): a GPT-2-style toy model on two tasks, and its `eval export`."""
    db = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "store_v1.db", db)
    with sqlite3.connect(db) as c:
        before = pd.read_sql("SELECT * FROM results ORDER BY task_id, item_index", c)
        runs_before = pd.read_sql("SELECT * FROM runs", c)
    code, out, err = _cli(["eval", "status", "--db", str(db)], capsys)
    assert code == 0, err
    assert "hf (version unknown)" in out and "6/6" in out and "4/4" in out
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta").fetchone()[0] == "2"
        after = pd.read_sql("SELECT * FROM results ORDER BY task_id, item_index", c)
        models = pd.read_sql("SELECT * FROM models", c)
        runs = pd.read_sql("SELECT * FROM runs", c)
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    pd.testing.assert_frame_equal(before, after)
    assert models.backend.tolist() == ["hf"] and models.backend_version.tolist() == [""]
    assert runs.uid.notna().all() and runs.uid.is_unique
    pd.testing.assert_frame_equal(runs_before, runs.drop(columns="uid"))
    # export: the same columns and values as schema 1's, plus backend and task_version
    out_csv = tmp_path / "x.csv"
    code, _, err = _cli(["eval", "export", "--db", str(db), "--out", str(out_csv)], capsys)
    assert code == 0, err
    new, old = pd.read_csv(out_csv), pd.read_csv(FIXTURES / "store_v1_export.csv")
    assert list(new.columns) == [*V1_COLUMNS, "backend", "task_version"]
    assert list(old.columns) == V1_COLUMNS
    pd.testing.assert_frame_equal(new[V1_COLUMNS], old)
    assert new.backend.tolist() == ["hf", "hf"] and new.task_version.tolist() == [1, 1]
    # opening again is a no-op
    assert _cli(["eval", "status", "--db", str(db)], capsys)[0] == 0


def test_registry_names_and_lazy_import() -> None:
    assert {"hf", "vllm"} <= set(available_backends())
    assert backend_class("hf").name == "hf"
    assert backend_class("vllm").name == "vllm"  # the module imports without vLLM


# --- with models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    pytest.importorskip("torch")
    from densing.evaluation.toy import build_toy_model

    d = tmp_path_factory.mktemp("scale")
    build_toy_model(d / "gpt", "gpt2", layers=2, hidden=64, heads=4)
    build_toy_model(d / "llama", "llama", layers=2, hidden=64, heads=4, kv_heads=2)
    rows = [{"id": f"q{i}", "prompt": f"question: what is {i} plus one?", "target": f"{i + 1}"}
            for i in range(14)]  # fmt: skip
    (d / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mc = [{"id": f"m{i}", "prompt": f"the color number {i} is",
           "choices": ["red", "green blue", "yellow"], "label": i % 3} for i in range(9)]  # fmt: skip
    (d / "mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mc))
    (d / "models.txt").write_text("# two toy models\ngpt\nllama  # relative to this file\n")
    return d


def _rows(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as c:
        return pd.read_sql(
            "SELECT m.name AS model, m.backend, t.name AS task, r.item_id, r.nll_sum, r.n_tokens,"
            " r.greedy, r.correct FROM results r JOIN models m USING (model_id)"
            " JOIN tasks t USING (task_id) ORDER BY model, task, item_id",
            c,
        )


def test_several_models_in_one_run(setup, tmp_path, capsys) -> None:
    db = tmp_path / "r.db"
    argv = ["eval", "--model", str(setup / "gpt"), "--model", str(setup / "llama"),
            "--task", str(setup / "arith.jsonl"), "--task", str(setup / "mc.jsonl"),
            "--db", str(db), "--json"]  # fmt: skip
    code, out, err = _cli(argv, capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert [m["model"] for m in summary["models"]] == ["gpt", "llama"]
    assert [t["n_scored"] for t in summary["tasks"]] == [14, 9, 14, 9]
    rows = _rows(db)
    assert len(rows) == 2 * 23 and not rows.duplicated(["model", "task", "item_id"]).any()
    code, out, _ = _cli(argv, capsys)  # resumes: nothing left, no model loaded
    assert code == 0 and all(t["n_scored"] == 0 for t in json.loads(out)["tasks"])
    code, _, err = _cli([*argv[:3], *argv[3:5], *argv[5:9], "--db", str(db), "--name", "a"],
                        capsys)  # fmt: skip
    assert code == 2 and "--name given 1 times for 2 --model" in err


def test_plan_run_units_merge_equals_one_process(setup, tmp_path, capsys) -> None:
    plan = tmp_path / "plan.jsonl"
    tasks = ["--task", str(setup / "arith.jsonl"), "--task", str(setup / "mc.jsonl")]
    code, out, err = _cli(["eval", "plan", "--models", str(setup / "models.txt"), *tasks,
                           "--shards", "3", "--out", str(plan), "--json"], capsys)  # fmt: skip
    assert code == 0, err
    units = [json.loads(x) for x in plan.read_text().splitlines()]
    assert len(units) == 2 * 2 * 3 and [u["index"] for u in units] == list(range(12))
    dbs = []
    for u in units:
        db = tmp_path / f"unit{u['index']}.db"
        code, _, err = _cli(["eval", "run-unit", str(plan), "--index", str(u["index"]),
                             "--out-db", str(db), "--json"], capsys)  # fmt: skip
        assert code == 0, err
        dbs.append(str(db))
    # a unit run again does nothing
    code, out, _ = _cli(["eval", "run-unit", str(plan), "--index", "0", "--out-db", dbs[0],
                         "--json"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["tasks"][0]["n_scored"] == 0
    merged = tmp_path / "all.db"
    code, out, err = _cli(["eval", "merge", *dbs, "--db", str(merged), "--json"], capsys)
    assert code == 0, err
    first = json.loads(out)
    assert first["rows_added"] == 2 * 23 and first["rows_present"] == 0
    code, out, _ = _cli(["eval", "merge", *dbs, "--db", str(merged), "--json"], capsys)
    again = json.loads(out)
    assert again["rows_added"] == 0 and again["rows_present"] == 2 * 23
    assert again["runs_added"] == 0
    one = tmp_path / "one.db"
    code, _, err = _cli(["eval", "--model", str(setup / "gpt"), "--model", str(setup / "llama"),
                         *tasks, "--db", str(one), "-q"], capsys)  # fmt: skip
    assert code == 0, err
    got, ref = _rows(merged), _rows(one)
    assert len(got) == len(ref) == 46
    m = got.merge(ref, on=["model", "task", "item_id"], suffixes=("", "_ref"))
    assert len(m) == 46 and (m.n_tokens == m.n_tokens_ref).all()
    assert (m.nll_sum - m.nll_sum_ref).abs().max() < 1e-4
    # the export of the merged store has one row per (model, task), all items
    out_csv = tmp_path / "x.csv"
    assert _cli(["eval", "export", "--db", str(merged), "--out", str(out_csv)], capsys)[0] == 0
    df = pd.read_csv(out_csv)
    assert len(df) == 4 and (df.n_items == df.n_task_items).all()


def test_run_unit_refuses_an_edited_task(setup, tmp_path, capsys) -> None:
    task = tmp_path / "t.jsonl"
    shutil.copy(setup / "arith.jsonl", task)
    plan = tmp_path / "plan.jsonl"
    models = tmp_path / "models.txt"
    models.write_text(str(setup / "gpt") + "\n")
    assert _cli(["eval", "plan", "--models", str(models), "--task", str(task), "--out",
                 str(plan)], capsys)[0] == 0  # fmt: skip
    task.write_text(task.read_text().replace('"target": "1"', '"target": "one"'))
    code, _, err = _cli(["eval", "run-unit", str(plan), "--index", "0", "--out-db",
                         str(tmp_path / "u.db")], capsys)  # fmt: skip
    assert code == 2 and "changed since the plan was made" in err
    code, _, err = _cli(["eval", "run-unit", str(plan), "--index", "5", "--out-db",
                         str(tmp_path / "u.db")], capsys)  # fmt: skip
    assert code == 2 and "out of range" in err and len(err.strip().splitlines()) == 1

"""Result store and runner: resume without duplicates, locking, fingerprints, clean failures."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from densing.errors import DensingInputError
from densing.evaluation.engine import encode, score_naive
from densing.evaluation.export import export, status
from densing.evaluation.model import load_model
from densing.evaluation.runner import run_eval
from densing.evaluation.store import StoreLockedError, writer_lock
from densing.evaluation.tasks import load_task
from densing.evaluation.toy import build_toy_model


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small models on a shared 2-core machine: one intra-op thread avoids spin contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _task_files(d: Path, n: int = 12) -> tuple[Path, Path]:
    rows = [
        {
            "id": f"s{i}",
            "prompt": f"question: what is {i} plus {i}?",
            "target": f"{2 * i}",
            "fewshot": True,
        }
        for i in range(3)
    ]
    rows += [
        {"id": f"q{i}", "prompt": f"question: what is {i} plus one?", "target": f"{i + 1}"}
        for i in range(n)
    ]
    (d / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "arith.yaml").write_text(
        'name: arith\ndata: arith.jsonl\ntemplate: "{prompt} answer:"\nnum_fewshot: 2\n'
    )
    mc = [
        {
            "id": f"m{i}",
            "prompt": f"the color number {i} is",
            "choices": ["red", "green blue", "yellow"],
            "label": i % 3,
        }
        for i in range(n // 2)
    ]
    (d / "mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mc))
    return d / "arith.yaml", d / "mc.jsonl"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalstore")
    build_toy_model(d / "model", "llama", layers=2, hidden=32, heads=4)
    spec, mc = _task_files(d)
    lm = load_model(str(d / "model"), device="cpu", dtype="float32", name="toy")
    return d, lm, load_task(spec), load_task(mc)


def _rows(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as c:
        return pd.read_sql("SELECT * FROM results ORDER BY task_id, item_index", c)


def test_run_stores_one_row_per_item_equal_to_plain_computation(setup, tmp_path) -> None:
    _d, lm, arith, mc = setup
    db = tmp_path / "r.db"
    s = run_eval(lm, [arith, mc], str(db), batch_size=4)
    assert [t.n_scored for t in s.tasks] == [12, 6]
    rows = _rows(db)
    assert len(rows) == 18 and rows.groupby(["task_id", "item_id"]).size().max() == 1
    # per-item loss equals a plain, unbatched computation on the rendered text
    for item in arith.items:
        r = arith.render(item)
        ref = score_naive(lm.model, [encode(lm.tokenizer, r.context, r.continuation)])[0]
        got = rows[(rows.task_id == 1) & (rows.item_id == item.id)].iloc[0]
        assert got.nll_sum == pytest.approx(ref.nll_sum, abs=1e-4)
        assert got.nll_mean == pytest.approx(ref.nll_mean, abs=1e-4)
    # multiple-choice accuracy is the argmax of the choices' log-likelihoods
    for item in mc.items:
        got = rows[(rows.task_id == 2) & (rows.item_id == item.id)].iloc[0]
        lls = [
            -score_naive(lm.model, [encode(lm.tokenizer, *_ctx(mc, item, c))])[0].nll_sum
            for c in item.choices
        ]
        assert json.loads(got.choice_ll) == pytest.approx(lls, abs=1e-4)
        assert bool(got.correct) == (max(range(3), key=lambda k: lls[k]) == item.label)
        nb = [len(c.encode()) for c in item.choices]
        assert bool(got.correct_norm) == (max(range(3), key=lambda k: lls[k] / nb[k]) == item.label)
    # export: one row per (model, task) with the documented columns and means
    out = tmp_path / "x.csv"
    export(db, out)
    df = pd.read_csv(out)
    assert list(df.benchmark) == ["arith", "mc"] and set(df.model) == {"toy"}
    a = df[df.benchmark == "arith"].iloc[0]
    ar = rows[rows.task_id == 1]
    assert a.loss == pytest.approx(ar.nll_mean.mean())
    assert a.loss_sum_mean == pytest.approx(ar.nll_sum.mean())
    assert a.target_tokens_mean == pytest.approx(ar.n_tokens.mean())
    assert a.n_items == 12 and pd.isna(a.accuracy_norm) and a.accuracy == ar.greedy.mean()
    m = df[df.benchmark == "mc"].iloc[0]
    assert m.accuracy == pytest.approx(rows[rows.task_id == 2].correct.mean())
    assert a.params == lm.params.total and a.params_nonembedding == lm.params.nonembedding
    assert a.fingerprint == lm.fingerprint
    parquet = tmp_path / "x.parquet"
    export(db, parquet)
    assert pd.read_parquet(parquet).equals(pd.read_csv(out).astype(pd.read_parquet(parquet).dtypes))


def _ctx(task, item, choice):
    r = task.render(item, choice)
    return r.context, r.continuation


def test_rerun_resumes_and_never_duplicates(setup, tmp_path) -> None:
    _, lm, arith, _ = setup
    db = tmp_path / "r.db"
    first = run_eval(lm, [arith], str(db), limit=5, batch_size=2)
    assert first.tasks[0].n_scored == 5
    before = _rows(db)
    second = run_eval(lm, [arith], str(db), batch_size=3)
    assert second.tasks[0].n_already_done == 5 and second.tasks[0].n_scored == 7
    third = run_eval(lm, [arith], str(db))
    assert third.tasks[0].n_scored == 0
    after = _rows(db)
    assert len(after) == 12 and after.item_id.is_unique
    kept = after.set_index("item_id").loc[before.item_id]
    assert (kept.run_id.to_numpy() == before.run_id.to_numpy()).all()  # old rows untouched
    st = status(db)
    assert [(r.task, r.done, r.total, r.runs) for r in st.rows] == [("arith", 12, 12, 2)]


def test_changed_weights_get_a_new_fingerprint(setup, tmp_path) -> None:
    import torch

    _d, lm, arith, _ = setup
    other = build_toy_model(tmp_path / "m2", "llama", layers=2, hidden=32, heads=4)
    lm2 = load_model(str(other), device="cpu", dtype="float32", name="toy")
    assert lm2.fingerprint == lm.fingerprint  # same seed, same bytes
    with torch.no_grad():
        lm2.model.model.layers[0].mlp.up_proj.weight[0, 0] += 1.0
    lm2.model.save_pretrained(other)
    lm3 = load_model(str(other), device="cpu", dtype="float32", name="toy")
    assert lm3.fingerprint != lm.fingerprint
    db = tmp_path / "r.db"
    run_eval(lm, [arith], str(db), limit=3)
    run_eval(lm3, [arith], str(db), limit=3)
    assert len(_rows(db)) == 6  # the changed model's results are separate rows
    res = export(db, tmp_path / "x.csv")
    assert len(res.table) == 2 and res.table.model.nunique() == 2  # labelled apart
    assert any("fingerprint" in w for w in res.warnings)


def test_second_writer_is_refused_clearly(setup, tmp_path) -> None:
    _, lm, arith, _ = setup
    db = tmp_path / "r.db"
    with writer_lock(db), pytest.raises(StoreLockedError, match="another densing eval"):
        run_eval(lm, [arith], str(db))
    run_eval(lm, [arith], str(db), limit=2)  # the lock is released afterwards
    assert len(_rows(db)) == 2


def test_bad_item_leaves_no_partial_rows(setup, tmp_path) -> None:
    _d, lm, arith, _ = setup
    long = tmp_path / "long.jsonl"
    rows = [{"id": f"q{i}", "prompt": "one two three", "target": "four"} for i in range(3)]
    rows.append({"id": "big", "prompt": "one two three " * 400, "target": "four"})
    long.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "r.db"
    with pytest.raises(DensingInputError, match="longer than the model's context") as info:
        run_eval(lm, [arith, load_task(long)], str(db))
    assert info.value.location.row == 4
    assert not db.exists() or len(_rows(db)) == 0

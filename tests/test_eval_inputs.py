"""What a new user hits with `densing eval` (issue 10): every bad input is one line on stderr
naming the file/row/column or option, exit code 2, no traceback, checked before any work; and
the accepted-but-odd inputs (BOM, default names, edited task files) behave clearly.

The bad-input corpus is ``tests/data/bad/eval/``: a file ``<command>--<case>.<ext>`` is fed to
``<command>`` (see ``COMMANDS``); ``_``-prefixed files are helpers, not cases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from _cli import run_cli as _cli

BAD = Path(__file__).resolve().parent / "data" / "bad" / "eval"
SRC = str(Path(__file__).resolve().parents[1] / "src")
CASES = sorted(p.name for p in BAD.iterdir() if not p.name.startswith("_"))


def _one_line_exit_2(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert err.startswith("densing: error:"), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and needle in err, err


def _argv(name: str, f: Path, tmp: Path) -> list[str]:
    command = name.split("--")[0]
    return {
        "eval-task": ["eval", "--model", str(tmp / "no-model"), "--task", str(f),
                      "--db", str(tmp / "r.db")],
        "eval-store": ["eval", "status", "--db", str(f)],
        "eval-run-unit": ["eval", "run-unit", str(f), "--index", "0",
                          "--out-db", str(tmp / "u.db")],
        "eval-plan-models": ["eval", "plan", "--models", str(f), "--task",
                             str(tmp / "_ok.jsonl"), "--out", str(tmp / "plan.jsonl")],
    }[command]  # fmt: skip


def test_corpus_covers_every_eval_command() -> None:
    assert len(CASES) >= 30
    assert {c.split("--")[0] for c in CASES} == {
        "eval-task",
        "eval-store",
        "eval-run-unit",
        "eval-plan-models",
    }


@pytest.mark.parametrize("name", CASES)
def test_bad_input_corpus(name: str, tmp_path: Path, capsys) -> None:
    for f in BAD.iterdir():  # work on a copy: nothing may touch the committed files
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "sub").mkdir()
    f = tmp_path / name
    code, _, err = _cli(_argv(name, f, tmp_path), capsys)
    _one_line_exit_2(code, err, name)
    assert not (tmp_path / "r.db").exists() and not (tmp_path / "u.db").exists()
    assert (tmp_path / name).read_bytes() == (BAD / name).read_bytes()


def test_store_corpus_also_refused_by_export_and_merge(tmp_path: Path, capsys) -> None:
    for name in [c for c in CASES if c.startswith("eval-store")]:
        f = tmp_path / name
        shutil.copy(BAD / name, f)
        code, _, err = _cli(
            ["eval", "export", "--db", str(f), "--out", str(tmp_path / "x.csv")], capsys
        )
        _one_line_exit_2(code, err, name)
        code, _, err = _cli(["eval", "merge", str(f), "--db", str(tmp_path / "all.db")], capsys)
        _one_line_exit_2(code, err, name)
        assert f.read_bytes() == (BAD / name).read_bytes()


def test_task_directory_is_refused(tmp_path: Path, capsys) -> None:
    code, _, err = _cli(
        ["eval", "--model", "m", "--task", str(tmp_path), "--db", str(tmp_path / "r.db")], capsys
    )
    _one_line_exit_2(code, err, "got a directory")


def test_output_paths_are_checked_before_any_work(tmp_path: Path, capsys) -> None:
    task = tmp_path / "t.jsonl"
    shutil.copy(BAD / "_ok.jsonl", task)
    nodir = tmp_path / "nodir" / "sub"
    cases = [
        (["eval", "--model", "no-such/dir/", "--task", str(task), "--db", str(nodir / "p.db")],
         "--db"),
        (["eval", "--model", "m", "--task", str(task), "--db", str(tmp_path)], "directory"),
        (["eval", "export", "--db", str(tmp_path / "none.db"), "--out", str(nodir / "x.csv")],
         "--out"),
        (["eval", "export", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "x.txt")],
         ".csv"),
        (["eval", "plan", "--models", str(tmp_path / "none.txt"), "--task", str(task), "--out",
          str(nodir / "plan.jsonl")], "models file"),
        (["eval", "merge", str(task), "--db", str(nodir / "all.db")], "--db"),
    ]  # fmt: skip
    for argv, needle in cases:
        code, _, err = _cli(argv, capsys)
        _one_line_exit_2(code, err, needle)
    assert not (tmp_path / "nodir").exists()


def test_unknown_backend_and_missing_vllm(tmp_path: Path, capsys) -> None:
    task = tmp_path / "t.jsonl"
    shutil.copy(BAD / "_ok.jsonl", task)
    base = ["eval", "--model", "m", "--task", str(task), "--db", str(tmp_path / "r.db")]
    code, _, err = _cli([*base, "--backend", "tgi"], capsys)
    _one_line_exit_2(code, err, "unknown --backend 'tgi'; available: hf, vllm")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        code, _, err = _cli([*base, "--backend", "vllm"], capsys)
        _one_line_exit_2(code, err, "pip install 'densing[vllm]'")
    assert not (tmp_path / "r.db").exists()


def test_jsonl_with_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    from densing.evaluation.tasks import load_task

    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + (BAD / "_ok.jsonl").read_bytes())
    task = load_task(p)
    assert [it.id for it in task.items] == ["q1"] and len(task.pool) == 1


# --- with a model ------------------------------------------------------------------------------

torch_needed = pytest.mark.skipif(
    not all(__import__("importlib.util").util.find_spec(m) for m in ("torch", "transformers")),
    reason="needs densing[eval]",
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    pytest.importorskip("torch")
    from densing.evaluation.toy import build_toy_model

    d = tmp_path_factory.mktemp("inputs")
    build_toy_model(d / "toy-gpt", "gpt2", layers=2, hidden=64, heads=4)
    rows = [{"id": f"q{i}", "prompt": f"question: what is {i} plus one?", "target": f"{i + 1}"}
            for i in range(40)]  # fmt: skip
    (d / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@torch_needed
def test_default_name_is_the_directory_basename(toy, tmp_path, capsys) -> None:
    db = tmp_path / "r.db"
    code, out, err = _cli(
        ["eval", "--model", str(toy / "toy-gpt") + "/", "--task", str(toy / "arith.jsonl"),
         "--db", str(db), "--limit", "2", "--json"], capsys,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["model"] == "toy-gpt"
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT name FROM models").fetchall() == [("toy-gpt",)]


@torch_needed
def test_encoder_model_is_refused_and_leaves_no_failed_run(toy, tmp_path, capsys) -> None:
    from transformers import BertConfig, BertForMaskedLM

    from densing.evaluation.toy import build_tokenizer

    bert = tmp_path / "bert"
    cfg = BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                     intermediate_size=64)  # fmt: skip
    BertForMaskedLM(cfg).save_pretrained(bert)
    build_tokenizer("gpt2").save_pretrained(bert)
    db = tmp_path / "r.db"
    argv = ["eval", "--model", str(bert), "--task", str(toy / "arith.jsonl"), "--db", str(db)]
    code, _, err = _cli(argv, capsys)
    _one_line_exit_2(code, err, "not a causal (decoder-only) LM")
    if db.exists():
        with sqlite3.connect(db) as c:
            assert c.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@torch_needed
def test_model_without_tokenizer_files_is_refused(toy, tmp_path, capsys) -> None:
    m = tmp_path / "notok"
    m.mkdir()
    for f in (toy / "toy-gpt").iterdir():
        if f.name in {"config.json", "model.safetensors", "generation_config.json"}:
            shutil.copy(f, m / f.name)
    argv = ["eval", "--model", str(m), "--task", str(toy / "arith.jsonl"),
            "--db", str(tmp_path / "r.db")]  # fmt: skip
    code, _, err = _cli(argv, capsys)
    _one_line_exit_2(code, err, "no tokenizer")
    assert not (tmp_path / "r.db").exists()


@torch_needed
def test_second_writer_is_refused_with_exit_2(toy, tmp_path, capsys) -> None:
    from densing.evaluation.store import writer_lock

    db = tmp_path / "r.db"
    argv = ["eval", "--model", str(toy / "toy-gpt"), "--task", str(toy / "arith.jsonl"),
            "--db", str(db)]  # fmt: skip
    with writer_lock(db):
        code, _, err = _cli(argv, capsys)
    _one_line_exit_2(code, err, "another densing eval")


@torch_needed
def test_export_warns_once_and_edited_task_gets_a_version(toy, tmp_path, capsys) -> None:
    db, task = tmp_path / "r.db", tmp_path / "arith.jsonl"
    rows = [json.loads(x) for x in (toy / "arith.jsonl").read_text().splitlines()]
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = ["eval", "--model", str(toy / "toy-gpt"), "--task", str(task), "--db", str(db), "-q"]
    assert _cli([*base, "--limit", "3"], capsys)[0] == 0
    rows[0]["target"] = "two"  # the task file is edited
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _cli([*base, "--limit", "2"], capsys)[0] == 0
    out = tmp_path / "x.csv"
    code, _, err = _cli(["eval", "export", "--db", str(db), "--out", str(out)], capsys)
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 2  # one line for the partial rows, one for the versions
    assert sum("only some of their task's items" in x for x in lines) == 1
    assert sum("task_version" in x for x in lines) == 1
    df = pd.read_csv(out)
    assert df.benchmark.tolist() == ["arith", "arith"]  # never a renamed benchmark
    assert df.task_version.tolist() == [1, 2] and df.n_items.tolist() == [3, 2]
    assert df.model.tolist() == ["toy-gpt", "toy-gpt"]


@torch_needed
def test_ctrl_c_marks_the_run_interrupted(toy, tmp_path) -> None:
    db = tmp_path / "r.db"
    # a task long enough (4,000 items) that the run is still scoring when the signal arrives
    rows = [{"id": f"q{i}", "prompt": f"question: what is {i} plus one?", "target": f"{i + 1}"}
            for i in range(4000)]  # fmt: skip
    (tmp_path / "long.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = dict(os.environ, PYTHONPATH=SRC, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "densing", "eval", "--model", str(toy / "toy-gpt"), "--task",
           str(tmp_path / "long.jsonl"), "--db", str(db), "--batch-size", "1", "-q"]  # fmt: skip
    # pytest-xdist workers ignore SIGINT and children inherit SIG_IGN (then Python installs no
    # KeyboardInterrupt handler): give the child the default disposition, as a shell would
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
                if c.execute("SELECT COUNT(*) FROM results").fetchone()[0] >= 2:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(err.decode().strip().splitlines()) == 1 and b"interrupted" in err
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT status FROM runs")] == ["interrupted"]
    res = subprocess.run([*cmd[:4], "status", "--db", str(db)], env=env, capture_output=True)
    assert b"interrupted" in res.stdout and b"failed" not in res.stdout

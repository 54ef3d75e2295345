"""`densing eval` CLI: SIGKILL mid-run then resume, errors with exit code 2, export and status."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from _cli import run_cli as _cli
from densing.evaluation.model import load_model
from densing.evaluation.runner import run_eval
from densing.evaluation.tasks import load_task
from densing.evaluation.toy import build_toy_model

SRC = str(Path(__file__).resolve().parents[1] / "src")
N_ITEMS = 200


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small models on a shared 2-core machine: one intra-op thread avoids spin contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["TRANSFORMERS_VERBOSITY"] = "error"
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalcli")
    build_toy_model(d / "model", "gpt2", layers=4, hidden=128, heads=4)
    rows = [
        {
            "id": f"s{i}",
            "prompt": f"question: what is {i} plus {i}?",
            "target": f"{2 * i}",
            "fewshot": True,
        }
        for i in range(5)
    ]
    rows += [
        {"id": f"q{i}", "prompt": f"question: what is {i} plus {i % 7}?", "target": f"{i + i % 7}"}
        for i in range(N_ITEMS)
    ]
    (d / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "arith.yaml").write_text(
        'name: arith\ndata: arith.jsonl\ntemplate: "{prompt} answer:"\nnum_fewshot: 5\n'
    )
    return d


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(files, tmp_path, capsys) -> None:
    db = tmp_path / "killed.db"
    cmd = [
        sys.executable,
        "-m",
        "densing",
        "eval",
        "--model",
        str(files / "model"),
        "--task",
        str(files / "arith.yaml"),
        "--db",
        str(db),
        "--batch-size",
        "1",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--name",
        "toy",
        "--no-prefix-cache",
        "-q",
    ]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _count(db)
        if seen >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()!r}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _count(db)
    assert 5 <= partial < N_ITEMS, partial
    code, stdout, _ = _cli(["eval", "status", "--db", str(db)], capsys)
    assert code == 0 and f"{partial}/{N_ITEMS}" in stdout and "interrupted" in stdout
    # the restarted run (in-process here; default batching and prefix re-use) scores exactly
    # the missing items
    restart = [a for a in cmd[3:] if a not in {"--no-prefix-cache", "-q"}]
    restart[restart.index("--batch-size") + 1] = "auto"
    code, stdout, err = _cli([*restart, "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)["tasks"][0]
    assert summary["n_already_done"] == partial
    assert summary["n_scored"] == N_ITEMS - partial
    with sqlite3.connect(db) as c:
        got = pd.read_sql("SELECT item_id, nll_sum, n_tokens FROM results", c)
        runs = pd.read_sql("SELECT status FROM runs ORDER BY run_id", c)
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(got) == N_ITEMS and got.item_id.is_unique
    assert list(runs.status) == ["running", "finished"]  # the killed run never finished
    # the same numbers as an uninterrupted run
    ref_db = tmp_path / "ref.db"
    lm = load_model(str(files / "model"), device="cpu", dtype="float32", name="toy")
    run_eval(lm, [load_task(files / "arith.yaml")], str(ref_db), batch_size=8)
    with sqlite3.connect(ref_db) as c:
        ref = pd.read_sql("SELECT item_id, nll_sum, n_tokens FROM results", c)
    m = got.merge(ref, on="item_id", suffixes=("", "_ref"))
    assert len(m) == N_ITEMS
    assert (m.n_tokens == m.n_tokens_ref).all()
    assert (m.nll_sum - m.nll_sum_ref).abs().max() < 1e-4


def test_cli_run_export_status(files, tmp_path, capsys) -> None:
    db, out = tmp_path / "r.db", tmp_path / "loss.csv"
    base = ["eval", "--model", str(files / "model"), "--task", str(files / "arith.yaml")]
    code, stdout, _ = _cli(
        [*base, "--db", str(db), "--limit", "6", "--json", "--name", "m1"], capsys
    )
    assert code == 0 and json.loads(stdout)["tasks"][0]["n_scored"] == 6
    code, stdout, _ = _cli(["eval", "status", "--db", str(db)], capsys)
    assert code == 0 and "6/200" in stdout and "arith" in stdout
    code, _, err = _cli(["eval", "export", "--db", str(db), "--out", str(out)], capsys)
    assert code == 0 and "m1 / arith: 6 of 200" in err and len(err.strip().splitlines()) == 1
    df = pd.read_csv(out)
    assert list(df.columns[:8]) == [
        "model",
        "benchmark",
        "loss",
        "loss_sum_mean",
        "target_tokens_mean",
        "accuracy",
        "accuracy_norm",
        "n_items",
    ]
    assert {"params", "params_nonembedding", "fingerprint"} <= set(df.columns)
    assert df.model.tolist() == ["m1"] and df.n_items.tolist() == [6]


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing_model", "model path does not exist"),
        ("unknown_id", "never downloads"),
        ("not_causal", "not a causal LM"),
        ("malformed", "row 2"),
        ("label", "out of range"),
        ("no_db", "--db"),
        ("batch", "--batch-size"),
    ],
)
def test_cli_errors_exit_2(files, tmp_path, capsys, case, needle) -> None:
    model, task = str(files / "model"), str(files / "arith.yaml")
    bad = tmp_path / "bad.jsonl"
    if case == "missing_model":
        model = str(tmp_path / "nope")
    elif case == "unknown_id":
        model = "no-such-org-xyz/no-such-model-xyz"
    elif case == "not_causal":
        from transformers import T5Config

        T5Config(d_model=8, num_layers=1, num_heads=1, d_ff=8, vocab_size=10).save_pretrained(
            tmp_path / "t5"
        )
        model = str(tmp_path / "t5")
    elif case == "malformed":
        bad.write_text('{"id": "a", "prompt": "p", "target": "t"}\n{"id": "b", "prompt": \n')
        task = str(bad)
    elif case == "label":
        bad.write_text('{"id": "a", "prompt": "p", "choices": ["x", "y"], "label": 5}\n')
        task = str(bad)
    argv = ["eval", "--model", model, "--task", task]
    if case != "no_db":
        argv += ["--db", str(tmp_path / "r.db")]
    if case == "batch":
        argv += ["--batch-size", "0"]
    code, _, err = _cli(argv, capsys)
    assert code == 2, err
    assert err.startswith("densing: error:") and needle in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.db").exists()  # nothing written on bad input


def test_without_torch_import_works_and_eval_says_install_extra(files, tmp_path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import densing, densing.evaluation, densing.cli\n"
        "from densing.cli import main\n"
        f"main(['eval', '--model', {str(files / 'model')!r}, '--task', "
        f"{str(files / 'arith.yaml')!r}, '--db', {str(tmp_path / 'r.db')!r}])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "pip install 'densing[eval]'" in res.stderr

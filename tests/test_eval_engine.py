"""Scoring engine: equality with a plain unbatched computation, padding, prefix re-use, boundary."""

from __future__ import annotations

import functools
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from densing.evaluation.engine import (  # noqa: E402
    Encoded,
    encode,
    score_encoded,
    score_naive,
)
from densing.evaluation.toy import build_model, build_tokenizer  # noqa: E402

SHOTS = "Q: 12 + 7 = ? A: 19. the quick brown fox jumps over the lazy dog. red green blue. "


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small models on a shared 2-core machine: one intra-op thread avoids spin contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PAIRS = [
    ("question: what is two plus two? answer:", " four"),
    ("red green", " blue yellow"),
    ("one two three four five six", " seven eight nine ten"),
    ("the densing law says", " density doubles every few months"),
    ("a model packs", " capability"),
]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def toy(request):
    tok = build_tokenizer(request.param)
    kw = {"kv_heads": 2} if request.param == "llama" else {}
    model = build_model(request.param, len(tok), layers=2, hidden=32, heads=4, **kw)
    return request.param, tok, model


def _from_scratch(model, enc: Encoded) -> float:
    """An independent computation: the model's own loss with context labels masked out."""
    ids = torch.tensor([enc.ids])
    labels = ids.clone()
    labels[0, : enc.target_start] = -100
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=labels).loss
    return float(loss) * enc.n_target


def _run(model, encs, groups=None, **kw):
    out = {}
    for chunk in score_encoded(model, encs, groups, **kw):
        out.update(chunk)
    assert sorted(out) == list(range(len(encs)))
    return [out[i] for i in range(len(encs))]


def test_naive_matches_the_models_own_loss(toy) -> None:
    _, tok, model = toy
    encs = [encode(tok, SHOTS + c, t) for c, t in PAIRS]
    naive = score_naive(model, encs)
    for e, s in zip(encs, naive, strict=True):
        assert s.nll_sum == pytest.approx(_from_scratch(model, e), abs=1e-4)
        assert s.n_tokens == e.n_target
    # the random model is far from uniform, so equality checks below are not vacuous
    means = [s.nll_mean for s in naive]
    assert max(means) - min(means) > 0.3
    assert all(abs(m - math.log(len(tok))) > 0.05 for m in means)


@pytest.mark.parametrize(
    ("batch_size", "padding", "prefix_cache"),
    [
        (1, "left", False),
        (1, "right", True),
        (3, "left", False),
        (3, "right", False),
        (3, "left", True),
        (3, "right", True),
        ("auto", "left", True),
    ],
)
def test_engine_equals_unbatched_plain_computation(toy, prefix_cache, padding, batch_size) -> None:
    _, tok, model = toy
    encs = [encode(tok, SHOTS + c, t) for c, t in PAIRS]
    ref = score_naive(model, encs)
    got = _run(
        model,
        encs,
        ["shots"] * len(encs),
        batch_size=batch_size,
        prefix_cache=prefix_cache,
        padding=padding,
    )
    for r, g in zip(ref, got, strict=True):
        assert g.nll_sum == pytest.approx(r.nll_sum, abs=1e-4)
        assert g.n_tokens == r.n_tokens and g.greedy == r.greedy


def test_prefix_is_actually_reused(toy, monkeypatch) -> None:
    """With the cache, the forward passes see only suffixes (plus one prefix pass per group)."""
    _, tok, model = toy
    encs = [encode(tok, SHOTS + c, t) for c, t in PAIRS]
    seen: list[int] = []
    orig = model.forward

    @functools.wraps(orig)
    def spy(*a, **kw):
        seen.append(int(kw["input_ids"].numel()))
        return orig(*a, **kw)

    monkeypatch.setattr(model, "forward", spy)
    _run(model, encs, ["g"] * len(encs), batch_size=len(encs), prefix_cache=True, padding="right")
    shared = len(encode(tok, SHOTS, " x").ids) - 3  # roughly the shots' token count
    longest_suffix = max(len(e.ids) for e in encs) - shared
    assert len(seen) == 2  # one prefix pass, one batch
    assert seen[1] <= len(encs) * (longest_suffix + 3)
    assert seen[0] >= shared


def test_groups_with_different_prefixes(toy) -> None:
    _, tok, model = toy
    encs, groups = [], []
    for k, pre in enumerate(["alpha beta gamma. ", "one two three. ", SHOTS]):
        for c, t in PAIRS[:3]:
            encs.append(encode(tok, pre + c, t))
            groups.append(str(k))
    ref = score_naive(model, encs)
    got = _run(model, encs, groups, batch_size=2, prefix_cache=True, padding="left")
    assert [g.nll_sum for g in got] == pytest.approx([r.nll_sum for r in ref], abs=1e-4)


def test_boundary_tokens_are_the_continuation(toy) -> None:
    arch, tok, _ = toy
    for ctx, cont in PAIRS:
        e = encode(tok, ctx, cont)
        # the joint tokenisation is exactly what the tokenizer gives for the whole text
        assert list(e.ids) == tok(ctx + cont)["input_ids"]
        target_text = tok.decode(list(e.ids[e.target_start :]))
        assert target_text.strip() == cont.strip()
        assert tok.decode(list(e.ids[: e.target_start]), skip_special_tokens=True).strip() == ctx
    if arch == "llama":
        assert e.ids[0] == tok.bos_token_id  # BOS is part of the context, never a target


def test_token_straddling_the_boundary_counts_as_target() -> None:
    tok = build_tokenizer("gpt2")
    # "fo" + "ur" without a space: BPE merges across the boundary ("four" is one word here)
    joint = tok("question: what is two plus two? answer: four")["input_ids"]
    e = encode(tok, "question: what is two plus two? answer: fo", "ur")
    assert list(e.ids) == joint
    target = tok.decode(list(e.ids[e.target_start :]))
    assert target.endswith("ur") and len(target) >= 2
    # every target character is covered, and the context part is a prefix of the context text
    assert "question: what is two plus two? answer: fo".startswith(
        tok.decode(list(e.ids[: e.target_start]))
    )


def test_left_padding_handles_much_shorter_rows(toy) -> None:
    _, tok, model = toy
    encs = [encode(tok, "red", " green"), encode(tok, SHOTS * 3 + "red", " green blue yellow")]
    ref = score_naive(model, encs)
    for padding in ("left", "right"):
        got = _run(model, encs, None, batch_size=2, prefix_cache=False, padding=padding)
        assert [g.nll_sum for g in got] == pytest.approx([r.nll_sum for r in ref], abs=1e-4)
        assert all(math.isfinite(g.nll_sum) for g in got)


def test_parameter_counts_from_weights() -> None:
    tok = build_tokenizer("gpt2")
    g = build_model("gpt2", len(tok), layers=2, hidden=32, heads=4)
    total = sum(p.numel() for p in g.parameters())
    from densing.evaluation.model import count_params

    c = count_params(g)
    assert c.total == total
    assert (
        c.nonembedding
        == total - g.transformer.wte.weight.numel() - g.transformer.wpe.weight.numel()
    )
    lm = build_model("llama", 100, layers=2, hidden=32, heads=4, tie=False)
    c = count_params(lm)
    emb = lm.model.embed_tokens.weight.numel() + lm.lm_head.weight.numel()
    assert c.total == sum(p.numel() for p in lm.parameters())
    assert c.nonembedding == c.total - emb and c.nonembedding > 0

"""Scoring engine: the target negative log-likelihood of continuations given contexts.

**Tokenisation at the prompt/target boundary.** ``context + continuation`` is tokenised *once, as
one string* (with the tokenizer's special tokens, e.g. Llama's BOS), so the model sees exactly the
tokens it would see for that text. The target tokens are those that contain at least one character
of the continuation: with a fast tokenizer this is read from the offset mapping (the first token
whose character span ends after ``len(context)``, up to the last non-special token); a token that
straddles the boundary is a target token (its prediction is conditioned on everything before it).
:meth:`densing.evaluation.tasks.Task.render` moves trailing whitespace of the context into the
continuation, so with the usual " answer" delimiter the boundary falls between words and nothing
straddles it. Slow tokenizers without offsets fall back to ``len(tokenize(context))`` as the
boundary (the lm-evaluation-harness rule). The loss of an item is the sum of ``-log p`` over its
target tokens, reported with the token count and the mean per token.

**Few-shot prefix re-use.** Requests are grouped (by their few-shot prefix text); inside a group the
longest common *token* prefix of all requests (never including the position that predicts the first
target token) is run through the model once, its key/value cache is expanded to each batch (a fresh
``DynamicCache`` per batch, since the cache is mutated by the forward pass) and only the suffixes
are computed. Because the full token sequences are unchanged, this is exact up to float rounding.

**Batching.** Within a group, suffixes are sorted by length (longest first) and padded left (the
default; lets the model compute logits only for the last positions) or right; attention masks cover
the cached prefix and the padding, and ``position_ids`` are given explicitly (prefix length + index
among the real tokens), so GPT-2-style learned positions and Llama-style rotary positions are both
right under either padding.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from densing.errors import DensingInputError


@dataclass(frozen=True)
class Request:
    """Score ``continuation`` after ``context``; requests with equal ``group`` may share a prefix."""

    context: str
    continuation: str
    group: str = ""


@dataclass(frozen=True)
class Encoded:
    """Token ids of ``context + continuation``; targets are ``ids[target_start:]``."""

    ids: tuple[int, ...]
    target_start: int

    @property
    def n_target(self) -> int:
        return len(self.ids) - self.target_start


@dataclass(frozen=True)
class Score:
    """Summed target NLL (nats), its token count and whether every target token is the argmax."""

    nll_sum: float
    n_tokens: int
    greedy: bool

    @property
    def nll_mean(self) -> float:
        return self.nll_sum / self.n_tokens


def encode(tokenizer: Any, context: str, continuation: str) -> Encoded:
    """Tokenise ``context + continuation`` jointly and locate the first target token."""
    if continuation == "":
        raise ValueError("empty continuation")
    full = context + continuation
    boundary = len(context)
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(
            full,
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        ids = list(enc["input_ids"])
        special = list(enc["special_tokens_mask"])
        offsets = list(enc["offset_mapping"])
        while ids and special[-1]:  # trailing EOS etc. are not part of the target
            ids.pop()
            special.pop()
            offsets.pop()
        start = next(
            (
                i
                for i, ((_, e), s) in enumerate(zip(offsets, special, strict=True))
                if not s and e > boundary
            ),
            len(ids),
        )
    else:
        ctx = list(tokenizer(context, add_special_tokens=True)["input_ids"])
        ids = list(tokenizer(full, add_special_tokens=True)["input_ids"])
        eos = getattr(tokenizer, "eos_token_id", None)
        while (
            eos is not None
            and ids
            and ids[-1] == eos
            and not full.endswith(str(tokenizer.eos_token))
        ):
            ids.pop()
        while eos is not None and ctx and ctx[-1] == eos:
            ctx.pop()
        start = len(ctx)
    return Encoded(ids=tuple(int(i) for i in ids), target_start=int(start))


def check_encoded(enc: Encoded, max_length: int | None, *, what: str) -> None:
    """Refuse (never truncate) items the model cannot score in full."""
    if enc.n_target <= 0:
        raise DensingInputError(f"{what}: the target produced no tokens")
    if enc.target_start < 1:
        raise DensingInputError(
            f"{what}: the prompt produced no tokens before the target, so the first target token "
            "has nothing to condition on"
        )
    if max_length is not None and len(enc.ids) > max_length:
        raise DensingInputError(
            f"{what}: prompt + target is {len(enc.ids)} tokens, longer than the model's context "
            f"of {max_length}; densing refuses rather than truncating (shorten the prompt or use "
            "fewer shots)"
        )


def _forward_kwargs(model: Any) -> tuple[str, bool]:
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    return cache_kw, "logits_to_keep" in params


def _cache_layers(cache: Any) -> list[tuple[Any, Any]]:
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(k, v) for k, v in cache]


def _make_cache(kv: list[tuple[Any, Any]], batch: int, config: Any) -> Any:
    from transformers import DynamicCache

    expanded = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv]
    try:
        return DynamicCache(ddp_cache_data=expanded, config=config)
    except TypeError:  # transformers < 4.56
        return DynamicCache.from_legacy_cache(tuple(expanded))  # type: ignore[attr-defined]


def _output_cache(out: Any) -> Any:
    for name in ("cache", "past_key_values"):
        c = getattr(out, name, None)
        if c is not None:
            return c
    raise RuntimeError("the model returned no key/value cache")


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token sequences."""
    if not seqs:
        return 0
    arr0 = np.asarray(seqs[0])
    n = len(arr0)
    for s in seqs[1:]:
        m = min(n, len(s))
        if m == 0:
            return 0
        diff = np.nonzero(arr0[:m] != np.asarray(s[:m]))[0]
        n = int(diff[0]) if diff.size else m
    return n


def auto_batch_size(device: str, prefix_len: int, max_suffix: int) -> int:
    """Rows per batch under a token budget covering the cached prefix and the suffixes."""
    budget = 32768 if device.startswith("cuda") else 6144
    return int(max(1, min(64, budget // max(1, prefix_len + max_suffix))))


def score_encoded(
    model: Any,
    encoded: Sequence[Encoded],
    groups: Sequence[str] | None = None,
    *,
    batch_size: int | str = "auto",
    prefix_cache: bool = True,
    padding: str = "left",
    device: str | None = None,
    min_prefix: int = 2,
) -> Iterator[list[tuple[int, Score]]]:
    """Score every encoded request; yields ``[(index, Score), ...]`` once per forward batch."""
    import torch

    if padding not in {"left", "right"}:
        raise ValueError("padding must be 'left' or 'right'")
    dev = device or str(next(model.parameters()).device)
    cache_kw, has_keep = _forward_kwargs(model)
    groups = groups if groups is not None else [""] * len(encoded)
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    with torch.inference_mode():
        for members in by_group.values():
            p = 0
            if prefix_cache:
                p = common_prefix_len([encoded[i].ids for i in members])
                p = min(p, *(encoded[i].target_start - 1 for i in members))
                if p < min_prefix:
                    p = 0
            kv = None
            if p:
                ids = torch.tensor([encoded[members[0]].ids[:p]], device=dev)
                out = model(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    position_ids=torch.arange(p, device=dev)[None],
                    use_cache=True,
                    **({"logits_to_keep": 1} if has_keep else {}),
                )
                kv = _cache_layers(_output_cache(out))
            order = sorted(members, key=lambda i: -len(encoded[i].ids))
            pos = 0
            while pos < len(order):
                longest = len(encoded[order[pos]].ids) - p
                bs = auto_batch_size(dev, p, longest) if batch_size == "auto" else int(batch_size)
                batch = order[pos : pos + bs]
                pos += len(batch)
                yield _score_batch(model, encoded, batch, p, kv, padding, dev, cache_kw, has_keep)


def _score_batch(
    model: Any,
    encoded: Sequence[Encoded],
    batch: list[int],
    p: int,
    kv: list[tuple[Any, Any]] | None,
    padding: str,
    dev: str,
    cache_kw: str,
    has_keep: bool,
) -> list[tuple[int, Score]]:
    import torch

    b = len(batch)
    suffixes = [encoded[i].ids[p:] for i in batch]
    lmax = max(len(s) for s in suffixes)
    input_ids = np.zeros((b, lmax), dtype=np.int64)
    mask = np.zeros((b, p + lmax), dtype=np.int64)
    mask[:, :p] = 1
    position = np.zeros((b, lmax), dtype=np.int64)
    offsets = []
    for r, s in enumerate(suffixes):
        off = lmax - len(s) if padding == "left" else 0
        offsets.append(off)
        input_ids[r, off : off + len(s)] = s
        mask[r, p + off : p + off + len(s)] = 1
        position[r, off : off + len(s)] = np.arange(p, p + len(s))
    # which logits rows predict which target tokens
    rows, cols, tgts, seg = [], [], [], []
    for r, i in enumerate(batch):
        e = encoded[i]
        a = np.arange(e.target_start, len(e.ids))
        rows.append(np.full(a.size, r))
        cols.append(offsets[r] + a - p - 1)
        tgts.append(np.asarray(e.ids[e.target_start :]))
        seg.append(np.full(a.size, r))
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    keep = lmax
    if has_keep and padding == "left":
        keep = int(lmax - cols_a.min())
    kwargs: dict[str, Any] = {
        "input_ids": torch.from_numpy(input_ids).to(dev),
        "attention_mask": torch.from_numpy(mask).to(dev),
        "position_ids": torch.from_numpy(position).to(dev),
        "use_cache": kv is not None,
    }
    if kv is not None:
        kwargs[cache_kw] = _make_cache(kv, b, model.config)
    if has_keep:
        kwargs["logits_to_keep"] = keep
    logits = model(**kwargs).logits
    sel = logits[
        torch.from_numpy(rows_a).to(dev), torch.from_numpy(cols_a - (lmax - keep)).to(dev)
    ].float()
    logp = torch.log_softmax(sel, dim=-1)
    tgt = torch.from_numpy(np.concatenate(tgts)).to(dev)
    nll = -logp.gather(1, tgt[:, None])[:, 0]
    hit = (logp.argmax(dim=-1) == tgt).to(torch.int64)
    seg_t = torch.from_numpy(np.concatenate(seg)).to(dev)
    sums = torch.zeros(b, dtype=torch.float64, device=dev).index_add_(0, seg_t, nll.double())
    hits = torch.zeros(b, dtype=torch.int64, device=dev).index_add_(0, seg_t, hit)
    out = []
    for r, i in enumerate(batch):
        n = encoded[i].n_target
        out.append((i, Score(float(sums[r]), n, bool(int(hits[r]) == n))))
    return out


def score_naive(model: Any, encoded: Sequence[Encoded]) -> list[Score]:
    """Reference: one request at a time, the whole sequence from scratch, no padding or cache."""
    import torch

    dev = str(next(model.parameters()).device)
    out = []
    with torch.inference_mode():
        for e in encoded:
            ids = torch.tensor([e.ids], device=dev)
            logits = model(input_ids=ids).logits[0].float()
            logp = torch.log_softmax(logits[e.target_start - 1 : -1], dim=-1)
            tgt = ids[0, e.target_start :]
            nll = -logp.gather(1, tgt[:, None])[:, 0]
            greedy = bool((logp.argmax(-1) == tgt).all())
            out.append(Score(float(nll.double().sum()), e.n_target, greedy))
    return out


def score_requests(
    model: Any,
    tokenizer: Any,
    requests: Sequence[Request],
    *,
    batch_size: int | str = "auto",
    prefix_cache: bool = True,
    padding: str = "left",
    on_batch: Callable[[int], None] | None = None,
) -> list[Score]:
    """Convenience: encode and score ``requests``; returns scores in request order."""
    from densing.evaluation.model import context_length

    encoded = [encode(tokenizer, r.context, r.continuation) for r in requests]
    max_len = context_length(model)
    for k, e in enumerate(encoded):
        check_encoded(e, max_len, what=f"request {k}")
    scores: list[Score | None] = [None] * len(encoded)
    for chunk in score_encoded(
        model,
        encoded,
        [r.group for r in requests],
        batch_size=batch_size,
        prefix_cache=prefix_cache,
        padding=padding,
    ):
        for i, s in chunk:
            scores[i] = s
        if on_batch is not None:
            on_batch(len(chunk))
    return [s for s in scores if s is not None]

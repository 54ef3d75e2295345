"""Tiny random causal LMs and tokenizers built locally (tests, benchmarks, examples; no downloads).

``build_toy_model(path, arch="gpt2"|"llama", ...)`` trains a small BPE tokenizer on the given text
(byte-level for GPT-2 style; a sentencepiece-like ``▁`` metaspace tokenizer with a BOS token for
Llama style), builds a randomly initialised model of the requested size and saves both with
``save_pretrained`` so ``densing eval --model PATH`` can load them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_TEXT = (
    "the quick brown fox jumps over the lazy dog",
    "question: what is two plus two? answer: four",
    "question: what is the capital of france? answer: paris",
    "a model packs capability into each parameter",
    "the densing law says density doubles every few months",
    "one two three four five six seven eight nine ten",
    "red green blue yellow black white orange purple",
    "Q: 12 + 7 = ? A: 19. Q: 3 * 4 = ? A: 12.",
)


def build_tokenizer(arch: str, texts: Sequence[str] = DEFAULT_TEXT, vocab_size: int = 300) -> Any:
    """A fast tokenizer trained on ``texts`` (byte-level BPE or metaspace BPE with BOS)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if arch == "gpt2":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        tok.train_from_iterator(list(texts), trainer)
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        return PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            unk_token="<|endoftext|>",
        )
    if arch == "llama":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
        alphabet = sorted({c for t in texts for c in t.replace(" ", "▁")} | {"▁"})
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<unk>", "<s>", "</s>"],
            initial_alphabet=alphabet,
        )
        tok.train_from_iterator(list(texts), trainer)
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
        )
    raise ValueError(f"unknown arch {arch!r}")


def build_model(
    arch: str,
    vocab_size: int,
    *,
    layers: int = 2,
    hidden: int = 32,
    heads: int = 4,
    kv_heads: int | None = None,
    intermediate: int | None = None,
    context: int = 512,
    seed: int = 0,
    tie: bool = True,
    init_std: float = 0.2,
) -> Any:
    """A randomly initialised GPT-2 or Llama model in float32 and eval mode.

    ``init_std`` is larger than the usual 0.02 so that a random model's predictions are far from
    uniform (equality tests are then meaningful).
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg: Any
    model: Any
    if arch == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab_size,
            n_positions=context,
            n_embd=hidden,
            n_layer=layers,
            n_head=heads,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=tie,
            initializer_range=init_std,
        )
        model = GPT2LMHeadModel(cfg)
    elif arch == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=intermediate or 4 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads or heads,
            max_position_embeddings=context,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=tie,
            initializer_range=init_std,
        )
        model = LlamaForCausalLM(cfg)
    else:
        raise ValueError(f"unknown arch {arch!r}")
    return model.float().eval()


def build_toy_model(
    path: str | Path,
    arch: str = "gpt2",
    *,
    texts: Sequence[str] = DEFAULT_TEXT,
    vocab_size: int = 300,
    **model_kwargs: Any,
) -> Path:
    """Build tokenizer + random model and ``save_pretrained`` both into ``path``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(arch, texts, vocab_size)
    model = build_model(arch, len(tok), **model_kwargs)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out

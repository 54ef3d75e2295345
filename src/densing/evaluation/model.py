"""Loading a causal LM, its fingerprint and its parameter counts.

torch and transformers are imported lazily (the optional extra ``densing[eval]``), so
``import densing`` works without them.

Fingerprint: for a model directory (a hub id is resolved to its snapshot directory in the local
Hugging Face cache), SHA-256 over the bytes of ``config.json``, every weight file
(``*.safetensors``, ``*.bin``, ``*.pt``) and the tokenizer files, each named by its relative path;
for an in-memory model, SHA-256 over the config JSON plus every ``state_dict`` tensor's name,
dtype, shape and bytes, plus the tokenizer's vocabulary. Any change to the config, a weight or the tokenizer gives
a new fingerprint, so results of a changed model are never mixed with the old ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from densing.errors import DensingError, DensingInputError

EVAL_EXTRA_HINT = (
    "densing eval needs torch and transformers: install them with  pip install 'densing[eval]'"
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
TOKENIZER_VOCAB_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "tiktoken.model",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
)


class MissingExtraError(DensingError):
    """torch / transformers are not installed."""


def require_eval_extra() -> tuple[Any, Any]:
    """Import and return ``(torch, transformers)`` or raise a clear error naming the extra."""
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError(f"{EVAL_EXTRA_HINT} ({exc})") from exc
    return torch, transformers


@dataclass(frozen=True)
class ParamCounts:
    total: int
    nonembedding: int


@dataclass
class LoadedModel:
    """A causal LM ready to score: model (eval mode), tokenizer, identity and sizes."""

    model: Any
    tokenizer: Any
    name: str
    path: str
    fingerprint: str
    params: ParamCounts
    device: str
    dtype: str
    max_length: int | None


def count_params(model: Any) -> ParamCounts:
    """Count parameters from the loaded weights (tied weights once).

    Non-embedding = total − token embedding − learned position embedding (if any) − untied output
    embedding (if any), as in Kaplan et al. 2020.
    """
    params = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in params.values())
    emb_ids: set[int] = set()
    inp = model.get_input_embeddings()
    if inp is not None:
        emb_ids.update(id(p) for p in inp.parameters())
    out = model.get_output_embeddings()
    if out is not None:
        emb_ids.update(id(p) for p in out.parameters())
    for name, module in model.named_modules():  # learned absolute position embeddings (GPT-2 wpe)
        leaf = name.rsplit(".", 1)[-1]
        if leaf in {"wpe", "embed_positions", "position_embeddings"} and hasattr(module, "weight"):
            emb_ids.add(id(module.weight))
    emb = sum(params[i].numel() for i in emb_ids if i in params)
    return ParamCounts(total=int(total), nonembedding=int(total - emb))


def _sha_file(path: Path, h: Any) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)


def fingerprint_dir(path: str | Path) -> str:
    """SHA-256 over config, weight and tokenizer files of a local model directory."""
    root = Path(path)
    files = sorted(
        f
        for f in root.rglob("*")
        if f.is_file()
        and (f.name == "config.json" or f.suffix in WEIGHT_SUFFIXES or f.name in TOKENIZER_FILES)
    )
    h = hashlib.sha256()
    for f in files:
        sub = hashlib.sha256()
        _sha_file(f, sub)
        h.update(f"{f.relative_to(root).as_posix()}\0{sub.hexdigest()}\n".encode())
    return h.hexdigest()


def fingerprint_model(model: Any, tokenizer: Any = None) -> str:
    """SHA-256 over an in-memory model's config and state_dict tensors (and tokenizer vocab)."""
    import torch

    h = hashlib.sha256()
    h.update(model.config.to_json_string(use_diff=False).encode())
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    if tokenizer is not None:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    return h.hexdigest()


def resolve_device(device: str) -> str:
    torch, _ = require_eval_extra()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in {"cpu", "cuda"} and not device.startswith("cuda:"):
        raise DensingInputError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DensingInputError("--device cuda was asked for but CUDA is not available")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    torch, _ = require_eval_extra()
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in table:
        raise DensingInputError(
            f"--dtype must be auto, float32, bfloat16 or float16, got {dtype!r}"
        )
    return table[dtype]


def _looks_like_path(s: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else with a separator is a path."""
    return s.startswith((".", "/", "~")) or s.count("/") > 1 or s.endswith("/") or "\\" in s


def _dtype_kwarg(transformers: Any) -> str:
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def default_name(model: str) -> str:
    """The default label of a model: a directory's basename, or the hub id as given."""
    local = Path(model).expanduser()
    if local.is_dir() or _looks_like_path(model):
        return local.resolve().name or str(model)
    return model


def resolve_model_dir(model: str) -> Path:
    """The local directory of ``model``: a directory given as such, or a hub id's snapshot in
    the local Hugging Face cache (densing never downloads). Checks config.json and the
    tokenizer files (see :func:`load_tokenizer`)."""
    local = Path(model).expanduser()
    if not local.exists() and _looks_like_path(model):
        raise DensingInputError("model path does not exist", file=model)
    if local.exists() and not local.is_dir():
        raise DensingInputError("--model must be a model directory or a model id", file=model)
    if not local.is_dir():
        local = _cached_snapshot(model)
    if not (local / "config.json").exists():
        raise DensingInputError("not a model directory: no config.json", file=str(local))
    return local


def _cached_snapshot(model: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception as exc:
        raise DensingInputError(
            "no such local model directory, and not a model id in the local Hugging Face cache "
            "(densing never downloads: fetch it first, e.g. `hf download ID --local-dir DIR`)",
            file=model,
        ) from exc


def _from_pretrained(auto: Any, source: Path, model: str, what: str) -> Any:
    """``auto.from_pretrained(source)``; a load failure is one line naming the model."""
    try:
        return auto.from_pretrained(str(source))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DensingInputError(f"cannot load {what}: {exc}".splitlines()[0], file=model) from exc


def load_config(source: Path, model: str) -> Any:
    """The model's transformers config; refuses encoder-decoder models."""
    _torch, transformers = require_eval_extra()
    config = _from_pretrained(transformers.AutoConfig, source, model, "a model config")
    if getattr(config, "is_encoder_decoder", False):
        raise DensingInputError(
            f"model type '{config.model_type}' is an encoder-decoder, not a causal LM", file=model
        )
    return config


def load_tokenizer(source: Path, model: str) -> Any:
    """The model's tokenizer; refuses a directory without tokenizer files, or a tokenizer that
    turns text into no tokens."""
    _torch, transformers = require_eval_extra()
    if not any((source / f).exists() for f in TOKENIZER_VOCAB_FILES):
        raise DensingInputError(
            "no tokenizer in the model directory (none of "
            f"{', '.join(TOKENIZER_VOCAB_FILES)}); densing tokenises every item itself and "
            "will not score with a missing or empty tokenizer (copy the tokenizer files there)",
            file=str(source),
        )
    tok = _from_pretrained(transformers.AutoTokenizer, source, model, "the tokenizer")
    probe = tok("the answer is 42", add_special_tokens=False)["input_ids"]
    if len(tok) < 2 or not probe:
        raise DensingInputError(
            f"the tokenizer is empty (vocabulary {len(tok)}): it turns text into no tokens",
            file=model,
        )
    return tok


def count_params_from_config(config: Any) -> ParamCounts:
    """Parameter counts of the architecture built on the meta device (no memory, no weights):
    the same numbers :func:`count_params` gives for the loaded model."""
    torch, transformers = require_eval_extra()
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    return count_params(model)


def check_causal(lm: Any, model: str) -> None:
    """Refuse a model that is not a causal LM: a forward pass must return a key/value cache, and
    changing the last token must leave the earlier positions' logits unchanged."""
    torch, _ = require_eval_extra()
    dev = next(lm.parameters()).device
    vocab = int(lm.get_input_embeddings().weight.shape[0])
    a = torch.tensor([[1 % vocab, 2 % vocab, 3 % vocab]], device=dev)
    b = a.clone()
    b[0, -1] = 4 % vocab
    try:
        with torch.inference_mode():
            out_a = lm(input_ids=a, use_cache=True)
            out_b = lm(input_ids=b, use_cache=True)
    except Exception as exc:
        raise DensingInputError(
            f"cannot run the model on 3 tokens: {exc}".splitlines()[0], file=model
        ) from exc
    cache = getattr(out_a, "cache", None) or getattr(out_a, "past_key_values", None)
    leaks = not torch.allclose(
        out_a.logits[0, :2].float(), out_b.logits[0, :2].float(), atol=1e-4, rtol=1e-3
    )
    if cache is None or leaks:
        raise DensingInputError(
            f"model type '{lm.config.model_type}' is not a causal (decoder-only) LM: "
            + ("its earlier positions see later tokens" if leaks else "it returns no KV cache"),
            file=model,
        )


def load_model(
    model: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    name: str | None = None,
    fingerprint: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from a local directory (or a locally cached hub id).

    ``fingerprint``: the directory's fingerprint when the caller already computed it.
    """
    _torch, transformers = require_eval_extra()
    transformers.utils.logging.disable_progress_bar()
    dev = resolve_device(device)
    tdtype = resolve_dtype(dtype, dev)
    source = resolve_model_dir(model)
    config = load_config(source, model)
    tok = load_tokenizer(source, model)
    try:
        lm = transformers.AutoModelForCausalLM.from_pretrained(
            str(source), **{_dtype_kwarg(transformers): tdtype}
        )
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise DensingInputError(
            f"model type '{config.model_type}' is not a causal LM that transformers can load "
            f"({first})",
            file=model,
        ) from exc
    except OSError as exc:
        raise DensingInputError(f"cannot load weights: {exc}".splitlines()[0], file=model) from exc
    lm.to(dev)
    lm.eval()
    check_causal(lm, model)
    return LoadedModel(
        model=lm,
        tokenizer=tok,
        name=name or default_name(model),
        path=str(source.resolve()),
        fingerprint=fingerprint or fingerprint_dir(source),
        params=count_params(lm),
        device=dev,
        dtype=str(tdtype).removeprefix("torch."),
        max_length=context_length(lm),
    )


def wrap_model(model: Any, tokenizer: Any, *, name: str = "in-memory") -> LoadedModel:
    """Wrap an already loaded model + tokenizer (fingerprint from its tensors)."""
    model.eval()
    p = next(model.parameters())
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        path=name,
        fingerprint=fingerprint_model(model, tokenizer),
        params=count_params(model),
        device=str(p.device),
        dtype=str(p.dtype).removeprefix("torch."),
        max_length=context_length(model),
    )


def context_length(model: Any) -> int | None:
    """The context length from a model's (or a config's) settings, when it states one."""
    cfg = getattr(model, "config", model)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None

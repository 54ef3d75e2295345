"""Loading a causal LM, its fingerprint and its parameter counts.

torch and transformers are imported lazily (the optional extra ``densing[eval]``), so
``import densing`` works without them.

Fingerprint: for a local model directory, SHA-256 over the bytes of ``config.json``, every weight
file (``*.safetensors``, ``*.bin``, ``*.pt``) and the tokenizer files, each named by its relative
path; for a model that is not a local directory (a hub id resolved from the local cache) or an
in-memory model, SHA-256 over the config JSON plus every ``state_dict`` tensor's name, dtype, shape
and bytes, plus the tokenizer's vocabulary. Any change to the config, a weight or the tokenizer gives
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


def load_model(
    model: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    name: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from a local directory (or a locally cached hub id)."""
    _torch, transformers = require_eval_extra()
    transformers.utils.logging.disable_progress_bar()
    dev = resolve_device(device)
    tdtype = resolve_dtype(dtype, dev)
    local = Path(model).expanduser()
    if not local.exists() and _looks_like_path(model):
        raise DensingInputError("model path does not exist", file=model)
    if local.exists() and not local.is_dir():
        raise DensingInputError("--model must be a model directory or a model id", file=model)
    if local.is_dir() and not (local / "config.json").exists():
        raise DensingInputError("not a model directory: no config.json", file=str(local))
    source = str(local) if local.is_dir() else model
    # never download at run time: a hub id must already be in the local Hugging Face cache
    offline = {} if local.is_dir() else {"local_files_only": True}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **offline)
    except OSError as exc:
        raise DensingInputError(
            "no such local model directory, and not a model id in the local Hugging Face cache "
            "(densing never downloads: fetch it first, e.g. `hf download ID --local-dir DIR`)",
            file=model,
        ) from exc
    except ValueError as exc:
        raise DensingInputError(
            f"cannot load a model config: {exc}".splitlines()[0], file=model
        ) from exc
    if getattr(config, "is_encoder_decoder", False):
        raise DensingInputError(
            f"model type '{config.model_type}' is an encoder-decoder, not a causal LM", file=model
        )
    try:
        lm = transformers.AutoModelForCausalLM.from_pretrained(
            source, **{_dtype_kwarg(transformers): tdtype}, **offline
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
    try:
        tok = transformers.AutoTokenizer.from_pretrained(source, **offline)
    except (OSError, ValueError, TypeError) as exc:
        raise DensingInputError(
            f"cannot load the tokenizer: {exc}".splitlines()[0], file=model
        ) from exc
    lm.to(dev)
    lm.eval()
    fp = fingerprint_dir(local) if local.is_dir() else fingerprint_model(lm, tok)
    return LoadedModel(
        model=lm,
        tokenizer=tok,
        name=name or model,
        path=str(local.resolve()) if local.is_dir() else model,
        fingerprint=fp,
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
    cfg = model.config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None

"""Scoring backends: the engines that turn token ids into log-likelihoods.

The contract (modelled on lm-evaluation-harness's ``LM`` API, narrowed to what densing needs):
densing does all tokenisation — the context/continuation split, BOS, and the refusal of prompts
longer than the model's context (:mod:`densing.evaluation.engine`) — so every backend scores the
*same token ids*. A backend only answers, for a batch of :class:`~densing.evaluation.engine.Encoded`
requests, each request's summed negative log-likelihood of its target tokens
``ids[target_start:]`` (nats, float64 sum), the number of target tokens, and whether every target
token is the model's argmax (greedy) — a :class:`~densing.evaluation.engine.Score`.

A backend instance (see :class:`Backend`) has

* ``name`` — the registry name (``"hf"``, ``"vllm"``), stored with every result;
* ``version`` — the engine's version (e.g. transformers' or vLLM's), stored too: the backend and
  its version are part of a model's identity in the result store, so two engines' numbers on the
  same weights never mix;
* ``dtype`` (``"float32"``, ``"bfloat16"``, …), ``max_length`` (context length in tokens, or
  ``None`` when the config states none), ``tokenizer`` (the Hugging Face tokenizer densing encodes
  with), ``params`` (:class:`~densing.evaluation.model.ParamCounts`), ``model_name``, ``path``;
* ``fingerprint()`` — SHA-256 of the model's config, weights and tokenizer files;
* ``loglikelihood(requests, groups)`` — yields ``[(index, Score), ...]`` chunks until every
  request index has been answered exactly once (chunks let the runner commit and report progress
  as it goes); ``groups`` are hints (requests sharing a few-shot prefix) that a backend may use
  to re-use computation and may ignore;
* ``close()`` — release the engine.

A backend *class* has ``load(model, options)`` (build from a model directory or a cached hub id
and :class:`BackendOptions`) and ``engine_version()`` (the version, or
:class:`~densing.evaluation.model.MissingExtraError` naming the extra to install, without loading
anything heavy).

**Registry.** Backends are registered by name with the dotted path of their class, imported only
when used (so ``import densing`` never imports vLLM). A new backend is one module plus one
:func:`register_backend` line below. Backends outside densing can be registered without
editing it, through the environment: ``DENSING_EVAL_BACKENDS="name=package.module:Class"``
(several separated by ``;``), which also reaches Ray workers started with that environment.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from densing.errors import DensingInputError
from densing.evaluation.engine import Encoded, Score

__all__ = [
    "Backend",
    "BackendClass",
    "BackendOptions",
    "available_backends",
    "backend_class",
    "load_backend",
    "register_backend",
]


@dataclass(frozen=True)
class BackendOptions:
    """Options of every backend; each backend reads the ones it understands.

    ``fingerprint``: the model directory's fingerprint when the caller already computed it
    (avoids hashing the weights twice in one process).
    """

    device: str = "auto"
    dtype: str = "auto"
    name: str | None = None
    batch_size: int | str = "auto"
    prefix_cache: bool = True
    padding: str = "left"
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    tensor_parallel_size: int = 1
    enforce_eager: bool = False
    fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """A loaded model that scores encoded requests (see the module docstring for the contract)."""

    name: str
    version: str
    dtype: str
    max_length: int | None
    tokenizer: Any
    model_name: str
    path: str

    @property
    def params(self) -> Any: ...

    def fingerprint(self) -> str: ...

    def loglikelihood(
        self, requests: Sequence[Encoded], groups: Sequence[str] | None = None
    ) -> Iterator[list[tuple[int, Score]]]: ...

    def close(self) -> None: ...


class BackendClass(Protocol):
    """What the registry needs of a backend class."""

    name: str

    @classmethod
    def load(cls, model: str, options: BackendOptions) -> Backend: ...

    @staticmethod
    def engine_version() -> str: ...


_REGISTRY: dict[str, str] = {}


def register_backend(name: str, target: str) -> None:
    """Register ``target`` (``"package.module:Class"``) under ``name``."""
    _REGISTRY[name] = target


def _from_environment() -> None:
    for entry in os.environ.get("DENSING_EVAL_BACKENDS", "").split(";"):
        name, sep, target = entry.strip().partition("=")
        if sep and ":" in target:
            _REGISTRY.setdefault(name.strip(), target.strip())


def available_backends() -> list[str]:
    _from_environment()
    return sorted(_REGISTRY)


def backend_class(name: str) -> BackendClass:
    """The backend class registered as ``name`` (unknown names: one-line input error)."""
    _from_environment()
    if name not in _REGISTRY:
        raise DensingInputError(
            f"unknown --backend {name!r}; available: {', '.join(available_backends())}"
        )
    module, _, cls = _REGISTRY[name].partition(":")
    try:
        found: BackendClass = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise DensingInputError(
            f"--backend {name}: cannot import {_REGISTRY[name]} ({exc})"
        ) from None
    return found


def load_backend(name: str, model: str, options: BackendOptions | None = None) -> Backend:
    """Load ``model`` with the backend registered as ``name``."""
    return backend_class(name).load(model, options or BackendOptions())


register_backend("hf", "densing.evaluation.backends.hf:HFBackend")
register_backend("vllm", "densing.evaluation.backends.vllm:VLLMBackend")

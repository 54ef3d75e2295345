"""The transformers backend (``--backend hf``): densing's own batched engine.

Scoring is :func:`densing.evaluation.engine.score_encoded` (length-sorted batches, left or right
padding with explicit positions, few-shot prefix key/value re-use), unchanged from the
single-engine releases.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

from densing.evaluation.backends import BackendOptions
from densing.evaluation.engine import Encoded, Score, score_encoded
from densing.evaluation.model import (
    EVAL_EXTRA_HINT,
    LoadedModel,
    MissingExtraError,
    ParamCounts,
    load_model,
)


class HFBackend:
    """A transformers causal LM scored by densing's engine."""

    name = "hf"

    def __init__(
        self,
        lm: LoadedModel,
        *,
        batch_size: int | str = "auto",
        prefix_cache: bool = True,
        padding: str = "left",
    ) -> None:
        self.lm = lm
        self.version = self.engine_version()
        self.dtype = lm.dtype
        self.max_length = lm.max_length
        self.tokenizer = lm.tokenizer
        self.model_name = lm.name
        self.path = lm.path
        self.device = lm.device
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self.padding = padding

    @classmethod
    def load(cls, model: str, options: BackendOptions) -> HFBackend:
        lm = load_model(
            model,
            device=options.device,
            dtype=options.dtype,
            name=options.name,
            fingerprint=options.fingerprint,
        )
        return cls(
            lm,
            batch_size=options.batch_size,
            prefix_cache=options.prefix_cache,
            padding=options.padding,
        )

    @staticmethod
    def engine_version() -> str:
        try:
            return metadata.version("transformers")
        except metadata.PackageNotFoundError as exc:
            raise MissingExtraError(EVAL_EXTRA_HINT) from exc

    @property
    def params(self) -> ParamCounts:
        return self.lm.params

    @property
    def model(self) -> Any:
        return self.lm.model

    def fingerprint(self) -> str:
        return self.lm.fingerprint

    def loglikelihood(
        self, requests: Sequence[Encoded], groups: Sequence[str] | None = None
    ) -> Iterator[list[tuple[int, Score]]]:
        yield from score_encoded(
            self.lm.model,
            requests,
            groups,
            batch_size=self.batch_size,
            prefix_cache=self.prefix_cache,
            padding=self.padding,
            device=self.lm.device,
        )

    def close(self) -> None:
        self.lm.model = None

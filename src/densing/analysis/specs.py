"""Which frames the main job fits: frame specifications, defaults and the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass

from densing.trend import CHATGPT_RELEASE

UNIFORM_SETTINGS = ("openllm-v1", "obscaling", "openllm-v2")

# Published figures the README and report compare against (Xiao et al.).
PAPER = {
    "arXiv 2412.04315 v1": {
        "A_per_day": 0.0073,
        "doubling_time_months": 3.3,
        "r2": 0.91,
        "n_models": 29,
        "period": "2023-02 .. 2024 (base models; MMLU, BBH, MATH, HumanEval, MBPP)",
    },
    "Nature Machine Intelligence 2025": {
        "doubling_time_months": 3.5,
        "n_models": 51,
        "period": "to 2025-04",
    },
    "pre-ChatGPT (MMLU only)": {"A_per_day": 0.0048},
}


@dataclass(frozen=True)
class FrameSpec:
    """Which score-mode frame to fit: reference family, benchmarks, score settings."""

    name: str
    reference_family: str
    benchmarks: tuple[str, ...]
    settings: tuple[str, ...] | None = None  # None: preferred setting per cell, any
    law: str = "fixed_budget"
    min_benchmarks: int = 2

    def describe(self) -> str:
        s = "uniform harness only" if self.settings else "preferred setting per score"
        return f"{self.reference_family} reference; {', '.join(self.benchmarks)}; {s}"


DEFAULT_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande", "gsm8k", "humaneval")
KNOWLEDGE_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande")
PAPER_BENCHMARKS = ("mmlu", "bbh", "math", "humaneval", "mbpp")  # Xiao et al.'s five
#: The uniform-harness frame: Qwen1.5 (8 sizes, 0.5B-110B, one recipe) on the four knowledge
#: and reasoning benchmarks that every uniformly evaluated model has, scored by one harness.
DEFAULT_FRAME = FrameSpec(
    "qwen1.5-uniform", "Qwen1.5", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS
)
SENSITIVITY_FRAMES: tuple[FrameSpec, ...] = (
    FrameSpec("qwen1.5-6bench-uniform", "Qwen1.5", DEFAULT_BENCHMARKS, settings=UNIFORM_SETTINGS),
    FrameSpec("qwen1.5-with-reported", "Qwen1.5", KNOWLEDGE_BENCHMARKS),
    # the paper's five benchmarks; BBH, MATH and MBPP mix harness and reported settings
    FrameSpec("qwen1.5-paper5", "Qwen1.5", PAPER_BENCHMARKS),
    FrameSpec("pythia-uniform", "Pythia", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS),
    FrameSpec("llama2-uniform", "Llama-2", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS),
)
#: The densing law is fitted on models released on or after this date (the paper's window
#: starts after ChatGPT's release); the before/after comparison uses every model.
DEFAULT_SINCE = CHATGPT_RELEASE

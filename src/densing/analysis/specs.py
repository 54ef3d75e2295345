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
    """Which score-mode frame to fit.

    ``model``: ``stitched`` (every (benchmark, setting) item with its own sigmoid, all scores
    used) or ``one-capability`` (one column per benchmark, one preferred setting per cell).
    ``benchmarks`` / ``settings``: which scores may enter (None: all). ``alpha``: the reference
    law's exponent (None: fitted; it is weakly identified, see the README).
    """

    name: str
    reference_family: str
    benchmarks: tuple[str, ...] | None
    settings: tuple[str, ...] | None = None
    law: str = "fixed_budget"
    min_benchmarks: int = 2
    model: str = "one-capability"
    alpha: float | None = None
    min_item_models: int = 8

    def describe(self) -> str:
        benches = ", ".join(self.benchmarks) if self.benchmarks else "all benchmarks"
        if self.model == "stitched":
            s = "every setting as its own item" if not self.settings else ", ".join(self.settings)
        else:
            s = "uniform harness only" if self.settings else "preferred setting per score"
        a = "α fitted" if self.alpha is None else f"α = {self.alpha:g}"
        return f"{self.model} frame; {self.reference_family} reference ({a}); {benches}; {s}"


DEFAULT_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande", "gsm8k", "humaneval")
KNOWLEDGE_BENCHMARKS = ("mmlu", "arc_challenge", "hellaswag", "winogrande")
PAPER_BENCHMARKS = ("mmlu", "bbh", "math", "humaneval", "mbpp")  # Xiao et al.'s five
#: The law's exponent of the stitched default, chosen by leave-the-largest-out on the reference
#: family (fit without Qwen2.5-72B, or without 32B and 72B, predict their density, which should
#: be 1): see validation/stitched_frame.py --alpha and the README.
STITCHED_ALPHA = 0.15
#: The default frame: stitched, Qwen2.5 reference (7 sizes 0.5B-72B, one recipe, 18T tokens,
#: evaluated in many other developers' comparison tables, so it links old and new models).
DEFAULT_FRAME = FrameSpec(
    "qwen2.5-stitched", "Qwen2.5", None, model="stitched", alpha=STITCHED_ALPHA
)
#: The previous default: one capability, four benchmarks, one uniform harness (stops mid-2024).
UNIFORM_FRAME = FrameSpec(
    "qwen1.5-uniform", "Qwen1.5", KNOWLEDGE_BENCHMARKS, settings=UNIFORM_SETTINGS
)
SENSITIVITY_FRAMES: tuple[FrameSpec, ...] = (
    UNIFORM_FRAME,
    FrameSpec("qwen2.5-stitched-alpha-fitted", "Qwen2.5", None, model="stitched"),
    FrameSpec("qwen2.5-stitched-alpha-0.3", "Qwen2.5", None, model="stitched", alpha=0.3),
    FrameSpec(
        "qwen2.5-stitched-paper5",
        "Qwen2.5",
        PAPER_BENCHMARKS,
        model="stitched",
        alpha=STITCHED_ALPHA,
        min_item_models=6,
    ),
    FrameSpec("qwen1.5-stitched", "Qwen1.5", None, model="stitched", alpha=STITCHED_ALPHA),
)
#: The frontier estimator reported as the densing law, chosen by the backtest (README): on the
#: built-in catalog the 0.9-quantile regression forecast ln ρ_max with a lower mean absolute
#: error than the envelope OLS at 3, 6 and 12 months (0.48 / 0.62 / 0.69 vs 0.56 / 0.82 / 1.39).
DEFAULT_ESTIMATOR = "quantile-0.9"
#: The densing law is fitted on models released on or after this date (the paper's window
#: starts after ChatGPT's release); the before/after comparison uses every model.
DEFAULT_SINCE = CHATGPT_RELEASE

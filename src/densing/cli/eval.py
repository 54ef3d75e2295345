"""``densing eval``: conditional loss and accuracy of causal LMs on benchmark items.

``densing eval --model PATH [--model PATH …] --task FILE --db FILE`` scores (resuming where a
previous run stopped), in this process or over Ray (``--ray [ADDRESS]``), with the ``hf`` or
``vllm`` backend; ``export`` and ``status`` read the store; ``plan`` / ``run-unit`` / ``merge``
split the work for clusters without Ray.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from densing.cli._common import err_console, print_json


class _EvalGroup(TyperGroup):
    """``--ray`` with no address (last, or followed by another option) means a local Ray."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = list(args)
        for k, a in enumerate(args):
            if a == "--":
                break
            if a == "--ray" and (k + 1 == len(args) or args[k + 1].startswith("-")):
                args.insert(k + 1, "local")
                break
        return list(super().parse_args(ctx, args))


eval_app = typer.Typer(
    name="eval",
    cls=_EvalGroup,
    help="Measure conditional loss and accuracy of causal LMs on benchmark items.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _input_error(msg: str) -> Exception:
    from densing.errors import DensingInputError

    return DensingInputError(msg)


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise _input_error(f"--batch-size must be a positive integer or 'auto', got {value!r}")
    return n


@contextmanager
def _progress(quiet: bool) -> Iterator[tuple[Any, Any]]:
    """Yield ``(start(total_items, total_tokens), advance(items, tokens))`` callbacks."""
    if quiet or not err_console.is_terminal:
        yield (lambda *_: None), (lambda *_: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    state = {"tokens": 0.0, "t0": time.perf_counter()}
    with Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items"),
        TextColumn("{task.fields[tps]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task("scoring", total=None, tps="-")

        def start(items: int, _tokens: int) -> None:
            prog.update(task, total=items)
            state["t0"] = time.perf_counter()

        def advance(items: int, tokens: int) -> None:
            state["tokens"] += tokens
            dt = time.perf_counter() - state["t0"]
            prog.update(task, advance=items, tps=f"{state['tokens'] / dt:,.0f}" if dt > 0 else "-")

        yield start, advance


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM (e.g. a Slurm preemption) stops a run like Ctrl-C: its runs are marked
    ``interrupted``; then one line on stderr and exit code 130. A missing extra (torch,
    vLLM, Ray) is one line and exit code 2."""
    from densing.evaluation.model import MissingExtraError

    def raise_interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    except MissingExtraError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            "densing: interrupted; the items scored so far are stored, rerun to resume",
            file=sys.stderr,
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _emit(result: Any, as_json: bool) -> None:
    """A result with ``to_dict()`` and ``summary()``: one JSON object, or its summary text."""
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(result.summary())


_ModelOpt = Annotated[
    list[str] | None,
    typer.Option("--model", help="Model directory or locally cached hub id (repeatable)."),
]
_TaskOpt = Annotated[
    list[Path] | None,
    typer.Option("--task", help="Task file: .jsonl items or .yaml spec (repeatable)."),
]
_DbOpt = Annotated[Path | None, typer.Option("--db", help="Result store (SQLite file).")]
_BackendOpt = Annotated[str, typer.Option("--backend", help="Scoring engine: hf or vllm.")]
_BatchSizeOpt = Annotated[str, typer.Option("--batch-size", help="N or auto (hf).")]
_DeviceOpt = Annotated[str, typer.Option("--device", help="auto|cpu|cuda")]
_DtypeOpt = Annotated[str, typer.Option("--dtype", help="auto|float32|bfloat16|float16")]
_LimitOpt = Annotated[
    int | None, typer.Option("--limit", help="Score only the first N items of each task.")
]
_ShotsOpt = Annotated[
    int | None, typer.Option("--shots", help="Override the number of few-shot examples.")
]
_NameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--name",
        help="Model name in the store (one per --model; default: the model directory's name).",
    ),
]
_PaddingOpt = Annotated[str, typer.Option("--padding", help="left|right (hf)")]
_NoPrefixCacheOpt = Annotated[
    bool, typer.Option("--no-prefix-cache", help="Recompute the few-shot prefix per item.")
]
_GpuMemoryUtilizationOpt = Annotated[
    float | None,
    typer.Option("--gpu-memory-utilization", help="vllm: memory share (CPU: of RAM)."),
]
_MaxModelLenOpt = Annotated[
    int | None, typer.Option("--max-model-len", help="vllm: context length served.")
]
_MaxNumSeqsOpt = Annotated[
    int | None, typer.Option("--max-num-seqs", help="vllm: sequences per step.")
]
_TensorParallelSizeOpt = Annotated[
    int, typer.Option("--tensor-parallel-size", help="vllm: GPUs per model replica.")
]
_EnforceEagerOpt = Annotated[
    bool,
    typer.Option("--enforce-eager", help="vllm: no graph compilation (fast start-up)."),
]
_RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        help="Spread (model, task, shard) units over Ray: ADDRESS "
        "(HOST:PORT, auto), or no value for a local Ray instance.",
    ),
]
_ShardsOpt = Annotated[
    int | None, typer.Option("--shards", help="Ray: shards per task (default: 64 items each).")
]
_ReplicasOpt = Annotated[int, typer.Option("--replicas", help="Ray: workers per model.")]
_NumCpusOpt = Annotated[float, typer.Option("--num-cpus", help="Ray: CPUs per worker.")]
_NumGpusOpt = Annotated[
    float | None,
    typer.Option(
        "--num-gpus",
        help="Ray: GPUs per worker (default: tensor-parallel size with --device cuda, else 0).",
    ),
]
_WaitOpt = Annotated[
    bool,
    typer.Option("--wait", help="If another run holds the store, wait instead of refusing."),
]
_QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
_AsJsonOpt = Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")]


@eval_app.callback()
def eval_main(
    ctx: typer.Context,
    model: _ModelOpt = None,
    task: _TaskOpt = None,
    db: _DbOpt = None,
    backend: _BackendOpt = "hf",
    batch_size: _BatchSizeOpt = "auto",
    device: _DeviceOpt = "auto",
    dtype: _DtypeOpt = "auto",
    limit: _LimitOpt = None,
    shots: _ShotsOpt = None,
    name: _NameOpt = None,
    padding: _PaddingOpt = "left",
    no_prefix_cache: _NoPrefixCacheOpt = False,
    gpu_memory_utilization: _GpuMemoryUtilizationOpt = None,
    max_model_len: _MaxModelLenOpt = None,
    max_num_seqs: _MaxNumSeqsOpt = None,
    tensor_parallel_size: _TensorParallelSizeOpt = 1,
    enforce_eager: _EnforceEagerOpt = False,
    ray: _RayOpt = None,
    shards: _ShardsOpt = None,
    replicas: _ReplicasOpt = 1,
    num_cpus: _NumCpusOpt = 1.0,
    num_gpus: _NumGpusOpt = None,
    wait: _WaitOpt = False,
    quiet: _QuietOpt = False,
    as_json: _AsJsonOpt = False,
) -> None:
    """Score tasks with one or more models into a result store (a rerun resumes)."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [flag for flag, v in (("--model", model), ("--task", task), ("--db", db)) if not v]
    if missing:
        raise _input_error(
            f"densing eval needs {', '.join(missing)} (see densing eval --help); "
            "subcommands: export, status, plan, run-unit, merge"
        )
    if padding not in {"left", "right"}:
        raise _input_error(f"--padding must be left or right, got {padding!r}")
    from densing.evaluation.backends import BackendOptions
    from densing.evaluation.runner import RayOptions

    opts = BackendOptions(
        device=device, dtype=dtype, batch_size=_batch_size(batch_size),
        prefix_cache=not no_prefix_cache, padding=padding,
        gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
        max_num_seqs=max_num_seqs, tensor_parallel_size=tensor_parallel_size,
        enforce_eager=enforce_eager,
    )  # fmt: skip
    ray_opts = None
    if ray is not None:
        gpus = (
            num_gpus
            if num_gpus is not None
            else (tensor_parallel_size if device.startswith("cuda") else 0)
        )
        ray_opts = RayOptions(address=ray, replicas=replicas, num_cpus=num_cpus, num_gpus=gpus, shards=shards)  # fmt: skip
        _keep_stdout_for_densing()
    _run(model or [], task or [], str(db), backend, opts, name, limit, shots, wait, ray_opts,
         quiet or as_json, as_json)  # fmt: skip


def _keep_stdout_for_densing() -> None:
    """Ray's C++ core writes to file descriptor 1 (e.g. state dumps when the process ends):
    point fd 1 at stderr and give densing's own output (tables, --json) the original stdout."""
    import os

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(saved, "w", buffering=1)


def _run(
    models: list[str],
    tasks: list[Path],
    db: str,
    backend: str,
    opts: Any,
    names: list[str] | None,
    limit: int | None,
    shots: int | None,
    wait: bool,
    ray: Any,
    quiet: bool,
    as_json: bool,
) -> None:
    from densing.evaluation.runner import evaluate
    from densing.evaluation.store import check_db_path
    from densing.evaluation.tasks import load_task

    for opt, v in (("--limit", limit), ("--shards", ray.shards if ray else None)):
        if v is not None and v < 1:
            raise _input_error(f"{opt} must be >= 1, got {v}")
    check_db_path(db)
    loaded = [load_task(t, num_fewshot=shots) for t in tasks]
    with _interruptible(), _progress(quiet) as (start, advance):
        result = evaluate(
            models, loaded, db, backend=backend, options=opts, names=names, limit=limit,
            wait=wait, ray=ray, on_prepared=start, on_progress=advance,
        )  # fmt: skip
    _emit(result, as_json)


@eval_app.command("export")
def export_cmd(
    db: Annotated[Path, typer.Option("--db", help="Result store.")],
    out: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet.")],
    as_json: Annotated[bool, typer.Option("--json", help="Also print the rows as JSON.")] = False,
) -> None:
    """Per-model, per-task mean conditional loss, accuracy and counts (loss-mode frame input)."""
    from densing.evaluation.export import export, print_warnings

    res = export(db, out)
    print_warnings(res.warnings)
    if as_json:
        print_json(res.to_dict())
    else:
        typer.echo(res.summary())
        typer.echo(f"wrote {len(res.table)} rows to {out}")


@eval_app.command("status")
def status_cmd(
    db: Annotated[Path, typer.Option("--db", help="Result store.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Items done per model and task, runs and the last run's status."""
    from densing.evaluation.export import status

    st = status(db)
    _emit(st, as_json)


@eval_app.command("plan")
def plan_cmd(
    models: Annotated[
        Path, typer.Option("--models", help="Text file: one model directory per line.")
    ],
    task: Annotated[list[Path], typer.Option("--task", "--tasks", help="Task file (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="The plan file to write (.jsonl).")],
    shards: Annotated[int, typer.Option("--shards", help="Shards per (model, task).")] = 1,
    backend: Annotated[str, typer.Option("--backend", help="hf or vllm.")] = "hf",
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda")] = "auto",
    dtype: Annotated[str, typer.Option("--dtype", help="auto|float32|bfloat16|float16")] = "auto",
    limit: Annotated[int | None, typer.Option("--limit", help="First N items per task.")] = None,
    shots: Annotated[int | None, typer.Option("--shots", help="Few-shot override.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the units as JSON.")] = False,
) -> None:
    """Write a plan of (model, task, shard) units for `densing eval run-unit` (Slurm arrays)."""
    from densing.evaluation.plan import make_plan, read_models_file

    if limit is not None and limit < 1:
        raise _input_error(f"--limit must be >= 1, got {limit}")
    units = make_plan(
        read_models_file(models), task, shards=shards, out=out, backend=backend, dtype=dtype,
        device=device, limit=limit, shots=shots,
    )  # fmt: skip
    if as_json:
        print_json({"out": str(out), "units": units})
    else:
        typer.echo(f"wrote {len(units)} units to {out} (run-unit --index 0..{len(units) - 1})")


@eval_app.command("run-unit")
def run_unit_cmd(
    plan: Annotated[Path, typer.Argument(help="The plan file (from densing eval plan).")],
    index: Annotated[
        int, typer.Option("--index", envvar="SLURM_ARRAY_TASK_ID", help="Unit (0-based).")
    ],
    out_db: Annotated[Path, typer.Option("--out-db", help="This unit's result store.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for another writer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score one unit of a plan into its own store (merge the stores afterwards)."""
    from densing.evaluation.plan import run_unit

    with _interruptible():
        res = run_unit(plan, index, out_db, wait=wait)
    _emit(res, as_json)


@eval_app.command("merge")
def merge_cmd(
    stores: Annotated[list[Path], typer.Argument(help="Result stores to merge.")],
    db: Annotated[Path, typer.Option("--db", help="The store to merge into.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Merge result stores into one (same identity rules as a run; idempotent)."""
    from densing.evaluation.plan import merge_stores

    res = merge_stores(stores, db)
    _emit(res, as_json)


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to ``app``."""
    app.add_typer(eval_app, name="eval")

"""``densing eval``: conditional loss and accuracy of causal LMs on benchmark items.

``densing eval --model PATH --task FILE --db FILE`` scores (resuming where a previous run
stopped); ``densing eval export`` and ``densing eval status`` read the store.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from densing.cli._common import err_console, print_json

eval_app = typer.Typer(
    name="eval",
    help="Measure conditional loss and accuracy of Hugging Face causal LMs on benchmark items.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        from densing.errors import DensingInputError

        raise DensingInputError(f"--batch-size must be a positive integer or 'auto', got {value!r}")
    return n


@contextmanager
def _progress(quiet: bool) -> Iterator[tuple]:
    """Yield ``(start(total_items, total_tokens), advance(items, tokens))`` callbacks."""
    if quiet or not err_console.is_terminal:
        yield (lambda a, b: None), (lambda a, b: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    state = {"tokens": 0, "t0": time.perf_counter()}
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

        def start(items: int, tokens: int) -> None:
            prog.update(task, total=items)
            state["t0"] = time.perf_counter()

        def advance(items: int, tokens: int) -> None:
            state["tokens"] += tokens
            dt = time.perf_counter() - state["t0"]
            prog.update(task, advance=items, tps=f"{state['tokens'] / dt:,.0f}" if dt > 0 else "-")

        yield start, advance


@eval_app.callback()
def eval_main(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", help="Model directory (or locally cached hub id).")
    ] = None,
    task: Annotated[
        list[Path] | None,
        typer.Option("--task", help="Task file: .jsonl items or .yaml spec (repeatable)."),
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Result store (SQLite file).")] = None,
    batch_size: Annotated[str, typer.Option("--batch-size", help="N or auto.")] = "auto",
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda")] = "auto",
    dtype: Annotated[str, typer.Option("--dtype", help="auto|float32|bfloat16|float16")] = "auto",
    limit: Annotated[
        int | None, typer.Option("--limit", help="Score only the first N items of each task.")
    ] = None,
    shots: Annotated[
        int | None, typer.Option("--shots", help="Override the number of few-shot examples.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Model name in the store and the export.")
    ] = None,
    padding: Annotated[str, typer.Option("--padding", help="left|right")] = "left",
    no_prefix_cache: Annotated[
        bool, typer.Option("--no-prefix-cache", help="Recompute the few-shot prefix per item.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="If another run holds the store, wait instead of refusing."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Score tasks with a model into a result store (a rerun resumes where it stopped)."""
    if ctx.invoked_subcommand is not None:
        return
    from densing.errors import DensingInputError

    missing = [flag for flag, v in (("--model", model), ("--task", task), ("--db", db)) if not v]
    if missing:
        raise DensingInputError(
            f"densing eval needs {', '.join(missing)} (see densing eval --help); "
            "subcommands: export, status"
        )
    if padding not in {"left", "right"}:
        raise DensingInputError(f"--padding must be left or right, got {padding!r}")
    bs = _batch_size(batch_size)
    from densing.evaluation.model import MissingExtraError, load_model
    from densing.evaluation.runner import run_eval
    from densing.evaluation.tasks import load_task

    tasks = [load_task(t, num_fewshot=shots) for t in task or []]
    try:
        lm = load_model(model or "", device=device, dtype=dtype, name=name)
    except MissingExtraError as exc:
        print(f"densing: error: {exc}", file=sys.stderr)
        sys.exit(2)
    with _progress(quiet or as_json) as (start, advance):
        result = run_eval(
            lm,
            tasks,
            str(db),
            limit=limit,
            batch_size=bs,
            prefix_cache=not no_prefix_cache,
            padding=padding,
            wait=wait,
            on_prepared=start,
            on_progress=advance,
        )
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(result.summary())


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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Items done per model and task, runs and the last run's status."""
    from densing.evaluation.export import status

    st = status(db)
    if as_json:
        print_json(st.to_dict())
    else:
        typer.echo(st.summary())


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to ``app``."""
    app.add_typer(eval_app, name="eval")

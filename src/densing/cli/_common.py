"""Small helpers shared by the CLI command modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from densing._json import to_jsonable
from densing.errors import DensingInputError

console = Console()
err_console = Console(stderr=True)

# Options shared by several commands (one help text each).
BootstrapOpt = Annotated[
    int, typer.Option("--bootstrap", help="Bootstrap resamples (0: point estimates only).")
]
LevelOpt = Annotated[
    float, typer.Option("--level", help="Confidence level of the intervals, in (0, 1).")
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed of the bootstrap (same seed, same numbers).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")
]


@contextmanager
def progress_bar(
    description: str, total: int, *, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(k)`` callback; draws a Rich bar only on a terminal and when not quiet."""
    if quiet or total <= 0 or not err_console.is_terminal:
        yield lambda _k: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=total)
        yield lambda k: prog.advance(task, k)


def print_json(obj: Any) -> None:
    """Print one JSON object to stdout (NaN → null, inf → "inf")."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")


def check_bootstrap_options(bootstrap: int | None = None, level: float | None = None) -> None:
    """One-line errors for a negative resample count or a level outside (0, 1)."""
    if bootstrap is not None and bootstrap < 0:
        raise DensingInputError(f"--bootstrap {bootstrap} must be >= 0")
    if level is not None and not 0 < level < 1:
        raise DensingInputError(f"--level {level} must be in (0, 1)")

"""Small helpers shared by the CLI command modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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
from densing.io import check_output_file

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
TableOutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write the result table (.csv, .parquet or .json); no table."),
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


def print_table(table: Any) -> None:
    """A Rich table on stdout; numbers and names are never truncated: on a terminal cells
    fold, and when stdout is not a terminal the table is as wide as it needs to be."""
    for col in getattr(table, "columns", []):
        col.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    wide = Console(width=10_000, color_system=None, soft_wrap=True)
    width = wide.measure(table).maximum
    Console(width=max(80, width), color_system=None).print(table)


def check_out_file(
    path: Any, *, suffixes: tuple[str, ...] | None = None, option: str = "--out"
) -> None:
    """Refuse an output file path before any work: a directory, a missing parent folder, or a
    suffix the command cannot write."""
    if path is not None:
        check_output_file(path, option=option, suffixes=suffixes)


def check_out_dir(path: Any, *, option: str = "--out") -> None:
    """Refuse an output folder path that is an existing file (before any work)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DensingInputError(f"{option} {p} is an existing file; expected a folder")
    if not p.exists() and not p.parent.exists():
        raise DensingInputError(f"{option} {p}: the folder {p.parent} does not exist")


def write_table(df: Any, path: Any) -> None:
    """Write a DataFrame in the format of the path's suffix (.csv, .parquet, .json)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        df.to_csv(p, index=False)
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(p, index=False)
    elif suffix == ".json":
        p.write_text(json.dumps(to_jsonable(df.to_dict(orient="records")), indent=1) + "\n")
    else:
        raise DensingInputError(
            f"--out {p}: unsupported suffix '{p.suffix}'; use .csv, .parquet or .json"
        )


TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json")


def note(message: str, *, kind: str = "note") -> None:
    """One plain line on stderr (never wrapped): ``densing: note: …`` / ``densing: warning: …``."""
    sys.stderr.write(f"densing: {kind}: {message}\n")


def wrote(message: str) -> None:
    """``wrote …`` on stdout as one plain line: never wrapped at the terminal width, paths never
    read as Rich markup (a pipe gets exactly the line)."""
    console.print(message, soft_wrap=True, markup=False, highlight=False)

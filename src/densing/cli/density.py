"""``densing density``: effective parameter size and density of your models under a frame."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from densing.cli._common import (
    TABLE_SUFFIXES,
    JsonOpt,
    TableOutOpt,
    check_bootstrap_options,
    check_out_file,
    console,
    err_console,
    print_json,
    print_table,
    progress_bar,
    write_table,
    wrote,
)
from densing.errors import DensingInputError
from densing.formatting import fmt_interval, fmt_num
from densing.frames import Frame, load_frame
from densing.io import read_table


def density_table(df: pd.DataFrame, level: float, intervals: bool) -> Table:
    t = Table(title="Effective parameters and density", title_justify="left")
    for c in ("model", "benchmark", "params", "active", "score", "N̂", "ρ active"):
        t.add_column(c, justify="left" if c in ("model", "benchmark") else "right")
    if intervals:
        t.add_column(f"ρ active {100 * level:g}%", justify="right")
    t.add_column("ρ total", justify="right")
    if intervals:
        t.add_column(f"ρ total {100 * level:g}%", justify="right")
    t.add_column("status")
    for r in df.to_dict(orient="records"):
        cells = [
            str(r["model"]), str(r["benchmark"]), fmt_num(r["params"]), fmt_num(r["active_params"]),
            fmt_num(r.get("score")), fmt_num(r["effective_params"]), fmt_num(r["density_active"]),
        ]  # fmt: skip
        if intervals:
            cells.append(fmt_interval(r["density_active_lo"], r["density_active_hi"]))
        cells.append(fmt_num(r["density_total"]))
        if intervals:
            cells.append(fmt_interval(r["density_total_lo"], r["density_total_hi"]))
        cells.append(str(r["status"]))
        t.add_row(*cells)
    return t


def _frame(
    frame: Path | None, bootstrap: int, level: float | None, quiet: bool
) -> tuple[Frame, str]:
    if frame is not None:
        return load_frame(frame), str(frame)
    from densing.analysis.cache import cached_builtin_frame

    with progress_bar("bootstrap built-in frame", bootstrap, quiet=quiet) as advance:
        fr, cached = cached_builtin_frame(
            n_resamples=bootstrap, level=level or 0.95, progress=advance
        )
    if not quiet:
        err_console.print(
            "built-in frame " + ("(from the cache)" if cached else "(fitted and cached)")
        )
    return fr, "built-in"


def density_command(
    targets: Annotated[
        Path | None,
        typer.Argument(
            help="Targets: model, params, [active_params], benchmark, score (or wide: one "
            "score column per benchmark); a stitched frame also needs setting and shots."
        ),
    ] = None,
    targets_opt: Annotated[
        Path | None, typer.Option("--targets", help="The targets file (instead of the argument).")
    ] = None,
    frame: Annotated[
        Path | None,
        typer.Option(
            "--frame",
            help="A saved frame JSON (`densing fit-frame`, or frame.json of `densing run`). "
            "Default: the built-in frame (fitted once, then cached).",
        ),
    ] = None,
    level: Annotated[
        float | None, typer.Option("--level", help="Interval level (default: the frame's).")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Resamples of the built-in frame (no --frame).")
    ] = 100,
    out: TableOutOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table on stdout.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Effective parameter size and density of your models under a frame."""
    path = targets_opt or targets
    if path is None:
        raise DensingInputError("give the targets file (argument or --targets FILE)")
    check_bootstrap_options(bootstrap, level)
    check_out_file(out, suffixes=TABLE_SUFFIXES)
    df = read_table(path)
    fr, name = _frame(frame, bootstrap, level, as_json or quiet)
    res = fr.density(df, level=level)
    lvl = fr.level if level is None else level
    if out is not None:
        write_table(res, out)
    if as_json:
        print_json(_density_json(fr, name, lvl, res))
        return
    if out is None and not quiet:
        console.print(fr.describe(), markup=False, highlight=False)
        print_table(density_table(res, lvl, bool(fr.n_resamples)))
    if out is not None:
        wrote(f"wrote {len(res)} rows to {out}")


def _density_json(fr: Frame, name: str, level: float, res: pd.DataFrame) -> dict[str, Any]:
    return {
        "frame": {"file": name, "kind": fr.kind, "description": fr.describe()},
        "level": level,
        "intervals": bool(fr.n_resamples),
        "rows": res.to_dict(orient="records"),
    }


def register(app: typer.Typer) -> None:
    app.command("density")(density_command)

"""``densing fit-loss``: fit a loss law L(N, D) to reference runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import (
    BootstrapOpt,
    JsonOpt,
    LevelOpt,
    SeedOpt,
    check_bootstrap_options,
    console,
    print_json,
    print_table,
    progress_bar,
)
from densing.errors import DensingInputError, FitError
from densing.io import label_column, numeric_column, read_table, require_columns
from densing.laws import FORMS, OBJECTIVES, LossLawFit, fit_loss_law, get_form


def _render(fit: LossLawFit) -> None:
    t = Table(title=f"Loss law  {fit.form.formula}", title_justify="left")
    t.add_column("param")
    t.add_column("estimate", justify="right")
    b = fit.bootstrap
    if b is not None:
        t.add_column("std. error", justify="right")
        t.add_column(f"{100 * b.level:g}% interval", justify="right")
    for name in fit.form.param_names:
        cells = [name, f"{fit.params[name]:.6g}"]
        if b is not None:
            lo, hi = b.interval(name)
            cells += [f"{b.std_error(name):.4g}", f"[{lo:.6g}, {hi:.6g}]"]
        t.add_row(*cells)
    c = fit.convergence
    t.caption = (
        f"{fit.objective} objective {fit.objective_value:.10g} on {fit.n_points} points; "
        f"{c.n_grid} grid starts, {c.n_polished} polished, {c.n_at_best} reached the best"
        + ("" if c.converged else f"; optimiser warning: {c.message}")
    )
    print_table(t)
    if b is not None:
        console.print(
            f"bootstrap: {b.samples.shape[0]} resamples of {b.units}, seed {b.seed}, "
            f"{b.n_failed} failed"
        )


def _read_points(
    file: Path, law: Any, cols: tuple[str, str, str], group_col: str | None, drop_highest: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(N, D, L, groups) of the rows kept (the ``drop_highest`` highest losses dropped)."""
    params_col, tokens_col, loss_col = cols
    if drop_highest < 0:
        raise DensingInputError(f"--drop-highest {drop_highest} must be >= 0")
    df = read_table(file)
    need = [params_col, loss_col] + ([tokens_col] if law.uses_tokens else [])
    require_columns(df, need + ([group_col] if group_col else []))
    N = numeric_column(df, params_col, positive=True)
    L = numeric_column(df, loss_col, positive=True)
    D = numeric_column(df, tokens_col, positive=True) if law.uses_tokens else None
    keep = np.ones(len(df), dtype=bool)
    if drop_highest >= len(df):
        raise DensingInputError(
            f"--drop-highest {drop_highest} would drop all {len(df)} rows", file=str(file)
        )
    keep[np.argsort(-L, kind="stable")[:drop_highest]] = False
    groups = label_column(df, group_col)[keep] if group_col else None
    return N[keep], None if D is None else D[keep], L[keep], groups


def _fit_json(fit: LossLawFit, with_bootstrap: bool) -> dict[str, Any]:
    d = fit.to_dict()
    keys = ["form", "params", "objective", "n_points", "objective_name", "convergence"]
    if with_bootstrap:
        keys += ["intervals", "std_errors", "bootstrap"]
    return {k: d[k] for k in keys}


def fit_loss_command(
    file: Annotated[Path, typer.Argument(help="CSV/Parquet with columns params, tokens, loss.")],
    form: Annotated[
        str, typer.Option("--form", help=f"Law form: {', '.join(FORMS)}.")
    ] = "chinchilla",
    objective: Annotated[
        str, typer.Option("--objective", help=f"Objective: {', '.join(OBJECTIVES)}.")
    ] = "huber-log",
    delta: Annotated[float, typer.Option("--delta", help="Huber δ (huber-log only).")] = 1e-3,
    drop_highest: Annotated[
        int, typer.Option("--drop-highest", help="Drop the K rows with the highest loss first.")
    ] = 0,
    bootstrap: BootstrapOpt = 0,
    level: LevelOpt = 0.95,
    seed: SeedOpt = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes (0: all cores).")] = 0,
    warm_start: Annotated[
        bool,
        typer.Option(
            "--warm-start",
            help="Fast bootstrap: polish each resample from the point estimate only "
            "(default: full global search per resample).",
        ),
    ] = False,
    group_col: Annotated[
        str | None,
        typer.Option("--group-col", help="Resample whole groups (e.g. a 'family' column)."),
    ] = None,
    params_col: Annotated[str, typer.Option("--params-col", help="Column of N.")] = "params",
    tokens_col: Annotated[str, typer.Option("--tokens-col", help="Column of D.")] = "tokens",
    loss_col: Annotated[str, typer.Option("--loss-col", help="Column of the loss.")] = "loss",
    as_json: JsonOpt = False,
) -> None:
    """Fit a loss law L(N, D) globally (grid + polish), with bootstrap intervals."""
    check_bootstrap_options(bootstrap, level)
    law = get_form(form)
    cols = (params_col, tokens_col, loss_col)
    N, D, L, groups = _read_points(file, law, cols, group_col, drop_highest)
    spec = BootstrapSpec(
        n_resamples=bootstrap, seed=seed, level=level, n_jobs=jobs or None, warm_start=warm_start
    )
    with progress_bar("bootstrap", bootstrap, quiet=as_json) as advance:
        try:
            fit = fit_loss_law(
                N, D, L, form=law, objective=objective,  # type: ignore[arg-type]
                delta=delta, bootstrap=spec if bootstrap else None, groups=groups,
                progress=advance,
            )  # fmt: skip
        except FitError as exc:
            raise DensingInputError(str(exc), file=str(file)) from exc
    if as_json:
        print_json(_fit_json(fit, bool(bootstrap)))
    else:
        _render(fit)


def register(app: typer.Typer) -> None:
    """Add the estimation-core commands to ``app``."""
    app.command("fit-loss")(fit_loss_command)

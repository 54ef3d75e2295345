"""``densing fit-loss``: fit a loss law L(N, D) to reference runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import check_bootstrap_options, console, print_json, progress_bar
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
    console.print(t)
    if b is not None:
        console.print(
            f"bootstrap: {b.samples.shape[0]} resamples of {b.units}, seed {b.seed}, "
            f"{b.n_failed} failed"
        )


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
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples (0: none).")
    ] = 0,
    level: Annotated[float, typer.Option("--level", help="Interval level, in (0, 1).")] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the bootstrap.")] = 0,
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
    params_col: Annotated[str, typer.Option("--params-col")] = "params",
    tokens_col: Annotated[str, typer.Option("--tokens-col")] = "tokens",
    loss_col: Annotated[str, typer.Option("--loss-col")] = "loss",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit a loss law L(N, D) globally (grid + polish), with bootstrap intervals."""
    check_bootstrap_options(bootstrap, level)
    if drop_highest < 0:
        raise DensingInputError(f"--drop-highest {drop_highest} must be >= 0")
    law = get_form(form)
    df = read_table(file)
    cols = [params_col, loss_col] + ([tokens_col] if law.uses_tokens else [])
    require_columns(df, cols + ([group_col] if group_col else []))
    N = numeric_column(df, params_col, positive=True)
    L = numeric_column(df, loss_col, positive=True)
    D = numeric_column(df, tokens_col, positive=True) if law.uses_tokens else None
    keep = np.ones(len(df), dtype=bool)
    if drop_highest:
        if drop_highest >= len(df):
            raise DensingInputError(
                f"--drop-highest {drop_highest} would drop all {len(df)} rows", file=str(file)
            )
        keep[np.argsort(-L, kind="stable")[:drop_highest]] = False
    groups = None
    if group_col:
        groups = label_column(df, group_col)[keep]
    spec = BootstrapSpec(
        n_resamples=bootstrap, seed=seed, level=level, n_jobs=jobs or None, warm_start=warm_start
    )
    with progress_bar("bootstrap", bootstrap, quiet=as_json) as advance:
        try:
            fit = fit_loss_law(
                N[keep],
                None if D is None else D[keep],
                L[keep],
                form=law,
                objective=objective,  # type: ignore[arg-type]
                delta=delta,
                bootstrap=spec if bootstrap else None,
                groups=groups,
                progress=advance,
            )
        except FitError as exc:
            raise DensingInputError(str(exc), file=str(file)) from exc
    if as_json:
        d = fit.to_dict()
        out = {
            "form": d["form"],
            "params": d["params"],
            "objective": d["objective"],
            "n_points": d["n_points"],
            "objective_name": d["objective_name"],
            "convergence": d["convergence"],
        }
        if bootstrap:
            out["intervals"] = d["intervals"]
            out["std_errors"] = d["std_errors"]
            out["bootstrap"] = d["bootstrap"]
        print_json(out)
    else:
        _render(fit)


def register(app: typer.Typer) -> None:
    """Add the estimation-core commands to ``app``."""
    app.command("fit-loss")(fit_loss_command)

"""``densing fit-loss``: fit a loss law L(N, D) to reference runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import (
    TABLE_SUFFIXES,
    BootstrapOpt,
    JsonOpt,
    LevelOpt,
    SeedOpt,
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
from densing.errors import DensingInputError, FitError
from densing.formatting import fmt_num
from densing.io import label_column, numeric_column, read_table, require_columns
from densing.laws import FORMS, OBJECTIVES, LossLawFit, fit_loss_law, get_form
from densing.lawselect import LawSelection, select_law
from densing.lossframe import reference_run_points


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


def _positive(values: list[float] | None, option: str) -> list[float]:
    for v in values or []:
        if not v > 0:
            raise DensingInputError(f"{option} {v} must be > 0 (tokens per parameter)")
    return list(values or [])


def _run_points(
    file: Path, cols: tuple[str, str, str], benchmark: str | None, final_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, L), one point per run: a plain run table, or a table of checkpoints (``run`` and
    ``step`` columns) and/or benchmarks (fit-frame's reference table), read as the frame's law
    reads it: each run's last ``final_k`` checkpoints averaged."""
    df = read_table(file)
    if final_k < 1:
        raise DensingInputError(f"--final-k {final_k} must be >= 1")
    if final_k != 1 and "run" not in df.columns:
        raise DensingInputError("--final-k needs checkpoints: a run (and step) column",
                                file=str(file))  # fmt: skip
    if benchmark is not None and "benchmark" not in df.columns:
        raise DensingInputError("--benchmark given but the table has no benchmark column",
                                file=str(file))  # fmt: skip
    if "benchmark" not in df.columns and "run" not in df.columns:
        require_columns(df, list(cols))
        N, D, L = (numeric_column(df, c, positive=True) for c in cols)
        return N, D, L
    df = df.rename(columns=dict(zip(cols, ("params", "tokens", "loss"), strict=True)))
    if "benchmark" not in df.columns:
        df = df.assign(benchmark=cols[2])  # one loss: a single "benchmark"
    df.attrs["source"] = str(file)
    pts = reference_run_points(df, final_k)
    names = sorted(pts["benchmark"].unique())
    if benchmark is None and len(names) > 1:
        raise DensingInputError(f"several benchmarks {names}: choose one with --benchmark",
                                file=str(file))  # fmt: skip
    b = benchmark if benchmark is not None else names[0]
    if b not in names:
        raise DensingInputError(f"--benchmark '{b}' is not in the table's {names}", file=str(file))
    p = pts[pts["benchmark"] == b]
    return p["params"].to_numpy(), p["tokens"].to_numpy(), p["loss"].to_numpy()


def _selection_table(sel: LawSelection) -> Table:
    t = Table(
        title=f"Law candidates, by held-out error on the largest size (N = {sel.heldout_params:.4g}, "
        f"{sel.n_heldout} runs)",
        title_justify="left",
    )
    for col in ("form", "objective", "D/N kept", "fit runs", "sizes", "error %", "bias %", "max %"):
        t.add_column(col, justify="left" if col in ("form", "objective") else "right")
    t.add_column("status")
    for _, r in sel.ranked().iterrows():
        num = [fmt_num(r[c]) if r["status"] == "ok" else "" for c in
               ("heldout_error_pct", "heldout_bias_pct", "heldout_max_error_pct")]  # fmt: skip
        ratio = "all" if pd.isna(r["min_ratio"]) else f">= {r['min_ratio']:g}"
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        t.add_row(r["form"], r["objective"], ratio, str(r["n_fit"]), str(r["n_fit_sizes"]), *num,
                  status)  # fmt: skip
    t.caption = sel.summary()
    return t


def select_law_command(
    file: Annotated[
        Path,
        typer.Argument(help="CSV/Parquet with columns params, tokens, loss (one row per run)."),
    ],
    form: Annotated[
        list[str] | None,
        typer.Option(
            "--form", help=f"Candidate form (repeatable; default all: {', '.join(FORMS)})."
        ),
    ] = None,
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="Candidate objective (repeatable; default all)."),
    ] = None,
    min_ratio: Annotated[
        list[float] | None,
        typer.Option(
            "--min-ratio",
            help="Candidate smallest tokens per parameter D/N kept for fitting (repeatable; "
            "default: every run).",
        ),
    ] = None,
    holdout_min_ratio: Annotated[
        float | None,
        typer.Option(
            "--holdout-min-ratio",
            help="Hold out only the largest size's runs with D/N >= this (default: all of them).",
        ),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            help="With a reference table of fit-frame (benchmark column): the benchmark whose "
            "loss is used (needed when there are several).",
        ),
    ] = None,
    final_k: Annotated[
        int,
        typer.Option("--final-k", help="With run/step columns: mean loss of each run's last K."),
    ] = 1,
    params_col: Annotated[str, typer.Option("--params-col", help="Column of N.")] = "params",
    tokens_col: Annotated[str, typer.Option("--tokens-col", help="Column of D.")] = "tokens",
    loss_col: Annotated[str, typer.Option("--loss-col", help="Column of the loss.")] = "loss",
    out: TableOutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose a law's form, objective and smallest D/N out of sample: fit every candidate on all
    sizes but the largest and rank them by how well they predict the largest size's runs."""
    check_out_file(out, suffixes=TABLE_SUFFIXES)
    for f in form or []:
        if f not in FORMS:
            raise DensingInputError(
                f"--form '{f}' is not a law form; expected one of {list(FORMS)}"
            )
    for o in objective or []:
        if o not in OBJECTIVES:
            raise DensingInputError(f"--objective '{o}' is not one of {list(OBJECTIVES)}")
    ratios: list[float | None] = [*_positive(min_ratio, "--min-ratio")] or [None]
    if holdout_min_ratio is not None:
        _positive([holdout_min_ratio], "--holdout-min-ratio")
    N, D, L = _run_points(file, (params_col, tokens_col, loss_col), benchmark, final_k)
    if not as_json and err_console.is_terminal:
        err_console.print("fitting every candidate (full global search each) ...")
    try:
        sel = select_law(
            N, D, L, forms=form or tuple(FORMS), objectives=objective or OBJECTIVES,
            min_ratios=ratios, holdout_min_ratio=holdout_min_ratio,
        )  # fmt: skip
    except (FitError, DensingInputError) as exc:
        raise DensingInputError(getattr(exc, "reason", str(exc)), file=str(file)) from exc
    if out is not None:
        write_table(sel.ranked(), out)
    if as_json:
        print_json(sel.to_dict() | {"out": None if out is None else str(out)})
    elif out is not None:
        wrote(f"wrote {out}")
    else:
        print_table(_selection_table(sel))


def register(app: typer.Typer) -> None:
    """Add the estimation-core commands to ``app``."""
    app.command("fit-loss")(fit_loss_command)
    app.command("select-law")(select_law_command)

"""``densing trend``: the densing law from (model, release date, density) rows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import (
    check_bootstrap_options,
    console,
    note,
    print_json,
    print_table,
    progress_bar,
)
from densing.errors import DensingInputError
from densing.io import (
    date_column,
    id_column,
    label_column,
    numeric_column,
    parse_iso_date,
    read_table,
    require_columns,
)
from densing.trend import CHATGPT_RELEASE, TrendFit, TrendResult, bootstrap_trend


def _parse_breakpoint(value: str | None):
    if value is None:
        return None
    day = parse_iso_date(value)
    if day is None:
        raise DensingInputError(
            f"--breakpoint '{value}' is not a date; expected an ISO date YYYY-MM-DD "
            f"(e.g. {CHATGPT_RELEASE.isoformat()}, ChatGPT's release)"
        )
    return day


def _num(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if math.isnan(v):
        return "n/a"
    return f"{v:.4g}"


def _table(title: str, fit: TrendFit, intervals: dict | None, level: float) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    if intervals:
        t.add_column(f"{100 * level:g}% interval", justify="right")
    rows = [
        ("A (per day)", "A_per_day", fit.A_per_day),
        ("doubling time (days)", "doubling_time_days", fit.doubling_time_days),
        ("doubling time (months)", "doubling_time_months", fit.doubling_time_months),
        (f"B (at {fit.reference_date.isoformat()})", "B", fit.B),
        ("R²", "r2", fit.r2),
    ]
    for label, key, value in rows:
        cells = [label, _num(value)]
        if intervals:
            lo, hi = intervals[key]
            cells.append(f"[{_num(lo)}, {_num(hi)}]")
        t.add_row(*cells)
    mode = "envelope" if fit.use_envelope else "all models"
    t.caption = (
        f"fit on {mode}: {fit.n_fit} of {fit.n_models} models, "
        f"{fit.first_date.isoformat()} to {fit.last_date.isoformat()}"
    )
    if not fit.growing:
        t.caption += "; A <= 0: density not growing, doubling time inf"
    return t


def _render(res: TrendResult) -> None:
    fit = res.fit
    boot = res.samples is not None
    print_table(
        _table("Densing law: ln ρ = A·t + B", fit, res.intervals if boot else None, res.level)
    )
    if fit.use_envelope:
        console.print(f"envelope ({len(fit.envelope)}): " + ", ".join(fit.envelope))
    if boot:
        console.print(
            f"bootstrap: {res.n_resamples} resamples of {res.resampling}, seed {res.seed}; "
            f"{res.n_invalid} degenerate resample(s) excluded"
        )
    if fit.segments is not None and fit.breakpoint is not None:
        for name, seg in fit.segments.items():
            rel = "<" if name == "before" else "≥"
            iv = None
            if res.segment_samples is not None:
                iv = res.segment_samples[name].intervals(res.level)
            print_table(
                _table(
                    f"Segment {name}: release {rel} {fit.breakpoint.isoformat()}",
                    seg,
                    iv,
                    res.level,
                )
            )


def _usable_rows(df: Any, file: str) -> Any:
    """densing's own densities.csv carries a status: keep the models with a finite density
    (ok / extrapolated) and say how many others were left out; other files are used whole."""
    if "status" not in df.columns:
        return df
    keep = df["status"].isin(["ok", "extrapolated"]).to_numpy()
    if not keep.all():
        counts = df.loc[~keep, "status"].value_counts().to_dict()
        note(
            f"{file}: {int((~keep).sum())} row(s) without a finite, informative density left "
            "out (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
        )
    out = df[keep].reset_index(drop=True)
    out.attrs["source"] = df.attrs.get("source")
    return out


def trend_command(
    file: Annotated[
        Path, typer.Argument(help="CSV/Parquet/JSON with columns model, release_date, density.")
    ],
    envelope: Annotated[
        bool,
        typer.Option(
            "--envelope/--all",
            help="Fit the envelope (models setting a new maximum density) or all models.",
        ),
    ] = True,
    breakpoint: Annotated[
        str | None,
        typer.Option(
            "--breakpoint",
            help="Also fit separate slopes before / on-or-after this date (e.g. 2022-11-30).",
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples (0: none).")
    ] = 0,
    level: Annotated[float, typer.Option("--level", help="Interval level, in (0, 1).")] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the bootstrap.")] = 0,
    group_col: Annotated[
        str | None,
        typer.Option(
            "--group-col",
            help="Resample whole groups (e.g. a 'family' column) instead of single models.",
        ),
    ] = None,
    model_col: Annotated[str, typer.Option("--model-col", help="Column of model ids.")] = "model",
    date_col: Annotated[
        str, typer.Option("--date-col", help="Column of release dates.")
    ] = "release_date",
    density_col: Annotated[
        str | None,
        typer.Option(
            "--density-col",
            help="Column of densities (default: density_active, else density).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, no table.")
    ] = False,
) -> None:
    """Fit the densing law ln ρ = A·t + B (t in days) and its doubling time."""
    check_bootstrap_options(bootstrap, level)
    bp = _parse_breakpoint(breakpoint)
    df = _usable_rows(read_table(file), str(file))
    if density_col is None:
        density_col = "density_active" if "density_active" in df.columns else "density"
    cols = [model_col, date_col, density_col] + ([group_col] if group_col else [])
    require_columns(df, cols)
    models = id_column(df, model_col)
    dates = date_column(df, date_col)
    rho = numeric_column(df, density_col, positive=True)
    groups = None
    if group_col:
        groups = label_column(df, group_col)
    spec = BootstrapSpec(n_resamples=bootstrap, seed=seed, level=level)
    with progress_bar("bootstrap", bootstrap, quiet=as_json) as advance:
        res = bootstrap_trend(
            models,
            [d.date() for d in dates],
            rho,
            spec,
            envelope=envelope,
            breakpoint=bp,
            groups=groups,
            progress=advance,
            file=str(file),
        )
    if as_json:
        print_json(res.to_dict())
    else:
        _render(res)


def register(app: typer.Typer) -> None:
    """Add ``densing trend`` to ``app``."""
    app.command("trend")(trend_command)

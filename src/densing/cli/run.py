"""``densing run`` (the main job), ``densing report`` and ``densing forecast``."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from densing.cli._common import check_bootstrap_options, console, err_console, print_json
from densing.errors import DensingInputError
from densing.formatting import fmt_interval, fmt_num, fmt_params
from densing.units import DAYS_PER_MONTH

BenchOpt = Annotated[
    str | None,
    typer.Option("--benchmarks", help="Comma-separated benchmarks of the frame."),
]
RefOpt = Annotated[
    str | None, typer.Option("--reference-family", help="Reference family of the frame.")
]
ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--extra", "-x", help="User CSV/YAML of models and scores merged on top."),
]


def _spec(reference_family: str | None, benchmarks: str | None, with_reported: bool):
    from densing.analysis import DEFAULT_FRAME, UNIFORM_SETTINGS, FrameSpec

    if reference_family is None and benchmarks is None and not with_reported:
        return DEFAULT_FRAME
    fam = reference_family or DEFAULT_FRAME.reference_family
    benches = (
        tuple(b.strip() for b in benchmarks.split(",") if b.strip())
        if benchmarks
        else DEFAULT_FRAME.benchmarks
    )
    if not benches:
        raise DensingInputError("--benchmarks is empty")
    name = f"{fam.lower()}-{len(benches)}bench" + (
        "-with-reported" if with_reported else "-uniform"
    )
    return FrameSpec(name, fam, benches, settings=None if with_reported else UNIFORM_SETTINGS)


def _fmt(x: float, digits: int = 3) -> str:
    return fmt_num(x, digits)


def _size(n: float) -> str:
    return fmt_params(n)


def _leaderboard(analysis, top: int) -> Table:
    d = analysis.main.densities
    d = d[d["in_trend"]].head(top)
    pct = round(analysis.level * 100)
    t = Table(title=f"Densest models (frame {analysis.main.spec.name})", title_justify="left")
    for col, just in (
        ("#", "right"),
        ("model", "left"),
        ("released", "left"),
        ("N", "right"),
        ("N̂", "right"),
        ("ρ", "right"),
        (f"{pct}% interval", "right"),
        ("status", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, r in enumerate(d.itertuples(index=False), 1):
        t.add_row(
            str(i),
            r.model,
            str(r.release_date)[:10],
            _size(r.active_params),
            _size(r.effective_params),
            _fmt(r.density_active),
            fmt_interval(r.density_active_lo, r.density_active_hi),
            r.status + (" ◆" if r.on_envelope else ""),
        )
    t.caption = "◆ on the envelope (set a new maximum density when released)"
    return t


def _law_table(analysis) -> Table:
    tr = analysis.main.trend
    pct = round(analysis.level * 100)
    t = Table(title="Densing law  ln ρ_max = A·t + B", title_justify="left")
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    t.add_column(f"{pct}% interval", justify="right")
    iv = tr.intervals if tr.samples is not None else {}
    dd = iv.get("doubling_time_days", (math.nan, math.nan))
    a = iv.get("A_per_day", (math.nan, math.nan))
    t.add_row("A (per day)", _fmt(tr.A_per_day, 4), f"[{_fmt(a[0], 4)}, {_fmt(a[1], 4)}]")
    t.add_row(
        "doubling time (months)",
        _fmt(tr.doubling_time_months),
        fmt_interval(dd[0] / DAYS_PER_MONTH, dd[1] / DAYS_PER_MONTH),
    )
    t.add_row(
        "doubling time (days)", _fmt(tr.doubling_time_days), f"[{_fmt(dd[0])}, {_fmt(dd[1])}]"
    )
    t.add_row("R² (envelope fit)", _fmt(tr.fit.r2), "")
    t.caption = (
        f"{len(tr.fit.envelope)} envelope models of {len(analysis.main.trend_models)} with a "
        f"finite density; paper: A ≈ 0.0073/day, 3.3 months (arXiv v1), 3.5 months (journal)"
    )
    return t


def _sensitivity_table(analysis) -> Table:
    s = analysis.sensitivity
    t = Table(title="Sensitivity of the doubling time to the frame", title_justify="left")
    for c in (
        "frame",
        "reference",
        "benchmarks",
        "scores",
        "models",
        "doubling (months)",
        "interval",
    ):
        t.add_column(c)
    for r in s.itertuples(index=False):
        t.add_row(
            r.frame,
            r.reference_family,
            r.benchmarks,
            r.settings,
            str(r.n_models),
            _fmt(r.doubling_time_months),
            f"[{_fmt(r.lo)}, {_fmt(r.hi)}]",
        )
    return t


def _forecast_table(forecasts) -> Table:
    t = Table(
        title="When should a model of N parameters reach a score? (on the fitted law)",
        title_justify="left",
    )
    for c in ("benchmark", "score", "N", "needed ρ", "date", "interval"):
        t.add_column(c)
    for r in forecasts.itertuples(index=False):
        t.add_row(
            r.benchmark,
            f"{r.score:.2f}",
            _size(r.params),
            _fmt(r.needed_density),
            str(r.date or r.status),
            f"[{r.date_lo or '…'}, {r.date_hi or '…'}]",
        )
    return t


def run_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("densing-report"),
    reference_family: RefOpt = None,
    benchmarks: BenchOpt = None,
    with_reported: Annotated[
        bool,
        typer.Option(
            "--with-reported",
            help="Also use developers' reported scores where no uniform-harness score exists "
            "(default: uniform-harness scores only).",
        ),
    ] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Frame bootstrap resamples.")] = 200,
    sensitivity_bootstrap: Annotated[
        int, typer.Option("--sensitivity-bootstrap", help="Resamples per sensitivity frame.")
    ] = 100,
    warm_start: Annotated[
        bool,
        typer.Option(
            "--warm-start",
            help="Fast bootstrap: polish each frame resample from the point estimate instead "
            "of the full search.",
        ),
    ] = False,
    no_sensitivity: Annotated[
        bool, typer.Option("--no-sensitivity", help="Skip the sensitivity frames.")
    ] = False,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    top: Annotated[int, typer.Option("--top", help="Rows of the leaderboard.")] = 15,
    extra: ExtraOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The main job: built-in catalog → frame → densities → densing law → report."""
    from densing import catalog as catalog_mod
    from densing.analysis import SENSITIVITY_FRAMES, analyze

    if bootstrap < 0 or sensitivity_bootstrap < 0:
        raise DensingInputError("--bootstrap and --sensitivity-bootstrap must be >= 0")
    check_bootstrap_options(level=level)
    t0 = time.perf_counter()
    cat = catalog_mod.load(extra or None)
    spec = _spec(reference_family, benchmarks, with_reported)
    quiet = as_json or not err_console.is_terminal
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    ) as prog:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(f"bootstrap {stage}", total=total)
            prog.update(tasks[stage], completed=done)

        analysis = analyze(
            cat,
            spec,
            n_resamples=bootstrap,
            seed=seed,
            level=level,
            sensitivity=() if no_sensitivity else SENSITIVITY_FRAMES,
            sensitivity_resamples=sensitivity_bootstrap,
            warm_start=warm_start,
            progress=progress,
        )
        paths = analysis.write(out)
    elapsed = time.perf_counter() - t0
    if as_json:
        d = analysis.main.densities
        print_json(
            {
                "frame": analysis.main.spec.name,
                "trend": analysis.trend_dict(),
                "sensitivity": analysis.sensitivity.to_dict(orient="records"),
                "top": d[d["in_trend"]]
                .head(top)[
                    ["model", "density_active", "density_active_lo", "density_active_hi", "status"]
                ]
                .to_dict(orient="records"),
                "outputs": {k: str(v) for k, v in paths.items()},
                "seconds": elapsed,
            }
        )
        return
    console.print(_leaderboard(analysis, top))
    console.print(_law_table(analysis))
    if analysis.breakpoint_note:
        console.print(analysis.breakpoint_note)
    if analysis.sensitivity_runs:
        console.print(_sensitivity_table(analysis))
    if not analysis.forecasts.empty:
        console.print(_forecast_table(analysis.forecasts))
    st = analysis.main.densities["status"].value_counts().to_dict()
    console.print("status of the catalog's models: " + ", ".join(f"{k} {v}" for k, v in st.items()))
    console.print(f"wrote {', '.join(str(p) for p in paths.values())} in {elapsed:.0f} s")


def report_command(
    folder: Annotated[Path, typer.Argument(help="Output folder of `densing run` (bundle.json).")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
) -> None:
    """Re-render report.html from the saved outputs of `densing run`."""
    from densing.report import read_bundle, render_report

    src = folder / "bundle.json" if folder.is_dir() else folder
    if not src.exists():
        raise DensingInputError("no bundle.json here: run `densing run` first", file=str(src))
    bundle = read_bundle(src)
    target = out or (src.parent / "report.html")
    render_report(bundle, target)
    console.print(f"wrote {target}")


def forecast_command(
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark of the target score.")],
    score: Annotated[float, typer.Option("--score", help="Target score, a fraction in (0, 1).")],
    params: Annotated[float, typer.Option("--params", help="Parameters N of the planned model.")],
    reference_family: RefOpt = None,
    benchmarks: BenchOpt = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap")] = 200,
    level: Annotated[float, typer.Option("--level")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    extra: ExtraOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """By when should a model of N parameters reach SCORE on BENCHMARK (densing law)?"""
    from densing import catalog as catalog_mod
    from densing.analysis import forecast_table, run_frame

    if not 0 < score < 1:
        raise DensingInputError(
            f"--score {score} must be a fraction in (0, 1)"
            + (" (looks like a percentage)" if 1 < score <= 100 else "")
        )
    if not (math.isfinite(params) and params > 0):
        raise DensingInputError(f"--params {params} must be > 0")
    spec = _spec(reference_family, benchmarks, False)
    cat = catalog_mod.load(extra or None)
    run = run_frame(cat, spec, n_resamples=bootstrap, seed=seed, level=level)
    fc = forecast_table(run, [(benchmark, score, params)], level)
    if as_json:
        print_json({"frame": spec.name, **fc.iloc[0].to_dict()})
        return
    console.print(_forecast_table(fc))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("report")(report_command)
    app.command("forecast")(forecast_command)

"""``densing run`` (the main job) and ``densing report``."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from densing.cli._common import (
    JsonOpt,
    LevelOpt,
    SeedOpt,
    check_bootstrap_options,
    check_out_dir,
    check_out_file,
    console,
    err_console,
    note,
    print_json,
    print_table,
    wrote,
)
from densing.cli._run_tables import forecast_table, law_table, leaderboard, sensitivity_table
from densing.errors import DensingInputError

BenchOpt = Annotated[
    str | None,
    typer.Option(
        "--benchmarks", help="Comma-separated benchmarks the frame may use (default: all)."
    ),
]
RefOpt = Annotated[
    str | None,
    typer.Option("--reference-family", help="Reference family of the frame (case-insensitive)."),
]
ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--extra",
        "-x",
        help="Your CSV/YAML of models and scores, merged on top (give each score's setting).",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--frame-model",
        help="stitched (every benchmark x setting its own item) or one-capability.",
    ),
]
AlphaOpt = Annotated[
    float | None,
    typer.Option("--alpha", help="Fix the reference law's exponent (default: the frame's)."),
]
EstimatorOpt = Annotated[
    str | None,
    typer.Option("--estimator", help="Frontier estimator: envelope-ols or quantile-0.9."),
]
BasisOpt = Annotated[
    str,
    typer.Option("--density-basis", help="Densities of the law against active or total params."),
]


def resolve_family(catalog: Any, name: str) -> str:
    """A family name as the catalog spells it (case-insensitive)."""
    fams = {f.lower(): f for f in catalog.models["family"].unique()}
    if name.lower() not in fams:
        raise DensingInputError(
            f"--reference-family '{name}' is not a catalog family; families: {sorted(fams.values())}"
        )
    return fams[name.lower()]


def build_spec(
    catalog: Any,
    reference_family: str | None,
    benchmarks: str | None,
    frame_model: str,
    alpha: float | None,
    with_reported: bool = False,
) -> Any:
    """The frame specification from the command's options (the default when none is given)."""
    from densing.analysis import DEFAULT_FRAME, UNIFORM_FRAME, UNIFORM_SETTINGS

    if frame_model not in ("stitched", "one-capability"):
        raise DensingInputError(f"--frame-model '{frame_model}' must be stitched or one-capability")
    base = DEFAULT_FRAME if frame_model == "stitched" else UNIFORM_FRAME
    changed = reference_family or benchmarks is not None or alpha is not None or with_reported
    if not changed:
        return base
    benches = base.benchmarks
    if benchmarks is not None:
        benches = tuple(b.strip().lower() for b in benchmarks.split(",") if b.strip())
        if not benches:
            raise DensingInputError("--benchmarks is empty; give e.g. mmlu,bbh,gsm8k")
    fam = resolve_family(catalog, reference_family) if reference_family else base.reference_family
    settings = base.settings
    if frame_model == "one-capability":
        settings = None if with_reported else UNIFORM_SETTINGS
    name = f"{fam.lower()}-{frame_model}" + ("" if alpha is None else f"-alpha-{alpha:g}")
    return replace(base, name=name, reference_family=fam, benchmarks=benches, settings=settings,
                   alpha=alpha if alpha is not None else base.alpha)  # fmt: skip


def _warn_unused_user_scores(catalog: Any, extra: list[Path] | None, analysis: Any) -> None:
    """Say loudly when scores of the user's own models could not be used by the frame."""
    if not extra:
        return
    from densing.scoreframe import item_id

    user = catalog.models[~catalog.models["origin"].astype(str).str.startswith("catalog_data")]
    sc = catalog.scores[catalog.scores["id"].isin(user["id"])]
    items = set(analysis.main.frame.benchmarks)
    if analysis.main.spec.model == "stitched":
        cols = zip(sc["benchmark"], sc["setting"], sc["shots"], sc["cot"], strict=True)
        used = [item_id(*t) in items for t in cols]
    else:
        used = list(
            sc["benchmark"].isin(items)
            & sc["setting"].isin(analysis.main.spec.settings or sc["setting"])
        )
    n_unused = len(used) - sum(used)
    if n_unused:
        note(
            f"{n_unused} of {len(used)} scores of your models (--extra) are not "
            "used by the frame: their benchmark x setting is not an item of it (an item needs "
            f"{analysis.main.spec.min_item_models} models), or the frame is restricted by "
            "--benchmarks / --frame-model one-capability. Give scores in a setting the catalog "
            "uses (e.g. setting openllm-v1, or reported with shots).",
            kind="warning",
        )


def _with_backtest(analysis: Any, cat: Any, spec: Any, seed: int, level: float, basis: str) -> Any:
    from densing.analysis.backtest import run_backtest

    t = time.perf_counter()
    res = run_backtest(cat, spec, seed=seed, level=level, density_basis=basis)
    timings = {**analysis.timings, "backtest": time.perf_counter() - t}
    return replace(analysis, backtest=res, timings=timings)


def _progress_context(quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, transient=True, disable=quiet,
    )  # fmt: skip


def _run_json(analysis: Any, paths: dict[str, Path], top: int, timings: dict[str, float]) -> dict:
    run = analysis.main
    d = run.densities
    col = f"density_{run.density_basis}"
    return {
        "frame": run.spec.name,
        "trend": analysis.trend_dict(),
        "sensitivity": analysis.sensitivity.to_dict(orient="records"),
        "statuses": d["status"].value_counts().to_dict(),
        "top": d[d["in_trend"]]
        .sort_values(col, ascending=False)
        .head(top)[["model", col, f"{col}_lo", f"{col}_hi", "status"]]
        .to_dict(orient="records"),
        "outputs": {k: str(v) for k, v in paths.items()},
        "timings_seconds": timings,
    }


_OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.")]
_WithReportedOpt = Annotated[
    bool,
    typer.Option(
        "--with-reported",
        help="one-capability frames: also use reported scores where no uniform one exists.",
    ),
]
_BootstrapOpt = Annotated[
    int, typer.Option("--bootstrap", help="Frame bootstrap resamples (>= 1).")
]
_SensitivityBootstrapOpt = Annotated[
    int, typer.Option("--sensitivity-bootstrap", help="Resamples per sensitivity frame.")
]
_WarmStartOpt = Annotated[
    bool,
    typer.Option(
        "--warm-start/--full-search",
        help="Polish each frame resample from the point estimate (default) or repeat the "
        "full search per resample (slower).",
    ),
]
_NoSensitivityOpt = Annotated[
    bool, typer.Option("--no-sensitivity", help="Skip the sensitivity frames.")
]
_IncludeUninformativeOpt = Annotated[
    bool,
    typer.Option(
        "--include-uninformative",
        help="Let chance-level and unbounded models enter the frontier fits.",
    ),
]
_TopOpt = Annotated[int, typer.Option("--top", help="Rows of the leaderboard (>= 1).")]
_BacktestOpt = Annotated[
    bool,
    typer.Option("--backtest", help="Also run the backtest (slow) and add its report panel."),
]
_QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No tables on stdout.")]


def run_command(
    out: _OutOpt = Path("densing-report"),
    reference_family: RefOpt = None,
    benchmarks: BenchOpt = None,
    frame_model: ModelOpt = "stitched",
    alpha: AlphaOpt = None,
    with_reported: _WithReportedOpt = False,
    bootstrap: _BootstrapOpt = 100,
    sensitivity_bootstrap: _SensitivityBootstrapOpt = 30,
    warm_start: _WarmStartOpt = True,
    no_sensitivity: _NoSensitivityOpt = False,
    estimator: EstimatorOpt = None,
    density_basis: BasisOpt = "active",
    include_uninformative: _IncludeUninformativeOpt = False,
    level: LevelOpt = 0.95,
    seed: SeedOpt = 0,
    top: _TopOpt = 15,
    extra: ExtraOpt = None,
    backtest: _BacktestOpt = False,
    quiet: _QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The main job: built-in catalog → frame → densities → densing law → report."""
    from densing import catalog as catalog_mod
    from densing.analysis import DEFAULT_ESTIMATOR, SENSITIVITY_FRAMES, analyze

    if bootstrap < 1 or sensitivity_bootstrap < 1:
        raise DensingInputError(
            "--bootstrap and --sensitivity-bootstrap must be >= 1 (every number gets an interval)"
        )
    if top < 1:
        raise DensingInputError(f"--top {top} must be >= 1")
    check_bootstrap_options(level=level)
    check_out_dir(out)
    t0 = time.perf_counter()
    cat = catalog_mod.load(extra or None)
    spec = build_spec(cat, reference_family, benchmarks, frame_model, alpha, with_reported)
    with _progress_context(as_json or quiet or not err_console.is_terminal) as prog:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(f"bootstrap {stage}", total=total)
            prog.update(tasks[stage], completed=done)

        analysis = analyze(
            cat, spec, n_resamples=bootstrap, seed=seed, level=level,
            sensitivity=() if no_sensitivity else SENSITIVITY_FRAMES,
            sensitivity_resamples=sensitivity_bootstrap, warm_start=warm_start,
            estimator=estimator or DEFAULT_ESTIMATOR, include_uninformative=include_uninformative,
            density_basis=density_basis, progress=progress,
        )  # fmt: skip
        if backtest:
            analysis = _with_backtest(analysis, cat, spec, seed, level, density_basis)
        t1 = time.perf_counter()
        paths = analysis.write(out)
    timings = {"catalog": 0.0, **analysis.timings, "report": time.perf_counter() - t1}
    timings["total"] = time.perf_counter() - t0
    _warn_unused_user_scores(cat, extra, analysis)
    if as_json:
        print_json(_run_json(analysis, paths, top, timings))
        return
    if not quiet:
        _print_run(analysis, top)
    st = analysis.main.densities["status"].value_counts().to_dict()
    console.print(
        "statuses of the catalog's models: " + ", ".join(f"{k} {v}" for k, v in st.items())
    )
    console.print("stage timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    wrote(f"wrote {', '.join(str(p) for p in paths.values())}")


def _print_run(analysis: Any, top: int) -> None:
    print_table(leaderboard(analysis, top))
    print_table(law_table(analysis))
    for c in analysis.main.caveats:
        console.print(f"caveat: {c}", markup=False)
    if analysis.breakpoint_note:
        console.print(analysis.breakpoint_note, markup=False)
    if analysis.sensitivity_runs:
        print_table(sensitivity_table(analysis))
    if not analysis.forecasts.empty:
        print_table(forecast_table(analysis.forecasts))


def report_command(
    folder: Annotated[Path, typer.Argument(help="Output folder of `densing run` (bundle.json).")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-render report.html from the saved outputs of `densing run`."""
    from densing.report import read_bundle, render_report

    src = folder / "bundle.json" if folder.is_dir() else folder
    if not src.exists():
        raise DensingInputError("no bundle.json here: run `densing run` first", file=str(src))
    check_out_file(out, suffixes=(".html",))
    bundle = read_bundle(src)
    target = out or (src.parent / "report.html")
    render_report(bundle, target)
    if as_json:
        print_json({"report": str(target), "bundle": str(src)})
        return
    wrote(f"wrote {target}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("report")(report_command)

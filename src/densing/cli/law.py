"""``densing forecast`` and ``densing backtest``: the densing law forward and out of sample."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Annotated, Any

import typer

from densing.cli._common import (
    JsonOpt,
    LevelOpt,
    SeedOpt,
    check_bootstrap_options,
    check_out_file,
    console,
    err_console,
    print_json,
    print_table,
    wrote,
)
from densing.cli._run_tables import backtest_table, forecast_table
from densing.cli.run import (
    AlphaOpt,
    BasisOpt,
    BenchOpt,
    EstimatorOpt,
    ExtraOpt,
    ModelOpt,
    RefOpt,
    build_spec,
)
from densing.errors import DensingInputError
from densing.io import parse_iso_date


def _check_score(score: float) -> None:
    if not 0 < score < 1:
        raise DensingInputError(
            f"--score {score} must be a fraction in (0, 1)"
            + (" (looks like a percentage: divide by 100)" if 1 < score <= 100 else "")
        )


def forecast_command(
    benchmark: Annotated[
        str,
        typer.Option("--benchmark", help="Benchmark (or item, e.g. mmlu@openllm-v1) of the score."),
    ],
    score: Annotated[float, typer.Option("--score", help="Target score, a fraction in (0, 1).")],
    params: Annotated[
        str, typer.Option("--params", help="Parameters N of the planned model (3e9, 3B).")
    ],
    reference_family: RefOpt = None,
    benchmarks: BenchOpt = None,
    frame_model: ModelOpt = "stitched",
    alpha: AlphaOpt = None,
    estimator: EstimatorOpt = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Frame bootstrap resamples.")] = 100,
    frame: Annotated[
        Path | None,
        typer.Option("--frame", help="frame.json of `densing run` (no refit): its frame is used."),
    ] = None,
    level: LevelOpt = 0.95,
    seed: SeedOpt = 0,
    extra: ExtraOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """By when should the densest models of N parameters reach SCORE on BENCHMARK?

    The fitted densing law says when the frontier of density reaches N̂(score)/N, i.e. when
    the densest models of N parameters should score that; a typical model gets there later."""
    from densing import catalog as catalog_mod
    from densing.analysis import DEFAULT_ESTIMATOR, run_frame
    from densing.analysis import forecast_table as fc_table
    from densing.cli.frame import parse_count

    _check_score(score)
    n = parse_count(params, "--params")
    check_bootstrap_options(bootstrap, level)
    cat = catalog_mod.load(extra or None)
    spec = build_spec(cat, reference_family, benchmarks, frame_model, alpha)
    fitted = _saved_or_cached(frame, spec, bootstrap, seed, level, extra)
    run = run_frame(
        cat, spec, n_resamples=bootstrap, seed=seed, level=level, warm_start=True,
        estimator=estimator or DEFAULT_ESTIMATOR, frame=fitted,
    )  # fmt: skip
    fc = fc_table(
        run, [(benchmark.lower() if "@" not in benchmark else benchmark, score, n)], level
    )
    if as_json:
        print_json({"frame": spec.name, "estimator": run.estimator, **fc.iloc[0].to_dict()})
        return
    print_table(forecast_table(fc))


def _saved_or_cached(
    frame: Path | None, spec: Any, bootstrap: int, seed: int, level: float, extra: Any
) -> Any:
    """A frame that needs no refit: the saved one, or the cached built-in one (defaults)."""
    from densing.analysis import DEFAULT_FRAME
    from densing.analysis.cache import cached_builtin_frame
    from densing.frames import load_frame
    from densing.scoreframe import ScoreFrame

    if frame is not None:
        fr = load_frame(frame)
        if not isinstance(fr, ScoreFrame):
            raise DensingInputError(
                f"--frame {frame}: forecast needs a score-mode frame (frame.json of densing run)"
            )
        return fr
    if spec == DEFAULT_FRAME and not extra:
        return cached_builtin_frame(spec, n_resamples=bootstrap, seed=seed, level=level)[0]
    return None


def _cutoffs(values: list[str] | None) -> list[_dt.date] | None:
    if not values:
        return None
    out = []
    for v in values:
        d = parse_iso_date(v)
        if d is None:
            raise DensingInputError(f"--cutoff '{v}' is not an ISO date YYYY-MM-DD")
        out.append(d)
    return out


def backtest_command(
    reference_family: RefOpt = None,
    alpha: AlphaOpt = None,
    cutoff: Annotated[
        list[str] | None,
        typer.Option(
            "--cutoff", help="Cutoff date (repeatable; default: every 3 months from 2023-09-01)."
        ),
    ] = None,
    frame_bootstrap: Annotated[
        int, typer.Option("--frame-bootstrap", help="Warm bootstrap resamples per cutoff frame.")
    ] = 40,
    density_basis: BasisOpt = "active",
    level: LevelOpt = 0.95,
    seed: SeedOpt = 0,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result (.json).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit the frame and the law on models released before each cutoff, forecast the frontier
    3, 6 and 12 months later, and score the forecasts per estimator (out of sample)."""
    from densing import catalog as catalog_mod
    from densing.analysis.backtest import run_backtest

    check_bootstrap_options(frame_bootstrap, level)
    check_out_file(out, suffixes=(".json",))
    cuts = _cutoffs(cutoff)
    cat = catalog_mod.load()
    spec = build_spec(cat, reference_family, None, "stitched", alpha)
    quiet = as_json or not err_console.is_terminal
    res = run_backtest(
        cat, spec, cutoffs=cuts, frame_resamples=frame_bootstrap, seed=seed, level=level,
        density_basis=density_basis, progress=None if quiet else (lambda s: err_console.print(s)),
    )  # fmt: skip
    if out is not None:
        res.to_json(out)
    if as_json:
        print_json(res.to_dict() | {"out": None if out is None else str(out)})
        return
    print_table(backtest_table(res))
    for s in res.skipped:
        console.print(f"skipped cutoff {s}", markup=False)
    if out is not None:
        wrote(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("forecast")(forecast_command)
    app.command("backtest")(backtest_command)

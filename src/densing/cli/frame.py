"""Loss-mode frame commands: ``fit-frame`` and ``predict`` (``density`` is in ``cli.density``)."""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import (
    TABLE_SUFFIXES,
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
from densing.frames import load_frame
from densing.io import read_table
from densing.lossframe import (
    BenchmarkFrame,
    CheckpointOptions,
    DensingWarning,
    LossFrame,
    fit_loss_frame,
    read_benchmark_settings,
)

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(value: str, option: str) -> float:
    """``7e9``, ``7B``, ``1.5T``, ``350M`` → float (> 0)."""
    m = re.fullmatch(r"\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*([kmbgtKMBGT]?)\s*", value)
    v = float("nan")
    if m:
        try:
            v = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
        except ValueError:
            v = float("nan")
    if not (math.isfinite(v) and v > 0):
        raise DensingInputError(
            f"{option} '{value}' is not a positive number (e.g. 7e9, 7B, 1.5T, 350M)"
        )
    return v


def _parse_pairs(values: list[str] | None, option: str, ceiling: bool = False) -> dict[str, float]:
    """``BENCHMARK=VALUE`` options: floors in [0, 1), ceilings in (0, 1]."""
    out: dict[str, float] = {}
    for v in values or []:
        name, sep, num = v.partition("=")
        try:
            f = float(num)
        except ValueError:
            f = float("nan")
        ok = 0 < f <= 1 if ceiling else 0 <= f < 1
        if not sep or not name.strip() or not ok:
            rng, ex = ("(0, 1]", "mmlu=1") if ceiling else ("[0, 1)", "mmlu=0.25")
            raise DensingInputError(
                f"{option} '{v}' must be BENCHMARK=VALUE with VALUE in {rng} (e.g. {ex})"
            )
        out[name.strip()] = f
    return out


def _parse_percent(value: str, option: str) -> float:
    """``10`` or ``10%`` → 0.1 (a percentage in [0, 100))."""
    try:
        v = float(value.strip().rstrip("%"))
    except ValueError:
        v = float("nan")
    if not 0 <= v < 100:
        raise DensingInputError(f"{option} '{value}' must be a percentage in [0, 100)")
    return v / 100.0


def _benchmark_json(frame: LossFrame, f: BenchmarkFrame, ci: pd.DataFrame) -> dict[str, Any]:
    sg = f.sigmoid
    entry: dict[str, Any] = {
        "law": dict(f.law_params),
        "law_objective": f.law_objective_value,
        "law_convergence": f.law_convergence,
        "sigmoid": sg.params,
        "sigmoid_settings": {
            "floor": sg.floor, "ceiling": sg.ceiling, "loss": sg.loss_fn, "f_scale": sg.f_scale,
        },
        "sigmoid_at_bound": list(sg.at_bound),
        "pinned": [n.split(".", 1)[1] for n in ci.attrs["pinned"] if n.startswith(f"{f.benchmark}.")],
        "n_reference_models": f.n_reference_models,
        "n_reference_runs": f.law_n_points,
        "n_reference_checkpoints": f.n_reference_checkpoints,
        "n_calibration": f.n_calibration,
        "n_calibration_runs": f.n_calibration_runs,
        "predictive": {
            "law": None if f.law_error is None else f.law_error.to_dict(),
            "sigmoid": None if f.sigmoid_error is None else f.sigmoid_error.to_dict(),
        },
        "few_sizes_share": f.few_sizes_share,
        "notes": list(f.notes),
    }  # fmt: skip
    if f.n_resamples:
        for key, names in (
            ("law_intervals", frame.form.param_names),
            ("sigmoid_intervals", ("c", "d", "gamma", "l")),
        ):
            rows = ci.loc[[f"{f.benchmark}.{n}" for n in names]]
            entry[key] = {
                n: [r["lower"], r["upper"]]
                for n, (_, r) in zip(names, rows.iterrows(), strict=True)
            }
    return entry


def _frame_json(frame: LossFrame, out: Path | None) -> dict[str, Any]:
    ci = frame.conf_int()
    return {
        "kind": frame.kind,
        "form": frame.form.name,
        "objective": frame.objective,
        "D0": frame.D0,
        "level": frame.level,
        "bootstrap": frame.bootstrap,
        "checkpoints": frame.checkpoints,
        "notes": list(frame.notes),
        "benchmarks": {f.benchmark: _benchmark_json(frame, f, ci) for f in frame.fits},
        "out": None if out is None else str(out),
    }


_Opt = typer.Option


def fit_frame_command(
    reference: Annotated[Path, _Opt("--reference", help="Reference runs: model (or run), params, tokens, benchmark, loss [, step].")],
    calibration: Annotated[Path, _Opt("--calibration", help="Calibration points: model (or run), benchmark, loss, score [, step].")],
    form: Annotated[str, _Opt("--form", help="Loss law form: densing | chinchilla | chinchilla-tied | power-n.")] = "densing",
    objective: Annotated[str, _Opt("--objective", help="huber-log | lsq-log | lsq.")] = "huber-log",
    d0: Annotated[str, _Opt("--d0", help="Token budget at which the law is inverted.")] = "1e12",
    floor: Annotated[list[str] | None, _Opt("--floor", help="Fixed sigmoid floor d (chance level), BENCHMARK=VALUE; repeatable.")] = None,
    ceiling: Annotated[list[str] | None, _Opt("--ceiling", help="Fixed sigmoid top c + d, BENCHMARK=VALUE; repeatable.")] = None,
    default_ceiling: Annotated[float | None, _Opt("--default-ceiling", help="Pin the top c + d of every benchmark without a ceiling at this value (e.g. 1) unless a calibration score exceeds it.")] = None,
    benchmark_settings: Annotated[Path | None, _Opt("--benchmark-settings", help="YAML or table of per-benchmark floor, ceiling, sigmoid_loss, f_scale (options above win).")] = None,
    sigmoid_loss: Annotated[str, _Opt("--sigmoid-loss", help="Robust loss of the sigmoid fit: soft_l1 | linear | huber.")] = "soft_l1",
    f_scale: Annotated[float, _Opt("--f-scale", help="Residual size (score units) beyond which the robust loss down-weights.")] = 0.05,
    final_k: Annotated[int, _Opt("--final-k", help="Law: mean loss of the last K checkpoints of each run.")] = 1,
    drop_first: Annotated[str, _Opt("--drop-first", help="Sigmoid: drop checkpoints in the first PCT% of each run (by step).")] = "0",
    smooth: Annotated[int, _Opt("--smooth", help="Sigmoid: trailing mean over W checkpoints of each run.")] = 1,
    resample: Annotated[str, _Opt("--resample", help="Bootstrap units: runs (clusters) | checkpoints (too narrow with correlated checkpoints; for comparison).")] = "runs",
    predictive: Annotated[bool, _Opt("--predictive/--no-predictive", help="Measure out-of-sample error (leave-one-size-out) for predictive intervals.")] = True,
    bootstrap: Annotated[int, _Opt("--bootstrap", help="Bootstrap replicates (0: none).")] = 0,
    seed: Annotated[int, _Opt("--seed", help="Random seed of the bootstrap.")] = 0,
    level: Annotated[float, _Opt("--level", help="Interval level, in (0, 1).")] = 0.95,
    warm_start: Annotated[bool, _Opt("--warm-start", help="Fast bootstrap: refit from the point estimate only.")] = False,
    out: Annotated[Path, _Opt("--out", help="Where to save the frame.")] = Path("frame.json"),
    as_json: Annotated[bool, _Opt("--json", help="Print one JSON object.")] = False,
) -> None:  # fmt: skip
    """Fit a loss-mode frame (the paper's method) and save it to JSON."""
    check_bootstrap_options(bootstrap, level)
    D0 = parse_count(d0, "--d0")
    for opt, v in (("--final-k", final_k), ("--smooth", smooth)):
        if v < 1:
            raise DensingInputError(f"{opt} {v} must be >= 1")
    ckpt = CheckpointOptions(final_k, _parse_percent(drop_first, "--drop-first"), smooth)
    settings = read_benchmark_settings(benchmark_settings) if benchmark_settings else None
    ref = read_table(reference)
    cal = read_table(calibration)
    spec = (
        BootstrapSpec(n_resamples=bootstrap, seed=seed, level=level, warm_start=warm_start)
        if bootstrap
        else None
    )
    n_bench = max(1, ref["benchmark"].nunique()) if "benchmark" in ref.columns else 1
    with (
        progress_bar("bootstrap", 2 * bootstrap * n_bench, quiet=as_json) as advance,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", DensingWarning)
        frame = fit_loss_frame(
            ref, cal, form=form, objective=objective, D0=D0,
            floors=_parse_pairs(floor, "--floor"),
            ceilings=_parse_pairs(ceiling, "--ceiling", ceiling=True),
            default_ceiling=default_ceiling, sigmoid_loss=sigmoid_loss, f_scale=f_scale,
            settings=settings, checkpoints=ckpt, resample=resample, predictive=predictive,
            bootstrap=spec, progress=advance,
        )  # fmt: skip
    for w in caught:
        err_console.print(f"densing: warning: {w.message}", markup=False, highlight=False)
    frame.to_json(out)
    if as_json:
        print_json(_frame_json(frame, out))
        return
    console.print(frame.summary(), markup=False, highlight=False)
    console.print(f"saved frame to {out}")


_MAX_TABLE_ROWS = 200


def _predict_table(res: pd.DataFrame, title: str, lvl: float, intervals: bool) -> Table:
    t = Table(title=title, title_justify="left")
    named = "name" in res.columns
    heads = (["name"] if named else []) + ["benchmark", "loss", "score"]
    if intervals:
        heads += [f"loss {100 * lvl:g}%", f"score {100 * lvl:g}%"]
    heads += [f"loss pred. {100 * lvl:g}%", f"score pred. {100 * lvl:g}%", "beyond", "status"]
    for c in heads:
        t.add_column(c, justify="left" if c in ("name", "benchmark", "status") else "right")
    for r in res.head(_MAX_TABLE_ROWS).to_dict(orient="records"):
        cells = ([str(r["name"])] if named else []) + [
            str(r["benchmark"]), fmt_num(r["loss"]), fmt_num(r["score"]),
        ]  # fmt: skip
        if intervals:
            cells += [
                fmt_interval(r["loss_lo"], r["loss_hi"]),
                fmt_interval(r["score_lo"], r["score_hi"]),
            ]
        cells += [
            fmt_interval(r["loss_pred_lo"], r["loss_pred_hi"]),
            fmt_interval(r["score_pred_lo"], r["score_pred_hi"]),
            _beyond(r),
            str(r["status"]),
        ]
        t.add_row(*cells)
    return t


def _beyond(r: Mapping[Any, Any]) -> str:
    """'N +0.54 dec, D +0.1 dec, loss −0.27' for an extrapolated prediction ('' otherwise)."""
    parts = []
    for key, label in (("params_outside_decades", "N"), ("tokens_outside_decades", "D")):
        if r[key] > 0:
            parts.append(f"{label} {r[key]:.2g} dec")
    if r["loss_outside_calibration"] > 0:
        parts.append(f"loss {r['loss_outside_calibration']:.2g}")
    return ", ".join(parts)


def predict_command(
    frame: Annotated[Path, typer.Option("--frame", help="A saved loss-mode frame JSON.")],
    params: Annotated[
        str | None, typer.Option("--params", help="Planned parameters (7e9, 7B).")
    ] = None,
    tokens: Annotated[
        str | None, typer.Option("--tokens", help="Planned training tokens (2T).")
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option("--targets", help="Many planned models: a table name, params, tokens."),
    ] = None,
    level: Annotated[
        float | None, typer.Option("--level", help="Interval level (default: the frame's).")
    ] = None,
    out: TableOutOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the table as CSV.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Predicted loss and score per benchmark of planned models (N, D), with the bootstrap and
    the predictive interval; `extrapolated` marks targets beyond the reference runs or losses
    beyond the calibration range."""
    check_bootstrap_options(level=level)
    if (targets is None) == (params is None and tokens is None):
        raise DensingInputError("give either --params and --tokens, or --targets FILE")
    check_out_file(out, suffixes=TABLE_SUFFIXES)
    fr = load_frame(frame)
    if not isinstance(fr, LossFrame):
        raise DensingInputError(
            f"frame file {frame}: predict needs a loss-mode frame (from `densing fit-frame`)"
        )
    if targets is not None:
        res = fr.predict_targets(read_table(targets), level=level)
        head: dict[str, Any] = {"targets": str(targets)}
    else:
        if params is None or tokens is None:
            raise DensingInputError("--params and --tokens go together")
        N, D = parse_count(params, "--params"), parse_count(tokens, "--tokens")
        res = fr.predict(N, D, level=level)
        head = {"params": N, "tokens": D}
    lvl = fr.level if level is None else level
    intervals = bool(fr.n_resamples)
    if out is not None:
        write_table(res, out)
    if as_json:
        key = "rows" if targets is not None else "benchmarks"
        print_json({"frame": str(frame), **head, "level": lvl, "intervals": intervals,
                    key: res.to_dict(orient="records")})  # fmt: skip
        return
    if as_csv:
        sys.stdout.write(res.to_csv(index=False))
        return
    if out is not None:
        wrote(f"wrote {len(res)} rows to {out}")
        return
    title = (
        f"Predicted loss and score: N = {head['params']:.4g}, D = {head['tokens']:.4g}"
        if targets is None
        else f"Predicted loss and score of {res['name'].nunique()} planned models"
    )
    print_table(_predict_table(res, title, lvl, intervals))
    if len(res) > _MAX_TABLE_ROWS:
        console.print(f"… {len(res) - _MAX_TABLE_ROWS} more rows: use --out, --csv or --json")


def register(app: typer.Typer) -> None:
    """Add ``fit-frame`` and ``predict`` to ``app``."""
    app.command("fit-frame")(fit_frame_command)
    app.command("predict")(predict_command)

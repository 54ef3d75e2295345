"""Loss-mode frame commands: ``fit-frame``, ``density`` and ``predict``."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from densing.bootstrap import BootstrapSpec
from densing.cli._common import check_bootstrap_options, console, print_json, progress_bar
from densing.errors import DensingInputError
from densing.formatting import fmt_interval, fmt_num
from densing.frames import load_frame
from densing.io import read_table
from densing.lossframe import LossFrame, fit_loss_frame

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


def _parse_floors(values: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values or []:
        name, sep, num = v.partition("=")
        try:
            f = float(num)
        except ValueError:
            f = float("nan")
        if not sep or not name.strip() or not (0 <= f < 1):
            raise DensingInputError(
                f"--floor '{v}' must be BENCHMARK=VALUE with VALUE in [0, 1) (e.g. mmlu=0.25)"
            )
        out[name.strip()] = f
    return out


def _frame_json(frame: LossFrame, out: Path | None) -> dict[str, Any]:
    ci = frame.conf_int()
    benches = {}
    for f in frame.fits:
        entry: dict[str, Any] = {
            "law": dict(f.law_params),
            "law_objective": f.law_objective_value,
            "law_convergence": f.law_convergence,
            "sigmoid": f.sigmoid.params,
            "n_reference_models": f.n_reference_models,
            "n_reference_runs": f.law_n_points,
            "n_calibration": f.n_calibration,
        }
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
        benches[f.benchmark] = entry
    return {
        "kind": frame.kind,
        "form": frame.form.name,
        "objective": frame.objective,
        "D0": frame.D0,
        "level": frame.level,
        "bootstrap": frame.bootstrap,
        "benchmarks": benches,
        "out": None if out is None else str(out),
    }


def fit_frame_command(
    reference: Annotated[
        Path,
        typer.Option("--reference", help="Reference runs: model, params, tokens, benchmark, loss."),
    ],
    calibration: Annotated[
        Path,
        typer.Option("--calibration", help="Calibration points: model, benchmark, loss, score."),
    ],
    form: Annotated[
        str, typer.Option("--form", help="Loss law form: densing | chinchilla | power-n.")
    ] = "densing",
    objective: Annotated[
        str, typer.Option("--objective", help="huber-log | lsq-log | lsq.")
    ] = "huber-log",
    d0: Annotated[
        str, typer.Option("--d0", help="Token budget at which the law is inverted.")
    ] = "1e12",
    floor: Annotated[
        list[str] | None,
        typer.Option("--floor", help="Fixed sigmoid floor (chance level), BENCHMARK=VALUE."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap replicates (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the bootstrap.")] = 0,
    level: Annotated[float, typer.Option("--level", help="Interval level, in (0, 1).")] = 0.95,
    warm_start: Annotated[
        bool,
        typer.Option("--warm-start", help="Fast bootstrap: refit from the point estimate only."),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Where to save the frame.")] = Path(
        "frame.json"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit a loss-mode frame (the paper's method) and save it to JSON."""
    check_bootstrap_options(bootstrap, level)
    D0 = parse_count(d0, "--d0")
    floors = _parse_floors(floor)
    ref = read_table(reference)
    cal = read_table(calibration)
    spec = (
        BootstrapSpec(n_resamples=bootstrap, seed=seed, level=level, warm_start=warm_start)
        if bootstrap
        else None
    )
    n_bench = max(1, ref["benchmark"].nunique()) if "benchmark" in ref.columns else 1
    with progress_bar("bootstrap", 2 * bootstrap * n_bench, quiet=as_json) as advance:
        frame = fit_loss_frame(
            ref,
            cal,
            form=form,
            objective=objective,
            D0=D0,
            floors=floors,
            bootstrap=spec,
            progress=advance,
        )
    frame.to_json(out)
    if as_json:
        print_json(_frame_json(frame, out))
        return
    console.print(frame.summary(), markup=False, highlight=False)
    console.print(f"saved frame to {out}")


def predict_command(
    frame: Annotated[Path, typer.Option("--frame", help="A saved loss-mode frame JSON.")],
    params: Annotated[str, typer.Option("--params", help="Planned parameters (7e9, 7B).")],
    tokens: Annotated[str, typer.Option("--tokens", help="Planned training tokens (2T).")],
    level: Annotated[
        float | None, typer.Option("--level", help="Interval level (default: the frame's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Predicted conditional loss and score per benchmark of a planned model (N, D)."""
    check_bootstrap_options(level=level)
    N = parse_count(params, "--params")
    D = parse_count(tokens, "--tokens")
    fr = load_frame(frame)
    if not isinstance(fr, LossFrame):
        raise DensingInputError(
            f"frame file {frame}: predict needs a loss-mode frame (from `densing fit-frame`)"
        )
    res = fr.predict(N, D, level=level)
    lvl = fr.level if level is None else level
    intervals = bool(fr.n_resamples)
    if as_json:
        print_json(
            {
                "frame": str(frame),
                "params": N,
                "tokens": D,
                "level": lvl,
                "intervals": intervals,
                "benchmarks": res.to_dict(orient="records"),
            }
        )
        return
    t = Table(
        title=f"Predicted conditional loss and score: N = {N:.4g}, D = {D:.4g}",
        title_justify="left",
    )
    for c in ("benchmark", "loss", "score"):
        t.add_column(c, justify="left" if c == "benchmark" else "right")
    if intervals:
        t.add_column(f"loss {100 * lvl:g}%", justify="right")
        t.add_column(f"score {100 * lvl:g}%", justify="right")
    for r in res.itertuples(index=False):
        cells = [str(r.benchmark), fmt_num(r.loss), fmt_num(r.score)]
        if intervals:
            cells += [fmt_interval(r.loss_lo, r.loss_hi), fmt_interval(r.score_lo, r.score_hi)]
        t.add_row(*cells)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``fit-frame``, ``density`` and ``predict`` to ``app``."""
    app.command("fit-frame")(fit_frame_command)
    app.command("predict")(predict_command)

"""``densing catalog``: list, show, validate and export the built-in model catalog."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from densing.cli._common import console, err_console, print_json
from densing.errors import DensingInputError

ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--extra",
        "-x",
        help="User CSV/Parquet/JSON/YAML file of models and scores merged on top (repeatable).",
    ),
]


def _load(extra: list[Path] | None):
    from densing import catalog

    return catalog.load(extra or None)


def _print_table(table: Table) -> None:
    """Rich table; when piped, wide enough that ids are not cut."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=200, color_system=None).print(table)


def _num(x: float, unit: float) -> str:
    return "?" if x is None or math.isnan(x) else f"{x / unit:.3g}"


def list_models(
    family: Annotated[
        list[str] | None, typer.Option("--family", "-f", help="Only this family (repeatable).")
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option("--benchmark", "-b", help="Only models with this benchmark; show its score."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON model objects.")] = False,
    extra: ExtraOpt = None,
) -> None:
    """List catalog models (Rich table; --json for model objects with scores and sources)."""
    cat = _load(extra)
    sub = cat.filter(family=family or None, benchmark=benchmark)
    if family and sub.models.empty:
        known = ", ".join(sorted(cat.models["family"].unique()))
        raise DensingInputError(f"no models of family {family}; families: {known}")
    if as_json:
        print_json(sub.records())
        return
    wide = sub.wide([benchmark]) if benchmark else None
    table = Table(title=f"{len(sub)} models", show_lines=False)
    for name, just in (
        ("id", "left"),
        ("family", "left"),
        ("params (B)", "right"),
        ("active (B)", "right"),
        ("tokens (T)", "right"),
        ("released", "left"),
        ("arch", "left"),
    ):
        table.add_column(name, justify=just, no_wrap=name in ("released", "arch"))
    if benchmark:
        table.add_column(benchmark, justify="right")
        table.add_column("setting")
    else:
        table.add_column("benchmarks", justify="right")
    n_scores = sub.scores.groupby("id")["benchmark"].nunique()
    for m in sub.models.itertuples(index=False):
        row = [
            m.id,
            m.family,
            _num(m.params, 1e9),
            _num(m.active_params, 1e9),
            _num(m.tokens, 1e12),
            m.release_date.date().isoformat(),
            m.arch,
        ]
        if wide is not None:
            row += [
                f"{wide.loc[m.id, benchmark]:.3f}",
                wide.attrs["settings"][benchmark].get(m.id, ""),
            ]
        else:
            row.append(str(int(n_scores.get(m.id, 0))))
        table.add_row(*row)
    _print_table(table)


def show(
    model_id: Annotated[str, typer.Argument(help="Model id, e.g. meta-llama/Llama-2-7b-hf")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the provenance as JSON.")] = False,
    extra: ExtraOpt = None,
) -> None:
    """Every field of one model with its source (citation and URL)."""
    cat = _load(extra)
    prov = cat.provenance(model_id)
    if as_json:
        print_json(prov)
        return

    def src_cells(s: dict) -> list[str]:
        return [s["citation"] or "", s["url"] or ""]

    t = Table(title=f"{prov['id']} ({prov['family']}, {prov['arch']})")
    for c in ("field", "value", "source", "url"):
        t.add_column(c, overflow="fold")
    t.add_row("params", f"{prov['params']['value']:.4g}", *src_cells(prov["params"]["source"]))
    t.add_row(
        "active_params",
        f"{prov['active_params']['value']:.4g}",
        *src_cells(prov["active_params"]["source"]),
    )
    tok = prov["tokens"]["value"]
    t.add_row(
        "tokens",
        "unknown (unpublished)" if tok is None else f"{tok:.4g}",
        *src_cells(prov["tokens"]["source"]),
    )
    t.add_row(
        "release_date", prov["release_date"]["value"], *src_cells(prov["release_date"]["source"])
    )
    if prov["notes"]:
        t.add_row("notes", prov["notes"], "", "")
    t.add_row("defined in", prov["origin"], "", "")
    _print_table(t)
    s = Table(title="scores (sources below)")
    for c in ("benchmark", "score", "shots", "setting", "source"):
        s.add_column(c, overflow="fold")
    used: dict[str, dict] = {}
    for sc in prov["scores"]:
        src = sc["source"]
        used.setdefault(src["key"], src)
        s.add_row(
            sc["benchmark"],
            f"{sc['score']:.4f}",
            "" if sc["shots"] is None else str(sc["shots"]),
            sc["setting"],
            src["key"],
        )
    _print_table(s)
    if used:
        k = Table(title="score sources")
        for c in ("source", "citation", "url"):
            k.add_column(c, overflow="fold")
        for key, src in used.items():
            k.add_row(key, *src_cells(src))
        _print_table(k)


def validate(
    file: Annotated[
        Path | None,
        typer.Argument(help="User CSV/Parquet/JSON/YAML file; omit to check the built-in data."),
    ] = None,
) -> None:
    """Validate the built-in catalog, or a user file merged on top of it (exit 2 on problems)."""
    from densing import catalog

    problems = catalog.validate(file)
    if not problems:
        cat = catalog.load(file)
        what = str(file) if file else "built-in catalog"
        msg = f"ok: {what} is valid; {cat.summary()}"
        console.print(msg, highlight=False, markup=False, soft_wrap=True)
        return
    if len(problems) == 1:
        raise problems[0]
    for p in problems:
        err_console.print(f"densing: error: {p}", highlight=False, markup=False, soft_wrap=True)
    raise DensingInputError(f"{len(problems)} problems found (listed above)")


def export(
    fmt: Annotated[str, typer.Option("--format", help="csv | parquet | json")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: stdout for csv/json).")
    ] = None,
    table: Annotated[
        str,
        typer.Option(
            "--table",
            help="For csv/parquet: wide (one row per model, the user CSV format), models, "
            "scores (long, with citation and URL) or sources.",
        ),
    ] = "wide",
    extra: ExtraOpt = None,
) -> None:
    """Export the catalog (json: model objects with scores and sources)."""
    from densing._json import to_jsonable

    fmt = fmt.lower()
    if fmt not in ("csv", "parquet", "json"):
        raise DensingInputError(f"unknown format '{fmt}'; expected csv, parquet or json")
    tables = ("wide", "models", "scores", "sources")
    if table not in tables:
        raise DensingInputError(f"unknown table '{table}'; expected one of {', '.join(tables)}")
    cat = _load(extra)
    if fmt == "json":
        import json

        text = json.dumps(to_jsonable(cat.to_dict()), indent=2) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
            err_console.print(f"wrote {out} ({len(cat)} models)")
        return
    df = {
        "wide": cat.user_table,
        "models": lambda: cat.models,
        "scores": cat.scores_with_sources,
        "sources": lambda: cat.sources,
    }[table]()
    if fmt == "parquet":
        if out is None:
            raise DensingInputError("--format parquet needs --out FILE")
        df.to_parquet(out, index=False)
    elif out is None:
        df.to_csv(sys.stdout, index=False)
        return
    else:
        df.to_csv(out, index=False)
    err_console.print(f"wrote {out} ({len(df)} rows)")


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command group to ``app``."""
    sub = typer.Typer(
        name="catalog",
        help="The built-in catalog of open base models: list, show, validate, export.",
        no_args_is_help=True,
    )
    sub.command("list")(list_models)
    sub.command("show")(show)
    sub.command("validate")(validate)
    sub.command("export")(export)
    app.add_typer(sub, name="catalog")

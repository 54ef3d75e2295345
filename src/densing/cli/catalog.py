"""``densing catalog``: list, show, validate, export and diff the built-in model catalog."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from densing.cli._common import console, err_console, print_json
from densing.errors import DensingInputError
from densing.io import check_output_file

if TYPE_CHECKING:  # the catalog is imported by the commands, when they run
    from densing.catalog import Catalog


class _PlainHelp:
    """Help printed as written (``[active_params]`` is not Rich markup) and flags, ``--help``
    included, without a ``<bool>`` value type."""

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)  # type: ignore[misc]  # a mixin of TyperCommand/Group
        if opt is not None:
            _plain(opt)
        return opt


class _Command(_PlainHelp, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = escape(self.help) if self.help else self.help
        for p in self.params:
            _plain(p)


class _Group(_PlainHelp, TyperGroup):
    pass


def _plain(param: Any) -> None:
    if getattr(param, "help", None):
        param.help = escape(param.help)
    if getattr(param, "is_flag", False):
        param.metavar = ""


ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--extra",
        "-x",
        help="User CSV/Parquet/JSON/YAML file of models and scores merged on top (repeatable).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
OUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
TABLES = ("long", "wide", "models", "scores", "sources")


def _load(extra: list[Path] | None) -> Catalog:
    from densing import catalog

    return catalog.load(extra or None)


def _print_table(table: Table) -> None:
    """Rich table; when piped, as wide as its content (no id or number is cut)."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=100_000, color_system=None).print(table)


def _text(v: Any) -> str:
    """A cell as text; numbers in full (integral floats without '.0')."""
    if v is None:
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    return str(v)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*(_text(v) for v in r))
    return t


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in df.to_dict(orient="records")]


def _num(x: float, unit: float) -> str:
    return "?" if x is None or math.isnan(x) else f"{x / unit:.3g}"


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


# ----------------------------------------------------------------------------- list / show


def _list_rows(sub: Catalog, benchmark: str | None) -> list[list[str]]:
    wide = sub.wide([benchmark]) if benchmark else None
    scores = {} if wide is None else {str(k): float(v) for k, v in wide.iloc[:, 0].items()}
    n_scores = sub.scores.groupby("id")["benchmark"].nunique()
    rows: list[list[str]] = []
    for m in _records(sub.models):
        row = [
            m["id"],
            m["family"],
            _num(m["params"], 1e9),
            _num(m["active_params"], 1e9),
            _num(m["tokens"], 1e12),
            m["release_date"].date().isoformat(),
            m["arch"],
        ]
        if wide is not None and benchmark is not None:
            setting = wide.attrs["settings"][benchmark].get(m["id"], "")
            row += [f"{scores[m['id']]:.3f}", setting]
        else:
            row.append(str(int(n_scores.get(m["id"], 0))))
        rows.append(row)
    return rows


def list_models(
    family: Annotated[
        list[str] | None,
        typer.Option("--family", "-f", help="Only this family, any case (repeatable)."),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark", "-b", help="Only models with this benchmark (any case); show its score."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON model objects.")] = False,
    extra: ExtraOpt = None,
) -> None:
    """List catalog models (Rich table; --json for model objects with scores and sources)."""
    from densing.catalog.schema import canonical_benchmark

    bench = canonical_benchmark(benchmark) if benchmark else None
    cat = _load(extra)
    sub = cat.filter(family=family or None, benchmark=bench)
    if family and sub.models.empty:
        known = ", ".join(sorted(cat.models["family"].unique()))
        raise DensingInputError(f"no models of family {family}; families: {known}")
    if as_json:
        print_json(sub.records())
        return
    columns = ["id", "family", "params (B)", "active (B)", "tokens (T)", "released", "arch"]
    columns += [bench, "setting"] if bench else ["benchmarks"]
    _print_table(_table(f"{len(sub)} models", columns, _list_rows(sub, bench)))


def _cells(s: dict[str, Any]) -> list[str]:
    return [s["citation"] or "", s["url"] or ""]


def _show_fields(prov: dict[str, Any]) -> Table:
    tok = prov["tokens"]["value"]
    rows = [
        ["params", f"{prov['params']['value']:.4g}", *_cells(prov["params"]["source"])],
        [
            "active_params",
            f"{prov['active_params']['value']:.4g}",
            *_cells(prov["active_params"]["source"]),
        ],
        [
            "tokens",
            "unknown (unpublished)" if tok is None else f"{tok:.4g}",
            *_cells(prov["tokens"]["source"]),
        ],
        ["release_date", prov["release_date"]["value"], *_cells(prov["release_date"]["source"])],
    ]
    if prov["notes"]:
        rows.append(["notes", prov["notes"], "", ""])
    if prov["derived_from"]:
        rows.append(["derived_from", prov["derived_from"], "", ""])
    rows.append(["defined in", prov["origin"], "", ""])
    title = f"{prov['id']} ({prov['family']}, {prov['arch']})"
    return _table(title, ("field", "value", "source", "url"), rows)


def _score_cells(s: dict[str, Any]) -> list[Any]:
    cot = "yes" if s["cot"] else ""
    return [s["benchmark"], f"{s['score']:.4f}", s["shots"], cot, s["setting"], s["source"]["key"]]


def show(
    model_id: Annotated[str, typer.Argument(help="Model id, e.g. meta-llama/Llama-2-7b-hf")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the provenance as JSON.")] = False,
    extra: ExtraOpt = None,
) -> None:
    """Every field of one model with its source (citation and URL)."""
    prov = _load(extra).provenance(model_id)
    if as_json:
        print_json(prov)
        return
    _print_table(_show_fields(prov))
    used = {sc["source"]["key"]: sc["source"] for sc in prov["scores"]}
    rows = [_score_cells(s) for s in prov["scores"]]
    columns = ("benchmark", "score", "shots", "cot", "setting", "source")
    _print_table(_table("scores (sources below)", columns, rows))
    if used:
        rows = [[key, *_cells(src)] for key, src in used.items()]
        _print_table(_table("score sources", ("source", "citation", "url"), rows))


# ----------------------------------------------------------------------------- validate


def _since_models(cat: Catalog, since: str) -> list[dict[str, Any]]:
    sub = cat.released_since(since)
    n = sub.scores.groupby("id").size()
    return [
        {
            "id": m["id"],
            "family": m["family"],
            "release_date": m["release_date"].date().isoformat(),
            "params": float(m["params"]),
            "scores": int(n.get(m["id"], 0)),
        }
        for m in _records(sub.models)
    ]


def _problem_dict(p: DensingInputError) -> dict[str, Any]:
    loc = p.location
    return {
        "file": loc.file,
        "row": loc.row,
        "column": loc.column,
        "reason": p.reason,
        "message": str(p),
    }


def _report_problems(problems: list[DensingInputError], as_json: bool, file: Path | None) -> None:
    if as_json:
        print_json(
            {
                "ok": False,
                "file": None if file is None else str(file),
                "problems": [_problem_dict(p) for p in problems],
            }
        )
        raise DensingInputError(f"{len(problems)} problem(s) found (listed in the JSON output)")
    if len(problems) == 1:
        raise problems[0]
    for p in problems:
        err_console.print(f"densing: error: {p}", highlight=False, markup=False, soft_wrap=True)
    raise DensingInputError(f"{len(problems)} problems found (listed above)")


def _since_date(since: str | None) -> str | None:
    from densing.catalog.schema import parse_iso_date

    if since is None:
        return None
    try:
        return parse_iso_date(since).isoformat()
    except ValueError as exc:
        raise DensingInputError(f"--since: {exc}") from exc


def validate(
    file: Annotated[
        Path | None,
        typer.Argument(help="User CSV/Parquet/JSON/YAML file; omit to check the built-in data."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Also list the models released on or after this date (YYYY-MM-DD)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate the built-in catalog, or a user file merged on top of it (exit 2 on problems)."""
    from densing import catalog

    day = _since_date(since)
    problems = catalog.validate(file)
    if problems:
        _report_problems(problems, as_json, file)
    cat = catalog.load(file)
    listed = _since_models(cat, day) if day else None
    if as_json:
        out: dict[str, Any] = {
            "ok": True,
            "file": None if file is None else str(file),
            "problems": [],
        }
        out["coverage"] = cat.coverage()
        if listed is not None:
            out["released_since"] = {"date": day, "models": listed}
        print_json(out)
        return
    _say(f"ok: {file if file else 'built-in catalog'} is valid; {cat.summary()}")
    if listed is not None:
        rows = [
            [m["id"], m["family"], m["release_date"], _num(m["params"], 1e9), m["scores"]]
            for m in listed
        ]
        columns = ("id", "family", "released", "params (B)", "scores")
        _print_table(_table(f"{len(listed)} models released since {day}", columns, rows))


# ----------------------------------------------------------------------------- export


def check_out_path(out: Path, formats: dict[str, str]) -> str:
    """The output format of ``out`` by its suffix; refused before any work is done when the
    suffix is unknown, the path is a directory or its directory does not exist."""
    check_output_file(out, suffixes=tuple(formats))
    return formats[out.suffix.lower()]


def _export_format(fmt: str | None, out: Path | None, as_json: bool) -> str:
    if fmt is not None and fmt.lower() not in OUT_FORMATS.values():
        raise DensingInputError(f"unknown format '{fmt}'; expected csv, parquet or json")
    if out is not None:
        by_suffix = check_out_path(out, OUT_FORMATS)
        if fmt is not None and fmt.lower() != by_suffix:
            raise DensingInputError(f"--format {fmt} disagrees with the suffix of --out {out}")
        return by_suffix
    if as_json and fmt not in (None, "json"):
        raise DensingInputError(f"--json prints JSON; it cannot be combined with --format {fmt}")
    chosen = "json" if as_json else (fmt or "csv").lower()
    if chosen == "parquet":
        raise DensingInputError("--format parquet needs --out FILE.parquet")
    return chosen


def _export_frame(cat: Catalog, table: str) -> pd.DataFrame:
    makers: dict[str, Callable[[], pd.DataFrame]] = {
        "long": cat.long_table,
        "wide": cat.user_table,
        "models": lambda: cat.models,
        "scores": cat.scores_with_sources,
        "sources": lambda: cat.sources,
    }
    return makers[table]()


def _write(cat: Catalog, fmt: str, table: str | None, out: Path | None) -> int:
    """Write the export; returns the number of rows (models for the JSON object export)."""
    from densing._json import to_jsonable

    if fmt == "json" and table is None:
        text = json.dumps(to_jsonable(cat.to_dict()), indent=2) + "\n"
        n = len(cat)
    else:
        df = _export_frame(cat, table or "long")
        n = len(df)
        if fmt == "parquet" and out is not None:
            df.to_parquet(out, index=False)
            return n
        text = (
            df.to_json(orient="records", indent=2) + "\n"
            if fmt == "json"
            else df.to_csv(index=False)
        )
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    return n


def export(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output file; its suffix (.csv, .parquet, .json) is the format."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv or json on stdout (default csv); with --out, the suffix decides."
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="long (default: one row per score, lossless; the user-table format), wide (one "
            "row per model, preferred setting per benchmark), models, scores (with citation and "
            "URL) or sources. JSON without --table: model objects with scores and sources.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Without --out: the export as JSON; with --out: a JSON note of the file written.",
        ),
    ] = False,
    extra: ExtraOpt = None,
) -> None:
    """Export the catalog. The long table (default) has one row per score: id, benchmark,
    score, shots, cot, setting, source, then the model's columns [family, params, ...];
    --extra and `catalog validate` read it back losslessly."""
    if table is not None and table not in TABLES:
        raise DensingInputError(f"unknown table '{table}'; expected one of {', '.join(TABLES)}")
    fmt = _export_format(fmt, out, as_json)
    cat = _load(extra)
    n = _write(cat, fmt, table, out)
    if out is None:
        return
    if as_json:
        print_json(
            {
                "out": str(out),
                "format": fmt,
                "table": table or ("models" if fmt == "json" else "long"),
                "rows": n,
            }
        )
    else:
        err_console.print(f"wrote {out} ({n} rows)", highlight=False, markup=False)


# ----------------------------------------------------------------------------- diff


def _diff_tables(d: Any) -> list[Table]:
    added = [[m["id"], m["family"], m["release_date"], m["scores"]] for m in d.added]
    removed = [[m["id"], m["family"], m["release_date"], m["scores"]] for m in d.removed]
    fields = [[f["id"], f["field"], f["old"], f["new"]] for f in d.fields]
    new_ids = {m["id"] for m in d.added} | {m["id"] for m in d.removed}
    scores = [
        [
            s["change"],
            s["id"],
            s["benchmark"],
            s["setting"],
            s["shots"],
            s["cot"],
            s["source"],
            s["old"],
            s["new"],
        ]
        for s in d.scores
        if s["id"] not in new_ids
    ]
    model_cols = ("id", "family", "released", "scores")
    out = []
    for title, cols, rows in (
        ("models added", model_cols, added),
        ("models removed", model_cols, removed),
        ("fields changed", ("id", "field", "old", "new"), fields),
        (
            "scores of models in both (source included)",
            ("change", "id", "benchmark", "setting", "shots", "cot", "source", "old", "new"),
            scores,
        ),
    ):
        if rows:
            out.append(_table(f"{title}: {len(rows)}", cols, rows))
    return out


def diff(
    old: Annotated[
        Path, typer.Argument(help="Old catalog: a data directory or an exported table.")
    ],
    new: Annotated[
        Path, typer.Argument(help="New catalog: a data directory or an exported table.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """What changed from OLD to NEW: models added/removed, fields, scores (with source)."""
    from densing.catalog.diff import diff as catalog_diff
    from densing.catalog.diff import load_side

    for p in (old, new):
        if not p.exists():
            raise DensingInputError("file or directory not found", file=str(p))
    dirs = [p for p in (old, new) if p.is_dir()]
    sources_from = dirs[0] if dirs else None  # a table's source keys: those of the other side
    d = catalog_diff(load_side(old, sources_from), load_side(new, sources_from))
    if as_json:
        print_json(d.to_dict())
        return
    _say(f"{old} -> {new}: {d.summary()}")
    for t in _diff_tables(d):
        _print_table(t)


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command group to ``app``."""
    sub = typer.Typer(
        name="catalog",
        help="The built-in catalog of open base models: list, show, validate, export, diff.",
        no_args_is_help=True,
        cls=_Group,
    )
    for name, fn in (
        ("list", list_models),
        ("show", show),
        ("validate", validate),
        ("export", export),
        ("diff", diff),
    ):
        sub.command(name, cls=_Command)(fn)
    app.add_typer(sub, name="catalog")

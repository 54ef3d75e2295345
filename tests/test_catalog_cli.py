"""``densing catalog`` commands, run through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _catalog_files import run_cli as run
from densing.catalog import load

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cat():
    return load(cache=False)


def test_list_json_has_models_scores_and_sources(capsys, cat) -> None:
    code, out, _ = run(["catalog", "list", "--json"], capsys)
    assert code == 0
    models = json.loads(out)
    assert len(models) == len(cat)
    assert {m["id"] for m in models} == set(cat.ids)
    for m in models:
        assert m["release_date"]
        keys = [m["params_source"], m["date_source"]] + [s["source"] for s in m["scores"]]
        if m["tokens"] is not None:
            keys.append(m["tokens_source"])
        for k in keys:
            assert m["sources"][k]["citation"]
    n_scores = sum(len(m["scores"]) for m in models)
    assert n_scores == len(cat.scores)


def test_list_filters(capsys, cat) -> None:
    fam = cat.models["family"].iloc[0]
    code, out, _ = run(["catalog", "list", "--family", fam, "--json"], capsys)
    assert code == 0
    got = json.loads(out)
    assert got and {m["family"] for m in got} == {fam}
    code, out, _ = run(["catalog", "list", "--benchmark", "mmlu", "--json"], capsys)
    with_mmlu = set(cat.scores.loc[cat.scores["benchmark"] == "mmlu", "id"])
    assert {m["id"] for m in json.loads(out)} == with_mmlu
    code, out, _ = run(["catalog", "list", "--benchmark", "mmlu"], capsys)
    assert code == 0 and cat.filter(benchmark="mmlu").ids[0] in out and "mmlu" in out


def test_list_unknown_family_and_benchmark_exit_2(capsys) -> None:
    code, _, err = run(["catalog", "list", "--family", "NoSuchFamily"], capsys)
    assert code == 2 and "no models of family" in err
    code, _, err = run(["catalog", "list", "--benchmark", "mmlux"], capsys)
    assert code == 2 and "did you mean 'mmlu'" in err


def test_show_prints_every_field_with_citation_and_url(capsys, cat) -> None:
    mid = cat.ids[0]
    code, out, _ = run(["catalog", "show", mid], capsys)
    assert code == 0
    prov = cat.provenance(mid)
    assert mid in out
    for f in ("params", "active_params", "tokens", "release_date"):
        assert f in out
    assert prov["params"]["source"]["url"] in out.replace("\n", "").replace(" ", "") or (
        prov["params"]["source"]["url"] is None
    )
    code, out, _ = run(["catalog", "show", mid, "--json"], capsys)
    assert json.loads(out) == json.loads(json.dumps(prov))


def test_show_unknown_model_exit_2(capsys, cat) -> None:
    code, _, err = run(["catalog", "show", cat.ids[0] + "x"], capsys)
    assert code == 2 and "no model" in err and "did you mean" in err


def test_validate_builtin_ok(capsys, cat) -> None:
    code, out, _ = run(["catalog", "validate"], capsys)
    assert code == 0 and "ok:" in out and f"{len(cat)} models" in out


def test_validate_bad_user_file_exit_2(capsys, tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,family,params,release_date,source,mmlu,mmlu_shots\n"
        "a/x-7b,T,7e9,2024-01-01,our tech report,0.3,5\n"
        "a/y-7b,T,7e9,2024-01-01,our tech report,87,5\n"
    )
    code, _, err = run(["catalog", "validate", str(p)], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0  # one precise line
    assert f"{p}, row 2, column 'mmlu'" in err and "percentage" in err
    p.write_text(
        "id,family,params,release_date,source,mmlu,mmlu_shots\n"
        "a/x-7b,T,7e9,2024-01-01,our report,0.3,5\n"
    )
    code, out, _ = run(["catalog", "validate", str(p)], capsys)
    assert code == 0 and "ok:" in out


def test_validate_several_problems_listed(capsys, tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,family,params,release_date,source\n"
        "a/x-7b-chat,T,7e9,2024-01-01,our report\n"
        "a/y-7b,T,-7e9,2024-01-01,our report\n"
    )
    code, _, err = run(["catalog", "validate", str(p)], capsys)
    assert code == 2
    assert "row 1, column 'id'" in err and "row 2, column 'params'" in err
    assert "2 problems found" in err


def test_export_format_follows_the_out_suffix(capsys, tmp_path: Path, cat) -> None:
    code, out, _ = run(["catalog", "export", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert len(data["models"]) == len(cat) and "obscaling" in data["sources"]
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}
    for suffix, read in readers.items():
        dest = tmp_path / f"long{suffix}"
        args = ["catalog", "export", "--out", str(dest)]
        code, _, err = run([*args, "--table", "long"] if suffix == ".json" else args, capsys)
        assert code == 0, err
        df = read(dest)
        assert len(df) == len(cat.scores) + int((~cat.models["id"].isin(cat.scores["id"])).sum())
        assert list(df.columns[:7]) == [
            "id",
            "benchmark",
            "score",
            "shots",
            "cot",
            "setting",
            "source",
        ]
    dest = tmp_path / "wide.csv"
    code, _, _ = run(["catalog", "export", "--table", "wide", "--out", str(dest)], capsys)
    df = pd.read_csv(dest)
    assert code == 0 and list(df["id"]) == cat.ids and "mmlu_source" in df.columns
    dest = tmp_path / "scores.csv"
    code, _, _ = run(["catalog", "export", "--table", "scores", "--out", str(dest)], capsys)
    long = pd.read_csv(dest)
    assert len(long) == len(cat.scores) and long["citation"].notna().all()


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--format", "parquet"], "needs --out"),
        (["--format", "xlsx"], "unknown format 'xlsx'"),
        (["--out", "{tmp}/catalog.xlsx"], "suffix '.xlsx'"),
        (["--out", "{tmp}/catalog"], "suffix ''"),
        (["--out", "{tmp}/catalog.csv", "--format", "json"], "disagrees"),
        (["--out", "{tmp}/no/such/dir/catalog.csv"], "does not exist"),
        (["--out", "{tmp}"], "is a directory"),
        (["--table", "long-ish"], "unknown table"),
    ],
)
def test_export_refuses_bad_output_before_loading(
    capsys, tmp_path: Path, monkeypatch, args: list[str], phrase: str
) -> None:
    import densing.catalog

    def no_load(*_a, **_k):
        raise AssertionError("the catalog was loaded before the output was checked")

    monkeypatch.setattr(densing.catalog, "load", no_load)
    argv = ["catalog", "export", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and phrase in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_export_json_note(capsys, tmp_path: Path, cat) -> None:
    dest = tmp_path / "c.parquet"
    code, out, err = run(["catalog", "export", "--out", str(dest), "--json"], capsys)
    assert code == 0, err
    note = json.loads(out)
    assert note == {
        "out": str(dest),
        "format": "parquet",
        "table": "long",
        "rows": len(pd.read_parquet(dest)),
    }
    code, out, _ = run(["catalog", "export", "--json"], capsys)
    assert code == 0 and len(json.loads(out)["models"]) == len(cat)


def test_export_then_validate_and_extra_is_lossless(capsys, tmp_path: Path, cat) -> None:
    dest = tmp_path / "catalog.csv"
    code, _, err = run(["catalog", "export", "--out", str(dest)], capsys)
    assert code == 0, err
    code, out, _ = run(["catalog", "validate", str(dest)], capsys)
    assert code == 0 and f"{len(cat.scores)} scores" in out
    code, out, _ = run(["catalog", "list", "--extra", str(dest), "--json"], capsys)
    assert sum(len(m["scores"]) for m in json.loads(out)) == len(cat.scores)


def test_validate_json(capsys, tmp_path: Path, cat) -> None:
    code, out, _ = run(["catalog", "validate", "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and got["ok"] and got["problems"] == []
    assert got["coverage"]["models"] == len(cat)
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,family,params,release_date,source\n"
        "a/x-7b-chat,T,7e9,2024-01-01,our report\n"
        "a/y-7b,T,-7e9,2024-01-01,our report\n"
    )
    code, out, err = run(["catalog", "validate", str(p), "--json"], capsys)
    got = json.loads(out)
    assert code == 2 and not got["ok"] and err.count("\n") == 1 and "2 problem(s)" in err
    assert [(q["row"], q["column"]) for q in got["problems"]] == [(1, "id"), (2, "params")]
    assert all(q["file"] == str(p) and q["reason"] in q["message"] for q in got["problems"])


def test_list_family_and_benchmark_any_case(capsys, cat) -> None:
    fam = cat.models["family"].iloc[0]
    code, out, _ = run(["catalog", "list", "--family", fam.upper(), "--json"], capsys)
    assert code == 0 and {m["family"] for m in json.loads(out)} == {fam}
    code, out, _ = run(["catalog", "list", "--benchmark", "MMLU", "--json"], capsys)
    with_mmlu = set(cat.scores.loc[cat.scores["benchmark"] == "mmlu", "id"])
    assert code == 0 and {m["id"] for m in json.loads(out)} == with_mmlu
    code, out, _ = run(["catalog", "list", "--benchmark", "MMLU-Pro"], capsys)
    assert code == 0 and "mmlu_pro" in out


def test_help_shows_brackets_and_no_bool_metavar(capsys) -> None:
    for cmd in ("list", "show", "validate", "export", "diff", "--help"):
        code, out, _ = run(["catalog", *dict.fromkeys([cmd, "--help"])], capsys)
        assert code == 0
        assert "<bool>" not in out, cmd
    code, out, _ = run(["catalog", "export", "--help"], capsys)
    flat = " ".join(out.split())
    assert "[family, params, ...]" in flat  # Rich markup would swallow this


def test_extra_option_merges_user_file(capsys, tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,family,params,release_date,source,mmlu,mmlu_shots\n"
        "me/m-3b,Mine,3e9,2025-05-01,our report,0.5,5\n"
    )
    code, out, _ = run(["catalog", "show", "me/m-3b", "--extra", str(p), "--json"], capsys)
    assert code == 0 and json.loads(out)["scores"][0]["source"]["citation"] == "our report"


def test_subprocess_exit_code_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("id,family,params,release_date,source\na/x,T,7e9,2099-01-01,our report\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run(
        [sys.executable, "-m", "densing", "catalog", "validate", str(p)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2
    assert "column 'release_date'" in r.stderr and "future" in r.stderr

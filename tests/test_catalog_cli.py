"""``densing catalog`` commands, run through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from densing.catalog import load
from densing.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


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
        "id,family,params,release_date,source,mmlu\n"
        "a/x-7b,T,7e9,2024-01-01,our tech report,0.3\n"
        "a/y-7b,T,7e9,2024-01-01,our tech report,87\n"
    )
    code, _, err = run(["catalog", "validate", str(p)], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0  # one precise line
    assert f"{p}, row 2, column 'mmlu'" in err and "percentage" in err
    p.write_text(
        "id,family,params,release_date,source,mmlu\na/x-7b,T,7e9,2024-01-01,our report,0.3\n"
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


def test_export_formats(capsys, tmp_path: Path, cat) -> None:
    code, out, _ = run(["catalog", "export", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert len(data["models"]) == len(cat) and "obscaling" in data["sources"]
    for fmt in ("csv", "parquet"):
        dest = tmp_path / f"wide.{fmt}"
        code, _, _ = run(["catalog", "export", "--format", fmt, "--out", str(dest)], capsys)
        assert code == 0
        df = pd.read_csv(dest) if fmt == "csv" else pd.read_parquet(dest)
        assert list(df["id"]) == cat.ids
        assert "mmlu_source" in df.columns
    dest = tmp_path / "scores.csv"
    code, _, _ = run(
        ["catalog", "export", "--format", "csv", "--table", "scores", "--out", str(dest)], capsys
    )
    long = pd.read_csv(dest)
    assert len(long) == len(cat.scores) and long["citation"].notna().all()
    code, _, err = run(["catalog", "export", "--format", "parquet"], capsys)
    assert code == 2 and "--out" in err
    code, _, err = run(["catalog", "export", "--format", "xlsx"], capsys)
    assert code == 2


def test_extra_option_merges_user_file(capsys, tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,family,params,release_date,source,mmlu\nme/m-3b,Mine,3e9,2025-05-01,our report,0.5\n"
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

"""User tables of the catalog: the long layout, lossless round trips, ISO dates, strict cells."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from _catalog_files import TODAY, data_dir, family, model, one
from densing.catalog import Catalog, load, validate
from densing.errors import DensingInputError


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load()


def _same_catalog(a: Catalog, b: Catalog) -> None:
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.models.drop(columns="origin"), b.models.drop(columns="origin"))
    pd.testing.assert_frame_equal(a.sources, b.sources)


# ------------------------------------------------------------------ long layout, round trips


def test_shipped_catalog_has_benchmarks_under_several_settings(shipped: Catalog) -> None:
    # what the one-row-per-model export used to drop (40 scores on the 2026-11 data)
    per_cell = shipped.scores.groupby(["id", "benchmark"]).size()
    assert (per_cell > 1).any()
    assert int(shipped.wide().notna().sum().sum()) == len(per_cell) < len(shipped.scores)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_long_export_of_shipped_catalog_round_trips(
    tmp_path: Path, shipped: Catalog, suffix: str
) -> None:
    path = tmp_path / f"catalog{suffix}"
    table = shipped.long_table()
    if suffix == ".csv":
        table.to_csv(path, index=False)
    elif suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        path.write_text(table.to_json(orient="records"))
    assert validate(path) == []
    merged = load(path)
    assert set(merged.overridden) == set(shipped.ids)
    _same_catalog(shipped, merged)
    alone = load(path, include_builtin=False)  # the built-in sources stay known
    _same_catalog(shipped, alone)


def test_long_table_layout(tmp_path: Path) -> None:
    d = data_dir(tmp_path, {"acme.yaml": family([model(), model(id="acme/base-1b", scores=[])])})
    cat = load(data_dir=d, today=TODAY)
    t = cat.long_table()
    assert list(t.columns[:7]) == ["id", "benchmark", "score", "shots", "cot", "setting", "source"]
    assert {"family", "params", "release_date", "params_source", "derived_from"} <= set(t.columns)
    assert list(t["id"]) == ["acme/base-7b", "acme/base-7b", "acme/base-1b"]
    assert t["benchmark"].isna().tolist() == [False, False, True]  # a model without scores
    path = tmp_path / "t.csv"
    t.to_csv(path, index=False)
    again = load(path, include_builtin=False, data_dir=d, today=TODAY)
    assert again.ids == cat.ids
    pd.testing.assert_frame_equal(again.scores, cat.scores)


LONG = "id,benchmark,score,shots,cot,setting,source,family,params,release_date\n"


def _table(tmp_path: Path, text: str, name: str = "mine.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_long_table_two_params_for_one_model_is_refused(tmp_path: Path) -> None:
    p = _table(
        tmp_path,
        LONG
        + "me/m-7b,mmlu,0.6,5,false,reported,our report 2025,Mine,7e9,2025-01-01\n"
        + "me/m-7b,gsm8k,0.3,8,false,reported,our report 2025,Mine,6.7e9,2025-01-01\n",
    )
    p1 = one(validate(p))
    assert (p1.location.row, p1.location.column) == (2, "params")
    assert "params 6.7e+09 differs from 7e+09 in row 1" in str(p1) and "me/m-7b" in str(p1)


def test_long_table_scores_name_their_own_row(tmp_path: Path) -> None:
    p = _table(
        tmp_path,
        LONG
        + "me/m-7b,mmlu,0.6,5,false,reported,our report 2025,Mine,7e9,2025-01-01\n"
        + "me/m-7b,GSM8K,31,8,false,reported,our report 2025,Mine,7e9,2025-01-01\n",
    )
    p1 = one(validate(p))
    assert (p1.location.row, p1.location.column) == (2, "score") and "percentage" in str(p1)
    p.write_text(p.read_text().replace(",31,", ",0.31,"))
    cat = load(p)
    sc = cat.scores[cat.scores["id"] == "me/m-7b"]
    assert list(sc["benchmark"]) == ["mmlu", "gsm8k"]  # benchmark names in any case
    assert list(sc["shots"]) == [5, 8] and not sc["cot"].any()


def test_long_table_each_score_keeps_its_setting_and_source(tmp_path: Path) -> None:
    p = _table(
        tmp_path,
        LONG
        + "me/m-7b,mmlu,0.6,5,false,reported,our report 2025,Mine,7e9,2025-01-01\n"
        + "me/m-7b,mmlu,0.58,5,false,own-lm-eval-0.4,https://example.org/run,Mine,7e9,2025-01-01\n"
        + "me/m-7b,gsm8k,0.41,8,true,reported,our report 2025,Mine,7e9,2025-01-01\n",
    )
    cat = load(p)
    sc = cat.scores[cat.scores["id"] == "me/m-7b"]
    assert list(zip(sc["benchmark"], sc["setting"], sc["cot"], strict=True)) == [
        ("mmlu", "reported", False),
        ("mmlu", "own-lm-eval-0.4", False),
        ("gsm8k", "reported", True),
    ]
    prov = cat.provenance("me/m-7b")
    assert prov["params"]["source"]["citation"] == "our report 2025"  # the model's first row
    assert prov["scores"][1]["source"]["url"] == "https://example.org/run"


def test_wide_export_keeps_cot_and_derived_from(tmp_path: Path) -> None:
    m = model(derived_from="acme/base-70b")
    m["scores"][1]["cot"] = True
    d = data_dir(tmp_path, {"acme.yaml": family([m])})
    cat = load(data_dir=d, today=TODAY)
    assert cat.models.loc[0, "derived_from"] == "acme/base-70b"
    path = tmp_path / "wide.csv"
    cat.user_table().to_csv(path, index=False)
    again = load(path, include_builtin=False, data_dir=d, today=TODAY)
    assert again.models.loc[0, "derived_from"] == "acme/base-70b"  # was accepted, then dropped
    assert again.scores.set_index("benchmark").loc["gsm8k", "cot"]


# ------------------------------------------------------------------ ISO dates only


def _family_file(tmp_path: Path, release_date: str) -> Path:
    text = yaml.safe_dump(family([model()]), sort_keys=False)
    text = text.replace("release_date: 2024-03-01", f"release_date: {release_date}")
    p = tmp_path / "mine.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("2024-13-01", "'2024-13-01' is not a calendar date"),
        ("2024-02-30", "'2024-02-30' is not a calendar date"),
        ("2024-3-1", "expected an ISO date YYYY-MM-DD, got '2024-3-1'"),
        ("2024-03-01 10:00:00", "expected an ISO date YYYY-MM-DD"),
        ("20240301", "expected an ISO date YYYY-MM-DD, got 20240301"),
        ("March 1, 2024", "expected an ISO date YYYY-MM-DD"),
    ],
)
def test_yaml_release_date_must_be_iso(tmp_path: Path, value: str, phrase: str) -> None:
    p = _family_file(tmp_path, value)
    p1 = one(validate(p, today=TODAY))
    assert p1.location.file == str(p) and p1.location.column == "release_date"
    assert "acme/base-7b" in str(p1) and phrase in str(p1)
    line = 1 + next(i for i, t in enumerate(p.read_text().splitlines()) if "release_date" in t)
    assert f"line {line}:" in str(p1)


@pytest.mark.parametrize("value", ["01-05-2024", "2024/05/01", "May 1, 2024", "20240501", "2024"])
def test_table_release_date_must_be_iso(tmp_path: Path, value: str) -> None:
    p = _table(
        tmp_path,
        "id,family,params,release_date,source\n" + f'me/m-7b,Mine,7e9,"{value}",our report\n',
    )
    p1 = one(validate(p))
    assert (p1.location.row, p1.location.column) == (1, "release_date")
    assert "expected an ISO date YYYY-MM-DD" in str(p1)


def test_parquet_dates_are_dates(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "id": ["me/m-7b"],
            "family": ["Mine"],
            "params": [7e9],
            "release_date": [pd.Timestamp("2025-01-02")],
            "source": ["our report"],
        }
    )
    df.to_parquet(tmp_path / "m.parquet")
    cat = load(tmp_path / "m.parquet")
    assert cat.models.set_index("id").loc["me/m-7b", "release_date"] == pd.Timestamp("2025-01-02")
    df["release_date"] = [pd.Timestamp("2025-01-02 13:30")]
    df.to_parquet(tmp_path / "t.parquet")
    p1 = one(validate(tmp_path / "t.parquet"))
    assert p1.location.column == "release_date" and "without a time" in str(p1)


# ------------------------------------------------------------------ strict cells


def _json_rows(tmp_path: Path, **cells: object) -> Path:
    row = {"id": "me/j-2b", "family": "J", "params": 2e9, "release_date": "2025-01-10"}
    row |= {"source": "our report 2025", "mmlu": 0.4, **cells}
    p = tmp_path / "mine.json"
    p.write_text(json.dumps([row]))
    return p


@pytest.mark.parametrize("shots", ["yes", True, 2.5, -1])
def test_shots_must_be_an_integer(tmp_path: Path, shots: object) -> None:
    p1 = one(validate(_json_rows(tmp_path, mmlu_shots=shots)))
    assert (p1.location.row, p1.location.column) == (1, "mmlu_shots")
    assert "expected the number of shots as an integer >= 0" in str(p1)


def test_shots_as_digits_and_cot_words_are_read(tmp_path: Path) -> None:
    cat = load(_json_rows(tmp_path, mmlu_shots="5", mmlu_cot="TRUE"))
    sc = cat.scores[cat.scores["id"] == "me/j-2b"].iloc[0]
    assert sc["shots"] == 5 and bool(sc["cot"]) is True
    p1 = one(validate(_json_rows(tmp_path, mmlu_cot="maybe")))
    assert p1.location.column == "mmlu_cot" and "expected cot as true or false" in str(p1)


@pytest.mark.parametrize(
    ("rows", "row", "column", "phrase"),
    [
        (
            "id,family,params,active_params,arch,release_date,source\n"
            "me/moe-8b,M,8e9,9e9,moe,2025-01-01,our report\n",
            1,
            "active_params",
            "active_params 9e+09 is larger than params 8e+09",
        ),
        (
            "id,family,params,release_date,source\n"
            "me/m-7b,M,7e9,2025-01-01,our report\nme/m-7b,M,6.7e9,2025-01-01,our report\n",
            2,
            "id",
            "duplicated model id 'me/m-7b'",
        ),
    ],
)
def test_model_rules_in_a_wide_table(
    tmp_path: Path, rows: str, row: int, column: str, phrase: str
) -> None:
    p1 = one(validate(_table(tmp_path, rows)))
    assert (p1.location.row, p1.location.column) == (row, column) and phrase in str(p1)


def test_unsupported_suffix_and_directory(tmp_path: Path) -> None:
    x = _table(tmp_path, "whatever", name="mine.xlsx")
    assert "unsupported file type '.xlsx'" in str(one(validate(x)))
    assert "expected a file, got a directory" in str(one(validate(tmp_path)))
    with pytest.raises(DensingInputError, match="file not found"):
        load(tmp_path / "nope.csv")


def test_today_defaults_to_the_real_date(tmp_path: Path) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    p = _family_file(tmp_path, tomorrow.isoformat())
    assert "is in the future" in str(one(validate(p)))

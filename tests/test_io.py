from __future__ import annotations

import pandas as pd
import pytest

from densing.errors import DensingInputError
from densing.io import date_column, id_column, numeric_column, read_table, score_column


def _write(tmp_path, text: str, name: str = "t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_column_names_file_and_column(tmp_path):
    df = read_table(_write(tmp_path, "params,tokens\n1,2\n"))
    with pytest.raises(DensingInputError) as e:
        numeric_column(df, "loss")
    assert "t.csv" in str(e.value) and "'loss'" in str(e.value)


@pytest.mark.parametrize(
    ("text", "row", "fragment"),
    [
        ("x\n1\n-2\n", 2, "must be > 0"),
        ("x\n1\nabc\n", 2, "not a number"),
        ("x\n1\n2\ninf\n", 3, "not finite"),
        ("x\n1\n\n3\n", None, None),  # pandas skips blank lines: 2 rows, fine
    ],
)
def test_numeric_column_errors(tmp_path, text, row, fragment):
    p = _write(tmp_path, text)
    df = read_table(p)
    if fragment is None:
        if df["x"].isna().any():
            with pytest.raises(DensingInputError, match="missing value"):
                numeric_column(df, "x", positive=True)
        else:
            assert numeric_column(df, "x", positive=True).tolist() == [1.0, 3.0]
        return
    with pytest.raises(DensingInputError) as e:
        numeric_column(df, "x", positive=True)
    assert e.value.location.row == row
    assert fragment in str(e.value)


def test_percentages_detected(tmp_path):
    df = read_table(_write(tmp_path, "s\n0.5\n87\n"))
    with pytest.raises(DensingInputError, match="percentages") as e:
        score_column(df, "s")
    assert e.value.location.row == 2


def test_bad_date_and_duplicate_ids(tmp_path):
    df = read_table(_write(tmp_path, "model,release_date\na,2024-01-02\nb,2024-13-45\n"))
    with pytest.raises(DensingInputError, match="not an ISO date") as e:
        date_column(df, "release_date")
    assert e.value.location.row == 2
    df = pd.DataFrame({"model": ["a", "b", "a"]})
    with pytest.raises(DensingInputError, match="duplicated model id 'a'") as e:
        id_column(df, "model")
    assert e.value.location.row == 3


def test_unsupported_and_missing_file(tmp_path):
    with pytest.raises(DensingInputError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DensingInputError, match="unsupported file type"):
        read_table(_write(tmp_path, "x", name="a.xlsx"))


@pytest.mark.parametrize("bad", ["01-05-2024", "2024", "May 1 2024", "20240501", "2024/05/01"])
def test_only_iso_dates(tmp_path, bad):
    """Dates that pandas would guess (01-05-2024 as 5 January) are refused: ISO only."""
    df = read_table(_write(tmp_path, f"model,release_date\na,2024-01-02\nb,{bad}\n"))
    with pytest.raises(DensingInputError, match="not an ISO date") as e:
        date_column(df, "release_date")
    assert e.value.location.row == 2 and e.value.location.column == "release_date"

"""``densing catalog diff`` and ``catalog validate --since``: what changed, for reviewers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _catalog_files import TODAY, data_dir, family, model
from _catalog_files import run_cli as run
from densing.catalog import load
from densing.catalog.diff import diff


@pytest.fixture
def two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """OLD: base-7b, base-1b. NEW: base-7b with a new size, an mmlu value corrected and an
    mmlu score under a second setting; base-1b removed; base-3b added (released 2025)."""
    no_shots = {
        "benchmark": "xwinograd",
        "score": 0.7,
        "setting": "obscaling",
        "source": "obscaling",
    }
    small = model(id="acme/base-1b", params=1.1e9, active_params=1.1e9)
    base = model()
    base["scores"].append(no_shots)
    old = data_dir(tmp_path / "old", {"acme.yaml": family([base, small])})
    changed = model(params=7.2e9, active_params=7.2e9)
    changed["scores"].append(no_shots)  # unchanged, and without shots
    changed["scores"][1]["score"] = 0.33  # gsm8k (reported): corrected value
    changed["scores"].append(
        {
            "benchmark": "mmlu",
            "score": 0.64,
            "shots": 5,
            "setting": "reported",
            "source": "acme-paper",
        }
    )
    added = model(id="acme/base-3b", params=3e9, active_params=3e9, release_date="2025-06-01")
    new = data_dir(tmp_path / "new", {"acme.yaml": family([changed, added])})
    return old, new


def test_diff_lists_models_fields_and_scores(two_dirs: tuple[Path, Path]) -> None:
    old, new = (load(data_dir=d, today=TODAY) for d in two_dirs)
    d = diff(old, new)
    assert [m["id"] for m in d.added] == ["acme/base-3b"]
    assert d.added[0]["release_date"] == "2025-06-01" and d.added[0]["scores"] == 2
    assert [m["id"] for m in d.removed] == ["acme/base-1b"]
    assert {(f["id"], f["field"], f["old"], f["new"]) for f in d.fields} == {
        ("acme/base-7b", "params", 7e9, 7.2e9),
        ("acme/base-7b", "active_params", 7e9, 7.2e9),
    }
    mine = [s for s in d.scores if s["id"] == "acme/base-7b"]
    by_change = {s["change"]: s for s in mine}
    assert len(mine) == 2
    assert by_change["changed"]["benchmark"] == "gsm8k"
    assert (by_change["changed"]["old"], by_change["changed"]["new"]) == (0.3, 0.33)
    assert by_change["changed"]["source"] == "acme:acme-paper"
    assert by_change["added"]["benchmark"] == "mmlu" and by_change["added"]["setting"] == "reported"
    assert d.counts() == {
        "models_added": 1,
        "models_removed": 1,
        "fields_changed": 2,
        "scores_added": 3,  # base-3b's two and base-7b's second mmlu setting
        "scores_removed": 2,  # base-1b's two
        "scores_changed": 1,
    }
    assert not diff(old, old) and diff(old, old).summary() == "no changes"


def test_diff_cli_human_and_json(two_dirs: tuple[Path, Path], capsys) -> None:
    old, new = two_dirs
    code, out, err = run(["catalog", "diff", str(old), str(new)], capsys)
    assert code == 0, err
    assert "1 added, 1 removed; 2 field(s) changed" in out
    assert "acme/base-3b" in out and "acme/base-1b" in out
    assert "0.3" in out and "0.33" in out and "acme:acme-paper" in out
    code, out, _ = run(["catalog", "diff", str(old), str(new), "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and got["counts"]["scores_changed"] == 1
    assert {s["change"] for s in got["scores"]} == {"added", "removed", "changed"}


def test_diff_of_an_exported_table_equals_the_diff_of_its_directory(
    two_dirs: tuple[Path, Path], capsys, tmp_path: Path
) -> None:
    old, new = two_dirs
    table = tmp_path / "new.csv"
    load(data_dir=new, today=TODAY).long_table().to_csv(table, index=False)
    code, by_dir, err = run(["catalog", "diff", str(old), str(new), "--json"], capsys)
    assert code == 0, err
    code, by_table, err = run(["catalog", "diff", str(old), str(table), "--json"], capsys)
    assert code == 0, err
    assert json.loads(by_table) == json.loads(by_dir)


def test_diff_of_shipped_data_with_its_export_is_empty(tmp_path: Path, capsys) -> None:
    from densing.catalog import DATA_DIR

    table = tmp_path / "shipped.csv"
    code, _, err = run(["catalog", "export", "--out", str(table)], capsys)
    assert code == 0, err
    code, out, err = run(["catalog", "diff", str(DATA_DIR), str(table), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"] == dict.fromkeys(
        [
            "models_added",
            "models_removed",
            "fields_changed",
            "scores_added",
            "scores_removed",
            "scores_changed",
        ],
        0,
    )


def test_diff_refuses_what_is_not_a_catalog(tmp_path: Path, capsys) -> None:
    code, _, err = run(["catalog", "diff", str(tmp_path), str(tmp_path / "nope")], capsys)
    assert code == 2 and err.count("\n") == 1 and "not found" in err
    code, _, err = run(["catalog", "diff", str(tmp_path), str(tmp_path)], capsys)
    assert code == 2 and "expected a catalog data directory" in err


def test_validate_since_lists_recent_models(capsys) -> None:
    cat = load()
    since = "2025-01-01"
    want = cat.models.loc[cat.models["release_date"] >= since, "id"].tolist()
    code, out, _ = run(["catalog", "validate", "--since", since, "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and got["ok"] and got["released_since"]["date"] == since
    assert [m["id"] for m in got["released_since"]["models"]] == want
    code, out, _ = run(["catalog", "validate", "--since", since], capsys)
    assert code == 0 and f"{len(want)} models released since {since}" in out
    for mid in want:
        assert mid in out
    code, _, err = run(["catalog", "validate", "--since", "01/01/2025"], capsys)
    assert code == 2 and "expected an ISO date YYYY-MM-DD" in err

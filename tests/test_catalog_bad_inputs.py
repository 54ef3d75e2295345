"""The bad-input corpus of the catalog commands (tests/data/bad/catalog/).

Each file breaks one rule (named by the file). Reading it with ``catalog validate FILE`` or
``catalog list --extra FILE`` must end with exit code 2 and exactly one line on stderr that
names the file, without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from densing.cli import main

CORPUS = Path(__file__).parent / "data" / "bad" / "catalog"
FILES = sorted(CORPUS.iterdir())
# the part of the message that shows the rule each file breaks
EXPECTED = {
    "active-above-params.csv": "is larger than params",
    "column-twice.csv": "appears twice",
    "date-before-2018.csv": "before 2018-01-01",
    "date-day-first.csv": "expected an ISO date YYYY-MM-DD",
    "date-with-slashes.csv": "expected an ISO date YYYY-MM-DD",
    "dense-active-differs.yaml": "a dense model has active_params == params",
    "duplicate-id.csv": "duplicated model id",
    "duplicate-score.yaml": "appears twice",
    "duplicated-key.yaml": "duplicated key 'arch'",
    "empty.yaml": "the file is empty",
    "fewshot-column.json": "unknown column 'fewshot'",
    "future-date.csv": "is in the future",
    "instruct-id.yaml": "not a base model",
    "long-cot-not-boolean.csv": "expected cot as true or false",
    "long-duplicate-score.csv": "appears twice",
    "long-score-without-benchmark.csv": "its benchmark is empty",
    "long-two-params.csv": "a model's columns must be the same on each of its rows",
    "long-unknown-benchmark.csv": "unknown benchmark 'mmlux'",
    "missing-family.csv": "missing family",
    "model-not-a-mapping.yaml": "expected a model mapping",
    "no-rows.csv": "no data rows",
    "no-source-column.csv": "no source column",
    "not-yaml.yaml": "not valid YAML at line",
    "openllm-v1-benchmark.yaml": "not part of the openllm-v1 setting",
    "percentage-score.yaml": "looks like a percentage",
    "reported-without-shots.yaml": "a reported score needs the number of shots",
    "release-date-month-13.yaml": "'2024-13-01' is not a calendar date",
    "release-date-not-iso.yaml": "expected an ISO date YYYY-MM-DD, got '2024-3-1'",
    "shots-not-integer.yaml": "number of shots as an integer",
    "shots-true.json": "number of shots as an integer",
    "shots-yes.json": "number of shots as an integer",
    "size-in-billions.csv": "looks like billions",
    "source-single-word.csv": "unknown source key 'acmereport'",
    "table.xlsx": "unsupported file type '.xlsx'",
    "tokens-in-trillions.csv": "looks like trillions",
    "tokens-without-source.yaml": "has no tokens_source",
    "tuned-notes.yaml": "not a base model (notes say",
    "unknown-benchmark.yaml": "unknown benchmark 'mmlux'",
    "unknown-column.csv": "unknown column 'mmlu_score'",
    "unknown-field.yaml": "unknown field",
    "unknown-setting.yaml": "unknown setting 'reproted'",
    "unknown-source-key.yaml": "unknown source key 'crad'",
}


def test_corpus_is_complete() -> None:
    assert len(FILES) >= 12
    assert sorted(p.name for p in FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("command", [["catalog", "validate"], ["catalog", "list", "--extra"]])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_bad_input_is_one_line_and_exit_2(
    path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, str(path)])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"densing: error: {path}")
    assert EXPECTED[path.name] in lines[0]
    assert "Traceback" not in err

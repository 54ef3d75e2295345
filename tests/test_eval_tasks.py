"""Task files: JSONL/YAML parsing, errors naming the line, seeded few-shot drawing, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from densing.errors import DensingInputError
from densing.evaluation.tasks import load_task, read_items


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _items(n: int, pool: int = 0) -> list[dict]:
    rows = [
        {"id": f"s{i}", "prompt": f"shot {i}", "target": f"t{i}", "fewshot": True}
        for i in range(pool)
    ]
    rows += [{"id": f"q{i}", "prompt": f"question {i}", "target": f"answer {i}"} for i in range(n)]
    return rows


def test_jsonl_items_pool_and_choice_target(tmp_path: Path) -> None:
    rows = [
        *_items(3, pool=2),
        {"id": "mc", "prompt": "pick", "choices": ["a", "b", "c"], "label": 2},
    ]
    items, pool = read_items(_write(tmp_path / "t.jsonl", rows))
    assert [it.id for it in items] == ["q0", "q1", "q2", "mc"]
    assert [it.id for it in pool] == ["s0", "s1"]
    assert items[-1].target == "c" and items[-1].choices == ("a", "b", "c")
    assert items[1].line == 4  # 1-based line in the file


@pytest.mark.parametrize(
    ("line", "column", "needle"),
    [
        ('{"id": "x", "prompt": "p", "target": "t"', None, "malformed JSON"),
        ('{"id": "x", "prompt": "p", "target": ""}', "target", "non-empty"),
        ('{"id": "x", "prompt": "p", "target": "   "}', "target", "non-empty"),
        ('{"id": "x", "prompt": "p", "choices": ["a", "b"], "label": 2}', "label", "out of range"),
        ('{"id": "x", "prompt": "p", "choices": ["a", "b"], "label": -1}', "label", "out of range"),
        ('{"id": "x", "prompt": "p", "target": "t", "label": 0}', "label", "without 'choices'"),
        ('{"prompt": "p", "target": "t"}', "id", "missing 'id'"),
        ('{"id": "q0", "prompt": "p", "target": "t"}', "id", "duplicate id"),
        ("[1, 2]", None, "JSON object"),
    ],
)
def test_bad_jsonl_names_the_line(
    tmp_path: Path, line: str, column: str | None, needle: str
) -> None:
    p = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "q0", "prompt": "p", "target": "t"})
    p.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(DensingInputError) as info:
        load_task(p)
    assert info.value.location.row == 3
    assert info.value.location.column == column
    assert needle in str(info.value)
    assert "bad.jsonl" in str(info.value)


def test_yaml_spec_fixed_shots_are_seeded_and_shared(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", _items(4, pool=6))
    spec = tmp_path / "t.yaml"
    spec.write_text(
        'name: demo\ndata: d.jsonl\ntemplate: "Q: {prompt}\\nA:"\nnum_fewshot: 3\n'
        'fewshot_seed: 7\ndescription: "Answer.\\n\\n"\n',
        encoding="utf-8",
    )
    task = load_task(spec)
    assert task.name == "demo" and len(task.items) == 4
    shots = [tuple(s.id for s in task.shots_for(it)) for it in task.items]
    assert len(set(shots)) == 1 and len(shots[0]) == 3  # one fixed draw for every item
    assert shots[0] == tuple(s.id for s in load_task(spec).shots_for(task.items[0]))
    r = task.render(task.items[0])
    first = task.shots_for(task.items[0])[0]
    assert r.context.startswith(f"Answer.\n\nQ: shot {first.id[1:]}\nA: {first.target}\n\n")
    assert r.context.endswith("Q: question 0\nA:") and r.continuation == " answer 0"
    assert r.context.startswith(r.prefix) and r.prefix.endswith("\n\n")
    # a different seed draws different shots (6 choose 3 = 20 draws; 7 vs 8 differ here)
    spec2 = tmp_path / "t2.yaml"
    spec2.write_text(spec.read_text().replace("fewshot_seed: 7", "fewshot_seed: 8"))
    assert load_task(spec2).hash != task.hash


def test_per_item_shots_differ_and_are_reproducible(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", _items(6, pool=8))
    spec = tmp_path / "t.yaml"
    spec.write_text("data: d.jsonl\nnum_fewshot: 2\nfewshot_sampling: per_item\n")
    a, b = load_task(spec), load_task(spec)
    draws = [tuple(s.id for s in a.shots_for(it)) for it in a.items]
    assert len(set(draws)) > 1
    assert draws == [tuple(s.id for s in b.shots_for(it)) for it in b.items]


def test_trailing_whitespace_moves_into_the_target(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", _items(1))
    spec = tmp_path / "t.yaml"
    spec.write_text("data: d.jsonl\ntemplate: '{prompt} answer: '\ntarget_delimiter: ''\n")
    r = load_task(spec).render(load_task(spec).items[0])
    assert r.context == "question 0 answer:" and r.continuation == " answer 0"


def test_spec_errors(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", _items(2, pool=1))
    bad = tmp_path / "b.yaml"
    bad.write_text("data: d.jsonl\nnum_fewshot: 3\n")
    with pytest.raises(DensingInputError, match="pool of at least 3"):
        load_task(bad)
    bad.write_text("data: d.jsonl\ntemplate: '{missing_field}'\n")
    with pytest.raises(DensingInputError, match="missing_field"):
        load_task(bad)
    bad.write_text("data: d.jsonl\nshots: 3\n")
    with pytest.raises(DensingInputError, match="unknown key"):
        load_task(bad)
    bad.write_text("data: d.jsonl\nfewshot_sampling: random\n")
    with pytest.raises(DensingInputError, match="fewshot_sampling"):
        load_task(bad)
    with pytest.raises(DensingInputError, match="not found"):
        load_task(tmp_path / "nope.jsonl")


def test_task_hash_tracks_items_and_recipe(tmp_path: Path) -> None:
    p = _write(tmp_path / "d.jsonl", _items(3, pool=2))
    h0 = load_task(p).hash
    assert load_task(p).hash == h0
    assert load_task(p, num_fewshot=1).hash != h0
    rows = _items(3, pool=2)
    rows[-1]["target"] = "changed"
    assert load_task(_write(tmp_path / "d2.jsonl", rows)).hash != h0

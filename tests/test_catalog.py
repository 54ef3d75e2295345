"""The built-in catalog: schema on the shipped data, planted errors, user files, spot checks."""

from __future__ import annotations

import copy
import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from _catalog_files import TODAY, data_dir, family, model, one
from densing import catalog
from densing.catalog import BENCHMARKS, Catalog, load, setting_rank, validate
from densing.catalog.cache import cache_dir
from densing.errors import DensingInputError


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load(cache=False)


# ------------------------------------------------------------------ shipped data


def test_shipped_data_is_valid(shipped: Catalog) -> None:
    assert validate() == []
    assert len(shipped) >= 1
    m = shipped.models
    assert list(m.columns[:11]) == [
        "id",
        "family",
        "params",
        "active_params",
        "tokens",
        "release_date",
        "arch",
        "notes",
        "params_source",
        "tokens_source",
        "date_source",
    ]
    assert m["id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(m["release_date"])
    assert m["tokens"].dtype == float
    assert (m["params"] > 0).all() and (m["active_params"] <= m["params"]).all()
    assert set(m["arch"]) <= {"dense", "moe"}
    assert (m["release_date"] >= pd.Timestamp("2018-01-01")).all()
    s = shipped.scores
    assert s["score"].between(0, 1).all()
    assert set(s["benchmark"]) <= set(BENCHMARKS)
    assert set(s["id"]) <= set(m["id"])
    # tokens_source present iff tokens present
    assert (m["tokens"].isna() == m["tokens_source"].isna()).all()


def test_every_value_has_a_source(shipped: Catalog) -> None:
    keys = set(shipped.sources["key"])
    assert shipped.coverage()["values_without_source"] == 0
    assert shipped.models["params_source"].isin(keys).all()
    assert shipped.models["date_source"].isin(keys).all()
    known_tokens = shipped.models["tokens"].notna()
    assert shipped.models.loc[known_tokens, "tokens_source"].isin(keys).all()
    assert shipped.scores["source"].isin(keys).all()
    assert shipped.sources["citation"].str.len().gt(0).all()
    assert "obscaling" in keys


def test_no_instruct_models_shipped(shipped: Catalog) -> None:
    for mid in shipped.ids:
        name = mid.rsplit("/", 1)[-1].lower()
        assert "instruct" not in name and "-chat" not in name and not name.endswith("-it")


def test_provenance_names_citation_and_url_for_every_field(shipped: Catalog) -> None:
    mid = shipped.ids[0]
    prov = shipped.provenance(mid)
    for f in ("params", "active_params", "release_date"):
        assert prov[f]["source"]["citation"]
    assert len(prov["scores"]) == int((shipped.scores["id"] == mid).sum())
    for sc in prov["scores"]:
        assert sc["source"]["citation"] and sc["source"]["key"]


def test_provenance_unknown_id_suggests(shipped: Catalog) -> None:
    mid = shipped.ids[0]
    with pytest.raises(DensingInputError, match="no model"):
        shipped.provenance(mid + "-nope")


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("meta-llama/Llama-2-7b-hf", 6.74e9),
        ("meta-llama/Llama-2-13b-hf", 13.0e9),
        ("meta-llama/Llama-2-70b-hf", 69.0e9),
        ("mistralai/Mistral-7B-v0.1", 7.24e9),
        ("huggyllama/llama-7b", 6.74e9),
        ("EleutherAI/pythia-160m-deduped", 0.162e9),
        ("Qwen/Qwen2.5-7B", 7.61e9),
        ("mistralai/Mixtral-8x7B-v0.1", 46.7e9),
    ],
)
def test_well_known_sizes(shipped: Catalog, model_id: str, expected: float) -> None:
    if model_id not in shipped.ids:
        pytest.skip(f"{model_id} not in the catalog (yet)")
    got = float(shipped.models.set_index("id").loc[model_id, "params"])
    assert got == pytest.approx(expected, rel=0.03)


def test_mixtral_active_params_when_present(shipped: Catalog) -> None:
    mid = "mistralai/Mixtral-8x7B-v0.1"
    if mid not in shipped.ids:
        pytest.skip(f"{mid} not in the catalog (yet)")
    row = shipped.models.set_index("id").loc[mid]
    assert row["arch"] == "moe"
    assert row["active_params"] == pytest.approx(12.9e9, rel=0.03)


# ------------------------------------------------------------------ spot checks vs ObsScaling

_OBS_V1 = {
    "mmlu": "MMLU",
    "arc_challenge": "ARC-C",
    "hellaswag": "HellaSwag",
    "winogrande": "Winograd",
    "truthfulqa": "TruthfulQA",
    "gsm8k": "GSM8K",
}


def _obscaling_checks(cat: Catalog, shared: Path) -> tuple[int, list[str]]:
    csv = pd.read_csv(shared / "obscaling" / "base_llm_benchmark_eval.csv").set_index("Model")
    sc = cat.scores[(cat.scores["setting"] == "openllm-v1") & (cat.scores["source"] == "obscaling")]
    checked, bad = 0, []
    for r in sc.itertuples(index=False):
        if r.id not in csv.index:
            bad.append(f"{r.id}: cites obscaling but is not a Model of the ObsScaling CSV")
            continue
        want = csv.loc[r.id, _OBS_V1[r.benchmark]]
        if pd.isna(want):
            bad.append(f"{r.id} {r.benchmark}: ObsScaling has no value, catalog has {r.score}")
            continue
        checked += 1
        # values may be copied with 4 decimals: allow the rounding error only
        if not math.isclose(r.score, float(want), abs_tol=5.1e-5):
            bad.append(f"{r.id} {r.benchmark}: catalog {r.score} != ObsScaling {want}")
    return checked, bad


def test_openllm_v1_values_equal_obscaling(shipped: Catalog, shared_data: Path) -> None:
    checked, bad = _obscaling_checks(shipped, shared_data)
    assert bad == []
    n_models = shipped.scores.loc[
        (shipped.scores["setting"] == "openllm-v1") & (shipped.scores["source"] == "obscaling"),
        "id",
    ].nunique()
    assert checked >= min(20, n_models)
    assert checked >= 1


def test_at_least_20_obscaling_spot_checks_with_full_data(
    shipped: Catalog, shared_data: Path
) -> None:
    if len(shipped) < 120:
        pytest.skip(f"full catalog not merged yet ({len(shipped)} models < 120)")
    checked, bad = _obscaling_checks(shipped, shared_data)
    assert bad == []
    assert checked >= 20


def test_coverage_bars_of_issue_3(shipped: Catalog) -> None:
    if len(shipped) < 100:
        pytest.skip(
            f"coverage bar applies to the merged catalog; only {len(shipped)} models shipped yet"
        )
    cov = shipped.coverage()
    assert cov["models_with_date"] >= 120
    assert cov["families"] >= 25
    per = cov["models_per_benchmark"]
    assert per["mmlu"] >= 80
    assert per["gsm8k"] >= 40
    assert per["humaneval"] >= 40
    for b in ("arc_challenge", "hellaswag", "winogrande"):
        assert per[b] >= 1
    assert cov["values_without_source"] == 0
    years = shipped.models["release_date"].dt.year
    assert years.min() >= 2019 and years.max() <= dt.date.today().year


# ------------------------------------------------------------------ planted errors


def _problems(tmp_path: Path, models: list[dict[str, Any]]) -> list[DensingInputError]:
    d = data_dir(tmp_path, {"acme.yaml": family(models)})
    return validate(data_dir=d, today=TODAY)


def test_clean_planted_family_is_valid(tmp_path: Path) -> None:
    good = [model(), model(id="acme/base-1b", params=1.1e9, active_params=1.1e9)]
    assert _problems(tmp_path, good) == []
    d = data_dir(tmp_path / "x", {"acme.yaml": family(good)})
    cat = load(data_dir=d, today=TODAY)
    assert cat.ids == ["acme/base-7b", "acme/base-1b"]
    assert cat.provenance("acme/base-7b")["params"]["source"]["key"] == "acme:acme-card"
    assert cat.provenance("acme/base-7b")["params"]["source"]["url"] == "https://example.org/card"


def test_percentage_score_is_caught(tmp_path: Path) -> None:
    m = model()
    m["scores"][0]["score"] = 87
    p = one(_problems(tmp_path, [model(id="acme/base-1b"), m]))
    assert p.location.file.endswith("acme.yaml")
    assert p.location.row == 2
    assert p.location.column == "scores[0].score"
    assert "acme/base-7b" in str(p)
    assert "percentage" in str(p) and "0.87" in str(p)
    lines = Path(p.location.file).read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(lines) if t.strip() == "score: 87")
    assert f"line {line}:" in str(p)


def test_future_date_is_caught(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(release_date=dt.date(2027, 1, 5))]))
    assert p.location.column == "release_date" and p.location.row == 1
    assert "2027-01-05 is in the future" in str(p) and "acme/base-7b" in str(p)


def test_date_before_2018_is_caught(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(release_date="2015-06-01")]))
    assert p.location.column == "release_date" and "before 2018-01-01" in str(p)


def test_negative_size_is_caught(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(params=-7e9)]))
    assert p.location.column == "params" and "positive" in str(p)


def test_size_in_billions_is_caught(tmp_path: Path) -> None:
    p = _problems(tmp_path, [model(params=7, active_params=7)])[0]
    assert p.location.column == "params" and "billions" in str(p)


def test_active_larger_than_total_is_caught(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(arch="moe", params=4.7e10, active_params=5e10)]))
    assert p.location.column == "active_params" and "larger than params" in str(p)


@pytest.mark.parametrize(
    "bad_id",
    [
        "acme/base-7b-Instruct",
        "acme/base-7b-chat",
        "acme/gemma-7b-it",
        "acme/base-7b-sft",
        "acme/base-7b-DPO",
    ],
)
def test_instruct_model_is_caught(tmp_path: Path, bad_id: str) -> None:
    p = one(_problems(tmp_path, [model(id=bad_id)]))
    assert p.location.column == "id" and "not a base model" in str(p) and bad_id in str(p)


def test_instruct_notes_are_caught_but_negations_pass(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(notes="instruction-tuned on FLAN")]))
    assert p.location.column == "notes" and "not a base model" in str(p)
    assert _problems(tmp_path / "b", [model(notes="base model, not instruction-tuned")]) == []


def test_duplicated_id_across_files_is_caught(tmp_path: Path) -> None:
    d = data_dir(
        tmp_path,
        {"acme.yaml": family([model()]), "acme-two.yaml": family([model()], "Acme Two")},
    )
    p = one(validate(data_dir=d, today=TODAY))
    assert "duplicated model id 'acme/base-7b'" in str(p)
    assert p.location.file.endswith("acme.yaml") or p.location.file.endswith("acme-two.yaml")
    assert "acme" in p.reason and p.location.column == "id"


def test_unknown_source_key_is_caught(tmp_path: Path) -> None:
    m = model()
    m["scores"][1]["source"] = "acme-papr"
    p = one(_problems(tmp_path, [m]))
    assert p.location.column == "scores[1].source"
    assert "unknown source key 'acme-papr'" in str(p) and "did you mean 'acme-paper'" in str(p)


def test_unknown_benchmark_is_caught(tmp_path: Path) -> None:
    m = model()
    m["scores"][0]["benchmark"] = "MMLU"
    p = one(_problems(tmp_path, [m]))
    assert p.location.column == "scores[0].benchmark" and "did you mean 'mmlu'" in str(p)


def test_tokens_source_iff_tokens(tmp_path: Path) -> None:
    p = one(_problems(tmp_path, [model(tokens=None)]))
    assert p.location.column == "tokens_source" and "tokens is null" in str(p)
    p = one(_problems(tmp_path / "b", [model(tokens_source=None)]))
    assert p.location.column == "tokens_source" and "no tokens_source" in str(p)


def test_unknown_field_and_missing_field(tmp_path: Path) -> None:
    m = model(paramz=1)
    del m["date_source"]
    probs = _problems(tmp_path, [m])
    cols = {p.location.column for p in probs}
    assert cols == {"paramz", "date_source"}


def test_local_source_key_clashing_with_global_is_caught(tmp_path: Path) -> None:
    fam = family([model()])
    fam["sources"]["obscaling"] = {"citation": "shadow"}
    p = one(validate(data_dir=data_dir(tmp_path, {"acme.yaml": fam}), today=TODAY))
    assert p.location.column == "sources.obscaling" and "clashes" in str(p)


def test_openllm_v1_setting_only_for_its_benchmarks(tmp_path: Path) -> None:
    m = model()
    m["scores"].append(
        {
            "benchmark": "humaneval",
            "score": 0.2,
            "shots": 0,
            "setting": "openllm-v1",
            "source": "obscaling",
        }
    )
    p = one(_problems(tmp_path, [m]))
    assert p.location.column == "scores[2].setting"


def test_load_raises_first_problem_and_counts_the_rest(tmp_path: Path) -> None:
    d = data_dir(tmp_path, {"acme.yaml": family([model(params=-1), model(id="x/y-chat")])})
    with pytest.raises(DensingInputError, match=r"row 1, column 'params'.*1 more problem"):
        load(data_dir=d, today=TODAY)


def test_duplicated_yaml_key_is_caught(tmp_path: Path) -> None:
    d = data_dir(tmp_path, {"acme.yaml": family([model()])})
    f = d / "families" / "acme.yaml"
    lines = f.read_text().splitlines()
    i = next(k for k, t in enumerate(lines) if t.strip().startswith("params:"))
    lines.insert(i + 1, "  params: 8.0e+9")
    f.write_text("\n".join(lines) + "\n")
    p = one(validate(data_dir=d, today=TODAY))
    assert f"line {i + 2}" in str(p) and "duplicated key 'params'" in str(p)


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    d = data_dir(tmp_path, {})
    (d / "families" / "acme.yaml").write_text("family: Acme\nmodels: [\n  - id: x\n")
    p = one(validate(data_dir=d, today=TODAY))
    assert "not valid YAML" in str(p) and "line" in str(p)


# ------------------------------------------------------------------ wide / filter / families


def test_wide_prefers_uniform_harness_and_records_setting(tmp_path: Path) -> None:
    m = model()
    m["scores"].append(
        {
            "benchmark": "mmlu",
            "score": 0.64,
            "shots": 5,
            "setting": "reported",
            "source": "acme-paper",
        }
    )
    other = model(
        id="acme/base-1b",
        params=1e9,
        active_params=1e9,
        scores=[
            {
                "benchmark": "mmlu",
                "score": 0.3,
                "shots": 5,
                "setting": "reported",
                "source": "acme-paper",
            }
        ],
    )
    cat = load(data_dir=data_dir(tmp_path, {"acme.yaml": family([m, other])}), today=TODAY)
    w = cat.wide()
    assert list(w.columns) == ["mmlu", "gsm8k"]
    assert w.loc["acme/base-7b", "mmlu"] == 0.61
    assert w.attrs["settings"]["mmlu"] == {"acme/base-7b": "openllm-v1", "acme/base-1b": "reported"}
    assert math.isnan(w.loc["acme/base-1b", "gsm8k"])
    only_reported = cat.wide(["mmlu"], setting="reported")
    assert only_reported.loc["acme/base-7b", "mmlu"] == 0.64
    assert cat.filter(benchmark="gsm8k").ids == ["acme/base-7b"]
    assert cat.filter(family="acme").ids == ["acme/base-7b", "acme/base-1b"]
    fams = cat.families()
    assert fams.loc[0, "family"] == "Acme" and fams.loc[0, "models"] == 2
    with pytest.raises(DensingInputError, match="did you mean 'gsm8k'"):
        cat.wide(["gsm8"])
    with pytest.raises(DensingInputError, match=r"no scores with setting.*did you mean 'reported'"):
        cat.wide(["mmlu"], setting="reportd")


def test_setting_rank_order() -> None:
    order = ["openllm-v1", "openllm-v2", "obscaling", "own-lm-eval-0.4", "reported"]
    assert sorted(order, key=setting_rank) == order


# ------------------------------------------------------------------ user files


def _user_csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mine.csv"
    p.write_text(text)
    return p


USER_HEADER = (
    "id,family,params,tokens,release_date,source,mmlu,mmlu_setting,gsm8k,gsm8k_source,"
    "mmlu_shots,gsm8k_shots\n"
)


def test_user_csv_merges_and_overrides(tmp_path: Path, shipped: Catalog) -> None:
    existing = shipped.ids[0]
    p = _user_csv(
        tmp_path,
        USER_HEADER
        + "my-org/tiny-1b,Tiny,1.1e9,3e12,2025-02-01,our tech report 2025,0.31,own-lm-eval-0.4,0.05,https://example.org/x,5,8\n"
        + f"{existing},Override,7e9,,2024-01-01,our re-evaluation 2025,0.5,,,,5,\n",
    )
    cat = load(p)
    assert len(cat) == len(shipped) + 1
    assert cat.overridden == (existing,)
    row = cat.models.set_index("id").loc[existing]
    assert row["family"] == "Override" and row["params"] == 7e9 and math.isnan(row["tokens"])
    assert cat.ids.index(existing) == shipped.ids.index(existing)  # replaced in place
    sc = cat.scores[cat.scores["id"] == existing]
    assert list(sc["benchmark"]) == ["mmlu"] and list(sc["setting"]) == ["reported"]
    prov = cat.provenance("my-org/tiny-1b")
    assert prov["params"]["source"]["citation"] == "our tech report 2025"
    gsm = next(s for s in prov["scores"] if s["benchmark"] == "gsm8k")
    assert gsm["source"]["url"] == "https://example.org/x"
    mmlu = next(s for s in prov["scores"] if s["benchmark"] == "mmlu")
    assert mmlu["setting"] == "own-lm-eval-0.4"
    assert cat.models.set_index("id").loc["my-org/tiny-1b", "active_params"] == 1.1e9


def test_user_csv_percentage_names_row_and_column(tmp_path: Path) -> None:
    p = _user_csv(
        tmp_path,
        USER_HEADER
        + "a/one-1b,T,1e9,,2024-01-01,our report 2025,0.3,,,,5,\n"
        + "a/two-1b,T,1e9,,2024-01-01,our report 2025,87,,,,5,\n",
    )
    p1 = one(validate(p))
    assert p1.location.file == str(p) and p1.location.row == 2 and p1.location.column == "mmlu"
    assert "percentage" in str(p1) and "a/two-1b" in str(p1)


@pytest.mark.parametrize(
    ("row", "column", "phrase"),
    [
        ("a/x-7b-instruct,T,7e9,,2024-01-01,our report 2025,,,,", "id", "not a base model"),
        ("a/x-7b,T,-7e9,,2024-01-01,our report 2025,,,,", "params", "positive"),
        ("a/x-7b,T,7e9,,2030-01-01,our report 2025,,,,", "release_date", "future"),
        ("a/x-7b,T,7e9,,2024-01-01,ourreport,,,,", "source", "unknown source key"),
        ("a/x-7b,T,7e9,1e12,2024-01-01,,0.3,,,", "params_source", "missing"),
    ],
)
def test_user_csv_errors_name_row_and_column(
    tmp_path: Path, row: str, column: str, phrase: str
) -> None:
    p = _user_csv(
        tmp_path, USER_HEADER + "a/ok-1b,T,1e9,,2024-01-01,our report 2025,,,,\n" + row + "\n"
    )
    probs = validate(p)
    assert probs, "expected a problem"
    first = probs[0]
    assert first.location.row == 2 and first.location.column == column, str(first)
    assert phrase in str(first)


def test_user_csv_duplicate_and_unknown_column(tmp_path: Path) -> None:
    p = _user_csv(
        tmp_path,
        USER_HEADER
        + "a/x-1b,T,1e9,,2024-01-01,our report 2025,,,,,,\n"
        + "a/x-1b,T,1e9,,2024-01-01,our report 2025,,,,,,\n",
    )
    p1 = one(validate(p))
    assert p1.location.row == 2 and "duplicated model id 'a/x-1b'" in str(p1)
    q = tmp_path / "q.csv"
    q.write_text("id,family,params,release_date,source,mmlu_score\na/x,T,1e9,2024-01-01,r x,0.3\n")
    p2 = one(validate(q))
    assert p2.location.column == "mmlu_score" and "unknown column" in str(p2)


def test_export_wide_round_trips(tmp_path: Path, shipped: Catalog) -> None:
    table = shipped.user_table()
    path = tmp_path / "export.csv"
    table.to_csv(path, index=False)
    again = load(path)
    assert set(again.overridden) == set(shipped.ids)
    pd.testing.assert_frame_equal(
        again.wide().sort_index(), shipped.wide().sort_index(), check_exact=False, rtol=1e-12
    )
    a = again.models.drop(columns="origin").set_index("id").sort_index()
    b = shipped.models.drop(columns="origin").set_index("id").sort_index()
    pd.testing.assert_frame_equal(a, b)


def test_user_yaml_file_in_family_format(tmp_path: Path) -> None:
    fam = family([model(id="me/base-3b", params=3e9, active_params=3e9)], "Mine")
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(fam, sort_keys=False))
    cat = load(p)
    assert "me/base-3b" in cat.ids
    assert cat.provenance("me/base-3b")["params"]["source"]["key"] == "user:mine:acme-card"


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(DensingInputError, match="file not found"):
        load(tmp_path / "nope.csv")


def test_packaged_data_copy_loads(tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(catalog.DATA_DIR, d)
    a = load(data_dir=d)
    b = load()
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert copy.deepcopy(a.ids) == b.ids


def test_user_json_records_file(tmp_path: Path) -> None:
    import json

    p = tmp_path / "mine.json"
    rows = [
        {
            "id": "me/j-2b",
            "family": "J",
            "params": 2e9,
            "release_date": "2025-01-10",
            "source": "https://example.org/j",
            "gsm8k": 0.2,
            "gsm8k_shots": 8,
        }
    ]
    p.write_text(json.dumps(rows))
    cat = load(p)
    sc = cat.scores[cat.scores["id"] == "me/j-2b"].iloc[0]
    assert sc["benchmark"] == "gsm8k" and sc["shots"] == 8 and sc["setting"] == "reported"
    assert cat.provenance("me/j-2b")["release_date"]["source"]["url"] == "https://example.org/j"


def test_parse_cache_is_keyed_by_content(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DENSING_CACHE_DIR", str(cache))
    d = data_dir(tmp_path, {"acme.yaml": family([model()])})
    first = load(data_dir=d, today=TODAY)
    files = list(cache.glob("catalog-*.json"))
    assert len(files) == 1
    again = load(data_dir=d, today=TODAY)  # from the cache
    pd.testing.assert_frame_equal(first.models, again.models)
    pd.testing.assert_frame_equal(first.scores, again.scores)
    # an edit changes the key: the new value is seen, and it is validated again
    f = d / "families" / "acme.yaml"
    good_text = f.read_text()
    f.write_text(good_text.replace("score: 0.61", "score: 61"))
    p = one(validate(data_dir=d, today=TODAY))
    assert "percentage" in str(p) and p.location.column == "scores[0].score"
    assert len(list(cache.glob("catalog-*.json"))) == 2
    # a corrupt cache file is ignored
    f.write_text(good_text)
    for c in cache.glob("catalog-*.json"):
        c.write_text("{not json")
    assert load(data_dir=d, today=TODAY, cache=True).ids == first.ids
    monkeypatch.setenv("DENSING_CACHE_DIR", "off")
    assert cache_dir() is None


def test_cached_and_uncached_shipped_catalog_agree() -> None:
    a, b = load(cache=True), load(cache=True)
    c = load(cache=False)
    for x in (a, b):
        pd.testing.assert_frame_equal(x.models, c.models)
        pd.testing.assert_frame_equal(x.scores, c.scores)
        pd.testing.assert_frame_equal(x.sources, c.sources)


def test_parse_cache_lives_in_the_platform_cache_dir(monkeypatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.delenv("DENSING_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    expected = {"win32": tmp_path / "local", "darwin": Path.home() / "Library" / "Caches"}
    assert cache_dir() == expected.get(sys.platform, tmp_path / "xdg") / "densing"
    for off in ("off", "0", ""):
        monkeypatch.setenv("DENSING_CACHE_DIR", off)
        assert cache_dir() is None


def test_tests_keep_the_parse_cache_in_a_temp_dir(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    where = cache_dir()
    assert where is not None and tmp_path_factory.getbasetemp() in where.parents
    d = data_dir(tmp_path, {"acme.yaml": family([model()])})
    load(data_dir=d, today=TODAY)
    assert list(where.glob("catalog-*.json"))


def test_parse_cache_keeps_the_newest_files(tmp_path: Path, monkeypatch) -> None:
    from densing.catalog import cache

    monkeypatch.setenv("DENSING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "KEEP", 2)
    for i in range(4):
        d = data_dir(tmp_path / str(i), {"acme.yaml": family([model(notes=f"edit {i}")])})
        load(data_dir=d, today=TODAY)
    assert len(list((tmp_path / "cache").glob("catalog-*.json"))) == 2


def test_queries_take_benchmark_and_family_names_in_any_case(tmp_path: Path) -> None:
    small = model(id="acme/base-1b", params=1e9, active_params=1e9, scores=[])
    cat = load(data_dir=data_dir(tmp_path, {"acme.yaml": family([model(), small])}), today=TODAY)
    assert cat.filter(family="ACME", benchmark="GSM8K").ids == ["acme/base-7b"]
    assert cat.filter(benchmark=["MMLU", "gsm8k"]).ids == ["acme/base-7b"]
    w = cat.wide(["MMLU", "Gsm8k"])
    assert list(w.columns) == ["mmlu", "gsm8k"] and w.loc["acme/base-7b", "mmlu"] == 0.61
    assert list(cat.wide("MMLU-Pro").columns) == ["mmlu_pro"]
    with pytest.raises(DensingInputError, match="did you mean 'gsm8k'"):
        cat.filter(benchmark="GSM8")

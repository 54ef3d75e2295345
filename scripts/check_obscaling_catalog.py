"""Independent sanity check of the catalog YAML (format rules of CATALOG_FORMAT.md).

Usage: python scripts/check_obscaling_catalog.py [--data-dir ../shared/data/obscaling]
Parses every family file, checks field types and ranges, ISO dates (not in the future, 2019+),
unique ids, that every source key resolves, canonical benchmark names, no instruct/chat ids,
and that every ObsScaling score equals the CSV value exactly. Exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CAT = REPO / "src" / "densing" / "catalog_data"
BENCHMARKS = {
    "mmlu", "arc_challenge", "hellaswag", "winogrande", "truthfulqa", "gsm8k", "humaneval",
    "mbpp", "bbh", "math", "xwinograd", "mmlu_pro", "gpqa", "math_hard", "musr", "ifeval",
    # 2025-26 base-model reports
    "mmlu_redux", "supergpqa", "agieval", "arc_easy", "piqa", "siqa", "openbookqa", "boolq",
    "commonsenseqa", "triviaqa", "naturalquestions", "drop", "squad", "race", "lambada", "mgsm",
    "mmmlu", "include", "cmmlu", "ceval", "humaneval_plus", "mbpp_plus", "evalplus", "multipl_e",
    "livecodebench", "crux_o", "aime24", "aime25",
}  # fmt: skip
SETTINGS = {
    "openllm-v1", "openllm-v2", "openllm-v2-norm", "obscaling", "obscaling-evalplus", "reported",
}  # fmt: skip
FIELDS = [
    "id", "params", "active_params", "params_source", "tokens", "tokens_source",
    "release_date", "date_source", "arch", "derived_from", "notes", "scores",
]  # fmt: skip
# may be absent: tokens_source when tokens is null, derived_from (only distilled / pruned models)
OPTIONAL = {"tokens_source", "derived_from"}
SCORE_KEYS = {"benchmark", "score", "shots", "setting", "source"}  # plus an optional bool `cot`
INSTRUCT = re.compile(r"(instruct|chat|-it\b|sft|rlhf|dpo|raven)", re.IGNORECASE)
V1 = {"MMLU": "mmlu", "ARC-C": "arc_challenge", "HellaSwag": "hellaswag", "Winograd": "winogrande",
      "TruthfulQA": "truthfulqa", "GSM8K": "gsm8k", "XWinograd": "xwinograd",
      "HumanEval": "humaneval"}  # fmt: skip
V2 = {"leaderboard_bbh": "bbh", "leaderboard_math_hard": "math_hard",
      "leaderboard_mmlu_pro": "mmlu_pro", "leaderboard_gpqa": "gpqa",
      "leaderboard_musr": "musr", "leaderboard_ifeval": "ifeval"}  # fmt: skip


def check(data_dir: Path | None) -> list[str]:
    errs: list[str] = []
    glob_sources = yaml.safe_load((CAT / "sources.yaml").read_text()) or {}
    for key, src in glob_sources.items():
        if not (isinstance(src, dict) and src.get("citation") and src.get("url")):
            errs.append(f"sources.yaml: {key} needs citation and url")
    ids: dict[str, str] = {}
    catalog: dict[str, dict] = {}
    today = dt.date.today()
    for path in sorted((CAT / "families").glob("*.yaml")):
        name = path.name
        if not re.fullmatch(r"[a-z0-9-]+\.yaml", name):
            errs.append(f"{name}: bad slug")
        doc = yaml.safe_load(path.read_text())
        if set(doc) != {"family", "sources", "models"}:
            errs.append(f"{name}: top-level keys {sorted(doc)}")
        local = doc.get("sources") or {}
        for key, src in local.items():
            if key in glob_sources:
                errs.append(f"{name}: local source {key} clashes with global")
            if not (isinstance(src, dict) and src.get("citation") and src.get("url")):
                errs.append(f"{name}: source {key} needs citation and url")
        keys = set(local) | set(glob_sources)
        for i, m in enumerate(doc["models"], 1):
            where = f"{name} model {i} ({m.get('id')})"
            if list(m) != [f for f in FIELDS if f in m] or set(FIELDS) - set(m) - OPTIONAL:
                errs.append(f"{where}: fields {list(m)}")
                continue
            if "tokens_source" not in m and m["tokens"] is not None:
                errs.append(f"{where}: tokens without tokens_source")
            m.setdefault("tokens_source", None)
            if m.get("derived_from") is not None and not isinstance(m["derived_from"], str):
                errs.append(f"{where}: derived_from {m['derived_from']!r}")
            if m["id"] in ids:
                errs.append(f"{where}: duplicate id (also in {ids[m['id']]})")
            ids[m["id"]] = name
            catalog[m["id"]] = m
            if INSTRUCT.search(m["id"]):
                errs.append(f"{where}: looks like an instruct/chat model")
            for f in ("params", "active_params"):
                if not (isinstance(m[f], (int, float)) and m[f] > 1e6):
                    errs.append(f"{where}: {f}={m[f]!r}")
            if m["active_params"] > m["params"]:
                errs.append(f"{where}: active_params > params")
            if (m["arch"] == "dense") != (m["active_params"] == m["params"]):
                errs.append(f"{where}: arch {m['arch']} vs active_params")
            if m["arch"] not in ("dense", "moe"):
                errs.append(f"{where}: arch {m['arch']!r}")
            if m["tokens"] is None:
                if m["tokens_source"] is not None:
                    errs.append(f"{where}: tokens_source without tokens")
            elif not (isinstance(m["tokens"], (int, float)) and 1e9 <= m["tokens"] <= 1e14):
                errs.append(f"{where}: tokens={m['tokens']!r}")
            d = m["release_date"]
            if not isinstance(d, dt.date) or not (dt.date(2019, 1, 1) <= d <= today):
                errs.append(f"{where}: release_date {d!r}")
            for f in ("params_source", "date_source") + (("tokens_source",) if m["tokens"] else ()):
                if m[f] not in keys:
                    errs.append(f"{where}: {f} {m[f]!r} does not resolve")
            if not isinstance(m["notes"], str):
                errs.append(f"{where}: notes must be a string")
            seen = set()
            for s in m["scores"]:
                if set(s) - {"cot"} != SCORE_KEYS or not isinstance(s.get("cot", False), bool):
                    errs.append(f"{where}: score keys {sorted(s)}")
                    continue
                if s["benchmark"] not in BENCHMARKS:
                    errs.append(f"{where}: benchmark {s['benchmark']!r}")
                if not (isinstance(s["score"], float) and 0.0 <= s["score"] <= 1.0):
                    errs.append(f"{where}: {s['benchmark']} score {s['score']!r}")
                if s["setting"] not in SETTINGS:
                    errs.append(f"{where}: setting {s['setting']!r}")
                if s["source"] not in keys:
                    errs.append(f"{where}: score source {s['source']!r} does not resolve")
                if s["shots"] is not None and not (isinstance(s["shots"], int) and s["shots"] >= 0):
                    errs.append(f"{where}: shots {s['shots']!r}")
                if s["setting"] == "reported" and s["shots"] is None:
                    errs.append(f"{where}: reported {s['benchmark']} without shots")
                # a second shot count, CoT variant or source of a benchmark is a second row
                k = (s["benchmark"], s["setting"], s["shots"], s.get("cot", False), s["source"])
                if k in seen:
                    errs.append(f"{where}: duplicate score {k}")
                seen.add(k)
    if data_dir is not None and (data_dir / "base_llm_benchmark_eval.csv").exists():
        n = 0
        for fname, cols in (
            ("base_llm_benchmark_eval.csv", V1),
            ("base_llm_leaderboard_v2_eval.csv", V2),
        ):
            with (data_dir / fname).open() as fh:
                for row in csv.DictReader(fh):
                    m = catalog.get(row["Model"])
                    if m is None:
                        continue
                    got = {
                        s["benchmark"]: s["score"]
                        for s in m["scores"]
                        if s["source"].startswith("obscaling")
                    }
                    for col, bench in cols.items():
                        if row[col] == "":
                            if (
                                bench in got
                                and fname.startswith("base_llm_bench")
                                and bench in V1.values()
                            ):
                                errs.append(f"{row['Model']}: {bench} present but empty in CSV")
                            continue
                        n += 1
                        if got.get(bench) != float(row[col]):
                            errs.append(
                                f"{row['Model']}: {bench} {got.get(bench)!r} != CSV {row[col]}"
                            )
        print(f"compared {n} score values with the ObsScaling CSVs")
    fams = {yaml.safe_load(p.read_text())["family"] for p in (CAT / "families").glob("*.yaml")}
    bench_counts: dict[str, int] = {}
    for m in catalog.values():
        for b in {s["benchmark"] for s in m["scores"]}:
            bench_counts[b] = bench_counts.get(b, 0) + 1
    print(
        f"{len(catalog)} models, {len(fams)} families; models per benchmark: {dict(sorted(bench_counts.items()))}"
    )
    print(f"tokens unknown for {sum(m['tokens'] is None for m in catalog.values())} models")
    return errs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "obscaling")
    errs = check(ap.parse_args().data_dir)
    for e in errs:
        print("ERROR", e)
    print("OK" if not errs else f"{len(errs)} problems")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())

"""The main job's user-facing promises: unused user scores are announced, forecasts mean what
the README says (checked against the catalog), the built-in frame is cached."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from densing.catalog import load
from densing.cli import main


def test_unused_user_scores_are_announced(tmp_path: Path, capsys) -> None:
    """`densing run --extra` with scores in a setting no item uses: a loud warning naming the
    option (they used to come out insufficient_scores without a word)."""
    mine = tmp_path / "mine.csv"
    mine.write_text(
        "id,family,params,release_date,source,mmlu,mmlu_setting,mmlu_shots,bbh,bbh_setting,bbh_shots\n"
        "me/x-3b,Mine,3e9,2025-06-01,our report,0.6,own-harness,5,0.5,own-harness,3\n"
    )
    main(
        [
            "run",
            "--extra",
            str(mine),
            "--bootstrap",
            "2",
            "--no-sensitivity",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert "densing: warning: 2 of 2 scores of your models (--extra) are not used" in err
    dens = pd.read_csv(tmp_path / "o" / "densities.csv")
    assert dens.set_index("model").loc["me/x-3b", "status"] == "insufficient_scores"


def test_forecast_against_the_catalog(capsys) -> None:
    """The forecast answers: when does the frontier reach N̂(S)/N, i.e. when should the densest
    models of N parameters score S. Checked on the catalog: the first model of at most 1.5 N
    reaching S on that item was released within a year of the forecast date."""
    main(
        [
            "forecast",
            "--benchmark",
            "mmlu",
            "--score",
            "0.6",
            "--params",
            "3B",
            "--bootstrap",
            "10",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    item = out["benchmark"]
    cat = load()
    sc = cat.scores[cat.scores["benchmark"] == item.split("@")[0]]
    m = cat.models.set_index("id")
    reached = sc[(sc["score"] >= 0.6) & (sc["id"].map(m["params"]) <= 4.5e9)]
    first = pd.to_datetime(reached["id"].map(m["release_date"])).min()
    assert out["date"] is not None, out
    gap = abs((pd.Timestamp(out["date"]) - first).days)
    assert gap <= 366, (out["date"], first)


def test_builtin_frame_is_cached(tmp_path: Path, capsys) -> None:
    t = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "model": ["x", "x"],
            "params": [7e9, 7e9],
            "benchmark": ["mmlu", "arc_challenge"],
            "setting": ["openllm-v1", "openllm-v1"],
            "score": [0.6, 0.55],
        }
    ).to_csv(t, index=False)
    args = ["density", "--targets", str(t), "--bootstrap", "3", "--out", str(tmp_path / "d.csv")]
    main(args)
    assert "fitted and cached" in capsys.readouterr().err
    main(args)  # the second call reads the cache: no refit (timed in the README, not here)
    assert "from the cache" in capsys.readouterr().err
    assert pd.read_csv(tmp_path / "d.csv")["status"].iloc[0] in (
        "ok",
        "extrapolated",
        "uninformative",
    )

"""Planted catalog data for tests: a model, a family file, a catalog data directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from densing.cli import main
from densing.errors import DensingInputError

TODAY = dt.date(2026, 11, 25)

SOURCES = {
    "obscaling": {"citation": "ObsScaling data", "url": "https://github.com/ryoungj/ObsScaling"}
}


def model(**over: Any) -> dict[str, Any]:
    m = {
        "id": "acme/base-7b",
        "params": 7.0e9,
        "active_params": 7.0e9,
        "params_source": "acme-card",
        "tokens": 2.0e12,
        "tokens_source": "acme-paper",
        "release_date": dt.date(2024, 3, 1),
        "date_source": "acme-paper",
        "arch": "dense",
        "notes": "",
        "scores": [
            {
                "benchmark": "mmlu",
                "score": 0.61,
                "shots": 5,
                "setting": "openllm-v1",
                "source": "obscaling",
            },
            {
                "benchmark": "gsm8k",
                "score": 0.3,
                "shots": 8,
                "setting": "reported",
                "source": "acme-paper",
            },
        ],
    }
    m.update(over)
    return m


def family(models: list[dict[str, Any]], family: str = "Acme") -> dict[str, Any]:
    return {
        "family": family,
        "sources": {
            "acme-card": {"citation": "acme/base-7b model card", "url": "https://example.org/card"},
            "acme-paper": {"citation": "Acme et al. 2024", "url": "https://example.org/paper"},
        },
        "models": models,
    }


def data_dir(tmp_path: Path, files: dict[str, dict[str, Any]]) -> Path:
    d = tmp_path / "catalog_data"
    (d / "families").mkdir(parents=True)
    (d / "sources.yaml").write_text(yaml.safe_dump(SOURCES))
    for name, content in files.items():
        (d / "families" / name).write_text(yaml.safe_dump(content, sort_keys=False))
    return d


def one(problems: list[DensingInputError]) -> DensingInputError:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``densing ARGV`` through the real entry point: (exit code, stdout, stderr)."""
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err

"""Run the ``densing`` CLI in-process and capture what a user would see."""

from __future__ import annotations

import pytest

from densing.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``densing ARGV``; a normal return counts as exit 0."""
    with pytest.raises(SystemExit) as info:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err

"""Estimation-core commands: ``fit-loss`` and ``trend``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the estimation-core commands to ``app``."""
    _ = app

"""CLI commands for the evaluate (registered into `toolforge` by app/cli.py). Heavy imports stay inside commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `toolforge` app (none yet: being written)."""

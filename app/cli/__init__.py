"""`toolforge`: every typer command (``main`` holds the service commands and registers the others)."""

from app.cli.main import app, main

__all__ = ["app", "main"]

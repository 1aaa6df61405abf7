"""`toolforge export`: a dataset in the format another trainer reads (OpenAI, TRL SFT, verl, ShareGPT)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``export`` to the `toolforge` app."""
    app.command("export")(export)


def export(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder, samples.jsonl or samples.parquet.")],
    fmt: Annotated[str, typer.Option("--format", help="openai, trl-sft, verl or sharegpt.")],
    out: Annotated[Path, typer.Option(help="Folder to write the export into (must be empty or absent).")],
    template: Annotated[str | None, typer.Option(
        help="native (tools as data, rendered by the model's own template; default except verl) or qwen2_5 "
             "(the baked Qwen 2.5 text; default for verl).")] = None,
    tokenizer: Annotated[Path | None, typer.Option(
        help="Local tokenizer/model folder: measure prompt lengths in its tokens (else in characters).")] = None,
) -> None:
    """Convert a dataset losslessly; export.json reports prompt-length percentiles (verl: max_prompt_length)."""
    from training.derived.export import export_dataset
    from training.derived.formats import FormatError

    if tokenizer is not None and not tokenizer.is_dir():
        typer.echo(f"error: --tokenizer {tokenizer}: folder not found", err=True)
        raise typer.Exit(1)
    try:
        doc = export_dataset(dataset, out, fmt, template, tokenizer)  # type: ignore[arg-type]
    except FormatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if doc["n"] == 0:
        typer.echo(f"error: {dataset} has no rows; nothing was exported", err=True)
        raise typer.Exit(1)
    stats = doc["prompt_length"]
    typer.echo(f"exported {doc['n']} rows as {doc['format']} ({doc['template']}) to {out}; prompt "
               f"{stats['unit']} p50 {stats['percentiles']['p50']} p99 {stats['percentiles']['p99']} "
               f"max {stats['percentiles']['p100']}")

"""`toolforge` command line: the registry, dataset generation and reward scoring.

Every failure exits non-zero with a one-line reason per problem on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.settings import get_settings
from generators.registry import Registry, RegistryError, load_registry

app = typer.Typer(help="ToolForge: verifiable tool-calling datasets, GRPO training and evaluation.",
                  no_args_is_help=True, add_completion=False)
tools_app = typer.Typer(help="The tool-schema registry.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")

DirOption = Annotated[Path | None, typer.Option("--dir", help="Tool schema folder (default: TOOLFORGE_TOOLS_DIR).")]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _registry(path: Path | None) -> Registry:
    settings = get_settings()
    try:
        return load_registry(path or settings.tools_dir, settings.registry_limits())
    except RegistryError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise fail(f"{len(exc.problems)} problem(s) in the tool registry") from exc


@tools_app.command("validate")
def tools_validate(directory: Annotated[Path, typer.Argument(help="Folder of tool files.")]) -> None:
    """Validate a folder of tool files; print counts per domain and split."""
    registry = _registry(directory)
    counts = registry.counts()
    typer.echo(f"{'domain':<16}{'train':>7}{'heldout':>9}")
    for domain, row in counts.items():
        typer.echo(f"{domain:<16}{row['train']:>7}{row['heldout']:>9}")
    train = sum(r["train"] for r in counts.values())
    held = sum(r["heldout"] for r in counts.values())
    typer.echo(f"{'total':<16}{train:>7}{held:>9}")
    typer.echo(f"{len(registry)} tools in {len(counts)} domains are valid; digest {registry.digest[:16]}")


@tools_app.command("list")
def tools_list(
    directory: DirOption = None,
    split: Annotated[str | None, typer.Option(help="train or heldout")] = None,
    domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None,
) -> None:
    """List the registered tools."""
    registry = _registry(directory).filter(split=split, domains=[domain] if domain else None)
    for tool in registry:
        typer.echo(f"{tool.name:<36}{tool.domain:<14}{tool.split:<9}{len(tool.properties)} params, "
                   f"{len(tool.required)} required")


@tools_app.command("show")
def tools_show(name: str, directory: DirOption = None) -> None:
    """Print one tool's file."""
    registry = _registry(directory)
    if name not in registry:
        raise fail(f"no tool named {name!r}; `toolforge tools list` shows the names")
    typer.echo(json.dumps(registry.get(name).document, indent=2, ensure_ascii=False))


@tools_app.command("import")
def tools_import(
    file: Annotated[Path, typer.Argument(help="File to import.")],
    fmt: Annotated[str, typer.Option("--format", help="openai, mcp, hermes or bfcl")],
    out: Annotated[Path, typer.Option(help="Folder to write one tool file per function into.")],
    split: Annotated[str, typer.Option(help="Split for the imported tools.")] = "train",
    domain: Annotated[str, typer.Option(help="Domain for the imported tools.")] = "imported",
) -> None:
    """Normalise tools from another format into ToolForge tool files."""
    from generators.importers import ImportConflict, ImportFormatError, import_tools, write_tools

    if not file.is_file():
        raise fail(f"{file} does not exist")
    try:
        result = import_tools(file.read_text(encoding="utf-8"), fmt, split=split, domain=domain)
        written = write_tools(result, out)
    except (ImportFormatError, ImportConflict, ValueError, UnicodeDecodeError) as exc:
        raise fail(str(exc)) from exc
    for original, new in sorted(result.renamed.items()):
        typer.echo(f"renamed {original} -> {new}")
    for refused in result.refused:
        typer.echo(f"refused {refused.name}: {refused.reason}", err=True)
    typer.echo(f"imported {len(written)} tool(s) into {out}; refused {len(result.refused)}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

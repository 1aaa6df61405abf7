"""`toolforge` command line: the registry, generation, scoring, the service and its client.

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
    if split is not None and split not in ("train", "heldout"):
        raise fail(f"--split {split!r}: use train or heldout")
    full = _registry(directory)
    if domain is not None and domain not in full.counts():
        raise fail(f"--domain {domain!r}: no such domain; known: {', '.join(sorted(full.counts()))}")
    registry = full.filter(split=split, domains=[domain] if domain else None)
    if not len(registry):
        raise fail("no tool matches these filters")
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
        typer.echo(f"refused {refused}", err=True)
    typer.echo(f"imported {len(written)} tool(s) into {out}; refused {len(result.refused)}")


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset files into (must be empty or absent).")],
    n: Annotated[int, typer.Option("--n", help="Number of samples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
    split: Annotated[str, typer.Option(help="train or heldout (evaluation sets).")] = "train",
    ratios: Annotated[str, typer.Option(help="execution,clarification,refusal shares summing to 1.")] = "0.6,0.25,0.15",
    name: Annotated[str, typer.Option(help="Dataset name.")] = "dataset",
    domains: Annotated[str | None, typer.Option(help="Comma-separated domains to draw tools from.")] = None,
    distractors: Annotated[str, typer.Option(help="min,max distractor tools per prompt.")] = "2,5",
    workers: Annotated[int, typer.Option(help="Processes (output is identical for any count).")] = 1,
    directory: DirOption = None,
) -> None:
    """Generate a dataset version into a folder (JSONL, Parquet, stats, card, manifest)."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from generators.pipeline import generate_dataset
    from generators.spec import DatasetSpec, SpecError

    if workers < 1:
        raise fail("--workers must be at least 1")
    if n < 1:
        raise fail("--n must be at least 1")
    registry = _registry(directory)
    try:
        lo, hi = (int(x) for x in distractors.split(","))
        spec = DatasetSpec(name=name, n=n, seed=seed, split=split, ratios=ratios,
                           tools={"domains": domains.split(",") if domains else None},
                           distractors={"min": lo, "max": hi})
    except (ValidationError, ValueError) as exc:
        raise fail(_validation_message(exc)) from exc
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise fail(f"{out} is not an empty folder; choose a new one (dataset files are never overwritten)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create {out}: {exc.strerror or exc}") from exc
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("generating", total=n)
        try:
            manifest = generate_dataset(registry, spec, out, progress=lambda d, t: bar.update(task, completed=d),
                                        workers=workers)
        except SpecError as exc:
            raise fail(str(exc)) from exc
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror or exc}") from exc
    counts = manifest.get("counts", {})
    typer.echo(f"wrote {n} samples to {out} ({', '.join(f'{k} {v}' for k, v in counts.items())})")


def _validation_message(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)


@app.command()
def score(
    samples: Annotated[Path, typer.Option(help="Dataset JSONL (rows with reward_model and tools).")],
    completions: Annotated[Path, typer.Option(help="JSONL of {sample_id, completion}.")],
    mode: Annotated[str, typer.Option(help="tiered or binary")] = "tiered",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score completions against samples: mean reward, accuracy per behaviour, confusion matrix."""
    from training.rewards.files import format_report, score_files

    for path in (samples, completions):
        if not path.is_file():
            raise fail(f"{path} does not exist")
    if mode not in ("tiered", "binary"):
        raise fail("--mode must be 'tiered' or 'binary'")
    report = score_files(samples, completions, mode)  # type: ignore[arg-type]
    if not report["scored"]:
        raise fail(f"no completion was scored ({report['skipped_total']} skipped: "
                   f"{report['skipped'] or 'the completions file is empty'}); nothing to report")
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the REST service (embedded default: SQLite file + artifact folder under TOOLFORGE_DATA_DIR)."""
    import uvicorn

    settings = get_settings()
    typer.echo(f"ToolForge on http://{host}:{port} — Swagger UI: http://{host}:{port}/docs "
               f"(database {settings.resolved_database_url}, artifacts {settings.resolved_artifact_url})")
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info")


keys_app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    scope: Annotated[list[str], typer.Option("--scope", help="read, write, worker or admin (repeatable).")],
    name: Annotated[str, typer.Option(help="A label for people.")] = "cli",
) -> None:
    """Create an API key in the service's database and print it (the only time it is shown)."""
    from app.auth import create_key
    from app.db import make_engine, make_sessionmaker, migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with make_sessionmaker(engine)() as session:
        try:
            key = create_key(session, name, scope)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    typer.echo(key)


@app.command("data-stats")
def data_stats(
    path: Annotated[Path, typer.Argument(help="A dataset folder (samples.jsonl inside) or a JSON Lines file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    nll_model: Annotated[Path | None, typer.Option(
        "--nll-model", help="Also the mean per-token NLL of the requests under this local causal LM folder "
        "(e.g. `toolforge base-model smollm2-135m --out DIR`; needs the training extra).")] = None,
    nll_sample: Annotated[int, typer.Option(
        "--nll-sample", min=1, help="Requests scored for --nll-model (evenly spaced over the file).")] = 1000,
) -> None:
    """How a dataset's requests read: leak rates, label style, masked diversity, skeletons per tool."""
    from generators.realism import load_figures, load_items, report

    try:
        fig = load_figures(path)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {path}: {exc}") from exc
    if nll_model is not None:
        if not (nll_model / "config.json").is_file():
            raise fail(f"--nll-model {nll_model}: not a model folder (no config.json); build one with "
                       "`toolforge base-model smollm2-135m --out DIR`")
        try:
            from training.evaluation.fluency import request_nll
        except ImportError as exc:
            raise fail(f"--nll-model needs the training extra (make install): {exc}") from exc
        texts = [item.text for item in load_items(path) if item.tool is not None]
        step = max(1, len(texts) // nll_sample)
        fig["nll"] = request_nll(texts[::step][:nll_sample], nll_model)
    if as_json:
        typer.echo(json.dumps(fig, indent=2, sort_keys=True))
        return
    for label, value in report(fig):
        typer.echo(f"{label:<56}{value}")
    if fig.get("tools_without_frames"):
        typer.echo(f"warning: {', '.join(fig['tools_without_frames'])}: {fig.get('warning', '')}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's id (key_...), prefix, or the key itself.")]) -> None:
    """Revoke an API key in the service's database: it stops working at the next request."""
    from app.auth import revoke_key
    from app.db import make_engine, make_sessionmaker, migrate

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with make_sessionmaker(engine)() as session:
        row = revoke_key(session, key)
        if row is None:
            raise fail(f"no API key {key!r} (give its id, its prefix or the key)")
        typer.echo(f"revoked {row.id} ({row.name}, {row.scopes}) at {row.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


from app.cli.datasets import datasets_app  # noqa: E402 - the HTTP client commands live in their own module

app.add_typer(datasets_app, name="datasets")

# Training-side commands (worker, evaluate, tiny-model, base-model) import torch/TRL lazily inside each command,
# so the service's CLI stays light.
from app.cli import base_model as cli_base_model  # noqa: E402
from app.cli import evaluate as cli_evaluate  # noqa: E402
from app.cli import export as cli_export  # noqa: E402
from app.cli import preferences as cli_preferences  # noqa: E402
from app.cli import worker as cli_worker  # noqa: E402

cli_worker.register(app)
cli_base_model.register(app)
cli_evaluate.register(app)
cli_export.register(app)
cli_preferences.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

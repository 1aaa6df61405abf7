"""CLI commands for evaluation (registered into `toolforge` by app/cli/main.py): `evaluate` and `report`.

Heavy imports (torch, transformers, matplotlib) stay inside the command bodies, so importing this module
from the service's CLI costs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


Opt = typer.Option
OptStr = str | None


def evaluate(
    dataset: Annotated[str, Opt(help="Held-out dataset: a folder, a .jsonl file, a dataset id on the service "
                                     "(with --url), or a benchmark file (with --format).")],
    model: Annotated[OptStr, Opt(help="Local model folder (full weights or a LoRA adapter).")] = None,
    endpoint: Annotated[OptStr, Opt(help="OpenAI-compatible API base, e.g. http://host:8000/v1.")] = None,
    endpoint_model: Annotated[OptStr, Opt(help="Served model name (default: first of /models).")] = None,
    endpoint_key: Annotated[OptStr, Opt(envvar="OPENAI_API_KEY", help="Endpoint API key.")] = None,
    backend: Annotated[str, Opt(help="For --model: transformers, or vllm (GPU; untested).")] = "transformers",
    fmt: Annotated[str, Opt("--format", help="toolforge, bfcl or when2call.")] = "toolforge",
    answers: Annotated[Path | None, Opt(help="BFCL possible_answer file (--format bfcl).")] = None,
    out: Annotated[Path | None, Opt(help="Folder for completions.jsonl and metrics.json "
                                         "(with --follow: one sub-folder per model).")] = None,
    batch_size: Annotated[int, Opt(help="transformers batch size.")] = 8,
    concurrency: Annotated[int, Opt(help="Endpoint requests in flight.")] = 8,
    max_new_tokens: Annotated[int, Opt(help="Completion length cap.")] = 256,
    device: Annotated[OptStr, Opt(help="transformers device (default: cuda if available).")] = None,
    template: Annotated[OptStr, Opt(help="Prompt rendering for model and endpoint alike: qwen2_5 (as stored), "
                                         "compact, or native (tools= through the chat template). Default: "
                                         "what the model folder records it was trained with, else qwen2_5; "
                                         "native for --endpoint.")] = None,
    limit: Annotated[int | None, Opt(help="Evaluate only the first N rows.")] = None,
    allow_train_tools: Annotated[bool, Opt(help="Accept rows made from training tools.")] = False,
    register: Annotated[bool, Opt(help="Record the evaluation in the service.")] = False,
    url: Annotated[OptStr, Opt(envvar="TOOLFORGE_URL", help="Service URL.")] = None,
    api_key: Annotated[OptStr, Opt(envvar="TOOLFORGE_API_KEY", help="Service API key.")] = None,
    model_id: Annotated[OptStr, Opt(help="Model version id to link the evaluation to.")] = None,
    follow: Annotated[bool, Opt(help="Evaluate each new model version from the event feed.")] = False,
    cursor_file: Annotated[Path, Opt(help="Event cursor for --follow.")] = Path(".toolforge-eval-cursor"),
    wait: Annotated[float, Opt(help="Long-poll seconds for --follow.")] = 30.0,
    once: Annotated[bool, Opt(help="With --follow: stop when the feed has no new event.")] = False,
    max_backend_errors: Annotated[float | None, Opt(
        help="Fail when more than this share of backend requests failed (default: "
             "TOOLFORGE_EVAL_MAX_BACKEND_ERROR_RATE, 0.05).", min=0.0, max=1.0)] = None,
) -> None:
    """Evaluate a model or an endpoint on held-out tools: per-behaviour metrics, confusion matrix, slices."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from app.settings import get_settings
    from training.evaluation.backends import EndpointError, make_backend
    from training.evaluation.run import (
        EvaluationError,
        check_backend_errors,
        evaluate_rows,
        load_dataset,
        register_evaluation,
        service_client,
        write_run,
    )
    from training.evaluation.run import follow as follow_feed
    from training.prompts import TEMPLATES

    if template is not None and template not in TEMPLATES:
        raise _fail(f"--template {template}: use one of {', '.join(TEMPLATES)}")
    max_rate = get_settings().eval_max_backend_error_rate if max_backend_errors is None else max_backend_errors
    if limit is not None and limit < 1:
        raise _fail("--limit must be at least 1")
    if (register or follow) and not url:
        raise _fail("--register and --follow need --url (or TOOLFORGE_URL)")
    client = service_client(url, api_key) if url else None
    try:
        data = load_dataset(dataset, fmt=fmt, answers=str(answers) if answers else None, client=client,
                            allow_train=allow_train_tools, limit=limit)
        for reason, count in data.skipped.items():
            typer.echo(f"skipped {count} row(s): {reason}", err=True)
        if follow:
            if client is None:
                raise _fail("--follow needs --url")

            def build(path: Path) -> Any:
                return make_backend(model=str(path), backend=backend, batch_size=batch_size,
                                    max_new_tokens=max_new_tokens, device=device, template=template)

            created = follow_feed(client, data, build, out or Path("evaluations"), cursor_file, wait=wait,
                                  stop_when_idle=once, on_event=lambda m, msg: typer.echo(f"{m}: {msg}"),
                                  max_backend_error_rate=max_rate)
            typer.echo(f"{len(created)} evaluation(s) registered")
            return
        if register and data.dataset_id is None:
            raise _fail("--register needs --dataset to be a dataset id on the service")
        try:
            engine = make_backend(model=model, endpoint=endpoint, backend=backend,
                                  endpoint_model=endpoint_model, api_key=endpoint_key, batch_size=batch_size,
                                  concurrency=concurrency, max_new_tokens=max_new_tokens, device=device,
                                  template=template)
        except (ValueError, EndpointError, OSError) as exc:
            raise _fail(str(exc)) from exc
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(f"evaluating ({engine.name})", total=len(data.rows))
            run = evaluate_rows(data.rows, engine, progress=lambda k: bar.advance(task, k),
                                meta={"dataset": data.dataset_id or data.source, "format": data.fmt,
                                      "model_id": model_id})
        target = out or Path("evaluation")
        paths = write_run(run, target)
        try:
            check_backend_errors(run.metrics, max_rate)
        except EvaluationError as exc:
            raise _fail(f"{exc}; not a result, nothing registered (completions in {paths['completions']})") from exc
        overall = run.metrics["overall"]
        seconds = run.metrics["meta"]["generation_seconds"]
        typer.echo(f"accuracy {overall['accuracy']:.3f}  mean reward {overall['mean_reward']:.3f}  "
                   f"({run.metrics['n']} samples, {seconds} s) -> {paths['metrics']}")
        if register and client is not None and data.dataset_id is not None:
            created = register_evaluation(
                client, dataset_id=data.dataset_id, metrics=run.metrics, model_id=model_id, endpoint=endpoint,
                report_uri=str(target.resolve()),
            )
            typer.echo(f"registered evaluation {created['id']}")
    except EvaluationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        if client is not None:
            client.close()


def report(
    run: Annotated[list[str], typer.Option("--run", help="LABEL=PATH of a metrics.json (or its folder); "
                                                         "repeat, base model first.")],
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json and the chart.")],
    title: Annotated[str, typer.Option(help="Report title.")] = "ToolForge evaluation on held-out tools",
    command: Annotated[OptStr, Opt(help="The command that produced the runs (recorded).")] = None,
    note: Annotated[list[str] | None, Opt("--note", help="A line for the notes (repeatable).")] = None,
    chart: Annotated[bool, typer.Option(help="Draw the per-behaviour PNG (needs matplotlib).")] = True,
) -> None:
    """Put evaluations side by side: Markdown + JSON report and a per-behaviour accuracy chart."""
    from training.evaluation.report import write_report

    runs = []
    for item in run:
        label, sep, raw = item.partition("=")
        if not sep or not label:
            raise _fail(f"--run {item!r}: use LABEL=PATH")
        path = Path(raw)
        path = path / "metrics.json" if path.is_dir() else path
        if not path.is_file():
            raise _fail(f"{path} does not exist")
        runs.append((label, json.loads(path.read_text(encoding="utf-8"))))
    paths = write_report(runs, out, title=title, command=command, notes=note or (), chart=chart)
    for kind, path in paths.items():
        typer.echo(f"{kind}: {path}")


def register(app: typer.Typer) -> None:
    """Add `evaluate` and `report` to the `toolforge` app.

    Args:
        app: the Typer application.
    """
    app.command("evaluate")(evaluate)
    app.command("report")(report)

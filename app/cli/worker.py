"""CLI commands for the worker (registered into `toolforge` by app/cli/main.py). Heavy imports stay inside commands.

``toolforge worker`` is the only entry point of the training worker; several GPUs:
``accelerate launch --config_file training/accelerate/multi_gpu.yaml -m app.cli worker --url ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``worker``, ``sft`` and ``tiny-model`` to the `toolforge` app."""
    app.command("worker")(worker)
    app.command("sft")(sft)
    app.command("tiny-model")(tiny_model)


def worker(
    url: Annotated[str, typer.Option(envvar="TOOLFORGE_URL", help="Service root URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(envvar="TOOLFORGE_API_KEY", help="Key with the worker scope.")] = None,
    artifacts: Annotated[str | None, typer.Option(
        help="Artifact root for checkpoints and weights (folder or fsspec URL); "
             "default TOOLFORGE_ARTIFACT_URL.")] = None,
    work_dir: Annotated[Path | None, typer.Option(
        help="Local scratch folder; default TOOLFORGE_DATA_DIR/worker.")] = None,
    state_dir: Annotated[Path | None, typer.Option(
        help="Where the event cursor is kept; default WORK_DIR/state.")] = None,
    worker_id: Annotated[str | None, typer.Option(envvar="TOOLFORGE_WORKER_ID", help="Lease identity.")] = None,
    lease_seconds: Annotated[int, typer.Option(help="Lease asked for on claim.")] = 120,
    poll_wait: Annotated[float, typer.Option(help="Long-poll wait on the event feed (s).")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Handle one job, then exit.")] = False,
    idle_timeout: Annotated[float | None, typer.Option(help="With --once: exit after this long without a job.")] = None,
) -> None:
    """Run the GRPO training worker: claim training jobs, train, register model versions."""
    import logging
    import warnings

    from app.settings import Settings
    from training.worker.loop import WorkerOptions, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # TRL 1.16 itself calls this deprecated transformers property on every generation; it is not ours to fix.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if not api_key:
        typer.echo("error: the worker needs an API key with the worker scope: --api-key or TOOLFORGE_API_KEY "
                   "(`toolforge keys create --scope worker`)", err=True)
        raise typer.Exit(1)
    if not url.startswith(("http://", "https://")):
        typer.echo(f"error: --url {url!r} must start with http:// or https://", err=True)
        raise typer.Exit(1)
    settings = Settings()
    work = work_dir or settings.data_dir / "worker"
    opts = WorkerOptions(
        url=url, api_key=api_key, artifacts=artifacts or settings.resolved_artifact_url, work_dir=Path(work),
        state_dir=Path(state_dir or Path(work) / "state"), lease_seconds=lease_seconds, poll_wait=poll_wait,
        once=once, idle_timeout=idle_timeout,
    )
    if worker_id:
        opts.worker_id = worker_id
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every process of one launch must share the id: derive it from the rendezvous address.
        opts.worker_id = f"{os.environ.get('MASTER_ADDR', 'local')}-{os.environ.get('MASTER_PORT', '0')}"
    raise typer.Exit(run_worker(opts))


def sft(
    model: Annotated[str, typer.Option(help="Base model folder.")],
    data: Annotated[Path, typer.Option(help="Dataset samples JSONL.")],
    out: Annotated[Path, typer.Option(help="Folder for the fine-tuned model.")],
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 50,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 1e-4,
    batch_size: Annotated[int, typer.Option(help="Per-device batch size.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    group_by_length: Annotated[bool, typer.Option(
        help="Batch rows of similar token length together (less padding computed).")] = False,
) -> None:
    """SFT warm start on the dataset's reference answers (tool call, clarifying question, decline)."""
    from generators.records import read_jsonl
    from training.trainers.config import _cuda_available
    from training.trainers.sft import run_sft

    if not data.is_file():
        typer.echo(f"error: {data} does not exist", err=True)
        raise typer.Exit(1)
    problem = (f"--steps {steps}: must be at least 1" if steps < 1
               else f"--batch-size {batch_size}: must be at least 1" if batch_size < 1
               else f"--model {model}: folder not found (give a local model folder)" if not Path(model).is_dir()
               else None)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    rows = read_jsonl(data)
    if not rows:
        typer.echo(f"error: {data} has no rows; nothing to train on", err=True)
        raise typer.Exit(1)
    gpu = _cuda_available()
    run_sft(model, rows, out, max_steps=steps, learning_rate=learning_rate, batch_size=batch_size,
            use_cpu=not gpu, bf16=gpu, seed=seed, group_by_length=group_by_length)
    typer.echo(f"saved the SFT model to {out}")


def tiny_model(
    out: Annotated[Path, typer.Option(help="Folder to write the model and tokenizer into.")],
    hidden_size: Annotated[int, typer.Option(help="Model width.")] = 64,
    num_layers: Annotated[int, typer.Option(help="Decoder layers.")] = 2,
    vocab_size: Annotated[int, typer.Option(help="Tokenizer vocabulary size.")] = 3000,
    seed: Annotated[int, typer.Option(help="Weight initialisation seed.")] = 0,
) -> None:
    """Build a tiny random-weights Qwen2 model with a local tokenizer (offline; tests and demos)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.trainers.tiny import build_tiny_model

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"error: cannot create {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc

    build_tiny_model(out, hidden_size=hidden_size, num_layers=num_layers, vocab_size=vocab_size, seed=seed)
    typer.echo(f"wrote a tiny Qwen2 model to {out}")

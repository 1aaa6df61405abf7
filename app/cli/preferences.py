"""`toolforge preferences`: DPO preference pairs from a rollouts version, a dataset's ground truth or a local file.

The pairs themselves are made by ``training.derived.preferences`` (pure); this module fetches the source and
pushes the result through ``training.client``.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from generators.records import read_jsonl, write_jsonl
from training.client import ServiceClient, ServiceError
from training.derived.preferences import PREFERENCES_FILE, pairs_from_ground_truth, pairs_from_rollouts
from training.derived.rollouts import ROLLOUTS_FILE
from training.worker.job import fetch_dataset

Opt = typer.Option


def preferences_command(
    out: Annotated[Path, Opt(help="The preferences JSONL to write.")],
    from_rollouts: Annotated[str | None, Opt(help="A rollouts version on the service.")] = None,
    from_dataset: Annotated[str | None, Opt(help="A samples version on the service (ground-truth pairs).")] = None,
    samples: Annotated[Path | None, Opt(help="A local samples JSONL (ground-truth pairs, no service).")] = None,
    min_margin: Annotated[float, Opt(help="Keep pairs whose reward margin is greater than this.")] = 0.0,
    seed: Annotated[int, Opt(help="Seed for tie-breaks and near misses.")] = 0,
    push: Annotated[bool, Opt(help="Upload as a derived 'preferences' version of the source.")] = False,
    name: Annotated[str | None, Opt(help="Name of the pushed version (default: source name + -prefs).")] = None,
    url: Annotated[str, Opt(envvar="TOOLFORGE_URL", help="Service URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, Opt(envvar="TOOLFORGE_API_KEY", help="Key with the worker scope.")] = None,
) -> None:
    """Make DPO preference pairs from a rollouts version or from a dataset's ground truth."""
    if sum(x is not None for x in (from_rollouts, from_dataset, samples)) != 1:
        typer.echo("error: give exactly one of --from-rollouts, --from-dataset, --samples", err=True)
        raise typer.Exit(1)
    if push and samples is not None:
        typer.echo("error: --push needs a source version on the service (--from-rollouts/--from-dataset)", err=True)
        raise typer.Exit(1)
    client = ServiceClient(url, api_key) if samples is None else None
    try:
        pairs, dropped, parent, meta = build_preferences(
            client, from_rollouts=from_rollouts, from_dataset=from_dataset, samples=samples,
            min_margin=min_margin, seed=seed, cache=out.parent / ".toolforge-cache")
        write_jsonl(pairs, out)
        typer.echo(f"wrote {len(pairs)} pairs to {out}"
                   + (f" (dropped: {', '.join(f'{k} {v}' for k, v in dropped.items())})" if dropped else ""))
        if push and client is not None and parent is not None:
            if not pairs:
                typer.echo("error: no pairs to push", err=True)
                raise typer.Exit(1)
            version = client.push_derived(parent["id"], "preferences", name or f"{parent['name']}-prefs",
                                          {PREFERENCES_FILE: out}, meta)
            typer.echo(f"pushed preferences version {version['id']}")
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if client is not None:
            client.close()


def register(app: typer.Typer) -> None:
    """Add ``preferences`` to the `toolforge` Typer app.

    Args:
        app: the Typer application.
    """
    app.command("preferences")(preferences_command)


def build_preferences(client: Any, *, from_rollouts: str | None = None, from_dataset: str | None = None,
                      samples: Path | None = None, min_margin: float = 0.0, seed: int = 0,
                      cache: Path = Path(".toolforge-cache")) -> tuple[list[dict[str, Any]], Counter[str],
                                                                       dict[str, Any] | None, dict[str, Any]]:
    """Fetch the source (service or local file) and make the pairs.

    Args:
        client: a ``training.client.ServiceClient`` (None with `samples`).
        from_rollouts: a rollouts version id.
        from_dataset: a samples version id.
        samples: a local samples JSONL.
        min_margin: the reward margin a pair must exceed.
        seed: the seed of the ``random.Random`` used.
        cache: where downloads go.

    Returns:
        ``(pairs, dropped, source version record or None, meta for the pushed version)``.
    """
    rng = random.Random(seed)
    meta: dict[str, Any] = {"min_margin": min_margin, "seed": seed}
    if samples is not None:
        pairs, dropped = pairs_from_ground_truth(read_jsonl(samples), rng=rng, min_margin=min_margin)
        return pairs, dropped, None, {**meta, "source": "ground_truth", "dropped": dict(dropped)}
    if from_dataset is not None:
        parent, path = fetch_dataset(client, from_dataset, cache)
        pairs, dropped = pairs_from_ground_truth(read_jsonl(path), rng=rng, min_margin=min_margin)
        return pairs, dropped, parent, {**meta, "source": "ground_truth", "dropped": dict(dropped)}
    assert from_rollouts is not None
    parent, rollouts_path = fetch_dataset(client, from_rollouts, cache, ROLLOUTS_FILE)
    if parent.get("kind") != "rollouts" or not parent.get("parent_id"):
        raise ServiceError(f"{from_rollouts} is a {parent.get('kind')} version, not a rollouts version")
    _, samples_path = fetch_dataset(client, parent["parent_id"], cache)
    by_id = {(s.get("extra_info") or {}).get("sample_id", ""): s for s in read_jsonl(samples_path)}
    pairs, dropped = pairs_from_rollouts(read_jsonl(rollouts_path), by_id, min_margin=min_margin, rng=rng)
    return pairs, dropped, parent, {**meta, "source": "rollouts", "dropped": dict(dropped)}

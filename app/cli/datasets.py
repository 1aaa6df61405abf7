"""`toolforge datasets ...`: the service's client over HTTP (progress bar while a job runs)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from training.client import ServiceClient, ServiceError

datasets_app = typer.Typer(help="Dataset versions on a running ToolForge service.", no_args_is_help=True)

UrlOption = Annotated[str, typer.Option("--url", envvar="TOOLFORGE_URL", help="Service URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar="TOOLFORGE_API_KEY", help="API key.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _client(url: str, key: str | None) -> ServiceClient:
    return ServiceClient(url, key)


def _call(what: str, call: Callable[..., Any], *args: Any) -> Any:
    """Run one request; a refusal or an unreachable service becomes a CLI error naming the request."""
    try:
        return call(*args)
    except ServiceError as exc:
        if isinstance(exc.__cause__, httpx.TransportError):  # nothing answered, even after the client's retries
            raise _fail(f"{what}: cannot reach the service ({exc}); is `toolforge serve` running?") from exc
        raise _fail(f"{what}: {exc}") from exc


def _wait(client: ServiceClient, job_id: str, total: int) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"job {job_id}", total=total)
        while True:
            job = _call("GET job", client.job, job_id)
            bar.update(task, completed=job["progress_done"], total=job["progress_total"] or total)
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.5)


@datasets_app.command("create")
def create(
    n: Annotated[int, typer.Option("--n", help="Number of samples.")],
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
    name: Annotated[str, typer.Option(help="Dataset name.")] = "dataset",
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    split: Annotated[str, typer.Option(help="train or heldout.")] = "train",
    ratios: Annotated[str, typer.Option(help="execution,clarification,refusal")] = "0.6,0.25,0.15",
    spec_file: Annotated[Path | None, typer.Option("--spec", help="A JSON spec file (overrides the flags).")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the job, with a progress bar.")] = True,
) -> None:
    """Create a dataset version (the same spec and seed return the same version)."""
    if spec_file is not None:
        try:
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise _fail(f"--spec {spec_file}: file not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"--spec {spec_file}: cannot read it ({exc})") from exc
        except json.JSONDecodeError as exc:
            raise _fail(f"--spec {spec_file}: not JSON ({exc})") from exc
        if not isinstance(spec, dict):
            raise _fail(f"--spec {spec_file}: a spec is a JSON object")
    else:
        spec = {"name": name, "n": n, "seed": seed, "split": split, "ratios": ratios.split(",")}
    with closing(_client(url, api_key)) as client:
        version = _call("POST /v1/datasets", client.post_json, "/v1/datasets", spec)
        if wait and version["status"] == "pending" and version.get("job_id"):
            job = _wait(client, version["job_id"], spec.get("n", n))
            if job["status"] != "succeeded":
                raise _fail(f"job {job['id']} {job['status']}: {job.get('error')}")
            version = _call("GET dataset", client.dataset, version["id"])
    typer.echo(json.dumps({k: version[k] for k in ("id", "name", "status", "counts")}, indent=2))


@datasets_app.command("list")
def list_(url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = None,
          limit: Annotated[int, typer.Option(help="Page size.")] = 50) -> None:
    """List dataset versions, newest first."""
    with closing(_client(url, api_key)) as client:
        page = _call("GET /v1/datasets", lambda: client.get_json("/v1/datasets", limit=limit))
    for v in page["data"]:
        typer.echo(f"{v['id']}  {v['status']:<8} {v['name']:<24} n={v.get('n')} split={v.get('split')}")
    typer.echo(f"{page['count']} version(s)")


@datasets_app.command("show")
def show(dataset_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = None) -> None:
    """Show one dataset version."""
    with closing(_client(url, api_key)) as client:
        typer.echo(json.dumps(_call("GET dataset", client.dataset, dataset_id), indent=2))


@datasets_app.command("download")
def download(
    dataset_id: str,
    out: Annotated[Path, typer.Option(help="Folder to download every file into.")],
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Also export it: openai, trl-sft, verl or sharegpt "
                                                              "(into OUT/export-FORMAT).")] = None,
    template: Annotated[str | None, typer.Option(help="Export template: native or qwen2_5.")] = None,
) -> None:
    """Download every file of a ready version, verifying each sha256 (and optionally export it)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"cannot create {out}: {exc.strerror or exc}") from exc
    with closing(_client(url, api_key)) as client:
        version = _call("GET dataset", client.dataset, dataset_id)
        if version["status"] != "ready":
            raise _fail(f"dataset {dataset_id} is {version['status']}")
        for f in version["files"]:
            # Verified against the manifest's sha256 while streaming; a mismatch leaves nothing behind.
            _call(f"download of {f['name']}", client.download, f"/v1/datasets/{dataset_id}/files/{f['name']}",
                  out / f["name"], f["sha256"])
            typer.echo(f"{f['name']}  {f['size']} bytes  sha256 ok")
    if fmt is not None:
        from training.derived.export import export_dataset
        from training.derived.formats import FormatError

        try:
            doc = export_dataset(out, out / f"export-{fmt}", fmt, template)  # type: ignore[arg-type]
        except FormatError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"exported {doc['n']} rows as {fmt} ({doc['template']}) to {out / f'export-{fmt}'}")

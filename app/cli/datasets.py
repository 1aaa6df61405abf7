"""`toolforge datasets ...`: the service's client over HTTP (progress bar while a job runs)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

datasets_app = typer.Typer(help="Dataset versions on a running ToolForge service.", no_args_is_help=True)

UrlOption = Annotated[str, typer.Option("--url", envvar="TOOLFORGE_URL", help="Service URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar="TOOLFORGE_API_KEY", help="API key.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _client(url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {client.base_url}: {exc}; is `toolforge serve` running?") from exc
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = f"{body.get('type')}: {body.get('detail')}"
        except ValueError:
            detail = response.text[:300]
        raise _fail(f"{method} {path} -> {response.status_code} {detail}")
    return response


def _wait(client: httpx.Client, job_id: str, total: int) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"job {job_id}", total=total)
        while True:
            job = _call(client, "GET", f"/v1/jobs/{job_id}").json()
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
    with _client(url, api_key) as client:
        version = _call(client, "POST", "/v1/datasets", json=spec).json()
        if wait and version["status"] == "pending" and version.get("job_id"):
            job = _wait(client, version["job_id"], spec.get("n", n))
            if job["status"] != "succeeded":
                raise _fail(f"job {job['id']} {job['status']}: {job.get('error')}")
            version = _call(client, "GET", f"/v1/datasets/{version['id']}").json()
    typer.echo(json.dumps({k: version[k] for k in ("id", "name", "status", "counts")}, indent=2))


@datasets_app.command("list")
def list_(url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = None,
          limit: Annotated[int, typer.Option(help="Page size.")] = 50) -> None:
    """List dataset versions, newest first."""
    with _client(url, api_key) as client:
        page = _call(client, "GET", "/v1/datasets", params={"limit": limit}).json()
    for v in page["data"]:
        typer.echo(f"{v['id']}  {v['status']:<8} {v['name']:<24} n={v['spec'].get('n')} split={v['spec'].get('split')}")
    typer.echo(f"{page['count']} version(s)")


@datasets_app.command("show")
def show(dataset_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = None) -> None:
    """Show one dataset version."""
    with _client(url, api_key) as client:
        typer.echo(json.dumps(_call(client, "GET", f"/v1/datasets/{dataset_id}").json(), indent=2))


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
    with _client(url, api_key) as client:
        version = _call(client, "GET", f"/v1/datasets/{dataset_id}").json()
        if version["status"] != "ready":
            raise _fail(f"dataset {dataset_id} is {version['status']}")
        for f in version["files"]:
            target = out / f["name"]
            tmp = target.with_suffix(target.suffix + ".part")
            digest = hashlib.sha256()
            with client.stream("GET", f"/v1/datasets/{dataset_id}/files/{f['name']}") as response, \
                    open(tmp, "wb") as fh:
                if response.status_code != 200:
                    raise _fail(f"download of {f['name']} failed with {response.status_code}")
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != f["sha256"]:
                tmp.unlink()
                raise _fail(f"{f['name']}: sha256 mismatch (got {digest.hexdigest()}, manifest {f['sha256']})")
            tmp.replace(target)
            typer.echo(f"{f['name']}  {f['size']} bytes  sha256 ok")
    if fmt is not None:
        from training.derived.export import export_dataset
        from training.derived.formats import FormatError

        try:
            doc = export_dataset(out, out / f"export-{fmt}", fmt, template)  # type: ignore[arg-type]
        except FormatError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"exported {doc['n']} rows as {fmt} ({doc['template']}) to {out / f'export-{fmt}'}")

"""The worker's HTTP client to the ToolForge service: event feed, training-job leases, datasets.

Thin and synchronous (httpx). Failures are converted at the boundary: ``ServiceError`` for anything
the service or the network refused, ``LeaseLost`` when a call on a leased job is answered 409 (the job
was re-queued or cancelled) or 403 (it is leased to another worker now), ``ChecksumMismatch`` for a
download whose bytes do not hash to the manifest's sha256.

A lease is bound to the API key that claimed it and the lease token the claim returned; the client
keeps the token of each job it claimed and sends it with every heartbeat, completion, failure and release.

Every request goes through `RetryTransport`: a refused or dropped connection and a 5xx answer are retried
with exponential backoff, so a service restart or a proxy hiccup costs a worker a few seconds, not its job.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from generators.records import file_sha256

CHUNK = 1024 * 1024


class ServiceError(RuntimeError):
    """The service answered an error, or could not be reached (``status`` is None then)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """The service was unreachable or failed (5xx), even after retries: waiting may help, a 4xx will not."""
        return self.status is None or self.status >= 500


class LeaseLost(ServiceError):
    """The job is no longer leased to this worker: stop working on it."""


class ChecksumMismatch(ServiceError):
    """A downloaded file does not match its recorded sha256."""


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A POST answered 502/503/504 was not handled by the service (a proxy or the server refused it); a POST
# answered 500 may have been, so only idempotent requests retry on 500.
RETRY_STATUS_ANY = frozenset({502, 503, 504})


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries connection errors and 5xx answers with exponential backoff.

    Connection errors (nothing reached the service) are retried for every method; 502/503/504 for every
    method; 500 for idempotent methods only. A request whose body is a one-shot stream is retried only on
    connection errors raised before anything was sent.

    Args:
        inner: the transport doing the work (default: ``httpx.HTTPTransport()``).
        attempts: tries in all (1 = no retry).
        backoff: seconds before the first retry; doubled each time, capped at `max_backoff`.
        max_backoff: the longest wait between tries.
        sleep: the waiting function (tests pass a recorder).
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, attempts: int = 5, backoff: float = 0.5,
                 max_backoff: float = 8.0, sleep: Callable[[float], None] = time.sleep):
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.inner = inner or httpx.HTTPTransport()
        self.attempts, self.backoff, self.max_backoff, self.sleep = attempts, backoff, max_backoff, sleep

    def _retry_status(self, request: httpx.Request, status: int) -> bool:
        if status in RETRY_STATUS_ANY:
            return True
        return status >= 500 and request.method in IDEMPOTENT

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        replayable = isinstance(request.stream, httpx.ByteStream)
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self.inner.handle_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if last:
                    raise
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                if last or not replayable:
                    raise
            else:
                if last or not replayable or not self._retry_status(request, response.status_code):
                    return response
                response.close()
            self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.inner.close()


class ServiceClient:
    """Calls the service as a worker.

    Args:
        base_url: the service root, e.g. ``http://api:8000``.
        api_key: a key with the ``worker`` scope (and ``read`` when reads are closed).
        timeout: seconds per request (long-polls add their wait on top).
        transport: the httpx transport under the retries (tests).
        retries: tries per request in all (see `RetryTransport`).
        backoff: seconds before the first retry (doubled each time).
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, retries: int = 5, backoff: float = 0.5):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                 transport=RetryTransport(transport, attempts=retries, backoff=backoff),
                                 follow_redirects=True)
        self.lease_tokens: dict[str, str] = {}  # job id -> the lease token its claim returned

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, leased: bool = False, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # the URL in full: which service could not be reached
            raise ServiceError(f"{method} {self.http.base_url.join(path)}: {exc}") from exc
        if response.status_code == 409 or (leased and response.status_code == 403):
            raise LeaseLost(_detail(response), response.status_code)
        if response.status_code >= 400:
            raise ServiceError(f"{method} {path}: {response.status_code} {_detail(response)}", response.status_code)
        return response

    def events(self, after: int, wait: float = 0.0, types: list[str] | None = None) -> dict[str, Any]:
        """Events after the cursor (long-poll up to `wait` seconds): ``{"data", "count", "next_cursor"}``."""
        params: dict[str, Any] = {"after": after, "wait": wait}
        if types:
            params["types"] = types
        return self._call("GET", "/v1/events", params=params, timeout=self.timeout + wait).json()

    def claim(self, worker_id: str, lease_seconds: int | None = None) -> dict[str, Any] | None:
        """Claim the oldest queued training job; None when the queue is empty."""
        response = self._call("POST", "/v1/training-jobs/claim",
                              json={"worker_id": worker_id, "lease_seconds": lease_seconds})
        if response.status_code == 204:
            return None
        job = response.json()
        self.lease_tokens[job["id"]] = job.pop("lease_token")
        return job

    def _lease(self, job_id: str) -> dict[str, str]:
        # A job this client did not claim has no token here: the service refuses the call (422).
        token = self.lease_tokens.get(job_id)
        return {"lease_token": token} if token else {}

    def heartbeat(self, job_id: str, worker_id: str, **fields: Any) -> dict[str, Any]:
        """Extend the lease and report progress (``lease_seconds``, ``progress_done``, ``progress_total``,
        ``metrics``, ``checkpoint_uri``). Raises ``LeaseLost`` when the job is not ours any more."""
        body = {**self._lease(job_id), "worker_id": worker_id,
                **{k: v for k, v in fields.items() if v is not None}}
        return self._call("POST", f"/v1/training-jobs/{job_id}/heartbeat", True, json=body).json()

    def complete(self, job_id: str, worker_id: str, model: dict[str, Any]) -> dict[str, Any]:
        """Register the model version the job produced (finishes the job)."""
        return self._call("POST", f"/v1/training-jobs/{job_id}/complete", True,
                          json={**self._lease(job_id), "worker_id": worker_id, "model": model}).json()

    def fail(self, job_id: str, worker_id: str, error: str) -> dict[str, Any]:
        """Mark the job failed with `error`."""
        return self._call("POST", f"/v1/training-jobs/{job_id}/fail", True,
                          json={**self._lease(job_id), "worker_id": worker_id, "error": error[:10_000]}).json()

    def release(self, job_id: str, worker_id: str) -> dict[str, Any]:
        """Give the job back to the queue; its checkpoint stays for the next worker."""
        return self._call("POST", f"/v1/training-jobs/{job_id}/release", True,
                          json={**self._lease(job_id), "worker_id": worker_id}).json()

    def job(self, job_id: str) -> dict[str, Any]:
        """One job."""
        return self._call("GET", f"/v1/jobs/{job_id}").json()

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """One dataset version, with its files (name, sha256, size, url)."""
        return self._call("GET", f"/v1/datasets/{dataset_id}").json()

    def push_derived(self, parent_id: str, kind: str, name: str, files: dict[str, Path],
                     meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Publish a derived version (``rollouts`` or ``preferences``) of `parent_id`.

        The files travel as one tar archive, streamed from a temporary file (rollouts can be large).

        Args:
            parent_id: the version the rows were derived from.
            kind: ``rollouts`` or ``preferences``.
            name: the new version's name.
            files: archive member name -> local file (``<kind>.jsonl`` and optional PNG charts).
            meta: what made the rows (job, settings), stored as ``meta.json`` in the version's spec.

        Returns:
            The version's public record (the existing one when the same upload was published before).
        """
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "upload.tar"
            with tarfile.open(archive, "w") as tar:
                for member, path in sorted(files.items()):
                    tar.add(str(path), arcname=member, recursive=False)
                if meta is not None:
                    raw = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()
                    info = tarfile.TarInfo("meta.json")
                    info.size = len(raw)
                    tar.addfile(info, io.BytesIO(raw))

            def chunks() -> Any:
                with open(archive, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        yield chunk

            return self._call("POST", f"/v1/datasets/{parent_id}/derived", params={"kind": kind, "name": name},
                              content=chunks(), headers={"Content-Type": "application/x-tar",
                                                         "Content-Length": str(archive.stat().st_size)}).json()

    def download(self, url: str, dest: Path, sha256: str) -> Path:
        """Download `url` to `dest`, verifying its sha256; an existing file with the right hash is kept.

        Args:
            url: the file's URL (absolute, or a path on the service).
            dest: where to write it (written to a temporary name, renamed once verified).
            sha256: the expected digest.

        Returns:
            `dest`.

        Raises:
            ChecksumMismatch: the bytes do not match (nothing is left at `dest`).
            ServiceError: the download failed.
        """
        dest = Path(dest)
        if dest.is_file() and file_sha256(dest) == sha256:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ServiceError(f"GET {url}: {response.status_code} {_detail(response)}", response.status_code)
                with open(tmp, "wb") as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise ServiceError(f"GET {url}: {exc}") from exc
        if digest.hexdigest() != sha256:
            tmp.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{url}: sha256 {digest.hexdigest()} does not match the manifest's {sha256}")
        tmp.replace(dest)
        return dest

    # --- beyond the worker's lease: evaluation, the CLI and the demo use the same client ----------------

    @property
    def base_url(self) -> str:
        """The service root this client calls."""
        return str(self.http.base_url)

    def get_json(self, path: str, **params: Any) -> Any:
        """``GET path`` with query `params`; the decoded body."""
        return self._call("GET", path, params=params or None).json()

    def post_json(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        """``POST path`` with a JSON body; the decoded answer."""
        return self._call("POST", path, json=body, headers=headers).json()

    def model(self, model_id: str) -> dict[str, Any]:
        """One model version (``artifact_uri``, ``config``, lineage ids)."""
        return self._call("GET", f"/v1/models/{model_id}").json()

    def create_evaluation(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record an evaluation (``POST /v1/evaluations``), linked to its model version and dataset."""
        return self._call("POST", "/v1/evaluations", json=body).json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:500]

"""Dataset versions: create (202 + job), read, page samples, download files, delete."""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import time
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from app.api_models import DatasetCreate, DatasetPublic, DatasetsPublic, ErrorPublic, SamplesPublic
from app.auth import ReadDep, WorkerDep, WriteDep
from app.caches import CachesDep, RouteCaches
from app.db import SessionDep
from app.downloads import byte_range, etag_matches, etag_of
from app.errors import Conflict, InvalidInput, NotFound
from app.links import link
from app.models import IdempotencyRecord, now
from app.paging import PageDep, next_page
from app.services import datasets as datasets_service
from app.services import derived as derived_service
from app.services.sample_index import Rows, SampleIndex
from app.storage import ArtifactStore
from training.derived.rollouts import reward_key

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def _base_url(request: Request) -> str:
    """What file URLs start with: TOOLFORGE_PUBLIC_URL, or nothing (paths); never the Host header."""
    return request.app.state.settings.public_url.rstrip("/")


@router.post("", response_model=DatasetPublic, status_code=202,
             responses={200: {"model": DatasetPublic,
                              "description": "The same spec and seed already had this version."},
                        202: {"description": "Queued; `Location` is the version to follow.",
                              "headers": {"Location": {"description": "/v1/datasets/{id}",
                                                       "schema": {"type": "string"}}}}})
def create_dataset(
    body: DatasetCreate, request: Request, response: Response, session: SessionDep, _: WriteDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> DatasetPublic | Response:
    """Queue generation of a dataset version (202); the same spec and seed return the same version."""
    request_hash = hashlib.sha256(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()
    if idempotency_key:
        # Take the key before doing any work: of concurrent requests sharing it, exactly one proceeds; the
        # others replay its answer (same body) or are refused (another body) and create nothing.
        replay = _claim_key(session, idempotency_key, request_hash, request.app.state.settings.public_url)
        if replay is not None:
            return replay
    settings = request.app.state.settings
    try:
        version, _job, created = datasets_service.create_dataset(session, body, settings.max_dataset_n,
                                                                 settings.outbound_refusals)
    except Exception:
        session.rollback()
        if idempotency_key:  # nothing was done: the key is free again (e.g. for the corrected request)
            _release_key(session, idempotency_key)
        raise
    public = datasets_service.to_public(session, version, _base_url(request))
    status = 202 if created or version.status == "pending" else 200
    response.status_code = status
    if status == 202:  # where to follow it (a path: the Host header is never reflected)
        response.headers["Location"] = link(settings.public_url, f"/v1/datasets/{version.id}")
    if idempotency_key:
        record = session.get(IdempotencyRecord, idempotency_key)
        if record is not None:
            record.status_code, record.response = status, public.model_dump(mode="json")
            session.commit()
    return public


IN_PROGRESS = 0  # status_code of a key whose first request is still running
IDEMPOTENCY_WAIT_S = 10.0
ABANDONED_AFTER_S = 300.0


def _claim_key(session: SessionDep, key: str, request_hash: str, public_url: str) -> Response | None:
    """Take `key` for this request (None), or the answer for a request that may not proceed."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
    while True:
        record = session.get(IdempotencyRecord, key)
        if record is None:
            session.add(IdempotencyRecord(key=key, request_sha256=request_hash, status_code=IN_PROGRESS, response={}))
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()
                continue
        if record.request_sha256 != request_hash:
            raise InvalidInput("this Idempotency-Key was used with a different request body; use a new key")
        if record.status_code != IN_PROGRESS:
            headers = {"Idempotent-Replayed": "true"}
            if record.status_code == 202 and record.response.get("id"):
                headers["Location"] = link(public_url, f"/v1/datasets/{record.response['id']}")
            return Response(orjson.dumps(record.response), status_code=record.status_code,
                            media_type="application/json", headers=headers)
        if (now() - record.created_at).total_seconds() > ABANDONED_AFTER_S:
            # Its request died between taking the key and answering: take it over.
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key == key,
                                                            IdempotencyRecord.status_code == IN_PROGRESS))
            session.commit()
            continue
        if time.monotonic() > deadline:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly",
                           extra={"retry_after_s": 2})
        session.rollback()  # end the read transaction, so the next look sees the other request's commit
        time.sleep(0.05)


def _release_key(session: SessionDep, key: str) -> None:
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key == key,
                                                    IdempotencyRecord.status_code == IN_PROGRESS))
    session.commit()


@router.get("", response_model=DatasetsPublic)
def list_datasets(
    request: Request, session: SessionDep, caches: CachesDep, _: ReadDep, page: PageDep,
    status: Annotated[str | None, Query(pattern="^(pending|ready|failed|cancelled)$")] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """List dataset versions, newest first (without their specs: GET /v1/datasets/{id} has one)."""
    rows, total = datasets_service.list_summaries(session, page.offset, page.limit, status, name, kind,
                                                  _base_url(request), caches.summaries)
    session.close()  # here, in this worker thread: not in another one after the response (get_session)
    # The rows are `DatasetSummaryPublic` JSON already (ready ones kept encoded): joined, not re-validated.
    body = b'{"data":[' + b",".join(rows) + b'],"count":' + str(total).encode() + b',"next":' + \
        orjson.dumps(next_page(request, page, total)) + b"}"
    return Response(body, media_type="application/json")


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(dataset_id: str, request: Request, session: SessionDep, _: ReadDep) -> DatasetPublic:
    """Get one dataset version, with its files and counts once ready."""
    return datasets_service.to_public(session, datasets_service.get_dataset(session, dataset_id), _base_url(request))


def _ready(session: SessionDep, dataset_id: str):  # type: ignore[no-untyped-def]
    version = datasets_service.get_dataset(session, dataset_id)
    if version.status != "ready":
        raise Conflict(f"dataset {dataset_id} is {version.status}; wait for status 'ready' (GET /v1/jobs/...)")
    return version


def _file(request: Request, version, name: str) -> dict:  # type: ignore[no-untyped-def]
    files = datasets_service.files_of(version)
    if name not in files:
        raise NotFound(f"dataset {version.id} has no file {name!r}; it has {', '.join(sorted(files))}")
    return files[name]


@router.get("/{dataset_id}/stats", response_class=Response, responses={200: {"content": {"application/json": {
    "schema": {"type": "object", "description": "stats.json: counts per behaviour, tool, domain and rejection "
               "reason, leak rates, diversity."}}}}})
def get_stats(dataset_id: str, request: Request, session: SessionDep, _: ReadDep) -> Response:
    """The version's `stats.json` (counts per behaviour, tool, domain, rejection reason)."""
    version = _ready(session, dataset_id)
    entry = _file(request, version, "stats.json")
    with request.app.state.store.open(entry["sha256"]) as fh:
        return Response(fh.read(), media_type="application/json")


@router.get("/{dataset_id}/card", response_class=Response, responses={200: {"content": {"text/markdown": {
    "schema": {"type": "string"}}}}})
def get_card(dataset_id: str, request: Request, session: SessionDep, _: ReadDep) -> Response:
    """The version's dataset card (Markdown)."""
    version = _ready(session, dataset_id)
    entry = _file(request, version, "README.md")
    with request.app.state.store.open(entry["sha256"]) as fh:
        return Response(fh.read(), media_type="text/markdown; charset=utf-8")


@router.get("/{dataset_id}/samples", response_class=Response, responses={200: {"model": SamplesPublic}})
async def list_samples(
    dataset_id: str, request: Request, caches: CachesDep, _: ReadDep, page: PageDep,
    behavior: Annotated[str | None, Query(pattern="^(execution|clarification|refusal|direct)$")] = None,
    tool: Annotated[str | None, Query(max_length=64)] = None,
    step: Annotated[int | None, Query(ge=1, description="Rollouts versions: the optimizer step.")] = None,
    reward: Annotated[float | None, Query(ge=0, le=1, description="Rollouts versions: the exact tiered reward.")]
    = None,
) -> Response:
    """A page of samples (`{"data", "count", "offset", "next"}`), optionally by behaviour and tool
    (and, for rollouts versions, by step and reward)."""
    # Async: a version seen in the last seconds is served from memory (its manifest, index and mapped rows)
    # without a worker thread; only what is not kept yet (a database read, a file to open) takes one. Twenty
    # seeks and reads in a thread released and retook the GIL forty times a page, and each retake could wait
    # a switch interval (5 ms) behind a busy thread: under load, pages waited ~100 ms for the GIL.
    offset, limit = page.offset, page.limit
    manifest = caches.manifests.get(dataset_id)
    if manifest is None:
        manifest = await run_in_threadpool(_ready_manifest, request, caches, dataset_id)
    index = caches.sample_indexes.get(dataset_id)
    if index is None:
        index = await run_in_threadpool(_index, request, caches, dataset_id, manifest)
    keys = ([f"behavior:{behavior}"] if behavior else []) + ([f"tool:{tool}"] if tool else [])
    keys += ([f"step:{step}"] if step is not None else []) + ([reward_key(reward)] if reward is not None else [])
    samples_sha = manifest["files"][manifest["samples_file"]]["sha256"]
    rows = caches.sample_rows.get(samples_sha)
    if rows is None:
        rows = await run_in_threadpool(_mapped_rows, request, caches, samples_sha)
    if rows is not None:  # in memory: no I/O
        lines, total = _page(index, keys, offset, limit, rows)
    else:  # a remote store: read in a thread
        lines, total = await run_in_threadpool(_read_page, request.app.state.store, samples_sha, index, keys,
                                               offset, limit)
    # The stored lines are the rows' JSON already: joined, not decoded and encoded again.
    following = next_page(request, page, total)
    body = b'{"data":[' + b",".join(lines) + b'],"count":' + str(total).encode() + b',"offset":' + \
        str(offset).encode() + b',"next":' + orjson.dumps(following) + b"}"
    return Response(body, media_type="application/json")


def _page(index: SampleIndex, keys: list[str], offset: int, limit: int, rows: Rows) -> tuple[list[bytes], int]:
    if len(keys) <= 1:
        return index.page(keys[0] if keys else "all", offset, limit, rows)
    return index.page_filtered(keys, offset, limit, rows)


def _read_page(store: ArtifactStore, sha256: str, index: SampleIndex, keys: list[str], offset: int,
               limit: int) -> tuple[list[bytes], int]:
    with store.open(sha256) as fh:
        return _page(index, keys, offset, limit, fh)


def _mapped_rows(request: Request, caches: RouteCaches, sha256: str) -> Rows | None:
    """A local samples file, memory-mapped and kept (None: the store is not local, read it per page)."""
    path = request.app.state.store.local_path(sha256)
    if path is None:
        return None
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        rows: Rows = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) if size else b""
    caches.sample_rows.put(sha256, rows)
    return rows


def _ready_manifest(request: Request, caches: RouteCaches, dataset_id: str) -> dict:
    """The manifest of a ready version (kept briefly: see ``app.caches``)."""
    def load() -> dict:
        with request.app.state.sessions() as session:
            return _ready(session, dataset_id).manifest or {}

    return caches.manifests.get_or_load(dataset_id, load)


def _index(request: Request, caches: RouteCaches, dataset_id: str, manifest: dict) -> SampleIndex:
    def load() -> SampleIndex:
        entry = manifest["files"][datasets_service.INDEX_FILE]
        with request.app.state.store.open(entry["sha256"]) as fh:
            return SampleIndex(fh.read())

    return caches.sample_indexes.get_or_load(dataset_id, load)


# A file's media type, by its extension (anything else, e.g. samples.index, is application/octet-stream).
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "json": "application/json", "md": "text/markdown",
               "parquet": "application/vnd.apache.parquet", "png": "image/png"}
OCTET_STREAM = "application/octet-stream"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILE_CONTENT = {**{media: _BINARY for media in MEDIA_TYPES.values()}, "application/json": {"schema": {
    "type": "object", "description": "stats.json, meta.json and the other JSON files: one object."}},
    OCTET_STREAM: _BINARY}


def media_type_of(name: str) -> str:
    """The media type a file is sent with.

    >>> media_type_of("samples.jsonl"), media_type_of("samples.index")
    ('application/x-ndjson', 'application/octet-stream')
    """
    return MEDIA_TYPES.get(name.rsplit(".", 1)[-1], OCTET_STREAM) if "." in name else OCTET_STREAM


_ETAG = {"ETag": {"description": "The file's sha256, quoted (files are immutable).", "required": True,
                  "schema": {"type": "string"}}}
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _FILE_CONTENT, "headers": _ETAG,
          "description": "The file, with the media type of its extension (JSONL: application/x-ndjson)."},
    206: {"content": _FILE_CONTENT, "description": "The byte range asked for (`Range: bytes=FIRST-LAST`).",
          "headers": {**_ETAG, "Content-Range": {"description": "bytes FIRST-LAST/SIZE", "required": True,
                                                 "schema": {"type": "string"}}}},
    304: {"description": "`If-None-Match` names this file's ETag: the copy the client has is current.",
          "headers": _ETAG},
    416: {"model": ErrorPublic, "description": "The byte range is malformed or starts past the end.",
          "headers": {"Content-Range": {"description": "bytes */SIZE", "required": True,
                                        "schema": {"type": "string"}}}},
}


@router.get("/{dataset_id}/files/{name}", response_class=StreamingResponse, responses=_FILE_RESPONSES)
@router.head("/{dataset_id}/files/{name}", response_class=StreamingResponse, responses=_FILE_RESPONSES,
             summary="Download File (headers only)")
def download_file(
    dataset_id: str, name: str, request: Request, session: SessionDep, _: ReadDep,
    range_: Annotated[str | None, Header(alias="Range", max_length=200, description=(
        "One byte range (`bytes=0-1023`, `bytes=1024-`, `bytes=-1024`) to resume a download; several ranges "
        "are ignored (the whole file)."))] = None,
    if_none_match: Annotated[str | None, Header(max_length=2000, description="ETags the client holds: 304 if "
                                                "one is this file's.")] = None,
    if_range: Annotated[str | None, Header(max_length=200, description="Honour `Range` only if the file "
                                           "still has this ETag (else the whole file).")] = None,
) -> Response:
    """Download one file of a ready version, whole or a byte range; `ETag` (its sha256), `X-Checksum-Sha256`
    and `Content-Length` come with it, and HEAD answers the headers alone."""
    version = _ready(session, dataset_id)
    entry = _file(request, version, name)
    etag, size = etag_of(entry["sha256"]), entry["size"]
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "X-Checksum-Sha256": entry["sha256"]}
    if if_none_match and etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    span = byte_range(range_ if if_range is None or if_range.strip() == etag else None, size)
    first, length, status = (0, size, 200) if span is None else (span[0], span[1] - span[0] + 1, 206)
    if span is not None:
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    headers |= {"Content-Length": str(length), "Content-Disposition": f'attachment; filename="{name}"'}
    media = media_type_of(name)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    return StreamingResponse(request.app.state.store.iter_bytes(entry["sha256"], start=first, length=length),
                             status_code=status, media_type=media, headers=headers)


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: str, session: SessionDep, caches: CachesDep, _: WriteDep) -> Response:
    """Delete a version that no model, evaluation, derived dataset or unfinished job depends on."""
    datasets_service.delete_dataset(session, dataset_id)
    caches.forget(dataset_id)
    return Response(status_code=204)


_TAR_BODY = {"requestBody": {"required": True, "content": {"application/x-tar": {"schema": {
    "type": "string", "format": "binary",
    "description": "A tar archive: `<kind>.jsonl` (required), PNG charts and `meta.json` (optional)."}}}}}


@router.post("/{dataset_id}/derived", response_model=DatasetPublic, status_code=201, openapi_extra=_TAR_BODY,
             responses={200: {"model": DatasetPublic,
                              "description": "The same upload was published before; this is that version."}})
async def create_derived(
    dataset_id: str, request: Request, response: Response, _: WorkerDep,
    kind: Annotated[str, Query(pattern="^(rollouts|preferences)$", description="rollouts or preferences")],
    name: Annotated[str, Query(min_length=1, max_length=128, description="The new version's name.")],
) -> DatasetPublic:
    """Publish a derived version of a ready one (GRPO rollouts, DPO preference pairs) from a tar upload."""
    settings = request.app.state.settings
    work = settings.data_dir / "work" / f"upload-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    try:
        archive = work / "upload.tar"
        with open(archive, "wb") as fh:  # streamed to disk: uploads may be far larger than memory
            async for chunk in request.stream():
                fh.write(chunk)
        public, created = await run_in_threadpool(
            derived_service.create_derived, request.app.state.sessions, request.app.state.store, dataset_id,
            kind, name, archive, work, _base_url(request))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    response.status_code = 201 if created else 200
    return public

"""Dataset versions: content-addressed creation, publication of generated files, reads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api_models import DatasetCreate, DatasetPublic, DatasetSummaryPublic, FilePublic
from app.errors import Conflict, InvalidInput, NotFound
from app.models import DatasetVersion, Evaluation, Job, ModelVersion, now
from app.services import jobs as jobs_service
from app.services.events import publish
from app.services.tools import live_registry
from generators import GENERATOR_VERSION
from generators.outbound import Refusal
from generators.spec import DatasetSpec, ParaphraseOptions, SpecError, select_tools
from training.trainers.config import setting_default

INDEX_FILE = "samples.index"


def content_key(spec: dict[str, Any], registry_digest: str, kind: str = "samples") -> str:
    """The address of a version: what determines its bytes (spec, registry, generator version)."""
    canonical = orjson.dumps({"spec": spec, "registry": registry_digest, "generator": GENERATOR_VERSION,
                              "kind": kind}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def create_dataset(
    session: Session, body: DatasetCreate, max_n: int, outbound: Callable[[ParaphraseOptions], list[Refusal]]
) -> tuple[DatasetVersion, Job | None, bool]:
    """Create (or find) the version for a spec and queue its generation.

    Args:
        session: an open session.
        body: the request.
        max_n: the largest dataset allowed.
        outbound: the operator's allow-lists for paraphrase keys and endpoints (`Settings.outbound_refusals`).

    Returns:
        `(version, job, created)`; `created` is False when the same spec and seed already had a version.

    Raises:
        InvalidInput: the spec is over the size cap, names a paraphrase key or endpoint the operator does not
            allow, or cannot be satisfied by the live registry.
    """
    if body.n > max_n:
        raise InvalidInput(f"n={body.n} is above this server's cap of {max_n}; lower n or raise "
                           "TOOLFORGE_MAX_DATASET_N")
    spec = DatasetSpec.model_validate(body.model_dump(exclude={"train"}))
    refused = outbound(spec.paraphrase)
    if refused:
        raise InvalidInput("; ".join(r.detail for r in refused),
                           extra={"settings": sorted({r.setting for r in refused})})
    registry, rows = live_registry(session)
    try:
        chosen = select_tools(registry, spec)
    except SpecError as exc:
        raise InvalidInput(str(exc)) from exc
    spec_dict = spec.model_dump(mode="json")
    key = content_key(spec_dict, registry.digest)
    existing = session.scalar(select(DatasetVersion).where(DatasetVersion.content_key == key))
    train = train_config(body.train)
    if existing is not None and existing.status not in ("failed", "cancelled"):
        job = latest_job(session, existing.id)
        # A pending version whose job was cancelled (or given up after lost leases) has no one working
        # on it: queue it again below instead of returning a version that stays pending forever.
        if existing.status == "ready" or (job is not None and job.status not in ("cancelled", "failed")):
            recorded = (job.payload or {}).get("train") if job is not None else None
            if train is not None and train != recorded:
                # The version exists; its `train` block was fixed when it was requested. Never drop the new one.
                raise Conflict(
                    f"dataset {existing.id} already exists for this spec and seed, requested with "
                    f"{'train ' + orjson.dumps(recorded).decode() if recorded else 'no train block'}; to train it "
                    f"with this config, POST /v1/training-jobs {{\"dataset_id\": \"{existing.id}\", \"config\": "
                    "...}} once it is ready", extra={"dataset_id": existing.id})
            return existing, job, False
    # Pin the registry: the job generates from exactly these tool versions, whatever changes later.
    payload = {"spec": spec_dict, "tool_version_ids": [r.id for r in rows], "selected": [t.name for t in chosen],
               "train": train}
    if existing is not None:  # a failed, cancelled (or abandoned) version is retried in place
        existing.status, existing.error = "pending", None
        job = jobs_service.create_job(session, "generation", payload, existing.id)
        session.commit()
        return existing, job, True
    version = DatasetVersion(id=f"ds_{key[:24]}", name=spec.name, kind="samples", content_key=key,
                             status="pending", spec=spec_dict, registry_digest=registry.digest)
    session.add(version)
    try:
        session.flush()
        job = jobs_service.create_job(session, "generation", payload, version.id)
        session.commit()
    except IntegrityError:
        # A concurrent request created the same version first: return theirs.
        session.rollback()
        version = session.scalars(select(DatasetVersion).where(DatasetVersion.content_key == key)).one()
        return version, latest_job(session, version.id), False
    return version, job, True


def latest_job(session: Session, dataset_id: str) -> Job | None:
    return session.scalar(
        select(Job).where(Job.dataset_id == dataset_id, Job.kind == "generation").order_by(Job.created_at.desc())
        .limit(1)
    )


def get_dataset(session: Session, dataset_id: str) -> DatasetVersion:
    row = session.get(DatasetVersion, dataset_id)
    if row is None:
        raise NotFound(f"no dataset version {dataset_id!r}; GET /v1/datasets lists them")
    return row


def files_of(version: DatasetVersion) -> dict[str, dict[str, Any]]:
    return (version.manifest or {}).get("files", {})


def to_public(session: Session, version: DatasetVersion, base_url: str = "") -> DatasetPublic:
    """The whole version, spec included (GET /v1/datasets/{id})."""
    job = latest_job(session, version.id)
    return DatasetPublic.model_validate({**_public_fields(version, base_url, job.id if job else None),
                                         "spec": version.spec})


def to_summaries(session: Session, versions: list[DatasetVersion], base_url: str = "") -> list[DatasetSummaryPublic]:
    """A list page's rows: no spec (a paraphrase prompt alone can be kilobytes), one query for their jobs."""
    latest: dict[str, str] = {}
    if versions:
        rows = session.execute(select(Job.dataset_id, Job.id).where(
            Job.dataset_id.in_([v.id for v in versions]), Job.kind == "generation").order_by(Job.created_at))
        latest = {dataset_id: job_id for dataset_id, job_id in rows}  # the newest job comes last and wins
    return [DatasetSummaryPublic.model_validate(_public_fields(v, base_url, latest.get(v.id))) for v in versions]


def _public_fields(version: DatasetVersion, base_url: str, job_id: str | None) -> dict[str, Any]:
    files = [
        FilePublic(name=name, sha256=f["sha256"], size=f["size"],
                   url=f"{base_url}/v1/datasets/{version.id}/files/{name}")
        for name, f in sorted(files_of(version).items())
    ]
    spec = version.spec or {}
    derived = version.kind != "samples"
    return {**{c: getattr(version, c) for c in ("id", "name", "kind", "status", "registry_digest", "parent_id",
                                                "error", "created_at", "ready_at")},
            **{k: None if derived else spec.get(k) for k in ("n", "seed", "split")},
            "counts": (version.manifest or {}).get("counts", {}), "files": files, "job_id": job_id}


def _filtered(query, status: str | None, name: str | None, kind: str | None):  # type: ignore[no-untyped-def]
    if status:
        query = query.where(DatasetVersion.status == status)
    if name:
        query = query.where(DatasetVersion.name == name)
    if kind:
        query = query.where(DatasetVersion.kind == kind)
    return query


class SummaryCache(Protocol):
    def get(self, key: tuple[str, str]) -> bytes | None: ...
    def put(self, key: tuple[str, str], value: bytes) -> None: ...


def list_summaries(session: Session, offset: int, limit: int, status: str | None, name: str | None,
                   kind: str | None, base_url: str, cache: SummaryCache) -> tuple[list[bytes], int]:
    """A list page's rows as JSON (`DatasetSummaryPublic`), and how many rows match in all pages.

    The page itself is two light queries (its ids, its count). A ready version never changes, so its
    summary is encoded once and kept under `(id, ready_at)` (a version deleted and generated again is
    ready at another time); only the other rows load their spec and manifest (JSON columns, ~10 KB a row:
    decoding them was most of a listing's cost) and their job.
    """
    # Autocommit: no BEGIN and no ROLLBACK round trips (each one a wait for the GIL under load); the one
    # query below sees one snapshot: the page and, in each row, the count of all matching rows (a window,
    # evaluated before LIMIT).
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    query = _filtered(select(DatasetVersion.id, DatasetVersion.status, DatasetVersion.ready_at,
                             func.count().over().label("total")), status, name, kind)
    rows = session.execute(query.order_by(DatasetVersion.created_at.desc(), DatasetVersion.id)
                           .offset(offset).limit(limit)).all()
    total = rows[0].total if rows else 0
    if not rows and offset:  # past the last page: count the matching rows alone
        total = session.scalar(select(func.count()).select_from(_filtered(
            select(DatasetVersion.id), status, name, kind).subquery())) or 0
    keys = {row.id: (row.id, row.ready_at.isoformat()) for row in rows if row.status == "ready" and row.ready_at}
    found = {row.id: hit for row in rows if row.id in keys and (hit := cache.get(keys[row.id])) is not None}
    missing = [row.id for row in rows if row.id not in found]
    if missing:
        versions = session.scalars(select(DatasetVersion).where(DatasetVersion.id.in_(missing))).all()
        for version, summary in zip(versions, to_summaries(session, list(versions), base_url), strict=True):
            encoded = summary.model_dump_json().encode()
            found[version.id] = encoded
            if version.status == "ready" and version.ready_at is not None:
                cache.put((version.id, version.ready_at.isoformat()), encoded)
    # A row deleted between the two queries is left out of this page.
    return [found[row.id] for row in rows if row.id in found], total


def delete_dataset(session: Session, dataset_id: str) -> None:
    """Delete a version that nothing depends on (its blobs stay: they are content-addressed and may be shared)."""
    version = get_dataset(session, dataset_id)
    dependants = [
        ("model versions", select(func.count()).select_from(ModelVersion).where(ModelVersion.dataset_id == dataset_id)),
        ("evaluations", select(func.count()).select_from(Evaluation).where(Evaluation.dataset_id == dataset_id)),
        ("derived datasets", select(func.count()).select_from(DatasetVersion)
         .where(DatasetVersion.parent_id == dataset_id)),
        ("unfinished jobs", select(func.count()).select_from(Job)
         .where(Job.dataset_id == dataset_id, Job.status.in_(("queued", "running")))),
    ]
    for label, query in dependants:
        count = session.scalar(query) or 0
        if count:
            raise Conflict(f"dataset {dataset_id} has {count} {label} depending on it; delete those first")
    for job in session.scalars(select(Job).where(Job.dataset_id == dataset_id)):
        job.dataset_id = None
    session.delete(version)
    session.commit()


def mark_ready(session: Session, dataset_id: str, manifest: dict[str, Any],
               skipped_tools: dict[str, str] | None = None) -> None:
    """Publish a version (the caller commits, together with the job's success).

    `skipped_tools` (tool -> reason) names tools left out because their arguments cannot be generated; it is
    recorded as the version's `error` note and in the `dataset.ready` event.
    """
    version = get_dataset(session, dataset_id)
    version.manifest = manifest
    version.status = "ready"
    version.ready_at = now()
    version.error = None
    payload = {"name": version.name, "counts": manifest.get("counts", {}), "split": version.spec.get("split")}
    if skipped_tools:
        version.error = "tools left out (their arguments cannot be generated): " + "; ".join(
            f"{name}: {why}" for name, why in sorted(skipped_tools.items()))
        payload["skipped_tools"] = skipped_tools
    publish(session, "dataset.ready", dataset_id, payload)


def train_config(train: dict[str, Any] | None) -> dict[str, Any] | None:
    """The training config stored with a generation job: as sent, with base_model and method always recorded."""
    if train is None:
        return None
    return {"base_model": setting_default("base_model"), "method": setting_default("method"), **train}

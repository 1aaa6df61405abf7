"""Jobs and leases. Every transition is a conditional UPDATE, so two claimers can never both win.

A running job holds a lease (`lease_owner`, `lease_expires_at`); heartbeats extend it. A job
whose lease expired goes back to the queue with its last checkpoint, up to `MAX_ATTEMPTS`.

A training job's lease is bound to the API key that claimed it and a random lease token returned only
by the claim: its `lease_owner` is `<digest>:<worker id>`, the digest a hash of key id and token, so
neither the stored row nor anything public lets another key or worker act on it (`lease_owner_for`,
`holds_lease`); the public view shows the worker id only (`lease_label`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.models import DatasetVersion, Event, Job, ModelVersion, new_id, now
from app.services.events import publish
from app.settings import Settings

MAX_ATTEMPTS = 3
LEASE_EXPIRED = "lease_expired"  # the `reason` of the job.requeued / job.failed event of an expired lease
FINAL = ("succeeded", "failed", "cancelled")
_DIGEST_CHARS = 32
_BOUND = re.compile(r"^[0-9a-f]{32}:")


def _lease_digest(key_id: str, token: str) -> str:
    return hashlib.sha256(f"{key_id}\0{token}".encode()).hexdigest()[:_DIGEST_CHARS]


def lease_owner_for(key_id: str, token: str, worker_id: str) -> str:
    """The `lease_owner` of a lease claimed by `key_id` with `token` for the worker `worker_id`."""
    return f"{_lease_digest(key_id, token)}:{worker_id}"[:128]


def holds_lease(job: Job, key_id: str | None, token: str) -> bool:
    """Whether the key `key_id` presenting `token` is the one that claimed the job's current lease."""
    owner = job.lease_owner or ""
    if key_id is None or not _BOUND.match(owner):
        return False
    return hmac.compare_digest(owner[:_DIGEST_CHARS], _lease_digest(key_id, token))


def lease_label(owner: str | None) -> str | None:
    """What the public sees of a lease owner: the worker id, never the binding digest."""
    if owner and _BOUND.match(owner):
        return owner[_DIGEST_CHARS + 1:]
    return owner


def job_counts(session: Session) -> dict[str, Any]:
    """What /metrics reports about jobs, from the database (so every process and replica agrees).

    Returns:
        ``by_status`` {(kind, status): count}, ``samples_generated`` (progress of every generation job),
        ``generation_rate`` (samples/s of the running generation jobs) and ``lease_expiries`` (leases that
        ran out, training and generation).
    """
    rows = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)).all()
    generation = session.execute(
        select(func.coalesce(func.sum(Job.progress_done), 0),
               func.coalesce(func.sum(case((Job.status == "running", Job.rate), else_=0)), 0))
        .where(Job.kind == "generation")).one()
    expiries = session.scalar(select(func.count()).select_from(Event).where(
        Event.type.in_(("job.requeued", "job.failed")), Event.payload["reason"].as_string() == LEASE_EXPIRED))
    return {"by_status": {(kind, status): n for kind, status, n in rows}, "samples_generated": int(generation[0]),
            "generation_rate": float(generation[1]), "lease_expiries": expiries or 0}


def check_artifact(settings: Settings, uri: str | None, field: str) -> None:
    """Refuse (422) a model or checkpoint URI outside the artifact store and TOOLFORGE_MODEL_ARTIFACT_ROOTS."""
    roots = [settings.resolved_artifact_url, *settings.model_artifact_roots]
    if uri and not artifact_in_store(uri, roots):
        raise InvalidInput(f"{field} {uri!r} is not in the artifact store; upload under {roots[0]} (or a root "
                           "in TOOLFORGE_MODEL_ARTIFACT_ROOTS)")


def artifact_in_store(uri: str, roots: Sequence[str]) -> bool:
    """Whether `uri` (a path or URL) lies at or under one of `roots` (the artifact store and any extra roots).

    Local paths are compared after normalisation (so `..` cannot climb out); URLs by scheme, host and path
    segments, with `..` segments refused.

    >>> artifact_in_store("/data/artifacts/models/job_1", ["/data/artifacts"])
    True
    >>> artifact_in_store("file:///etc/passwd", ["/data/artifacts"])
    False
    >>> artifact_in_store("/data/artifacts/../../etc/passwd", ["/data/artifacts"])
    False
    >>> artifact_in_store("s3://bucket/tf/models/job_1", ["s3://bucket/tf"]), artifact_in_store("s3://bucket/tfx", ["s3://bucket/tf"])
    (True, False)
    """
    target = _location(uri)
    if target is None:
        return False
    for root in roots:
        base = _location(root)
        if base is not None and base[0] == target[0] and target[1][: len(base[1])] == base[1]:
            return True
    return False


def _location(uri: str) -> tuple[tuple[str, str], list[str]] | None:
    parts = urlsplit(uri)
    if len(parts.scheme) <= 1 or parts.scheme == "file":  # a plain path (or a Windows drive letter)
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
            return None
        path = parts.path if parts.scheme == "file" else uri
        if not os.path.isabs(path):
            return None
        return ("file", ""), [seg for seg in os.path.normpath(path).split(os.sep) if seg]
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    segments = [seg for seg in parts.path.split("/") if seg]
    if any(seg in (".", "..") for seg in segments):
        return None
    return (parts.scheme.lower(), parts.netloc.lower()), segments


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}; GET /v1/jobs lists them")
    return job


def create_job(session: Session, kind: str, payload: dict[str, Any], dataset_id: str | None = None) -> Job:
    """Queue a job (added to the session; the caller commits)."""
    job = Job(id=new_id("job"), kind=kind, status="queued", payload=payload, dataset_id=dataset_id)
    session.add(job)
    publish(session, "job.queued", job.id, {"kind": kind, "dataset_id": dataset_id})
    return job


def requeue_expired(session: Session, kind: str) -> int:
    """Put running jobs of `kind` whose lease expired back in the queue (or fail them after too many tries)."""
    expired = list(session.scalars(
        select(Job).where(Job.kind == kind, Job.status == "running", Job.lease_expires_at < now())
    ))
    for job in expired:
        give_up = job.attempts >= MAX_ATTEMPTS
        values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
        if give_up:
            values |= {"status": "failed", "finished_at": now(),
                       "error": f"lease expired {job.attempts} times (worker lost); giving up"}
        else:
            values |= {"status": "queued"}
        res = session.execute(
            update(Job).where(Job.id == job.id, Job.status == "running", Job.lease_owner == job.lease_owner)
            .values(**values)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            publish(session, "job.failed" if give_up else "job.requeued", job.id,
                    {"kind": kind, "checkpoint_uri": job.checkpoint_uri, "attempts": job.attempts,
                     "reason": LEASE_EXPIRED})
            if give_up and kind == "generation" and job.dataset_id:
                # The version this job was making will not become ready: say so (a re-POST retries it).
                session.execute(
                    update(DatasetVersion).where(DatasetVersion.id == job.dataset_id,
                                                 DatasetVersion.status == "pending")
                    .values(status="failed", error=values["error"])
                )
                publish(session, "dataset.failed", job.dataset_id, {"error": values["error"]})
    session.commit()
    return len(expired)


def claim_next(session: Session, kind: str, owner: str, lease_seconds: int) -> Job | None:
    """Claim the oldest queued job of `kind` for `owner`; None when the queue is empty.

    `owner` is what later calls must present (`lease_owner_for` for a training job); the `job.running`
    event names the worker (`lease_label`).
    """
    requeue_expired(session, kind)
    candidates = session.scalars(
        select(Job.id).where(Job.kind == kind, Job.status == "queued").order_by(Job.created_at, Job.id).limit(8)
    ).all()
    for job_id in candidates:
        moment = now()
        res = session.execute(
            update(Job).where(Job.id == job_id, Job.status == "queued").values(
                status="running", lease_owner=owner, lease_expires_at=moment + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1, started_at=moment,
            )
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            publish(session, "job.running", job_id, {"kind": kind, "owner": lease_label(owner)})
            session.commit()
            job = session.get(Job, job_id)
            session.refresh(job)
            return job
        session.rollback()
    return None


def heartbeat(session: Session, job_id: str, owner: str, lease_seconds: int, *, progress_done: int | None = None,
              progress_total: int | None = None, metrics: dict[str, Any] | None = None,
              checkpoint_uri: str | None = None, rate: float | None = None) -> Job:
    """Extend `owner`'s lease and record progress.

    Raises:
        Conflict: the job is not running under this owner any more (lease lost or cancelled).
    """
    values: dict[str, Any] = {"lease_expires_at": now() + timedelta(seconds=lease_seconds), "updated_at": now()}
    if progress_done is not None:
        values["progress_done"] = progress_done
    if progress_total is not None:
        values["progress_total"] = progress_total
    if rate is not None:
        values["rate"] = rate
    if metrics:
        values["metrics"] = metrics
    if checkpoint_uri:
        values["checkpoint_uri"] = checkpoint_uri
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "running", Job.lease_owner == owner).values(**values)
    )
    session.commit()
    if res.rowcount != 1:  # type: ignore[attr-defined]
        job = get_job(session, job_id)
        raise Conflict(f"job {job_id} is {job.status} and not leased to {lease_label(owner)!r}; stop working on it",
                       extra={"status": job.status})
    return get_job(session, job_id)


def finish(session: Session, job_id: str, owner: str | None, status: str, *, error: str | None = None,
           model_id: str | None = None) -> bool:
    """Move a running job to a final status if `owner` still holds it; False when it does not.

    The caller commits (so the transition lands with the rows it announces).
    """
    where = [Job.id == job_id, Job.status == "running"]
    if owner is not None:
        where.append(Job.lease_owner == owner)
    values: dict[str, Any] = {"status": status, "finished_at": now(), "lease_expires_at": None, "error": error}
    if model_id:
        values["model_id"] = model_id
    res = session.execute(update(Job).where(*where).values(**values))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return False
    publish(session, f"job.{status}", job_id, {"error": error} if error else {})
    return True


def cancel(session: Session, job_id: str) -> Job:
    job = get_job(session, job_id)
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running")))
        .values(status="cancelled", finished_at=now(), lease_owner=None, lease_expires_at=None)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"job {job_id} is already {job.status}; only queued or running jobs can be cancelled")
    publish(session, "job.cancelled", job_id, {"kind": job.kind})
    if job.kind == "generation" and job.dataset_id:
        # Nobody will finish this version: say so, in the same commit (re-POSTing the spec re-creates it).
        error = f"generation job {job_id} was cancelled; POST the same spec again to re-create this version"
        res = session.execute(
            update(DatasetVersion).where(DatasetVersion.id == job.dataset_id, DatasetVersion.status == "pending")
            .values(status="cancelled", error=error)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            publish(session, "dataset.cancelled", job.dataset_id, {"job_id": job_id})
    session.commit()
    session.refresh(job)
    return job


def release(session: Session, job_id: str, owner: str) -> Job:
    """Give a running job back to the queue (a worker stopping cleanly), keeping its checkpoint."""
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "running", Job.lease_owner == owner)
        .values(status="queued", lease_owner=None, lease_expires_at=None)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"job {job_id} is not leased to {lease_label(owner)!r}")
    publish(session, "job.requeued", job_id, {"reason": "released"})
    session.commit()
    return get_job(session, job_id)


def complete_training(session: Session, job_id: str, owner: str, model: dict[str, Any]) -> ModelVersion:
    """Register the model version a training job produced; exactly once per job."""
    job = get_job(session, job_id)
    if job.kind != "training":
        raise Conflict(f"job {job_id} is a {job.kind} job, not a training job")
    existing = session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))
    if existing is not None:
        # A retry by the worker that finished the job gets its model back; anyone else is told no.
        if job.lease_owner != owner:
            raise Conflict(f"job {job_id} was completed by another worker; the model was not registered")
        return existing
    row = ModelVersion(id=new_id("model"), job_id=job_id, **model)
    session.add(row)
    session.flush()
    if not finish(session, job_id, owner, "succeeded", model_id=row.id):
        session.rollback()
        raise Conflict(f"job {job_id} is {job.status} and not leased to {lease_label(owner)!r}; the model was not "
                       "registered")
    publish(session, "model.ready", row.id, {"dataset_id": row.dataset_id, "job_id": job_id,
                                             "evaluate": bool((job.payload.get("config") or {}).get("evaluate", True))})
    session.commit()
    return row


def eta(job: Job) -> float | None:
    if job.rate and job.progress_total and job.status == "running":
        return max(job.progress_total - job.progress_done, 0) / job.rate
    return None

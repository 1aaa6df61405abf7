"""Jobs (generation, training, evaluation) and the worker protocol for training jobs."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from app.api_models import (
    Claim,
    Heartbeat,
    JobComplete,
    JobFail,
    JobPublic,
    JobsPublic,
    LeasedJob,
    ModelPublic,
    Release,
    TrainingJobCreate,
)
from app.auth import Principal, ReadDep, WorkerDep, WriteDep
from app.db import SessionDep
from app.errors import Conflict, Forbidden, NotFound
from app.models import Job
from app.paging import PageDep, next_page
from app.services import datasets as datasets_service
from app.services import jobs as jobs_service

router = APIRouter(tags=["jobs"])


def public(job: Job) -> JobPublic:
    out = JobPublic.model_validate(job)
    out.eta_seconds = jobs_service.eta(job)
    out.lease_owner = jobs_service.lease_label(job.lease_owner)
    return out


def _leased(session: SessionDep, job_id: str, principal: Principal, token: str) -> Job:
    """The training job `job_id` if this key and lease token hold its lease.

    Raises:
        NotFound: no such training job (generation jobs are the service's own and never leased out).
        Forbidden: the job is running under another key or lease token.
        Conflict: the job is not running under this lease any more (re-queued, cancelled, finished).
    """
    job = session.get(Job, job_id)
    if job is None or job.kind != "training":
        raise NotFound(f"no training job {job_id!r}; workers only lease training jobs (POST /v1/training-jobs/claim)")
    if not jobs_service.holds_lease(job, principal.key_id, token):
        if job.status == "running":
            raise Forbidden(f"job {job_id} is leased to another worker; only the API key and lease token that "
                            "claimed it may report on it")
        raise Conflict(f"job {job_id} is {job.status} and not leased to you; stop working on it",
                       extra={"status": job.status})
    return job


@router.get("/v1/jobs", response_model=JobsPublic)
def list_jobs(
    request: Request, session: SessionDep, _: ReadDep, page: PageDep,
    kind: Annotated[str | None, Query(pattern="^(generation|training|evaluation)$")] = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
    dataset_id: Annotated[str | None, Query(max_length=40)] = None,
) -> JobsPublic:
    """List jobs, newest first."""
    query = select(Job)
    for column, value in ((Job.kind, kind), (Job.status, status), (Job.dataset_id, dataset_id)):
        if value:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id).offset(page.offset).limit(page.limit))
    return JobsPublic(data=[public(j) for j in rows], count=total, next=next_page(request, page, total))


@router.get("/v1/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, session: SessionDep, _: ReadDep) -> JobPublic:
    """Get a job: status, progress (done/total, rate, ETA), error, lease."""
    return public(jobs_service.get_job(session, job_id))


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: str, session: SessionDep, _: WriteDep) -> JobPublic:
    """Cancel a queued or running job."""
    return public(jobs_service.cancel(session, job_id))


@router.post("/v1/training-jobs", response_model=JobPublic, status_code=201)
def create_training_job(body: TrainingJobCreate, session: SessionDep, _: WriteDep) -> JobPublic:
    """Queue a training job on a ready dataset version."""
    version = datasets_service.get_dataset(session, body.dataset_id)
    if version.status != "ready":
        raise Conflict(f"dataset {body.dataset_id} is {version.status}; train on a ready version")
    job = jobs_service.create_job(session, "training", {"config": body.config}, body.dataset_id)
    session.commit()
    return public(job)


@router.post("/v1/training-jobs/claim", response_model=LeasedJob,
             responses={204: {"description": "No training job is queued."}})
def claim_training_job(
    body: Claim, request: Request, session: SessionDep, principal: WorkerDep
) -> LeasedJob | Response:
    """Claim the oldest queued training job with a lease (an expired lease's job is queued again first).

    The lease is bound to this API key and the returned `lease_token`; send the token with every later
    call on the job."""
    lease = body.lease_seconds or request.app.state.settings.lease_seconds
    assert principal.key_id is not None  # WorkerDep admits keys only
    token = secrets.token_urlsafe(32)
    owner = jobs_service.lease_owner_for(principal.key_id, token, body.worker_id)
    job = jobs_service.claim_next(session, "training", owner, lease)
    if job is None:
        return Response(status_code=204)
    return LeasedJob(**public(job).model_dump(), lease_token=token)


@router.post("/v1/training-jobs/{job_id}/heartbeat", response_model=JobPublic)
def heartbeat(job_id: str, body: Heartbeat, request: Request, session: SessionDep, principal: WorkerDep) -> JobPublic:
    """Extend the lease and report progress, metrics and the last checkpoint; 409 when the lease was lost,
    403 when it is someone else's."""
    job = _leased(session, job_id, principal, body.lease_token)
    jobs_service.check_artifact(request.app.state.settings, body.checkpoint_uri, "checkpoint_uri")
    job = jobs_service.heartbeat(
        session, job_id, job.lease_owner or "", body.lease_seconds or request.app.state.settings.lease_seconds,
        progress_done=body.progress_done, progress_total=body.progress_total, metrics=body.metrics,
        checkpoint_uri=body.checkpoint_uri,
    )
    return public(job)


@router.post("/v1/training-jobs/{job_id}/complete", response_model=ModelPublic, status_code=201)
def complete(job_id: str, body: JobComplete, request: Request, session: SessionDep,
             principal: WorkerDep) -> ModelPublic:
    """Finish a training job by registering the model version it produced (exactly once per job); the model's
    `artifact_uri` must be in the artifact store."""
    job = _leased(session, job_id, principal, body.lease_token)
    jobs_service.check_artifact(request.app.state.settings, body.model.artifact_uri, "model.artifact_uri")
    return ModelPublic.model_validate(
        jobs_service.complete_training(session, job_id, job.lease_owner or "", body.model.model_dump())
    )


@router.post("/v1/training-jobs/{job_id}/fail", response_model=JobPublic)
def fail(job_id: str, body: JobFail, session: SessionDep, principal: WorkerDep) -> JobPublic:
    """Mark a leased training job failed with its error."""
    job = _leased(session, job_id, principal, body.lease_token)
    if not jobs_service.finish(session, job_id, job.lease_owner, "failed", error=body.error):
        session.rollback()
        raise Conflict(f"job {job_id} is {job.status}, not running; stop working on it")
    session.commit()
    return public(jobs_service.get_job(session, job_id))


@router.post("/v1/training-jobs/{job_id}/release", response_model=JobPublic)
def release(job_id: str, body: Release, session: SessionDep, principal: WorkerDep) -> JobPublic:
    """Give a leased job back to the queue (clean shutdown); its checkpoint is kept for the next worker."""
    job = _leased(session, job_id, principal, body.lease_token)
    return public(jobs_service.release(session, job_id, job.lease_owner or ""))

"""Jobs (generation, training, evaluation) and the worker protocol for training jobs."""

from __future__ import annotations

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
    ModelPublic,
    TrainingJobCreate,
)
from app.auth import ReadDep, WorkerDep, WriteDep
from app.db import SessionDep
from app.errors import Conflict
from app.models import Job
from app.services import datasets as datasets_service
from app.services import jobs as jobs_service

router = APIRouter(tags=["jobs"])


def public(job: Job) -> JobPublic:
    out = JobPublic.model_validate(job)
    out.eta_seconds = jobs_service.eta(job)
    return out


@router.get("/v1/jobs", response_model=JobsPublic)
def list_jobs(
    request: Request, session: SessionDep, _: ReadDep,
    kind: Annotated[str | None, Query(pattern="^(generation|training|evaluation)$")] = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")] = None,
    dataset_id: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> JobsPublic:
    """List jobs, newest first."""
    query = select(Job)
    for column, value in ((Job.kind, kind), (Job.status, status), (Job.dataset_id, dataset_id)):
        if value:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    limit = min(limit, request.app.state.settings.max_page_size)
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id).offset(offset).limit(limit))
    return JobsPublic(data=[public(j) for j in rows], count=total)


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


@router.post("/v1/training-jobs/claim", response_model=JobPublic,
             responses={204: {"description": "No training job is queued."}})
def claim_training_job(body: Claim, request: Request, session: SessionDep, _: WorkerDep) -> JobPublic | Response:
    """Claim the oldest queued training job with a lease (an expired lease's job is queued again first)."""
    lease = body.lease_seconds or request.app.state.settings.lease_seconds
    job = jobs_service.claim_next(session, "training", body.worker_id, lease)
    if job is None:
        return Response(status_code=204)
    return public(job)


@router.post("/v1/training-jobs/{job_id}/heartbeat", response_model=JobPublic)
def heartbeat(job_id: str, body: Heartbeat, request: Request, session: SessionDep, _: WorkerDep) -> JobPublic:
    """Extend the lease and report progress, metrics and the last checkpoint; 409 when the lease was lost."""
    job = jobs_service.heartbeat(
        session, job_id, body.worker_id, body.lease_seconds or request.app.state.settings.lease_seconds,
        progress_done=body.progress_done, progress_total=body.progress_total, metrics=body.metrics,
        checkpoint_uri=body.checkpoint_uri,
    )
    return public(job)


@router.post("/v1/training-jobs/{job_id}/complete", response_model=ModelPublic, status_code=201)
def complete(job_id: str, body: JobComplete, session: SessionDep, _: WorkerDep) -> ModelPublic:
    """Finish a training job by registering the model version it produced (exactly once per job)."""
    return ModelPublic.model_validate(
        jobs_service.complete_training(session, job_id, body.worker_id, body.model.model_dump())
    )


@router.post("/v1/training-jobs/{job_id}/fail", response_model=JobPublic)
def fail(job_id: str, body: JobFail, session: SessionDep, _: WorkerDep) -> JobPublic:
    """Mark a leased training job failed with its error."""
    if not jobs_service.finish(session, job_id, body.worker_id, "failed", error=body.error):
        session.rollback()
        raise Conflict(f"job {job_id} is not running under {body.worker_id!r}")
    session.commit()
    return public(jobs_service.get_job(session, job_id))


@router.post("/v1/training-jobs/{job_id}/release", response_model=JobPublic)
def release(job_id: str, body: Claim, session: SessionDep, _: WorkerDep) -> JobPublic:
    """Give a leased job back to the queue (clean shutdown); its checkpoint is kept for the next worker."""
    return public(jobs_service.release(session, job_id, body.worker_id))

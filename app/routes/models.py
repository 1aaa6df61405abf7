"""Model versions, evaluations and lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from app.api_models import (
    EvaluationCreate,
    EvaluationPublic,
    EvaluationsPublic,
    Lineage,
    ModelCreate,
    ModelPublic,
    ModelsPublic,
)
from app.auth import ReadDep, WorkerDep
from app.db import SessionDep
from app.errors import NotFound
from app.models import Evaluation, ModelVersion, new_id
from app.paging import PageDep, next_page
from app.services import datasets as datasets_service
from app.services import derived as derived_service
from app.services import jobs as jobs_service
from app.services.events import publish

router = APIRouter(tags=["models"])


def _model(session: SessionDep, model_id: str) -> ModelVersion:
    row = session.get(ModelVersion, model_id)
    if row is None:
        raise NotFound(f"no model version {model_id!r}; GET /v1/models lists them")
    return row


@router.get("/v1/models", response_model=ModelsPublic)
def list_models(request: Request, session: SessionDep, _: ReadDep, page: PageDep) -> ModelsPublic:
    """List model versions, newest first."""
    total = session.scalar(select(func.count()).select_from(ModelVersion)) or 0
    rows = session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id)
                           .offset(page.offset).limit(page.limit))
    return ModelsPublic(data=[ModelPublic.model_validate(r) for r in rows], count=total,
                        next=next_page(request, page, total))


@router.post("/v1/models", response_model=ModelPublic, status_code=201)
def create_model(body: ModelCreate, request: Request, session: SessionDep, _: WorkerDep) -> ModelPublic:
    """Register a model version trained outside a ToolForge training job (e.g. a base model to evaluate); its
    `artifact_uri` must be in the artifact store (or a root in TOOLFORGE_MODEL_ARTIFACT_ROOTS)."""
    jobs_service.check_artifact(request.app.state.settings, body.artifact_uri, "artifact_uri")
    if body.dataset_id is not None:
        datasets_service.get_dataset(session, body.dataset_id)
    row = ModelVersion(id=new_id("model"), **body.model_dump())
    session.add(row)
    publish(session, "model.ready", row.id, {"dataset_id": row.dataset_id, "evaluate": False})
    session.commit()
    return ModelPublic.model_validate(row)


@router.get("/v1/models/{model_id}", response_model=ModelPublic)
def get_model(model_id: str, session: SessionDep, _: ReadDep) -> ModelPublic:
    """Get one model version."""
    return ModelPublic.model_validate(_model(session, model_id))


@router.get("/v1/models/{model_id}/lineage", response_model=Lineage)
def lineage(model_id: str, request: Request, session: SessionDep, _: ReadDep) -> Lineage:
    """Dataset version → model version → evaluations, with the derived versions and models around them."""
    model = _model(session, model_id)
    dataset = datasets_service.get_dataset(session, model.dataset_id) if model.dataset_id else None
    evals = session.scalars(select(Evaluation).where(Evaluation.model_id == model_id).order_by(Evaluation.created_at))
    base = request.app.state.settings.public_url.rstrip("/")  # never the Host header
    more = derived_service.lineage_of(session, model)
    return Lineage(
        dataset=datasets_service.to_public(session, dataset, base) if dataset else None,
        model=ModelPublic.model_validate(model),
        evaluations=[EvaluationPublic.model_validate(e) for e in evals],
        ancestors=[datasets_service.to_public(session, v, base) for v in more["ancestors"]],
        derived=[datasets_service.to_public(session, v, base) for v in more["derived"]],
        upstream_models=[ModelPublic.model_validate(m) for m in more["upstream_models"]],
        downstream_models=[ModelPublic.model_validate(m) for m in more["downstream_models"]],
    )


@router.get("/v1/evaluations", response_model=EvaluationsPublic)
def list_evaluations(request: Request, session: SessionDep, _: ReadDep, page: PageDep,
                     model_id: Annotated[str | None, Query(max_length=40)] = None) -> EvaluationsPublic:
    """List evaluations, newest first."""
    query = select(Evaluation)
    if model_id:
        query = query.where(Evaluation.model_id == model_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Evaluation.created_at.desc(), Evaluation.id)
                           .offset(page.offset).limit(page.limit))
    return EvaluationsPublic(data=[EvaluationPublic.model_validate(r) for r in rows], count=total,
                             next=next_page(request, page, total))


@router.post("/v1/evaluations", response_model=EvaluationPublic, status_code=201)
def create_evaluation(body: EvaluationCreate, session: SessionDep, _: WorkerDep) -> EvaluationPublic:
    """Record an evaluation of a model version (or an endpoint) on a dataset version."""
    if body.model_id:
        _model(session, body.model_id)
    datasets_service.get_dataset(session, body.dataset_id)
    row = Evaluation(id=new_id("eval"), **body.model_dump())
    session.add(row)
    publish(session, "evaluation.ready", row.id, {"model_id": body.model_id, "dataset_id": body.dataset_id})
    session.commit()
    return EvaluationPublic.model_validate(row)


@router.get("/v1/evaluations/{evaluation_id}", response_model=EvaluationPublic)
def get_evaluation(evaluation_id: str, session: SessionDep, _: ReadDep) -> EvaluationPublic:
    """Get one evaluation."""
    row = session.get(Evaluation, evaluation_id)
    if row is None:
        raise NotFound(f"no evaluation {evaluation_id!r}")
    return EvaluationPublic.model_validate(row)

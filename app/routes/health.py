"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> dict[str, str]:
    """The database answers and the artifact store is reachable."""
    try:
        with request.app.state.sessions() as session:
            session.execute(text("SELECT 1"))
        request.app.state.store.fs.exists(request.app.state.store.root)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        raise Unavailable(f"not ready: {type(exc).__name__}") from exc
    return {"status": "ready"}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {"schema": {
    "type": "string", "description": "Prometheus text exposition format 0.0.4."}}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latency, queue depth, job outcomes, samples generated, lease expiries."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

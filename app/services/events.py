"""The event feed: rows written in the same transaction as the change they announce."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Event

EVENT_TYPES = (
    "dataset.ready", "dataset.failed", "dataset.cancelled", "model.ready", "evaluation.ready",
    "job.queued", "job.running", "job.succeeded", "job.failed", "job.cancelled", "job.requeued",
)


def publish(session: Session, type_: str, subject_id: str, payload: dict[str, Any] | None = None) -> None:
    """Add an event to the session (committed with the caller's change, never on its own)."""
    assert type_ in EVENT_TYPES, type_
    session.add(Event(type=type_, subject_id=subject_id, payload=payload or {}))


def events_after(session: Session, after: int, types: list[str] | None, limit: int) -> list[Event]:
    """Events with id > `after`, oldest first."""
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if types:
        query = query.where(Event.type.in_(types))
    return list(session.scalars(query))

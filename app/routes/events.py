"""The event feed: long-poll (`GET /v1/events?after=&wait=`) and Server-Sent Events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api_models import EventPublic, EventsPublic
from app.auth import ReadDep
from app.paging import at_most, server_max
from app.services.events import events_after

router = APIRouter(prefix="/v1/events", tags=["events"])
POLL_SECONDS = 0.2


def _read(request: Request, after: int, types: list[str] | None, limit: int) -> list[EventPublic]:
    with request.app.state.sessions() as session:
        return [EventPublic.model_validate(e) for e in events_after(session, after, types, limit)]


@router.get("", response_model=EventsPublic)
async def poll_events(
    request: Request, _: ReadDep,
    after: Annotated[int, Query(ge=0, description="Cursor: the last event id already seen.")] = 0,
    wait: Annotated[float, Query(ge=0, le=300, description="Seconds to wait for a new event.",
                                 json_schema_extra=server_max("event_wait_max"))] = 0,
    types: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsPublic:
    """Events after a cursor, oldest first; with `wait`, hold the request until one arrives (long-poll)."""
    at_most(request, "wait", wait, "event_wait_max", " seconds and poll again")
    deadline = time.monotonic() + wait
    while True:
        events = await run_in_threadpool(_read, request, after, types, limit)
        if events or time.monotonic() >= deadline or await request.is_disconnected():
            break
        await asyncio.sleep(POLL_SECONDS)
    return EventsPublic(data=events, count=len(events), next_cursor=events[-1].id if events else after)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_events(
    request: Request, _: ReadDep,
    after: Annotated[int, Query(ge=0)] = 0,
    types: Annotated[list[str] | None, Query()] = None,
) -> StreamingResponse:
    """Server-Sent Events from a cursor; each event's `id` is its cursor (`Last-Event-ID` resumes)."""
    last = request.headers.get("last-event-id")
    cursor = int(last) if last and last.isdigit() else after

    async def gen() -> AsyncIterator[bytes]:
        nonlocal cursor
        idle = 0.0
        while not await request.is_disconnected():
            events = await run_in_threadpool(_read, request, cursor, types, 100)
            for event in events:
                cursor = event.id
                yield f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()
            if not events:
                idle += POLL_SECONDS
                if idle >= 15:
                    idle = 0.0
                    yield b": keep-alive\n\n"
                await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

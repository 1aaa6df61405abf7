"""Registered tools: versioned rows seeded from `tool_schemas/`, the live registry built from them."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.caches import BoundedCache
from app.errors import InvalidSchema, NotFound
from app.models import ToolVersion, now
from generators.registry import Limits, Registry, Tool, parse_tool
from generators.satisfiable import generation_problems

log = logging.getLogger("toolforge")
# The registry built from the live rows, keyed by their ids (one entry: the current registry state).
_CACHE: BoundedCache[str, Registry] = BoundedCache(max_entries=1)


def _sha(doc: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def live_rows(session: Session) -> list[ToolVersion]:
    """The newest version of every tool that is not retired."""
    newest = (
        select(ToolVersion.name, func.max(ToolVersion.version).label("v")).group_by(ToolVersion.name).subquery()
    )
    query = (
        select(ToolVersion)
        .join(newest, (ToolVersion.name == newest.c.name) & (ToolVersion.version == newest.c.v))
        .where(ToolVersion.retired_at.is_(None))
        .order_by(ToolVersion.name)
    )
    return list(session.scalars(query))


def register(session: Session, doc: Any, limits: Limits, source: str = "body") -> tuple[ToolVersion, bool]:
    """Validate and store a tool; a changed tool gets a new version.

    Returns:
        `(row, created)`; `created` is False when the live version already has this content.

    Raises:
        InvalidSchema: with every problem's JSON pointer in `problems`.
    """
    tool, problems = parse_tool(doc, source, limits)
    if tool is None:
        raise InvalidSchema(
            "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems),
            extra={"problems": [{"pointer": p.pointer, "message": p.message} for p in problems]},
        )
    digest = _sha(doc)
    current = session.scalar(
        select(ToolVersion).where(ToolVersion.name == tool.name).order_by(ToolVersion.version.desc()).limit(1)
    )
    if current is not None and current.sha256 == digest and current.retired_at is None:
        return current, False
    # A valid schema may still admit no value the generator can build: refuse it now, not in every dataset.
    unsatisfiable = generation_problems(tool)
    if unsatisfiable:
        raise InvalidSchema(
            f"/function/parameters: the generator cannot make samples for {tool.name!r}: " + "; ".join(unsatisfiable)
            + "; make the schema satisfiable (compare minimum/maximum, allOf types, not, pattern vs length)",
            extra={"problems": [{"pointer": "/function/parameters", "message": m} for m in unsatisfiable]},
        )
    row = ToolVersion(name=tool.name, version=(current.version + 1) if current else 1, domain=tool.domain,
                      split=tool.split, sha256=digest, document=doc)
    session.add(row)
    session.flush()
    return row, True


def seed_from_registry(session: Session, registry: Registry) -> int:
    """Register every tool of a folder registry that is new or changed; return how many were added.

    A tool whose newest version is retired stays retired, whatever the folder holds: retiring is the
    operator's decision, and a restart must not undo it (nor change the registry digest). Registering the
    tool again (POST /v1/tools) brings it back.
    """
    retired = set(session.scalars(select(ToolVersion.name).where(ToolVersion.retired_at.is_not(None))))
    live = {r.name for r in live_rows(session)}
    added = 0
    for tool in registry:
        if tool.name in retired and tool.name not in live:
            continue
        _, created = register(session, tool.document, Limits(max_file_bytes=1 << 30), tool.source)
        added += created
    session.commit()
    return added


def get_live(session: Session, name: str) -> ToolVersion:
    rows = [r for r in live_rows(session) if r.name == name]
    if not rows:
        raise NotFound(f"no live tool named {name!r}; GET /v1/tools lists them")
    return rows[0]


def retire(session: Session, name: str) -> ToolVersion:
    row = get_live(session, name)
    row.retired_at = now()
    session.commit()
    return row


def live_registry(session: Session) -> tuple[Registry, list[ToolVersion]]:
    """The registry of live tools (cached per registry state) and the rows behind it."""
    rows = live_rows(session)
    key = ",".join(str(r.id) for r in rows)
    return _CACHE.get_or_load(key, lambda: registry_from_documents([r.document for r in rows])), rows


def registry_from_documents(docs: list[dict[str, Any]]) -> Registry:
    """Build a registry from stored (already validated) tool documents."""
    tools: list[Tool] = []
    for doc in docs:
        tool, problems = parse_tool(doc, doc["function"]["name"], Limits(max_file_bytes=1 << 30))
        if tool is None:
            # Stored before a stricter rule (a tool-file template with code in it): never generate from
            # it, and never let it break every other tool. Register a fixed version to bring it back.
            log.warning("stored tool %s is left out of the registry: %s", doc["function"]["name"], problems[0])
            continue
        tools.append(tool)
    return Registry(tools)

"""Tools: the live registry, versioned registration, import, retirement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from app.api_models import ToolImport, ToolImportResult, ToolPublic, ToolsPublic
from app.auth import ReadDep, WriteDep
from app.db import SessionDep
from app.errors import InvalidInput, InvalidSchema
from app.json_body import StrictJSONRoute
from app.paging import PageDep, next_page
from app.services import tools as tools_service

# Strict JSON: a tool document with duplicate keys or NaN is refused, never stored as something else.
router = APIRouter(prefix="/v1/tools", tags=["tools"], route_class=StrictJSONRoute)

TOOL_EXAMPLE = {
    "type": "function",
    "function": {
        "name": "get_tide_times",
        "description": "High and low tide times for a coastal place on a date.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "Coastal town or harbour."},
                "date": {"type": "string", "format": "date", "description": "Day to look up."},
            },
            "required": ["location", "date"],
            "additionalProperties": False,
        },
    },
    "x-split": "train",
    "x-domain": "weather",
}


@router.get("", response_model=ToolsPublic)
def list_tools(
    request: Request, session: SessionDep, _: ReadDep, page: PageDep,
    domain: Annotated[str | None, Query(max_length=64)] = None,
    split: Annotated[str | None, Query(pattern="^(train|heldout)$")] = None,
) -> ToolsPublic:
    """List live tools by name (newest version of each, retired ones excluded), a page at a time."""
    registry, rows = tools_service.live_registry(session)
    rows = [r for r in rows if (domain is None or r.domain == domain) and (split is None or r.split == split)]
    shown = rows[page.offset:page.offset + page.limit]
    return ToolsPublic(data=[ToolPublic.model_validate(r) for r in shown], count=len(rows),
                       registry_digest=registry.digest, next=next_page(request, page, len(rows)))


@router.get("/{name}", response_model=ToolPublic)
def get_tool(name: str, session: SessionDep, _: ReadDep) -> ToolPublic:
    """Get the live version of one tool."""
    return ToolPublic.model_validate(tools_service.get_live(session, name))


@router.post("", response_model=ToolPublic, status_code=201,
             responses={200: {"model": ToolPublic, "description": "The live version already has this content."}})
def register_tool(
    request: Request, response: Response, session: SessionDep, _: WriteDep,
    document: Annotated[dict[str, Any], Body(examples=[TOOL_EXAMPLE])],
) -> ToolPublic:
    """Register a tool (validated as `toolforge tools validate` does); a changed tool gets a new version."""
    row, created = tools_service.register(session, document, request.app.state.settings.registry_limits())
    session.commit()
    response.status_code = 201 if created else 200
    return ToolPublic.model_validate(row)


@router.post("/import", response_model=ToolImportResult, status_code=201)
def import_tools(body: ToolImport, request: Request, session: SessionDep, _: WriteDep) -> ToolImportResult:
    """Import tools from OpenAI, MCP, Hermes or BFCL format; refused ones are listed with reasons."""
    from generators.importers import ImportFormatError
    from generators.importers import import_tools as run_import

    try:
        result = run_import(body.content, body.format, split=body.split, domain=body.domain)
    except ImportFormatError as exc:
        raise InvalidInput(f"content: {exc}") from exc
    limits = request.app.state.settings.registry_limits()
    imported, refused = [], [{"name": r.name, "reason": r.reason} for r in result.refused]
    for doc in result.tools:
        try:
            imported.append(tools_service.register(session, doc, limits)[0])
        except InvalidSchema as exc:  # e.g. a schema no value satisfies: refuse this tool, keep the others
            refused.append({"name": doc["function"]["name"], "reason": exc.detail})
    session.commit()
    return ToolImportResult(imported=[ToolPublic.model_validate(r) for r in imported], refused=refused,
                            renamed=result.renamed)


@router.delete("/{name}", response_model=ToolPublic)
def retire_tool(name: str, session: SessionDep, _: WriteDep) -> ToolPublic:
    """Retire a tool: new datasets no longer draw from it; existing versions keep their pinned copy."""
    return ToolPublic.model_validate(tools_service.retire(session, name))

"""Pages of a list (`offset`, `limit`, `next`) and query parameters whose maximum is a server setting.

A parameter capped by a setting carries `x-server-max: <setting>` in its schema; `app.openapi` replaces the
static ceiling (and a larger default) with this server's value, and `at_most` refuses anything above it, so
the document and the server agree. A list answers `next` (the path of the following page) whenever more rows
exist, so a client that follows it never skips or repeats one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from app.errors import InvalidInput
from app.links import link

SERVER_MAX = "x-server-max"
PAGE_CEILING = 10_000  # Settings.max_page_size's own upper bound: no server pages further


def server_max(setting: str) -> dict[str, Any]:
    """The schema marker of a parameter whose maximum is `setting` (a `Settings` field)."""
    return {SERVER_MAX: setting}


def at_most(request: Request, param: str, value: float, setting: str, hint: str = "") -> None:
    """Refuse `value` above this server's `setting` with a 422 naming both."""
    cap = getattr(request.app.state.settings, setting)
    if value > cap:
        raise InvalidInput(f"{param}={value:g} is above this server's maximum of {cap:g} "
                           f"(TOOLFORGE_{setting.upper()}); ask for at most {cap:g}{hint}")


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


async def page(  # async: pure computation, no worker-thread hop
    request: Request,
    offset: Annotated[int, Query(ge=0, description="Rows to skip (or follow `next`).")] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_CEILING, description="Rows per page, at most the server's page "
                                "size (TOOLFORGE_MAX_PAGE_SIZE).", json_schema_extra=server_max("max_page_size"))]
    = 50,
) -> Page:
    if "limit" not in request.query_params:  # the default never exceeds the server's page size
        limit = min(limit, request.app.state.settings.max_page_size)
    at_most(request, "limit", limit, "max_page_size", " per page and follow `next`")
    return Page(offset, limit)


PageDep = Annotated[Page, Depends(page)]


def next_page(request: Request, current: Page, total: int) -> str | None:
    """The path (and query) of the page after `current`, or None when it was the last."""
    if current.offset + current.limit >= total:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    params.append(("offset", str(current.offset + current.limit)))
    if "limit" not in request.query_params:
        params.append(("limit", str(current.limit)))
    return link(request.app.state.settings.public_url, f"{request.url.path}?{urlencode(params)}")

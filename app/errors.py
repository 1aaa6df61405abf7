"""Domain errors carry their HTTP status and a message that says what to change.

One handler turns them (and validation errors) into `{"type", "detail"}`; nothing else reaches a
client, so no stack trace ever does.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("toolforge")


class ToolForgeError(Exception):
    status_code = 400
    type = "bad_request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(ToolForgeError):
    status_code, type = 404, "not_found"


class Conflict(ToolForgeError):
    status_code, type = 409, "conflict"


class InvalidInput(ToolForgeError):
    status_code, type = 422, "invalid_input"


class InvalidSchema(ToolForgeError):
    status_code, type = 422, "invalid_schema"


class Unauthorized(ToolForgeError):
    status_code, type = 401, "unauthorized"


class Forbidden(ToolForgeError):
    status_code, type = 403, "forbidden"


class PayloadTooLarge(ToolForgeError):
    status_code, type = 413, "payload_too_large"


class Unavailable(ToolForgeError):
    status_code, type = 503, "unavailable"


def _body(type_: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "detail": detail, **extra}


def _format_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = "/".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ToolForgeError)
    async def _domain(_: Request, exc: ToolForgeError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(_body(exc.type, exc.detail, **exc.extra), exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_body("invalid_input", _format_validation(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code,
                                                                                            "http_error")
        return JSONResponse(_body(type_, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return JSONResponse(_body("unavailable", "the database is unavailable; retry shortly"), 503,
                            headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(_body("internal_error", "an internal error occurred; it has been logged"), 500)

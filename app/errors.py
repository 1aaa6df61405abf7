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
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from generators import records

log = logging.getLogger("toolforge")


class ToolForgeError(records.ToolForgeError):
    """A ToolForge error with its HTTP status (``type`` names it in the body)."""

    status_code = 400
    type = "bad_request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


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


class RangeNotSatisfiable(ToolForgeError):
    status_code, type = 416, "range_not_satisfiable"


class Unavailable(ToolForgeError):
    status_code, type = 503, "unavailable"


def _body(type_: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "detail": detail, **extra}


def _format_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = "/".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "json_invalid":  # say what is wrong with the JSON, not only where
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"body is not valid JSON at character {loc}: {reason}")
            continue
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _unreadable_body(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"request body is not UTF-8 (byte {cause.start}); send UTF-8 JSON"
    return "request body nests too deeply to read; flatten it"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ToolForgeError)
    async def _domain(_: Request, exc: ToolForgeError) -> JSONResponse:
        headers = {**exc.headers, **({"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {})}
        return JSONResponse(_body(exc.type, exc.detail, **exc.extra), exc.status_code, headers=headers)

    @app.exception_handler(records.ToolForgeError)
    async def _library(_: Request, exc: records.ToolForgeError) -> JSONResponse:
        # A library error no route converted (SpecError...): the request asked for something impossible.
        return JSONResponse(_body("invalid_input", str(exc)), 422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_body("invalid_input", _format_validation(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
                 413: "payload_too_large"}.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError | RecursionError):
            # FastAPI reports any body it cannot decode as "There was an error parsing the body".
            type_, detail = "invalid_input", _unreadable_body(exc.__cause__)
        return JSONResponse(_body(type_, detail), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (a NUL character in a PostgreSQL string, NaN in JSONB): the
        # request is at fault, not the database, so this is no 503.
        log.info("database refused a value: %s", exc.orig)
        return JSONResponse(_body("invalid_input", "a value in this request cannot be stored or looked up "
                                  "(a NUL character, NaN or an out-of-range number); remove it"), 422)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the route did not check first (a reference to a missing row, a duplicate):
        # the request conflicts with the stored state; the database itself is fine.
        log.info("integrity error: %s", exc.orig)
        return JSONResponse(_body("conflict", "this request conflicts with stored data (it refers to a record "
                                  "that does not exist, or duplicates one); check the ids it names"), 409)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # An integer past 64 bits (`offset=10**30`) reaches the database driver, which cannot bind it.
        return JSONResponse(_body("invalid_input", "a number in this request is too large (over 64 bits); "
                                  "use a smaller one"), 422)

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

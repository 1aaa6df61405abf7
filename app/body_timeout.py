"""A deadline on reading request bodies: a client that sends its headers and then stalls or trickles
the body gets a 408 instead of holding a connection (and a server task) open forever.

uvicorn has no such timeout: its `receive()` waits for the next body chunk as long as the socket is
open. This middleware wraps `receive` while the body is still arriving. An ordinary body must arrive
whole within `timeout_s` of the request's start (it is at most TOOLFORGE_MAX_BODY_BYTES, so trickling
it byte by byte does not keep the deadline away); a streamed upload (derived versions, up to
TOOLFORGE_MAX_UPLOAD_BYTES) may take as long as it needs but may not pause longer than `timeout_s`
between two chunks.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SETTING = "TOOLFORGE_BODY_TIMEOUT_S"


class _BodyTimeout(HTTPException):
    """Raised from `receive`. An HTTPException because FastAPI re-raises those from a body read (any other
    exception becomes a 400) and the error handler renders it as `{"type": "request_timeout", ...}`."""

    def __init__(self, detail: str):
        super().__init__(408, detail, headers={"Connection": "close"})


class BodyTimeoutMiddleware:
    """Answer 408 (and close the connection) when a request body does not arrive in time."""

    def __init__(self, app: ASGIApp, timeout_s: float, upload_paths: re.Pattern[str] | None = None):
        self.app = app
        self.timeout_s = timeout_s
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        upload = self.upload_paths is not None and self.upload_paths.match(scope.get("path", "")) is not None
        deadline = time.monotonic() + self.timeout_s
        done = False

        async def timed() -> Message:
            nonlocal deadline, done
            if done:  # the body is in: later calls wait for the disconnect, which may take any time
                return await receive()
            if upload:
                deadline = time.monotonic() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                raise _BodyTimeout(self._detail(upload)) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        try:
            await self.app(scope, timed, send)
        except _BodyTimeout as exc:  # raised outside the app's own error handling (e.g. a bare ASGI route)
            await _send_timeout(send, exc.detail)

    def _detail(self, upload: bool) -> str:
        what = "the next part of the upload" if upload else "the whole request body"
        return (f"{what} did not arrive within {self.timeout_s:g} s; send it without pausing, or raise "
                f"{SETTING}")


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


async def _send_timeout(send: Send, detail: str) -> None:
    body = json.dumps({"type": "request_timeout", "detail": detail}).encode()
    await send({"type": "http.response.start", "status": 408,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

"""Prometheus metrics and the middleware that records them; one registry per app (tests build many)."""

from __future__ import annotations

import re
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("toolforge_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("toolforge_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))


class MetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - start)


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413 before reading them into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: re.Pattern[str] | None = None,
                 upload_max_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # Upload routes (derived dataset files) stream their body to disk, so they get their own, larger cap.
        self.upload_paths = upload_paths
        self.upload_max_bytes = upload_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = self.upload_paths is not None and self.upload_paths.match(scope.get("path", "")) is not None
        limit = self.upload_max_bytes if upload else self.max_bytes
        setting = "TOOLFORGE_MAX_UPLOAD_BYTES" if upload else "TOOLFORGE_MAX_BODY_BYTES"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit, setting)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit, setting)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, limit, setting)


def _detail(limit: int, setting: str = "TOOLFORGE_MAX_BODY_BYTES") -> str:
    return f"request body is over {limit} bytes; send less or raise {setting}"


class _TooLarge(HTTPException):
    """Raised while the app reads a streamed body. An HTTPException because FastAPI turns any other
    exception from a body read into a 400 but re-raises these, so the error handler renders the 413."""

    def __init__(self, limit: int, setting: str = "TOOLFORGE_MAX_BODY_BYTES"):
        super().__init__(413, _detail(limit, setting))


async def _too_large(send: Send, limit: int, setting: str = "TOOLFORGE_MAX_BODY_BYTES") -> None:
    body = b'{"type":"payload_too_large","detail":"' + _detail(limit, setting).encode() + b'"}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

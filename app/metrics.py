"""Prometheus metrics: HTTP requests (recorded by a middleware), job state read from the database at each scrape,
and the body-size middleware; one registry per app (tests build many)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.jobs import job_counts

log = logging.getLogger("toolforge")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("toolforge_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("toolforge_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))


JOB_KINDS = ("generation", "training", "evaluation")
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobsCollector:
    """Queue depth, job outcomes, generation progress and lease expiries, read from the database at each
    scrape: they hold across restarts and processes, and every replica reports the same cluster-wide
    values (aggregate them with max, not sum)."""

    def __init__(self, sessions: Callable[[], Session]):
        self.sessions = sessions

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())  # no database query at registration

    def collect(self) -> Iterator[Metric]:
        try:
            with self.sessions() as session:
                counts = job_counts(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: database unavailable: %s", exc.__class__.__name__)
            yield GaugeMetricFamily("toolforge_database_up", "Whether /metrics could read the database.", 0)
            return
        families = self._families()
        queued, running, outcomes, samples, rate, expiries = families
        for kind in JOB_KINDS:
            queued.add_metric([kind], counts["by_status"].get((kind, "queued"), 0))
            running.add_metric([kind], counts["by_status"].get((kind, "running"), 0))
            for status in JOB_STATUSES[2:]:
                outcomes.add_metric([kind, status], counts["by_status"].get((kind, status), 0))
        samples.add_metric([], counts["samples_generated"])
        rate.add_metric([], counts["generation_rate"])
        expiries.add_metric([], counts["lease_expiries"])
        yield GaugeMetricFamily("toolforge_database_up", "Whether /metrics could read the database.", 1)
        yield from families

    @staticmethod
    def _families() -> list[Metric]:
        return [
            GaugeMetricFamily("toolforge_jobs_queued", "Jobs waiting in the queue (queue depth).", labels=["kind"]),
            GaugeMetricFamily("toolforge_jobs_running", "Jobs running under a lease.", labels=["kind"]),
            CounterMetricFamily("toolforge_jobs_finished", "Finished jobs by outcome.", labels=["kind", "status"]),
            CounterMetricFamily("toolforge_samples_generated", "Samples written by generation jobs (progress of "
                                "every job; rate() of it is the generation rate)."),
            GaugeMetricFamily("toolforge_generation_samples_per_second", "Current rate of the running "
                              "generation jobs, summed."),
            CounterMetricFamily("toolforge_lease_expiries", "Leases that ran out (a worker or generation process "
                                "lost), requeued or given up."),
        ]


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

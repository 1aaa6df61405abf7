"""The FastAPI application: `create_app(settings)` wires storage, database, routes and the job dispatcher."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app.api_models import ERROR_RESPONSES
from app.auth import create_key
from app.body_timeout import BodyTimeoutMiddleware
from app.caches import RouteCaches
from app.db import make_engine, make_sessionmaker, migrate
from app.errors import install_error_handlers
from app.links import RelativeRedirects
from app.metrics import BodyLimitMiddleware, JobsCollector, Metrics, MetricsMiddleware
from app.openapi import install_openapi
from app.routes import datasets, events, health, jobs, keys, models, rewards, tools
from app.services.derived import UPLOAD_PATH
from app.services.generation import Dispatcher
from app.services.tools import seed_from_registry
from app.settings import Settings, get_settings
from app.storage import ArtifactStore
from generators.registry import load_registry

log = logging.getLogger("toolforge")
GIL_SWITCH_INTERVAL_S = 0.001

DESCRIPTION = """
ToolForge generates verifiable tool-calling datasets (execution, clarification, refusal), trains
models on them with GRPO and evaluates them on held-out tools.

Writes need an API key (`Authorization: Bearer tf_...`, created with `toolforge keys create`).
Errors are `{"type", "detail"}`; `detail` says what to change.
"""


def create_app(settings: Settings | None = None, *, run_jobs: bool = True) -> FastAPI:
    """Build the app. `run_jobs=False` leaves generation jobs queued (for another API replica to run)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A thread back from a database or file call waits for the GIL up to a switch interval behind the
        # event loop (5 ms by default) each time; a listing makes ~5 such calls. 1 ms bounds that wait.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.store = ArtifactStore(settings.resolved_artifact_url)
        app.state.metrics.registry.register(JobsCollector(app.state.sessions))
        with app.state.sessions() as session:
            added = seed_from_registry(session, load_registry(settings.tools_dir, settings.registry_limits()))
            if settings.bootstrap_admin_key:
                create_key(session, "bootstrap-admin", ["admin"], secret=settings.bootstrap_admin_key)
        log.info("registry seeded from %s (%d new tool versions)", settings.tools_dir, added)
        dispatcher = Dispatcher(settings, app.state.sessions) if run_jobs else None
        if dispatcher:
            dispatcher.start()
        yield
        if dispatcher:
            dispatcher.stop()
        engine.dispose()

    # FastAPIOffline = FastAPI with the Swagger UI assets served from the package (no CDN needed).
    app = FastAPIOffline(title="ToolForge", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.caches = RouteCaches()
    install_error_handlers(app)
    for router in (tools.router, datasets.router, jobs.router, models.router, events.router, rewards.router,
                   keys.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(health.router)
    install_openapi(app, settings)
    app.add_middleware(RelativeRedirects, public_url=settings.public_url)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, upload_paths=UPLOAD_PATH,
                       upload_max_bytes=settings.max_upload_bytes)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s, upload_paths=UPLOAD_PATH)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    return app

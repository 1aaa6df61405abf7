"""The OpenAPI document of one server: FastAPI's, told this server's settings.

Two things FastAPI cannot know when the routes are declared: the maxima that are settings (`x-server-max`,
see `app.paging`), and whether reads are open (`TOOLFORGE_OPEN_READS`), in which case a read route's
security lists `{}` (no key) beside the key schemes, so Swagger UI shows it open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.paging import SERVER_MAX
from app.settings import Settings


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` answer the document of a server running with `settings`."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            _apply_server_maxima(doc, settings)
            if settings.open_reads:
                _open_reads(app, doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _apply_server_maxima(doc: dict[str, Any], settings: Settings) -> None:
    for item in doc["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                setting = param["schema"].pop(SERVER_MAX, None)
                if setting is None:
                    continue
                cap = getattr(settings, setting)
                param["schema"]["maximum"] = cap
                if param["schema"].get("default", 0) > cap:
                    param["schema"]["default"] = cap
                note = f" At most {cap:g} on this server (TOOLFORGE_{setting.upper()}); more is a 422."
                param["description"] = param.get("description", "") + note
                param["schema"]["description"] = param["description"]


def _open_reads(app: FastAPI, doc: dict[str, Any]) -> None:
    for path, methods, route in _routes(app):
        check = next((d.call for d in _walk(route.dependant) if hasattr(d.call, "required_scope")), None)
        if check is None or check.required_scope != "read":  # type: ignore[attr-defined]
            continue
        for method in methods:
            open_ = check.any_method or method in ("GET", "HEAD")  # type: ignore[attr-defined]
            op = doc["paths"].get(path, {}).get(method.lower())
            if open_ and op is not None and op.get("security"):
                op["security"] = [{}, *op["security"]]


def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """`(path, methods, route)` of every API route, included routers flattened."""
    try:  # FastAPI >= 0.140 keeps included routers lazily
        from fastapi.routing import iter_route_contexts
    except ImportError:
        pairs = [(getattr(r, "path_format", None), getattr(r, "methods", None), r) for r in app.routes]
    else:
        pairs = [(c.path_format, c.methods, c.original_route) for c in iter_route_contexts(app.routes)]
    for path, methods, route in pairs:
        if isinstance(route, APIRoute) and route.include_in_schema and path:
            yield path, set(methods or ()), route


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _walk(dep)

"""Auth over every route the app has, so a new route cannot slip through without a scope check."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session

from app.auth import create_key
from app.main import create_app
from app.models import ApiKey
from app.settings import Settings

# Routes that are deliberately open: probes, metrics and the API's own documentation.
OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
STREAMS = {"/v1/events/stream"}


def _routes() -> list[tuple[str, str, APIRoute | None]]:
    """`(method, path, route)` for every route of a freshly built app (included routers flattened)."""
    app = create_app(Settings())
    try:  # FastAPI >= 0.140 keeps included routers lazily; this flattens them
        from fastapi.routing import iter_route_contexts

        pairs = [(ctx.path, ctx.methods, ctx.original_route) for ctx in iter_route_contexts(app.routes)]
    except ImportError:
        pairs = [(r.path, getattr(r, "methods", None), r) for r in app.routes]
    out = []
    for path, methods, route in pairs:
        for method in sorted(methods or ()):
            if method != "HEAD":
                out.append((method, path, route if isinstance(route, APIRoute) else None))
    return out


def _scopes(route: APIRoute | None) -> set[str]:
    """Scopes required by `require(...)` checkers anywhere in the route's dependency tree."""
    if route is None:
        return set()

    def walk(dependant) -> Iterator[str]:  # type: ignore[no-untyped-def]
        for dep in dependant.dependencies:
            scope = getattr(dep.call, "required_scope", None)
            if scope:
                yield scope
            yield from walk(dep)

    return set(walk(route.dependant))


ROUTES = _routes()
WRITES = [(m, p, r) for m, p, r in ROUTES if m != "GET"]
ADMIN_READS = {"/v1/keys"}  # key records: admin only, whatever TOOLFORGE_OPEN_READS says
READS = [(m, p, r) for m, p, r in ROUTES if m == "GET" and p not in OPEN | ADMIN_READS]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_test", path)


def _call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    if path in STREAMS:
        with client.stream(method, _url(path), headers=headers) as response:
            if response.status_code != 200:  # an error body is finite; a 200 stream never ends
                response.read()
            return response
    body = None if method in ("GET", "DELETE") else {}
    return client.request(method, _url(path), json=body, headers=headers)


def _assert_status(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        assert set(body) >= {"type", "detail"}, f"{what}: {body}"
    if status == 401:
        assert response.headers.get("www-authenticate") == "Bearer", what


def test_the_enumeration_found_the_api():
    """Guards the guard: the route walk must see the routes this file is meant to cover."""
    paths = {p for _, p, _ in ROUTES}
    assert {"/v1/datasets", "/v1/training-jobs/claim", "/v1/events/stream", "/v1/rewards/score"} <= paths
    assert len(WRITES) >= 14 and len(READS) >= 15


@pytest.mark.parametrize(("method", "path", "route"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_every_write_route_checks_a_scope(server, method, path, route):
    scopes = _scopes(route)
    assert len(scopes) == 1, f"{method} {path} must depend on exactly one require(scope), found {scopes}"
    (scope,) = scopes
    client = server.client
    if (method, path) != ("POST", "/v1/rewards/score"):  # scoring is open like reads (test_scope_matrix.py)
        _assert_status(_call(client, method, path, {}), 401, "no key")
    _assert_status(
        _call(client, method, path, {"Authorization": "Bearer tf_000000000000_wrong"}), 401, "bad key"
    )
    _assert_status(
        _call(client, method, path, {"Authorization": f"Bearer {server.keys['write']}x"}),
        401,
        "a valid key with one character more",
    )
    # A key whose scope does not grant this one (the lattice: write and worker keys also read).
    wrong = next((s for s in ("read", "worker", "write") if s != scope), "read")
    if scope != "read":
        _assert_status(
            _call(client, method, path, server.auth(wrong)), 403, f"{wrong!r} key on a {scope!r} route"
        )
    # The right scope (and admin) get past auth: what is left is the route's own 404/409/422.
    for header in (server.auth(scope), {"X-API-Key": server.keys["admin"]}):
        response = _call(client, method, path, header)
        assert response.status_code not in (401, 403), f"{method} {path}: {response.text}"


@pytest.mark.parametrize(("method", "path", "route"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
def test_reads_are_open_by_default_but_checked(server, method, path, route):
    assert _scopes(route) == {"read"}, f"{method} {path} must depend on require('read')"
    assert _call(server.client, method, path, {}).status_code not in (401, 403)
    # A wrong key is refused even where reads are open: it is never silently treated as anonymous.
    _assert_status(
        _call(server.client, method, path, {"Authorization": "Bearer tf_000000000000_x"}), 401, "bad"
    )


@pytest.fixture(scope="module")
def closed_server(spawn) -> httpx.Client:
    """A second server on the same database with `TOOLFORGE_OPEN_READS=false`."""
    return spawn({"TOOLFORGE_OPEN_READS": "false"}).client


def test_closed_reads_need_a_key(closed_server, server):
    client = closed_server
    for method, path, _ in READS:
        _assert_status(_call(client, method, path, {}), 401, f"{method} {path} without a key")
        response = _call(client, method, path, server.auth("read"))
        assert response.status_code not in (401, 403), f"{method} {path}: {response.text}"
        # Scopes nest: worker and write keys read too (the whole matrix: test_scope_matrix.py).
        for scope in ("worker", "write"):
            response = _call(client, method, path, server.auth(scope))
            assert response.status_code not in (401, 403), f"{method} {path} {scope} key: {response.text}"
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_only_hashes_are_stored(server):
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM api_keys"))]
        assert len(rows) >= 4
        stored = " ".join(str(v) for row in rows for v in row.values())
        for key in server.keys.values():
            secret = key.split("_", 2)[-1]  # tf_<prefix>_<secret>; the secret itself may hold "_"
            assert key not in stored and secret not in stored
            assert hashlib.sha256(key.encode()).hexdigest() in {r["secret_sha256"] for r in rows}
        # A revoked key stops working at once.
        with Session(engine) as session:
            key = create_key(session, "to-revoke", ["write"])
            assert server.client.post("/v1/jobs/x/cancel", headers={"X-API-Key": key}).status_code == 404
            prefix = key.split("_")[1]
            session.execute(
                update(ApiKey).where(ApiKey.prefix == prefix).values(revoked_at=datetime.now(UTC))
            )
            session.commit()
        _assert_status(server.client.post("/v1/jobs/x/cancel", headers={"X-API-Key": key}), 401, "revoked")
    finally:
        engine.dispose()

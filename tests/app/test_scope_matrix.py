"""The scope lattice, route by route: every key against every route, with reads open and closed.

The lattice (written out here, not imported, so a change in app/auth.py has to be a change here too):
admin ⊇ write ⊇ read and admin ⊇ worker ⊇ read. With open reads anyone may GET (and POST
/v1/rewards/score, which only computes); with closed reads every route needs a key.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from app.main import create_app
from app.settings import Settings

OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
STREAMS = {"/v1/events/stream"}
COMPUTE = {("POST", "/v1/rewards/score")}  # reads that are POSTs

# key scope -> the route scopes it may use
LATTICE = {
    "read": {"read"},
    "write": {"read", "write"},
    "worker": {"read", "worker"},
    "admin": {"read", "write", "worker", "admin"},
}
KEYS = [None, "read", "write", "worker", "admin"]


def _routes() -> list[tuple[str, str, str]]:
    app = create_app(Settings())
    try:
        from fastapi.routing import iter_route_contexts

        pairs = [(ctx.path, ctx.methods, ctx.original_route) for ctx in iter_route_contexts(app.routes)]
    except ImportError:
        pairs = [(r.path, getattr(r, "methods", None), r) for r in app.routes]
    out = []
    for path, methods, route in pairs:
        if path in OPEN or not isinstance(route, APIRoute):
            continue
        scopes = set()
        stack = [route.dependant]
        while stack:
            dep = stack.pop()
            for sub in dep.dependencies:
                if getattr(sub.call, "required_scope", None):
                    scopes.add(sub.call.required_scope)
                stack.append(sub)
        assert len(scopes) == 1, f"{path} must depend on exactly one require(scope), found {scopes}"
        out.extend((m, path, next(iter(scopes))) for m in sorted(methods or ()) if m != "HEAD")
    return out


ROUTES = _routes()


def expected(key: str | None, method: str, path: str, scope: str, open_reads: bool) -> int | None:
    """401 or 403 when auth refuses the call; None when it lets it through (to the route's own answer)."""
    if key is None:
        anonymous_ok = open_reads and scope == "read" and (method == "GET" or (method, path) in COMPUTE)
        return None if anonymous_ok else 401
    return None if scope in LATTICE[key] else 403


def _call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", "x_test", path)
    if path in STREAMS:
        with client.stream(method, url, headers=headers) as response:
            if response.status_code != 200:
                response.read()
            return response
    return client.request(method, url, json=None if method in ("GET", "DELETE") else {}, headers=headers)


def test_the_table_covers_the_api() -> None:
    scopes = {scope for _, _, scope in ROUTES}
    assert {"read", "write", "worker"} <= scopes and len(ROUTES) >= 30
    assert ("POST", "/v1/rewards/score", "read") in ROUTES


@pytest.fixture(scope="module")
def closed(spawn, server):
    # Same database and artifact store (either server may run a generation job), reads closed.
    return spawn({"TOOLFORGE_OPEN_READS": "false",
                  "TOOLFORGE_ARTIFACT_URL": str((server.data_dir / "artifacts").resolve())})


@pytest.mark.parametrize("open_reads", [True, False], ids=["open-reads", "closed-reads"])
@pytest.mark.parametrize("key", KEYS, ids=[k or "no-key" for k in KEYS])
def test_scope_matrix(server, closed, key: str | None, open_reads: bool) -> None:
    target = server if open_reads else closed
    headers = {} if key is None else {"Authorization": f"Bearer {server.keys[key]}"}
    wrong = []
    for method, path, scope in ROUTES:
        response = _call(target.client, method, path, headers)
        want = expected(key, method, path, scope, open_reads)
        got = response.status_code
        if (want is None and got in (401, 403)) or (want is not None and got != want):
            wrong.append(f"{method} {path} (needs {scope}): {got}, expected {want or 'past auth'}: "
                         f"{response.text[:160]}")
        elif want == 403:
            assert repr(scope) in response.json()["detail"], response.text
    assert not wrong, "\n".join(wrong)


def test_a_worker_can_read_its_dataset_on_a_closed_deployment(server, closed) -> None:
    dataset = server.ready_dataset()
    for scope in ("worker", "write"):
        got = closed.client.get(f"/v1/datasets/{dataset['id']}", headers=server.auth(scope))
        assert got.status_code == 200 and got.json()["status"] == "ready", (scope, got.text)
        sample = closed.client.get(f"/v1/datasets/{dataset['id']}/files/samples.jsonl", headers=server.auth(scope))
        assert sample.status_code == 200 and sample.content
        events = closed.client.get("/v1/events", params={"types": "dataset.ready"}, headers=server.auth(scope))
        assert events.status_code == 200 and events.json()["count"] >= 1
        jobs = closed.client.get("/v1/jobs", headers=server.auth(scope))
        assert jobs.status_code == 200 and jobs.json()["count"] >= 1


def test_reward_scoring_is_open_with_open_reads(server, closed) -> None:
    sample = server.client.get(f"/v1/datasets/{server.ready_dataset()['id']}/samples", params={"limit": 1}).json()
    body = {"samples": sample["data"], "completions": ["no idea"]}
    assert server.client.post("/v1/rewards/score", json=body).status_code == 200
    assert closed.client.post("/v1/rewards/score", json=body).status_code == 401
    assert closed.client.post("/v1/rewards/score", json=body, headers=server.auth("worker")).status_code == 200

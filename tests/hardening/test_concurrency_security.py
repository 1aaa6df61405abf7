"""Concurrency and security: idempotent creation under a burst, hashed keys compared in constant time,
closed CORS, and downloads that cannot leave the artifact root.

Auth on every route (missing, wrong and wrong-scope keys; hashed storage; revocation) is proven by
`tests/app/test_auth.py`; this module adds what that one does not cover.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from app import auth
from app.storage import ArtifactStore

SPEC = {"name": "burst", "n": 30, "seed": 11}
BURST = 50


def _count(server, sql: str, **params) -> int:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def _burst(server, body: dict, headers: dict[str, str]) -> list[httpx.Response]:
    # One client per request: 50 connections at once, as 50 separate callers would open.
    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            return client.post("/v1/datasets", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(one, range(BURST)))


@pytest.mark.slow
def test_fifty_concurrent_posts_with_one_idempotency_key_make_one_version(server):
    headers = {**server.auth("write"), "Idempotency-Key": "burst-key-1"}
    responses = _burst(server, {**SPEC, "seed": 11}, headers)
    assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses if r.status_code >= 300]
    ids = {r.json()["id"] for r in responses}
    jobs = {r.json()["job_id"] for r in responses}
    assert len(ids) == 1 and len(jobs) == 1, (ids, jobs)
    (dataset_id,) = ids
    assert _count(server, "SELECT count(*) FROM dataset_versions WHERE id = :i", i=dataset_id) == 1
    assert _count(server, "SELECT count(*) FROM jobs WHERE dataset_id = :i AND kind = 'generation'",
                  i=dataset_id) == 1
    # the key replays the first answer; reusing it for another body is refused
    replay = server.client.post("/v1/datasets", json={**SPEC, "seed": 11}, headers=headers)
    assert replay.json()["id"] == dataset_id
    other = server.client.post("/v1/datasets", json={**SPEC, "seed": 12}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


@pytest.mark.slow
def test_fifty_concurrent_posts_of_one_spec_without_a_key_make_one_content_addressed_version(server):
    responses = _burst(server, {**SPEC, "seed": 21}, server.auth("write"))
    assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses if r.status_code >= 300]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1, ids
    (dataset_id,) = ids
    assert _count(server, "SELECT count(*) FROM dataset_versions WHERE content_key = "
                  "(SELECT content_key FROM dataset_versions WHERE id = :i)", i=dataset_id) == 1
    assert _count(server, "SELECT count(*) FROM jobs WHERE dataset_id = :i AND kind = 'generation'",
                  i=dataset_id) == 1
    job = server.wait_job(responses[0].json()["job_id"])
    assert job["status"] == "succeeded", job


def test_key_check_hashes_and_compares_in_constant_time():
    """Checks the code path rather than timing (timings on a shared CI machine are noise): the
    secret's sha256 is compared with `hmac.compare_digest`, also when the prefix is unknown."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(auth.authenticate)))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    compared = [c for c in calls if ast.unparse(c.func) == "hmac.compare_digest"]
    assert len(compared) == 1, "authenticate must compare with hmac.compare_digest"
    args = [ast.unparse(a) for a in compared[0].args]
    assert "_sha(key)" in args, args  # the hash of the presented key, never the key itself
    # no other comparison touches the stored hash or the presented secret (the prefix lookup may: a
    # prefix only finds the row and is not secret)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            code = ast.unparse(node)
            assert not any(word in code for word in ("secret", "expected", "_sha(")), code
    assert auth._sha("x") == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"


def test_cors_is_closed_by_default(server):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    preflight = server.client.options("/v1/datasets", headers=headers)
    simple = server.client.get("/v1/tools", headers={"Origin": "https://evil.example"})
    for response in (preflight, simple):
        assert "access-control-allow-origin" not in response.headers, dict(response.headers)


@pytest.mark.slow
def test_cors_opens_only_to_the_configured_origins(server, spawn):
    # Same artifact root as `server`: replicas on one database must share it (this one may run jobs).
    other = spawn({"TOOLFORGE_CORS_ORIGINS": '["https://app.example"]',
                   "TOOLFORGE_ARTIFACT_URL": str(server.data_dir / "artifacts")})
    ok = other.client.get("/v1/tools", headers={"Origin": "https://app.example"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.example"
    evil = other.client.get("/v1/tools", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


TRAVERSALS = [
    "..%2F..%2Fetc%2Fpasswd",  # encoded slashes
    "..%252F..%252Fetc%252Fpasswd",  # double-encoded
    "%2Fetc%2Fpasswd",  # absolute, encoded
    "..%5C..%5Cwindows%5Cwin.ini",  # backslashes
    "%2e%2e",  # an encoded parent
    "samples.jsonl%00.md",  # NUL byte
    "STATS.JSON",  # a case variant of a real file
    "notes.txt",  # a name that is not in the manifest
    "sha256",  # the store's own folder name
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_downloads_cannot_escape_the_artifact_root(server, name):
    dataset = server.ready_dataset()
    url = f"{server.base_url}/v1/datasets/{dataset['id']}/files/{name}"
    # httpx would normalise some of these; send the raw path as given
    response = server.client.get(httpx.URL(url))
    assert response.status_code == 404, (name, response.status_code, response.text[:200])
    body = response.json()
    assert set(body) >= {"type", "detail"} and body["type"] == "not_found"
    assert "root:" not in response.text


def test_unencoded_parent_segments_never_reach_a_file(server):
    dataset = server.ready_dataset()
    for path in (f"/v1/datasets/{dataset['id']}/files/../../../../etc/passwd", "/v1/datasets/../../etc/passwd"):
        # a raw request: httpx would collapse the dot segments before sending
        with httpx.Client(base_url=server.base_url) as client:
            request = client.build_request("GET", "/")
            request.url = request.url.copy_with(raw_path=path.encode())
            response = client.send(request)
        assert response.status_code == 404, (path, response.text[:200])
        assert "root:" not in response.text


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a" * 64, "0" * 63, "0" * 64 + "/..", ""])
def test_the_store_refuses_keys_that_are_not_sha256_digests(tmp_path, key):
    store = ArtifactStore(str(tmp_path))
    if key == "a" * 64:  # a well-formed digest is accepted (and simply absent)
        assert store.exists(key) is False
        return
    for call in (store.exists, store.open, store.local_path, store.delete):
        with pytest.raises(ValueError, match="not a sha256 digest"):
            call(key)

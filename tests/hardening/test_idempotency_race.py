"""Concurrent requests sharing one Idempotency-Key with different bodies: one proceeds, the others do no work.

Before: 20 such POSTs gave one 202 and nineteen 422s, yet created 10-14 versions and jobs on PostgreSQL
(2 on SQLite), because each request generated before it tried to record the key.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import create_engine, text

N = 20


def _count(server, sql: str, **params) -> int:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def _race(server, bodies: list[dict], key: str) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))
    headers = {**server.auth("write"), "Idempotency-Key": key}

    def one(body: dict) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            start.wait()
            return client.post("/v1/datasets", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_twenty_different_bodies_sharing_a_key_make_exactly_one_version_and_job(server) -> None:
    bodies = [{"name": "race-diff", "n": 30, "seed": 1000 + i} for i in range(N)]
    responses = _race(server, bodies, "race-key-different-bodies")
    ok = [r for r in responses if r.status_code in (200, 202)]
    refused = [r for r in responses if r.status_code == 422]
    assert len(ok) == 1 and len(refused) == N - 1, [(r.status_code, r.text[:100]) for r in responses]
    assert all("Idempotency-Key" in r.json()["detail"] for r in refused)
    assert _count(server, "SELECT count(*) FROM dataset_versions WHERE name = 'race-diff'") == 1
    assert _count(server, "SELECT count(*) FROM jobs j JOIN dataset_versions d ON j.dataset_id = d.id "
                  "WHERE d.name = 'race-diff'") == 1
    # The winner's answer is what the key replays.
    winner = ok[0].json()
    seed = winner["spec"]["seed"]
    replay = server.client.post("/v1/datasets", json={"name": "race-diff", "n": 30, "seed": seed},
                                headers={**server.auth("write"), "Idempotency-Key": "race-key-different-bodies"})
    assert replay.json()["id"] == winner["id"] and replay.headers.get("idempotent-replayed") == "true"


def test_twenty_identical_bodies_sharing_a_key_all_get_the_one_answer(server) -> None:
    body = {"name": "race-same", "n": 30, "seed": 2000}
    responses = _race(server, [body] * N, "race-key-same-body")
    assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1 and len({r.json()["job_id"] for r in responses}) == 1
    assert _count(server, "SELECT count(*) FROM dataset_versions WHERE name = 'race-same'") == 1


def test_a_refused_request_frees_its_key(server) -> None:
    headers = {**server.auth("write"), "Idempotency-Key": "race-key-refused"}
    bad = server.client.post("/v1/datasets", json={"name": "refused", "n": 30, "seed": 1,
                                                   "tools": {"names": ["no_such_tool"]}}, headers=headers)
    assert bad.status_code == 422 and "no_such_tool" in bad.json()["detail"]
    good = server.client.post("/v1/datasets", json={"name": "refused", "n": 30, "seed": 1}, headers=headers)
    assert good.status_code == 202, good.text

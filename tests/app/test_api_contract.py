"""The API's contract through a real server: idempotency, pagination, error bodies, size limits, health."""

from __future__ import annotations

import httpx
import pytest

# Small caps so the tests can cross them cheaply.
MAX_PAGE = 3
MAX_N = 1000
MAX_BODY = 64 * 1024
SERVER_ENV = {
    "TOOLFORGE_MAX_PAGE_SIZE": str(MAX_PAGE),
    "TOOLFORGE_MAX_DATASET_N": str(MAX_N),
    "TOOLFORGE_MAX_BODY_BYTES": str(MAX_BODY),
}


def assert_error(response: httpx.Response, status: int, type_: str | None = None) -> dict:
    """Every 4xx body is `{"type", "detail"}` with a non-empty detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("type"), str) and isinstance(body.get("detail"), str) and body["detail"], body
    if type_ is not None:
        assert body["type"] == type_, body
    return body


def _generation_jobs(server, dataset_id: str) -> list[dict]:
    page = server.client.get("/v1/jobs", params={"dataset_id": dataset_id, "kind": "generation"}).json()
    return page["data"]


# --- idempotency --------------------------------------------------------------------------------


def test_idempotency_key_replays_and_refuses_a_different_body(server):
    write = server.auth("write")
    body = {"name": "idem", "n": 60, "seed": 5}
    first = server.client.post("/v1/datasets", json=body, headers={**write, "Idempotency-Key": "k-1"})
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    again = server.client.post("/v1/datasets", json=body, headers={**write, "Idempotency-Key": "k-1"})
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # The same key with another body is a client bug: refused, nothing created.
    other = server.client.post(
        "/v1/datasets", json={**body, "seed": 6}, headers={**write, "Idempotency-Key": "k-1"}
    )
    assert_error(other, 422, "invalid_input")
    assert server.client.get("/v1/datasets", params={"name": "idem"}).json()["count"] == 1


def test_same_spec_and_seed_is_the_same_version_without_a_key(server):
    write = server.auth("write")
    body = {"name": "same", "n": 60, "seed": 9}
    first = server.client.post("/v1/datasets", json=body, headers=write)
    assert first.status_code == 202
    second = server.client.post("/v1/datasets", json=body, headers=write)
    assert second.status_code in (200, 202) and second.json()["id"] == first.json()["id"]
    assert server.wait_job(first.json()["job_id"])["status"] == "succeeded"
    third = server.client.post("/v1/datasets", json=body, headers=write)
    assert third.status_code == 200 and third.json()["status"] == "ready"
    assert third.json()["id"] == first.json()["id"]
    assert len(_generation_jobs(server, first.json()["id"])) == 1
    # Another seed is another version.
    other = server.client.post("/v1/datasets", json={**body, "seed": 10}, headers=write)
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_cancelled_generation_can_be_requested_again(server):
    """A version whose only job was cancelled must not stay pending forever."""
    write = server.auth("write")
    body = {"name": "cancelled", "n": 50, "seed": 3}
    first = server.client.post("/v1/datasets", json=body, headers=write).json()
    cancelled = server.client.post(f"/v1/jobs/{first['job_id']}/cancel", headers=write)
    if cancelled.status_code == 409:  # the job finished before the cancel arrived: nothing to test
        pytest.skip("generation finished before it could be cancelled")
    assert cancelled.json()["status"] == "cancelled"
    again = server.client.post("/v1/datasets", json=body, headers=write)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first["id"] and again.json()["job_id"] != first["job_id"]
    assert server.wait_job(again.json()["job_id"])["status"] == "succeeded"
    assert server.client.get(f"/v1/datasets/{first['id']}").json()["status"] == "ready"


# --- pagination ---------------------------------------------------------------------------------


def test_dataset_and_job_lists_page_and_clamp(server):
    write = server.auth("write")
    ids = {
        server.client.post("/v1/datasets", json={"name": "paged", "n": 50, "seed": s}, headers=write).json()[
            "id"
        ]
        for s in range(4)
    }
    seen = []
    for offset in range(0, 6, 2):
        page = server.client.get(
            "/v1/datasets", params={"name": "paged", "offset": offset, "limit": 2}
        ).json()
        assert page["count"] == 4
        seen.extend(d["id"] for d in page["data"])
    assert sorted(seen) == sorted(ids)  # every version once, none twice
    # A limit above the server's page size is refused (naming the setting), never silently shortened.
    refused = assert_error(server.client.get("/v1/datasets", params={"name": "paged", "limit": 1000}), 422)
    assert "TOOLFORGE_MAX_PAGE_SIZE" in refused["detail"] and f"at most {MAX_PAGE}" in refused["detail"]
    assert_error(server.client.get("/v1/datasets", params={"limit": 0}), 422)
    assert_error(server.client.get("/v1/datasets", params={"status": "bogus"}), 422)

    jobs = server.client.get("/v1/jobs", params={"kind": "generation", "limit": MAX_PAGE}).json()
    assert len(jobs["data"]) == MAX_PAGE and jobs["count"] >= 4
    walked = []
    for offset in range(0, jobs["count"], 2):
        walked.extend(
            j["id"]
            for j in server.client.get(
                "/v1/jobs", params={"kind": "generation", "offset": offset, "limit": 2}
            ).json()["data"]
        )
    assert len(walked) == len(set(walked)) == jobs["count"]
    one = next(iter(ids))
    by_dataset = server.client.get("/v1/jobs", params={"dataset_id": one}).json()
    assert by_dataset["count"] == 1 and by_dataset["data"][0]["dataset_id"] == one
    # Cancel the four (keeps the generation queue short), then filter by status.
    for dataset_id in ids:
        job = _generation_jobs(server, dataset_id)[0]
        server.client.post(f"/v1/jobs/{job['id']}/cancel", headers=write)
    for status in ("cancelled", "succeeded", "queued"):
        page = server.client.get("/v1/jobs", params={"status": status, "limit": MAX_PAGE}).json()
        assert all(j["status"] == status for j in page["data"]) and page["count"] >= len(page["data"])
    cancelled = server.client.get("/v1/jobs", params={"status": "cancelled", "kind": "generation"}).json()
    assert cancelled["count"] >= 1


def test_sample_pages_above_the_page_size_are_refused(server):
    dataset = server.ready_dataset(n=50)
    response = server.client.get(f"/v1/datasets/{dataset['id']}/samples", params={"limit": 1000})
    assert "TOOLFORGE_MAX_PAGE_SIZE" in assert_error(response, 422, "invalid_input")["detail"]


def _walk(server, path: str, params: dict) -> list[dict]:
    """Every row of a list, following `next` from the first page."""
    rows, url, pages = [], path, 0
    page = server.client.get(url, params=params).json()
    while True:
        rows.extend(page["data"])
        pages += 1
        assert pages < 100, "next never ends"
        if page["next"] is None:
            return rows
        assert page["next"].startswith("/v1/")  # a path: the Host header is never reflected
        page = server.client.get(page["next"]).json()


def test_next_walks_every_sample_once_with_the_filters_kept(server):
    dataset = server.ready_dataset(n=50)
    path = f"/v1/datasets/{dataset['id']}/samples"
    rows = _walk(server, path, {"limit": 2})
    # every row once, in file order, 25 pages of 2
    assert [r["extra_info"]["sample_id"] for r in rows] == \
        [r["extra_info"]["sample_id"] for r in _walk(server, path, {"limit": MAX_PAGE})]
    assert len(rows) == 50 == len({r["extra_info"]["sample_id"] for r in rows})
    # a filter is carried into every next link
    executions = _walk(server, path, {"behavior": "execution", "limit": 2})
    assert executions and {r["behavior"] for r in executions} == {"execution"}
    assert len(executions) == server.client.get(path, params={"behavior": "execution"}).json()["count"]
    # the last page says so
    last = server.client.get(path, params={"offset": 48, "limit": 2}).json()
    assert last["next"] is None and len(last["data"]) == 2


def test_next_walks_every_list(server):
    server.ready_dataset(n=50)
    for path in ("/v1/datasets", "/v1/jobs", "/v1/models", "/v1/evaluations"):
        first = server.client.get(path, params={"limit": 1}).json()
        rows = _walk(server, path, {"limit": 1})
        assert len(rows) == first["count"] == len({r["id"] for r in rows}), path


def test_tools_are_paged_like_every_list(server):
    first = server.client.get("/v1/tools").json()
    # before: every tool in one answer, whatever the page size
    assert len(first["data"]) == MAX_PAGE < first["count"] and first["next"] is not None
    everything = _walk(server, "/v1/tools", {})
    names = [t["name"] for t in everything]
    assert len(names) == first["count"] == len(set(names)) and names == sorted(names)
    assert_error(server.client.get("/v1/tools", params={"limit": MAX_PAGE + 1}), 422)
    # the digest is the whole registry's, on every page
    last = server.client.get("/v1/tools", params={"offset": first["count"] - 1}).json()
    assert last["registry_digest"] == first["registry_digest"] and last["next"] is None


def test_tool_filters(server):
    everything = _walk(server, "/v1/tools", {})
    assert len(everything) > 0
    domains = {t["domain"] for t in everything}
    for domain in sorted(domains)[:3]:
        for split in ("train", "heldout"):
            page = _walk(server, "/v1/tools", {"domain": domain, "split": split})
            expected = [t["name"] for t in everything if t["domain"] == domain and t["split"] == split]
            assert [t["name"] for t in page] == expected
    assert_error(server.client.get("/v1/tools", params={"split": "test"}), 422)
    assert_error(server.client.get("/v1/tools/no_such_tool"), 404, "not_found")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"n": MAX_N + 1}, "TOOLFORGE_MAX_DATASET_N"),  # above this server's cap
        ({"n": 10, "ratios": {"execution": 0.5, "clarification": 0.3, "refusal": 0.3}}, "sum to 1"),  # ratios
        ({"n": 10, "tools": {"names": ["no_such_tool"]}}, "no_such_tool"),  # unknown tool name
        ({"n": 10, "tools": {"domains": ["no_such_domain"]}}, "no_such_domain"),  # unknown domain
        ({"n": 10, "bogus": 1}, "bogus"),  # unknown field
        ({"n": 0}, "n"),  # n below 1
    ],
)
def test_dataset_create_refusals(server, body, needle):
    response = server.client.post("/v1/datasets", json={"name": "bad", **body}, headers=server.auth("write"))
    assert needle in assert_error(response, 422)["detail"]


def test_empty_tool_selection_is_refused(server):
    """A filter that selects no tool of the split (a domain with no held-out tool, or none at all)."""
    tools = _walk(server, "/v1/tools", {})
    train_only = sorted(
        {t["domain"] for t in tools} - {t["domain"] for t in tools if t["split"] == "heldout"}
    )
    name = next(t["name"] for t in tools if t["split"] == "train")
    body = {"name": "empty", "n": 10, "split": "heldout"}
    body["tools"] = {"domains": train_only[:1]} if train_only else {"names": [name]}
    response = server.client.post("/v1/datasets", json=body, headers=server.auth("write"))
    assert_error(response, 422, "invalid_input")


def test_body_over_the_limit_is_413(server):
    big = {"type": "function", "function": {"name": "x", "description": "y" * (MAX_BODY + 10)}}
    for headers in ({}, server.auth("write")):
        assert_error(server.client.post("/v1/tools", json=big, headers=headers), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit must hold on the streamed body too
        yield b'{"n": 1, "name": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"a" * 1024
        yield b'"}'

    response = server.client.post(
        "/v1/datasets", content=chunks(), headers={**server.auth("write"), "Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


def test_other_4xx_bodies(server):
    client, write = server.client, server.auth("write")
    assert_error(client.get("/v1/datasets/ds_nope"), 404, "not_found")
    assert_error(client.get("/v1/jobs/job_nope"), 404, "not_found")
    assert_error(client.get("/v1/models/model_nope"), 404, "not_found")
    assert_error(client.get("/v1/no/such/route"), 404)
    assert_error(client.put("/v1/datasets", json={}), 405)
    assert_error(
        client.post(
            "/v1/datasets", content=b"{not json", headers={**write, "Content-Type": "application/json"}
        ),
        422,
    )
    assert_error(client.post("/v1/tools", json={"type": "function"}, headers=write), 422, "invalid_schema")
    assert_error(client.post("/v1/training-jobs", json={"dataset_id": "ds_nope"}, headers=write), 404)
    pending = client.post(
        "/v1/datasets", json={"name": "pending", "n": MAX_N, "seed": 77}, headers=write
    ).json()
    if client.get(f"/v1/datasets/{pending['id']}").json()["status"] == "pending":
        assert_error(client.get(f"/v1/datasets/{pending['id']}/samples"), 409, "conflict")
    if client.post(f"/v1/jobs/{pending['job_id']}/cancel", headers=write).status_code == 200:
        assert_error(client.post(f"/v1/jobs/{pending['job_id']}/cancel", headers=write), 409, "conflict")


# --- health -------------------------------------------------------------------------------------


def test_health_readiness_and_metrics(server):
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.client.get("/readyz").json() == {"status": "ready"}
    server.client.get("/v1/datasets")
    metrics = server.client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    # Labelled by route template, never by raw path.
    assert any(
        line.startswith("toolforge_http_requests_total{")
        and 'route="/v1/datasets"' in line
        and 'status="200"' in line
        for line in lines
    ), metrics.text[:2000]
    assert any(line.startswith("toolforge_http_request_seconds_bucket{") for line in lines)
    assert not any("ds_nope" in line for line in lines)


def test_lists_show_summaries_and_the_item_its_spec(server):
    dataset = server.ready_dataset(n=50)
    (row,) = [d for d in _walk(server, "/v1/datasets", {}) if d["id"] == dataset["id"]]
    item = server.client.get(f"/v1/datasets/{dataset['id']}").json()
    # before: every row embedded its whole spec (the paraphrase prompt included)
    assert "spec" not in row and item["spec"]["n"] == 50
    assert (row["n"], row["seed"], row["split"]) == (50, item["spec"]["seed"], item["spec"]["split"])
    # otherwise the row is the item: same files, counts and job
    assert row == {k: v for k, v in item.items() if k != "spec"}


def test_a_listed_row_follows_delete_and_regeneration(server):
    """Ready rows are kept encoded by (id, ready_at): a deleted version leaves the list, and the same spec
    generated again lists its new job and ready time, not the kept row."""
    body = {"name": "relisted", "n": 20, "seed": 5}
    first = server.client.post("/v1/datasets", json=body, headers=server.auth("write")).json()
    assert server.wait_job(first["job_id"])["status"] == "succeeded"
    listed = server.client.get("/v1/datasets", params={"name": "relisted"}).json()["data"]
    assert server.client.get("/v1/datasets", params={"name": "relisted"}).json()["data"] == listed  # kept row
    assert [row["job_id"] for row in listed] == [first["job_id"]]
    deleted = server.client.delete(f"/v1/datasets/{first['id']}", headers=server.auth("admin"))
    assert deleted.status_code == 204, deleted.text
    assert server.client.get("/v1/datasets", params={"name": "relisted"}).json() == {"data": [], "count": 0,
                                                                                     "next": None}
    again = server.client.post("/v1/datasets", json=body, headers=server.auth("write")).json()
    assert again["id"] == first["id"] and again["job_id"] != first["job_id"]
    assert server.wait_job(again["job_id"])["status"] == "succeeded"
    (row,) = server.client.get("/v1/datasets", params={"name": "relisted"}).json()["data"]
    item = server.client.get(f"/v1/datasets/{again['id']}").json()
    assert row == {k: v for k, v in item.items() if k != "spec"} and row["job_id"] == again["job_id"]
    assert row["ready_at"] != listed[0]["ready_at"]

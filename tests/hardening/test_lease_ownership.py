"""A lease belongs to the key (and the lease token) that claimed it.

Before: the lease owner was whatever `worker_id` a caller sent and it was publicly readable, so a second
worker key completed another worker's job (registering `file:///etc/passwd` as the model) and failed a
running generation job.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.auth import create_key


@pytest.fixture(scope="module")
def other_worker(server) -> dict[str, str]:
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            return {"Authorization": f"Bearer {create_key(session, 'second-worker', ['worker'])}"}
    finally:
        engine.dispose()


def _store(server, *parts: str) -> str:
    return "/".join([str((server.data_dir / "artifacts").resolve()), *parts])


def _model(server, job_id: str, uri: str | None = None) -> dict:
    return {"name": "m", "base_model": "tiny", "artifact_uri": uri or _store(server, "models", job_id)}


@pytest.fixture
def leased(server) -> dict:
    """A training job claimed by the first worker key: the claim's body (with its lease token)."""
    dataset = server.ready_dataset()
    job = server.client.post("/v1/training-jobs", json={"dataset_id": dataset["id"]}, headers=server.auth("write"))
    assert job.status_code == 201, job.text
    claim = server.client.post("/v1/training-jobs/claim", json={"worker_id": "worker-a", "lease_seconds": 300},
                               headers=server.auth("worker"))
    assert claim.status_code == 200 and claim.json()["id"] == job.json()["id"], claim.text
    yield claim.json()
    server.client.post(f"/v1/jobs/{claim.json()['id']}/cancel", headers=server.auth("write"))


def _calls(server, job_id: str, token: str) -> list[tuple[str, dict]]:
    return [
        ("heartbeat", {"lease_token": token, "progress_done": 1}),
        ("complete", {"lease_token": token, "model": _model(server, job_id)}),
        ("fail", {"lease_token": token, "error": "boom"}),
        ("release", {"lease_token": token}),
    ]


@pytest.mark.parametrize("call", ["heartbeat", "complete", "fail", "release"])
def test_another_key_with_the_right_token_is_forbidden(server, leased, other_worker, call) -> None:
    job_id = leased["id"]
    body = dict(_calls(server, job_id, leased["lease_token"]))[call]
    # The attacker knows everything public about the job, and even the token: the key is wrong.
    public = server.client.get(f"/v1/jobs/{job_id}").json()
    r = server.client.post(f"/v1/training-jobs/{job_id}/{call}", json={**body, "worker_id": public["lease_owner"]},
                           headers=other_worker)
    assert r.status_code == 403, r.text
    assert r.json()["type"] == "forbidden"
    after = server.client.get(f"/v1/jobs/{job_id}").json()
    assert after["status"] == "running" and after["model_id"] is None and after["progress_done"] == 0


@pytest.mark.parametrize("call", ["heartbeat", "complete", "fail", "release"])
def test_the_same_key_with_a_wrong_token_is_forbidden(server, leased, call) -> None:
    job_id = leased["id"]
    body = dict(_calls(server, job_id, "guessed-" + leased["lease_token"][:8]))[call]
    r = server.client.post(f"/v1/training-jobs/{job_id}/{call}", json={**body, "worker_id": "worker-a"},
                           headers=server.auth("worker"))
    assert r.status_code == 403, r.text
    assert server.client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"


def test_no_token_is_refused(server, leased) -> None:
    r = server.client.post(f"/v1/training-jobs/{leased['id']}/fail", json={"worker_id": "worker-a", "error": "x"},
                           headers=server.auth("worker"))
    assert r.status_code == 422 and "lease_token" in r.json()["detail"]


def test_the_claimer_may_report_and_the_token_is_never_public(server, leased) -> None:
    job_id, token = leased["id"], leased["lease_token"]
    beat = server.client.post(f"/v1/training-jobs/{job_id}/heartbeat", json={"lease_token": token, "progress_done": 2},
                              headers=server.auth("worker"))
    assert beat.status_code == 200 and beat.json()["progress_done"] == 2
    assert "lease_token" not in beat.json() and beat.json()["lease_owner"] == "worker-a"
    for path in (f"/v1/jobs/{job_id}", "/v1/jobs?limit=500", "/v1/events?limit=1000"):
        text = server.client.get(path, headers=server.auth("admin")).text
        assert token not in text, path
    job = server.client.get(f"/v1/jobs/{job_id}").json()
    assert job["lease_owner"] == "worker-a"
    # the public label is not the lease: sending it as a worker id proves nothing
    assert server.client.post(f"/v1/training-jobs/{job_id}/fail", json={"lease_token": job["lease_owner"],
                              "error": "x"}, headers=server.auth("worker")).status_code == 403


BAD_ARTIFACTS = ["file:///etc/passwd", "/etc/passwd", "s3://someone-elses-bucket/model", "http://evil.example/m",
                 "models/relative"]


@pytest.mark.parametrize("uri", BAD_ARTIFACTS)
def test_model_artifact_must_be_in_the_store(server, leased, uri) -> None:
    job_id, token = leased["id"], leased["lease_token"]
    body = {"lease_token": token, "model": _model(server, job_id, uri)}
    r = server.client.post(f"/v1/training-jobs/{job_id}/complete", json=body, headers=server.auth("worker"))
    assert r.status_code == 422 and "artifact store" in r.json()["detail"], r.text
    climbing = _store(server, "models", "..", "..", "..", "etc", "passwd")
    r = server.client.post(f"/v1/training-jobs/{job_id}/heartbeat",
                           json={"lease_token": token, "checkpoint_uri": climbing}, headers=server.auth("worker"))
    assert r.status_code == 422 and "checkpoint_uri" in r.json()["detail"], r.text
    assert server.client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"


def test_complete_in_the_store_registers_once(server, leased) -> None:
    job_id, token = leased["id"], leased["lease_token"]
    body = {"lease_token": token, "model": _model(server, job_id)}
    done = server.client.post(f"/v1/training-jobs/{job_id}/complete", json=body, headers=server.auth("worker"))
    assert done.status_code == 201, done.text
    again = server.client.post(f"/v1/training-jobs/{job_id}/complete", json=body, headers=server.auth("worker"))
    assert again.status_code == 201 and again.json()["id"] == done.json()["id"]


def test_generation_jobs_are_never_touchable_through_worker_routes(server, other_worker) -> None:
    created = server.client.post("/v1/datasets", json={"name": "big", "n": 400_000, "seed": 77},
                                 headers=server.auth("write"))
    assert created.status_code == 202, created.text
    job_id, dataset_id = created.json()["job_id"], created.json()["id"]
    try:
        deadline = time.monotonic() + 60
        while (job := server.client.get(f"/v1/jobs/{job_id}").json())["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for headers in (server.auth("worker"), other_worker, server.auth("admin")):
            for call, body in (("fail", {"error": "x"}), ("heartbeat", {}), ("release", {}),
                               ("complete", {"model": _model(server, job_id)})):
                r = server.client.post(f"/v1/training-jobs/{job_id}/{call}",
                                       json={**body, "worker_id": job["lease_owner"] or "x", "lease_token": "t"},
                                       headers=headers)
                assert r.status_code == 404, (call, r.text)
        after = server.client.get(f"/v1/jobs/{job_id}").json()
        assert after["status"] in ("running", "succeeded") and after["error"] is None
        assert server.client.get(f"/v1/datasets/{dataset_id}").json()["status"] in ("pending", "ready")
    finally:
        server.client.post(f"/v1/jobs/{job_id}/cancel", headers=server.auth("write"))

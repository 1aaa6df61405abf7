"""The worker side through a real server: training-job leases, model lineage and the event feed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import httpx

MODEL = {
    "name": "tiny-grpo",
    "base_model": "tiny-qwen2",
    "config": {"lr": 5e-6},
    "metrics": {"reward": 0.4},
    "artifact_uri": "file:///models/tiny",
}


def _in_store(server, *parts: str) -> str:
    """A URI inside the server's artifact store (where a training job's model and checkpoints must be)."""
    return "/".join([(server.data_dir / "artifacts").resolve().as_uri(), *parts])


def _claim(server, worker: str, lease: int) -> httpx.Response:
    return server.client.post(
        "/v1/training-jobs/claim",
        json={"worker_id": worker, "lease_seconds": lease},
        headers=server.auth("worker"),
    )


def _post(server, path: str, body: dict, scope: str = "worker") -> httpx.Response:
    return server.client.post(path, json=body, headers=server.auth(scope))


def test_lease_expiry_hands_the_job_over_with_its_checkpoint(server):
    dataset = server.ready_dataset()
    created = _post(
        server, "/v1/training-jobs", {"dataset_id": dataset["id"], "config": {"num_train_epochs": 1}}, "write"
    )
    assert created.status_code == 201 and created.json()["status"] == "queued"
    job_id = created.json()["id"]

    first = _claim(server, "worker-a", 5)
    assert first.status_code == 200, first.text
    assert first.json()["id"] == job_id and first.json()["attempts"] == 1
    assert first.json()["lease_owner"] == "worker-a"
    token_a = first.json()["lease_token"]
    checkpoint = _in_store(server, "jobs", job_id, "checkpoints", "step-3")
    assert _claim(server, "worker-b", 5).status_code == 204  # nothing else is queued

    beat = _post(
        server,
        f"/v1/training-jobs/{job_id}/heartbeat",
        {
            "lease_token": first.json()["lease_token"],
            "lease_seconds": 5,
            "progress_done": 3,
            "progress_total": 10,
            "checkpoint_uri": checkpoint,
            "metrics": {"loss": 0.5},
        },
    )
    assert beat.status_code == 200, beat.text
    assert beat.json()["progress_done"] == 3 and beat.json()["metrics"] == {"loss": 0.5}
    expires = datetime.fromisoformat(beat.json()["lease_expires_at"])
    # The heartbeat kept the claimed lease length (it must not stretch a 5 s lease to the server default).
    assert (expires - datetime.fromisoformat(first.json()["lease_expires_at"])).total_seconds() < 5
    wrong = _post(server, f"/v1/training-jobs/{job_id}/heartbeat", {"lease_token": "not-the-token"})
    assert wrong.status_code == 403 and wrong.json()["type"] == "forbidden"

    # worker-a goes silent; once its lease is over, worker-b gets the same job and the checkpoint.
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 0.3)
    second = _claim(server, "worker-b", 30)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["id"] == job_id and body["attempts"] == 2 and body["lease_owner"] == "worker-b"
    assert body["checkpoint_uri"] == checkpoint
    token_b = body["lease_token"]

    # The lost worker can neither heartbeat nor complete: the job is leased to worker-b now.
    late = _post(server, f"/v1/training-jobs/{job_id}/heartbeat", {"lease_token": token_a})
    assert late.status_code == 403
    model_body = {**MODEL, "dataset_id": dataset["id"], "artifact_uri": _in_store(server, "models", job_id)}
    assert (
        _post(
            server, f"/v1/training-jobs/{job_id}/complete", {"lease_token": token_a, "model": model_body}
        ).status_code
        == 403
    )

    done = _post(
        server, f"/v1/training-jobs/{job_id}/complete", {"lease_token": token_b, "model": model_body}
    )
    assert done.status_code == 201, done.text
    model = done.json()
    assert model["job_id"] == job_id and model["dataset_id"] == dataset["id"]
    # A retried complete returns the same model; another worker's complete is refused.
    again = _post(
        server, f"/v1/training-jobs/{job_id}/complete", {"lease_token": token_b, "model": model_body}
    )
    assert again.json()["id"] == model["id"]
    assert (
        _post(
            server, f"/v1/training-jobs/{job_id}/complete", {"lease_token": token_a, "model": model_body}
        ).status_code
        == 409
    )
    models = server.client.get("/v1/models", params={"limit": 500}).json()["data"]
    assert [m["id"] for m in models if m["job_id"] == job_id] == [model["id"]]  # exactly once
    job = server.client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["model_id"] == model["id"]

    requeued = server.client.get("/v1/events", params={"types": "job.requeued", "limit": 1000}).json()["data"]
    assert any(
        e["subject_id"] == job_id and e["payload"]["checkpoint_uri"] == checkpoint
        for e in requeued
    )

    # Lineage: dataset version → model version → evaluations.
    evaluation = _post(
        server,
        "/v1/evaluations",
        {"model_id": model["id"], "dataset_id": dataset["id"], "metrics": {"accuracy": 0.5}},
    )
    assert evaluation.status_code == 201, evaluation.text
    lineage = server.client.get(f"/v1/models/{model['id']}/lineage").json()
    assert lineage["dataset"]["id"] == dataset["id"] and lineage["dataset"]["status"] == "ready"
    assert lineage["model"]["id"] == model["id"]
    assert [e["id"] for e in lineage["evaluations"]] == [evaluation.json()["id"]]
    assert server.client.get("/v1/evaluations", params={"model_id": model["id"]}).json()["count"] == 1


def test_release_and_fail(server):
    dataset = server.ready_dataset()
    job_id = _post(server, "/v1/training-jobs", {"dataset_id": dataset["id"]}, "write").json()["id"]
    claimed = _claim(server, "worker-c", 60).json()
    assert claimed["id"] == job_id
    released = _post(server, f"/v1/training-jobs/{job_id}/release", {"lease_token": claimed["lease_token"]})
    assert released.status_code == 200 and released.json()["status"] == "queued"
    claimed = _claim(server, "worker-d", 60).json()
    assert claimed["id"] == job_id and claimed["attempts"] == 2
    token = claimed["lease_token"]
    failed = _post(server, f"/v1/training-jobs/{job_id}/fail", {"lease_token": token, "error": "CUDA OOM"})
    assert (
        failed.status_code == 200
        and failed.json()["status"] == "failed"
        and failed.json()["error"] == "CUDA OOM"
    )
    assert (
        _post(
            server, f"/v1/training-jobs/{job_id}/fail", {"lease_token": token, "error": "again"}
        ).status_code
        == 409
    )
    # Training needs a ready dataset.
    pending = _post(server, "/v1/datasets", {"name": "not-yet", "n": 300, "seed": 99}, "write").json()
    if server.client.get(f"/v1/datasets/{pending['id']}").json()["status"] == "pending":
        assert _post(server, "/v1/training-jobs", {"dataset_id": pending["id"]}, "write").status_code == 409
    server.client.post(f"/v1/jobs/{pending['job_id']}/cancel", headers=server.auth("write"))


# --- events ------------------------------------------------------------------------------------


def _latest_cursor(server) -> int:
    cursor = 0
    while True:
        page = server.client.get("/v1/events", params={"after": cursor, "limit": 1000}).json()
        if not page["data"]:
            return cursor
        cursor = page["next_cursor"]


def _announce_model(server, delay: float) -> threading.Thread:
    """Register a model from another thread after `delay` seconds (it publishes `model.ready`)."""

    def run() -> None:
        time.sleep(delay)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            body = {**MODEL, "artifact_uri": _in_store(server, "models", "announced")}
            client.post("/v1/models", json=body, headers=server.auth("worker")).raise_for_status()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_cursor_resumes(server):
    server.ready_dataset()
    first = server.client.get("/v1/events", params={"limit": 2}).json()
    assert first["count"] == 2 and first["next_cursor"] == first["data"][-1]["id"]
    rest = server.client.get("/v1/events", params={"after": first["next_cursor"], "limit": 1000}).json()
    assert all(e["id"] > first["next_cursor"] for e in rest["data"])
    ids = [e["id"] for e in first["data"] + rest["data"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    cursor = _latest_cursor(server)
    empty = server.client.get("/v1/events", params={"after": cursor}).json()
    assert empty == {"data": [], "count": 0, "next_cursor": cursor}
    _announce_model(server, 0).join()
    new = server.client.get("/v1/events", params={"after": cursor}).json()
    assert [e["type"] for e in new["data"]] == ["model.ready"] and new["next_cursor"] > cursor
    only = server.client.get("/v1/events", params={"types": ["dataset.ready"], "limit": 1000}).json()
    assert only["count"] >= 1 and {e["type"] for e in only["data"]} == {"dataset.ready"}


def test_long_poll_returns_when_an_event_arrives(server):
    cursor = _latest_cursor(server)
    started = time.monotonic()
    quiet = server.client.get("/v1/events", params={"after": cursor, "wait": 0.6}).json()
    assert quiet["data"] == [] and time.monotonic() - started >= 0.5  # it did wait
    thread = _announce_model(server, 0.5)
    started = time.monotonic()
    polled = server.client.get("/v1/events", params={"after": cursor, "wait": 20}).json()
    elapsed = time.monotonic() - started
    thread.join()
    assert [e["type"] for e in polled["data"]] == ["model.ready"]
    assert 0.4 <= elapsed < 5, elapsed  # woke up on the event, far before the 20 s wait


def _sse(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Parse a Server-Sent Events stream into `{"id", "event", "data"}` dicts (comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def test_sse_stream_resumes_from_last_event_id(server):
    dataset = server.ready_dataset()
    with httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(10.0)) as client:
        with client.stream("GET", "/v1/events/stream", params={"types": "dataset.ready"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event = next(e for e in _sse(response) if json.loads(e["data"])["subject_id"] == dataset["id"])
        assert event["event"] == "dataset.ready"
        ready_id = int(event["id"])
        assert json.loads(event["data"])["id"] == ready_id

        # Last-Event-ID one before it: the stream resumes with exactly that event.
        headers = {"Last-Event-ID": str(ready_id - 1)}
        with client.stream(
            "GET", "/v1/events/stream", params={"types": "dataset.ready"}, headers=headers
        ) as resp:
            assert int(next(_sse(resp))["id"]) == ready_id

        # Last-Event-ID at the newest event: only what happens next arrives.
        cursor = _latest_cursor(server)
        thread = _announce_model(server, 0.3)
        with client.stream("GET", "/v1/events/stream", headers={"Last-Event-ID": str(cursor)}) as resp:
            nxt = next(_sse(resp))
        thread.join()
        assert int(nxt["id"]) > cursor and nxt["event"] == "model.ready"


def test_training_config_is_checked_where_it_enters(server):
    # TrainingConfig's own rules at the door: 422 naming the setting, nothing queued.
    dataset = server.ready_dataset()
    before = server.client.get("/v1/jobs", params={"kind": "training"}).json()["count"]
    for config, named in (
        ({"epochs": 1}, "unknown training setting(s) epochs"),  # a typo of num_train_epochs
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"max_steps": "5"}, "max_steps must be an integer"),
        ({"method": "ppo"}, "method must be 'grpo' or 'dpo'"),
    ):
        refused = _post(server, "/v1/training-jobs", {"dataset_id": dataset["id"], "config": config}, "write")
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == "invalid_input" and named in refused.json()["detail"], refused.json()
    # The same rules for a dataset spec's `train` block.
    spec = {"name": "train-block", "n": 20, "seed": 3, "train": {"num_generations": 1}}
    refused = _post(server, "/v1/datasets", spec, "write")
    assert refused.status_code == 422 and "num_generations must be >= 2" in refused.json()["detail"], refused.text
    assert server.client.get("/v1/jobs", params={"kind": "training"}).json()["count"] == before
    # Device-dependent settings are the worker's to resolve: accepted here.
    ok = _post(server, "/v1/training-jobs", {"dataset_id": dataset["id"], "config": {"use_vllm": True}}, "write")
    assert ok.status_code == 201, ok.text
    _post(server, f"/v1/jobs/{ok.json()['id']}/cancel", {}, "write")

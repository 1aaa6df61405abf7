"""No lost work states: a cancelled generation leaves its version `cancelled` (and re-creatable), and a
second `train` block for an existing version is a 409, never silently dropped.
"""

from __future__ import annotations

import time


def _wait(server, path: str, done, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while not done(body := server.client.get(path).json()):
        assert time.monotonic() < deadline, f"{path}: {body}\n{server.log_tail()}"
        time.sleep(0.1)
    return body


def test_cancelling_a_running_generation_cancels_its_version_and_it_can_be_recreated(server) -> None:
    spec = {"name": "to-cancel", "n": 400_000, "seed": 123}
    created = server.client.post("/v1/datasets", json=spec, headers=server.auth("write"))
    assert created.status_code == 202, created.text
    dataset_id, job_id = created.json()["id"], created.json()["job_id"]
    _wait(server, f"/v1/jobs/{job_id}", lambda j: j["status"] == "running")
    cancelled = server.client.post(f"/v1/jobs/{job_id}/cancel", headers=server.auth("write"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text

    version = server.client.get(f"/v1/datasets/{dataset_id}").json()
    assert version["status"] == "cancelled" and "cancelled" in version["error"] and version["files"] == []
    listed = server.client.get("/v1/datasets", params={"status": "cancelled"}).json()
    assert dataset_id in [d["id"] for d in listed["data"]]
    events = server.client.get("/v1/events", params={"types": "dataset.cancelled", "limit": 1000}).json()["data"]
    assert [e["subject_id"] for e in events].count(dataset_id) == 1
    # The cancelled child stops without publishing: the version stays cancelled.
    time.sleep(2)
    assert server.client.get(f"/v1/datasets/{dataset_id}").json()["status"] == "cancelled"

    again = server.client.post("/v1/datasets", json=spec, headers=server.auth("write"))
    assert again.status_code == 202, again.text
    assert again.json()["id"] == dataset_id and again.json()["job_id"] != job_id
    assert again.json()["status"] == "pending" and again.json()["error"] is None
    server.client.post(f"/v1/jobs/{again.json()['job_id']}/cancel", headers=server.auth("write"))
    assert server.client.get(f"/v1/datasets/{dataset_id}").json()["status"] == "cancelled"


def test_a_different_train_block_for_an_existing_version_is_a_409(server) -> None:
    spec = {"name": "trained", "n": 100, "seed": 31, "train": {"base_model": "tiny", "max_steps": 1}}
    first = server.client.post("/v1/datasets", json=spec, headers=server.auth("write"))
    assert first.status_code == 202, first.text
    _wait(server, f"/v1/datasets/{first.json()['id']}", lambda d: d["status"] == "ready")
    # The same request again: the same version, no new job.
    same = server.client.post("/v1/datasets", json=spec, headers=server.auth("write"))
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    # Without a train block: nothing is dropped, the version is returned.
    bare = {k: v for k, v in spec.items() if k != "train"}
    assert server.client.post("/v1/datasets", json=bare, headers=server.auth("write")).status_code == 200
    # Another train block: refused, saying how to train it with that config.
    other = server.client.post("/v1/datasets", json={**spec, "train": {"base_model": "tiny", "max_steps": 2}},
                               headers=server.auth("write"))
    assert other.status_code == 409, other.text
    assert other.json()["dataset_id"] == first.json()["id"] and "/v1/training-jobs" in other.json()["detail"]
    jobs = server.client.get("/v1/jobs", params={"kind": "training", "dataset_id": first.json()["id"]}).json()
    assert [j["payload"]["config"]["max_steps"] for j in jobs["data"]] == [1]

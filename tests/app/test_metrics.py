"""/metrics through a real server: queue depth, job outcomes, samples generated, generation rate and lease
expiries, read from the database, beside the HTTP metrics."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families


def _samples(server) -> dict[tuple[str, tuple], float]:
    text = server.client.get("/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(metrics: dict, name: str, **labels: str) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def test_jobs_and_generation_are_reported(server):
    dataset = server.ready_dataset(n=40)
    metrics = _samples(server)
    # before: only toolforge_http_* families
    assert _value(metrics, "toolforge_database_up") == 1
    assert _value(metrics, "toolforge_jobs_finished_total", kind="generation", status="succeeded") >= 1
    assert _value(metrics, "toolforge_samples_generated_total") >= 40
    assert _value(metrics, "toolforge_generation_samples_per_second") >= 0
    queued = _value(metrics, "toolforge_jobs_queued", kind="training")

    job = server.client.post("/v1/training-jobs", json={"dataset_id": dataset["id"]}, headers=server.auth("write"))
    assert job.status_code == 201, job.text
    assert _value(_samples(server), "toolforge_jobs_queued", kind="training") == queued + 1
    cancelled = _value(metrics, "toolforge_jobs_finished_total", kind="training", status="cancelled")
    server.client.post(f"/v1/jobs/{job.json()['id']}/cancel", headers=server.auth("write")).raise_for_status()
    after = _samples(server)
    assert _value(after, "toolforge_jobs_queued", kind="training") == queued
    assert _value(after, "toolforge_jobs_finished_total", kind="training", status="cancelled") == cancelled + 1


def test_an_expired_lease_is_counted(server):
    dataset = server.ready_dataset(n=40)
    before = _value(_samples(server), "toolforge_lease_expiries_total")
    server.client.post("/v1/training-jobs", json={"dataset_id": dataset["id"]},
                       headers=server.auth("write")).raise_for_status()
    claim = {"worker_id": "lost", "lease_seconds": 5}
    first = server.client.post("/v1/training-jobs/claim", json=claim, headers=server.auth("worker"))
    assert first.status_code == 200, first.text
    assert _value(_samples(server), "toolforge_jobs_running", kind="training") >= 1
    time.sleep(5.5)  # the worker is lost: its lease runs out, and the next claim requeues the job
    again = server.client.post("/v1/training-jobs/claim", json=claim, headers=server.auth("worker"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert _value(_samples(server), "toolforge_lease_expiries_total") == before + 1

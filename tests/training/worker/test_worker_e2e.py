"""End to end: a real service, a dataset with `train` on ready, real worker processes training the tiny model.

The first worker is killed (SIGKILL) after its first uploaded checkpoint; its lease expires, a second
worker resumes from that checkpoint and registers exactly one model version, whose weights differ from
both the base model and the SFT warm start (so GRPO itself moved them).

GRPO moves the weights only when a group of rollouts of one prompt has reward spread (its advantages are
relative to the group). The tiny random-weights model never makes the exact call an execution sample wants,
so every execution group scores 0 and gives no gradient; on a clarification sample any reply without a call
scores 0.25 and a stray ``<tool_call>`` 0, so those groups spread. The dataset is mostly clarification so
that the premise holds for any generator output: with the default 25% share the 16 prompts of the 4 steps
drew only 2 clarification samples, and a generator change (new data, hence a new tokenizer and new random
completions) once left both without spread, GRPO with a zero gradient and the weights unmoved.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("trl", reason="the worker needs the 'train' extra")

pytestmark = pytest.mark.slow

from tests.training.e2e_service import running_service, start_worker  # noqa: E402

LEASE = 10  # seconds: short, so the killed worker's job is re-queued quickly
TRAIN = {
    "sft_warmup_steps": 10, "sft_batch_size": 8, "sft_learning_rate": 1e-2,
    "max_steps": 4, "prompts_per_step": 4, "num_generations": 4, "per_device_train_batch_size": 8,
    "max_completion_length": 24, "save_steps": 1, "learning_rate": 1e-4, "beta": 0.01, "evaluate": False,
}
# Clarification groups carry the only reward spread a random model gets (see the module docstring); the
# execution share keeps tool calls in the SFT warm start, so stray calls (the spread) stay common.
RATIOS = {"execution": 0.4, "clarification": 0.6, "refusal": 0.0}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real uvicorn (SQLite, temp data dir, short leases) and a write+worker key."""
    with running_service(tmp_path_factory.mktemp("service"), LEASE) as svc:
        yield svc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.trainers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def _start_worker(service: dict[str, Any], tmp: Path, name: str, artifacts: Path) -> tuple[subprocess.Popen, Path]:
    return start_worker(service, tmp, name, artifacts, LEASE, idle_timeout=120)


def _poll(client: httpx.Client, path: str, done, timeout: float, why: str, logs: list[Path]) -> dict[str, Any]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).raise_for_status().json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
            pytest.fail(f"timed out waiting for {why}: {body}\n{tails}")
        time.sleep(0.3)


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _groups_with_spread(rollouts: Path) -> int:
    """How many (step, prompt) groups of rollouts got more than one reward value."""
    rewards: dict[tuple[int, str], set[float]] = {}
    for line in rollouts.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rewards.setdefault((row["step"], row["sample_id"]), set()).add(row["reward"])
    return sum(len(values) > 1 for values in rewards.values())


def test_worker_killed_mid_job_is_resumed_and_registers_one_model(
    service: dict[str, Any], tiny: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    started = time.monotonic()
    base = tiny
    artifacts = tmp_path / "artifacts"
    client = httpx.Client(base_url=service["url"], headers={"Authorization": f"Bearer {service['key']}"}, timeout=30)
    request.addfinalizer(client.close)
    created = client.post("/v1/datasets", json={
        "name": "e2e", "n": 64, "seed": 3, "distractors": {"min": 0, "max": 1}, "ratios": RATIOS,
        "train": {"base_model": str(base), **TRAIN},
    })
    assert created.status_code == 202, created.text
    dataset_id = created.json()["id"]
    _poll(client, f"/v1/datasets/{dataset_id}", lambda d: d["status"] == "ready", 60, "the dataset", [])
    jobs = client.get("/v1/jobs", params={"kind": "training", "dataset_id": dataset_id}).json()["data"]
    assert len(jobs) == 1 and jobs[0]["payload"]["config"]["max_steps"] == 4
    job_id = jobs[0]["id"]

    first, first_log = _start_worker(service, tmp_path, "worker-a", artifacts)
    try:
        # Kill the first worker as soon as a GRPO checkpoint is in the artifact store.
        job = _poll(client, f"/v1/jobs/{job_id}", lambda j: j["checkpoint_uri"] or j["status"] != "running"
                    and j["status"] != "queued", 240, "a checkpoint", [first_log])
        assert job["status"] == "running", job
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    killed = client.get(f"/v1/jobs/{job_id}").json()
    assert killed["status"] == "running" and killed["lease_owner"] == "worker-a"
    assert killed["progress_done"] >= 1 and killed["progress_total"] == 4
    assert "reward" in killed["metrics"] and "step_time" in killed["metrics"]
    checkpoint_step = int(killed["checkpoint_uri"].rsplit("-", 1)[1])

    second, second_log = _start_worker(service, tmp_path, "worker-b", artifacts)
    try:
        assert second.wait(timeout=240) == 0, second_log.read_text(errors="replace")[-4000:]
    finally:
        if second.poll() is None:
            second.kill()
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2 and job["progress_done"] == 4
    log_b = second_log.read_text(errors="replace")
    assert f"resuming {job_id}" in log_b
    uploaded = {p.name for p in (artifacts / "jobs" / job_id / "checkpoints").iterdir()}
    assert {f"checkpoint-{checkpoint_step}", "checkpoint-4"} <= uploaded

    models = [m for m in client.get("/v1/models", params={"limit": 500}).json()["data"] if m["job_id"] == job_id]
    assert len(models) == 1
    model = models[0]
    assert model["dataset_id"] == dataset_id and model["base_model"] == str(base)
    assert model["config"]["evaluate"] is False and model["config"]["max_steps"] == 4
    for name in ("reward", "loss", "kl", "completions/mean_length", "step_time", "global_step"):
        assert name in model["metrics"], name
    assert any(k.startswith("reward/") and k.endswith("/mean") for k in model["metrics"])

    final = Path(model["artifact_uri"])
    sft = Path(model["config"]["sft_model_uri"])
    trained, warm, initial = _weights(final), _weights(sft), _weights(base)
    assert trained.keys() == initial.keys()
    # SFT moved the weights, and GRPO moved them again (it had a signal: some group's rewards spread).
    assert any(not (warm[k] == initial[k]).all() for k in initial)
    spread = _groups_with_spread(artifacts / "jobs" / job_id / "checkpoints" / "checkpoint-4" / "rollouts.jsonl")
    assert spread > 0, "no rollout group had reward spread, so GRPO had no gradient: see the module docstring"
    assert any(not (trained[k] == warm[k]).all() for k in warm), model["metrics"]
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(str(final)).chat_template == AutoTokenizer.from_pretrained(
        str(base)).chat_template
    print(f"e2e took {time.monotonic() - started:.1f}s")  # noqa: T201 - shown with -s, for the report


def test_sigterm_checkpoints_and_releases_the_job(
    service: dict[str, Any], tiny: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    client = httpx.Client(base_url=service["url"], headers={"Authorization": f"Bearer {service['key']}"}, timeout=30)
    request.addfinalizer(client.close)
    # No SFT and no periodic checkpoint: the only checkpoint is the one SIGTERM asks for.
    config = {"base_model": str(tiny), "max_steps": 50, "prompts_per_step": 2, "num_generations": 4,
              "per_device_train_batch_size": 8, "max_completion_length": 8, "save_steps": 1000}
    created = client.post("/v1/datasets", json={"name": "e2e-term", "n": 16, "seed": 4,
                                                "distractors": {"min": 0, "max": 0}, "train": config})
    assert created.status_code == 202, created.text
    dataset_id = created.json()["id"]
    _poll(client, f"/v1/datasets/{dataset_id}", lambda d: d["status"] == "ready", 60, "the dataset", [])
    job_id = client.get("/v1/jobs", params={"kind": "training", "dataset_id": dataset_id}).json()["data"][0]["id"]
    worker, log_path = _start_worker(service, tmp_path, "worker-t", tmp_path / "artifacts")
    try:
        _poll(client, f"/v1/jobs/{job_id}", lambda j: j["metrics"].get("phase") == "grpo", 120, "GRPO", [log_path])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=120) == 0, log_path.read_text(errors="replace")[-4000:]
    finally:
        if worker.poll() is None:
            worker.kill()
    job = client.get(f"/v1/jobs/{job_id}").json()
    # Back in the queue, unleased, with the checkpoint of the step it was on.
    assert job["status"] == "queued" and job["lease_owner"] is None, job
    step = job["progress_done"]
    assert 1 <= step < 50 and job["checkpoint_uri"].endswith(f"checkpoint-{step}")
    assert (Path(job["checkpoint_uri"]) / "model.safetensors").is_file()

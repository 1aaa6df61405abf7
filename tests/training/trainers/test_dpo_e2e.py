"""End to end, RLVR against DPO on the same data: a real service and real worker processes on the tiny model.

GRPO job (stopped with SIGTERM after its first checkpoint and resumed by a second worker) -> its rollouts
as a derived version with exactly prompts x generations x steps rows -> preference pairs made from them
(`toolforge preferences --push`) -> a DPO job on those pairs -> a DPO model version; the lineage of
each model shows the other and every version in between.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

pytest.importorskip("trl", reason="the worker needs the 'train' extra")

pytestmark = pytest.mark.slow

from tests.training.e2e_service import REPO, offline_env, running_service, start_worker  # noqa: E402

LEASE = 15
STEPS, PROMPTS, GENERATIONS = 5, 4, 4
GRPO = {
    "sft_warmup_steps": 10, "sft_batch_size": 8, "sft_learning_rate": 1e-2,
    "max_steps": STEPS, "prompts_per_step": PROMPTS, "num_generations": GENERATIONS,
    "per_device_train_batch_size": 8, "max_completion_length": 24, "save_steps": 1, "learning_rate": 1e-4,
    "beta": 0.01, "evaluate": False,
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real uvicorn (SQLite, temp data dir, short leases) and a write+worker key."""
    with running_service(tmp_path_factory.mktemp("service"), LEASE) as svc:
        yield svc


def _worker(service: dict[str, Any], tmp: Path, name: str) -> tuple[subprocess.Popen, Path]:
    return start_worker(service, tmp, name, tmp / "artifacts", LEASE, idle_timeout=60)


def _finish(proc: subprocess.Popen, log_path: Path, timeout: float) -> str:
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log_path.read_text(errors="replace")
    assert code == 0, text[-4000:]
    return text


def _poll(client: httpx.Client, path: str, done, timeout: float, why: str, logs: list[Path]) -> dict[str, Any]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).raise_for_status().json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
            pytest.fail(f"timed out waiting for {why}: {body}\n{tails}")
        time.sleep(0.25)


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_grpo_rollouts_preferences_dpo_and_lineage(service: dict[str, Any], tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}
    from training.trainers.tiny import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny")
    client = httpx.Client(base_url=service["url"], headers={"Authorization": f"Bearer {service['key']}"},
                          timeout=30)
    request.addfinalizer(client.close)
    created = client.post("/v1/datasets", json={"name": "rl-vs-dpo", "n": 16, "seed": 3,
                                                "distractors": {"min": 0, "max": 1},
                                                "train": {"base_model": str(tiny), **GRPO}})
    assert created.status_code == 202, created.text
    samples_id = created.json()["id"]
    _poll(client, f"/v1/datasets/{samples_id}", lambda d: d["status"] == "ready", 60, "the dataset", [])
    job_id = client.get("/v1/jobs", params={"kind": "training", "dataset_id": samples_id}).json()["data"][0]["id"]

    # 1. GRPO, interrupted after its first checkpoint and resumed by another worker.
    first, first_log = _worker(service, tmp_path, "worker-a")
    try:
        _poll(client, f"/v1/jobs/{job_id}", lambda j: bool(j["checkpoint_uri"]), 240, "a checkpoint", [first_log])
        first.send_signal(signal.SIGTERM)
        _finish(first, first_log, 120)
    finally:
        if first.poll() is None:
            first.kill()
    paused = client.get(f"/v1/jobs/{job_id}").json()
    assert paused["status"] == "queued", paused
    checkpoint_step = int(paused["checkpoint_uri"].rsplit("-", 1)[1])
    assert 1 <= checkpoint_step < STEPS
    second, second_log = _worker(service, tmp_path, "worker-b")
    log_b = _finish(second, second_log, 240)
    assert f"resuming {job_id}" in log_b
    # The checkpoint carried the rollouts of every step before it, and only those.
    assert f"kept {checkpoint_step * PROMPTS * GENERATIONS} rollouts from the checkpoint" in log_b
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    grpo = client.get(f"/v1/models/{job['model_id']}").json()
    timings["grpo (two workers)"] = time.monotonic() - started

    # 2. The rollouts version: every step's rollouts exactly once.
    rollouts_id = grpo["config"]["rollouts_dataset_id"]
    rollouts = client.get(f"/v1/datasets/{rollouts_id}").json()
    assert rollouts["kind"] == "rollouts" and rollouts["parent_id"] == samples_id
    counts = rollouts["counts"]
    assert counts["rows"] == PROMPTS * GENERATIONS * STEPS and counts["steps"] == STEPS
    assert counts["groups"] == PROMPTS * STEPS and grpo["metrics"]["rollouts"] == counts["rows"]
    for step in range(1, STEPS + 1):
        page = client.get(f"/v1/datasets/{rollouts_id}/samples", params={"step": step, "limit": 100}).json()
        assert page["count"] == PROMPTS * GENERATIONS, step
        assert set(Counter(r["sample_id"] for r in page["data"]).values()) == {GENERATIONS}
    rows_file = client.get(f"/v1/datasets/{rollouts_id}/files/rollouts.jsonl").content
    rows = [orjson.loads(line) for line in rows_file.splitlines()]
    assert all(r["reward_binary"] == (1.0 if r["reward"] == 1.0 else 0.0) for r in rows)
    stats = client.get(f"/v1/datasets/{rollouts_id}/stats").json()
    assert stats["generations_per_group"] == {str(GENERATIONS): PROMPTS * STEPS}
    card = client.get(f"/v1/datasets/{rollouts_id}/card").text
    assert "zero reward variance" in card and f"/v1/datasets/{rollouts_id}/files/reward_curve.png" in card
    chart = client.get(f"/v1/datasets/{rollouts_id}/files/reward_curve.png")
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")

    # 3. Preference pairs from the rollouts, pushed as a derived version.
    mark = time.monotonic()
    out = tmp_path / "prefs" / "preferences.jsonl"
    made = subprocess.run(
        [sys.executable, "-m", "app.cli", "preferences", "--from-rollouts", rollouts_id, "--out", str(out),
         "--push", "--url", service["url"], "--api-key", service["key"]],
        cwd=REPO, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert made.returncode == 0, made.stderr + made.stdout
    by_prompt: dict[str, list[float]] = {}
    for r in rows:
        by_prompt.setdefault(r["sample_id"], []).append(r["reward"])
    learnable = sum(max(v) > min(v) for v in by_prompt.values())
    assert learnable >= 1, "no prompt had reward variance: nothing for DPO to learn from"
    prefs = next(d for d in client.get("/v1/datasets", params={"kind": "preferences"}).json()["data"]
                 if d["parent_id"] == rollouts_id)
    assert prefs["counts"]["rows"] == learnable
    timings["preferences"] = time.monotonic() - mark

    # 4. DPO on those pairs, from the same SFT warm start GRPO began from.
    mark = time.monotonic()
    dpo_job = client.post("/v1/training-jobs", json={"dataset_id": prefs["id"], "config": {
        "method": "dpo", "base_model": grpo["config"]["sft_model_uri"], "max_steps": 2, "prompts_per_step": 2,
        "per_device_train_batch_size": 2, "learning_rate": 1e-3, "save_steps": 1, "evaluate": False}})
    assert dpo_job.status_code == 201, dpo_job.text
    third, third_log = _worker(service, tmp_path, "worker-c")
    _finish(third, third_log, 240)
    job = client.get(f"/v1/jobs/{dpo_job.json()['id']}").json()
    assert job["status"] == "succeeded", job
    dpo = client.get(f"/v1/models/{job['model_id']}").json()
    assert dpo["name"].endswith("-dpo") and dpo["config"]["method"] == "dpo" and dpo["dataset_id"] == prefs["id"]
    assert dpo["config"]["rollouts_dataset_id"] is None and "loss" in dpo["metrics"]
    trained, start = _weights(Path(dpo["artifact_uri"])), _weights(Path(grpo["config"]["sft_model_uri"]))
    assert any(not (trained[k] == start[k]).all() for k in start), dpo["metrics"]
    timings["dpo"] = time.monotonic() - mark

    # 5. Lineage, both ways.
    down = client.get(f"/v1/models/{dpo['id']}/lineage").json()
    assert down["dataset"]["id"] == prefs["id"]
    assert [d["id"] for d in down["ancestors"]] == [rollouts_id, samples_id]
    assert [m["id"] for m in down["upstream_models"]] == [grpo["id"]]
    up = client.get(f"/v1/models/{grpo['id']}/lineage").json()
    assert [d["id"] for d in up["derived"]] == [rollouts_id, prefs["id"]]
    assert [m["id"] for m in up["downstream_models"]] == [dpo["id"]]
    timings["total"] = time.monotonic() - started
    print("timings:", {k: round(v, 1) for k, v in timings.items()})  # noqa: T201 - shown with -s, for the report

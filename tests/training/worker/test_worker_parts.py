"""The worker's parts: dataset builder, reference answers, logged reward, client, artifact copies, cursor."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from generators.pipeline import generate_dataset
from generators.records import read_jsonl
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.spec import DatasetSpec
from training.client import ChecksumMismatch, LeaseLost, ServiceClient
from training.rewards.scoring import score_completion
from training.trainers.grpo import logged_reward, trl_rows
from training.trainers.sft import reference_answer, sft_rows
from training.worker.artifacts import download_dir, upload_dir
from training.worker.heartbeat import Heartbeat
from training.worker.loop import read_cursor, write_cursor


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), DatasetSpec(name="parts", n=40, seed=5), out)
    return read_jsonl(out / "samples.jsonl")


def test_trl_rows_are_conversational_with_reward_columns(rows: list[dict[str, Any]]) -> None:
    built = trl_rows(rows)
    assert len(built) == len(rows)
    for src, row in zip(rows, built, strict=True):
        # The prompt is the system (tools rendered) + user messages (a dialogue's earlier turns between), unchanged.
        assert row["prompt"] == src["prompt"]
        assert [m["role"] for m in row["prompt"]] in (["system", "user"], ["system", "user", "assistant", "user"])
        # Ground truth and tools as JSON text, equal to the sample's.
        assert json.loads(row["reward_model"]) == src["reward_model"]["ground_truth"]
        assert json.loads(row["tools"]) == src["tools"]
        assert row["behavior"] == src["behavior"] and row["sample_id"] == src["extra_info"]["sample_id"]


def test_build_dataset_is_trl_conversational(rows: list[dict[str, Any]]) -> None:
    pytest.importorskip("datasets")
    from trl.data_utils import is_conversational

    from training.trainers.grpo import build_dataset

    dataset = build_dataset(rows)
    assert set(dataset.column_names) == {"prompt", "reward_model", "tools", "behavior", "sample_id"}
    assert is_conversational(dataset[0])
    # The reward reads the columns as the trainer passes them (lists of column values).
    batch = dataset[:4]
    rewards = logged_reward("binary")([[{"role": "assistant", "content": reference_answer(gt)}]
                                       for gt in batch["reward_model"]], **batch)
    assert rewards == [1.0] * 4


def test_reference_answers_earn_full_reward(rows: list[dict[str, Any]]) -> None:
    # Every behaviour's reference answer is what the shared reward calls exactly right.
    seen = set()
    for row in rows:
        result = score_completion(reference_answer(row["reward_model"]), row["reward_model"], row["tools"], "binary")
        assert result.reward == 1.0, (row["behavior"], reference_answer(row["reward_model"]), result.reason)
        seen.add(row["behavior"])
    assert seen == {"execution", "clarification", "refusal"}


def test_sft_rows(rows: list[dict[str, Any]]) -> None:
    first = sft_rows(rows[:1])[0]
    assert first["prompt"] == rows[0]["prompt"]
    assert first["completion"] == [{"role": "assistant", "content": reference_answer(rows[0]["reward_model"])}]


def test_logged_reward_logs_per_behaviour() -> None:
    logged: dict[str, float] = {}
    gts = [{"tool_call": {"name": "f", "parameters": {"x": 1}}}] * 2 + [{"refusal": {"reason": "harmful"}}]
    completions = ['<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>', "Sure!",
                   "I can't help with that."]
    rewards = logged_reward("tiered")(completions, reward_model=gts, behavior=["execution", "execution", "refusal"],
                                      log_metric=lambda k, v: logged.__setitem__(k, v))
    assert rewards == [1.0, 0.0, 1.0]
    assert logged == {"reward/execution/mean": 0.5, "reward/execution/std": 0.5,
                      "reward/refusal/mean": 1.0, "reward/refusal/std": 0.0}


def _client(handler) -> ServiceClient:  # noqa: ANN001
    return ServiceClient("http://svc", "tf_key", transport=httpx.MockTransport(handler))


def test_download_verifies_sha256(tmp_path: Path) -> None:
    body = b'{"a": 1}\n'
    client = _client(lambda request: httpx.Response(200, content=body))
    good = client.download("/v1/datasets/d/files/samples.jsonl", tmp_path / "ok.jsonl",
                           hashlib.sha256(body).hexdigest())
    assert good.read_bytes() == body
    # Wrong digest: refused, and nothing is left behind.
    with pytest.raises(ChecksumMismatch):
        client.download("/x", tmp_path / "bad.jsonl", "0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.jsonl"]


def test_heartbeat_409_means_lease_lost() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(409, json={"type": "conflict", "detail": "not leased"})

    client = _client(handler)
    with pytest.raises(LeaseLost, match="not leased"):
        client.heartbeat("job_1", "w", progress_done=1)
    beat = Heartbeat(client, "job_1", "w", interval=60, lease_seconds=30)
    beat.update(progress_done=2, checkpoint_uri="/a/checkpoint-2")
    beat.beat()
    assert beat.lost.is_set()
    assert seen[-1] == {"worker_id": "w", "lease_seconds": 30, "progress_done": 2, "checkpoint_uri": "/a/checkpoint-2"}


def test_claim_empty_queue_is_none() -> None:
    assert _client(lambda request: httpx.Response(204)).claim("w") is None


@pytest.mark.parametrize("scheme", ["local", "memory"])
def test_upload_download_dir(tmp_path: Path, scheme: str) -> None:
    src = tmp_path / "ckpt"
    (src / "sub").mkdir(parents=True)
    (src / "model.safetensors").write_bytes(b"w" * 10)
    (src / "sub" / "state.json").write_text("{}")
    uri = str(tmp_path / "store" / "c-1") if scheme == "local" else f"memory://tf-test-{tmp_path.name}/c-1"
    # Absent: nothing to resume from.
    assert download_dir(uri, tmp_path / "none") is None
    upload_dir(src, uri)
    out = download_dir(uri, tmp_path / "copy")
    assert out is not None
    assert (out / "model.safetensors").read_bytes() == b"w" * 10 and (out / "sub" / "state.json").read_text() == "{}"
    assert not (out / "_COMPLETE").exists()


def test_cursor_round_trip(tmp_path: Path) -> None:
    # No file yet: start from the beginning of the feed.
    assert read_cursor(tmp_path) == 0
    write_cursor(tmp_path, 42)
    assert read_cursor(tmp_path) == 42


def test_invalid_job_config_fails_the_job_before_any_work(tmp_path: Path) -> None:
    from training.worker.job import run_job
    from training.worker.loop import StopSignal, WorkerOptions

    calls: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, json.loads(request.content or b"{}")))
        return httpx.Response(200, json={})

    opts = WorkerOptions(url="http://svc", api_key="k", artifacts=str(tmp_path / "a"), work_dir=tmp_path / "w",
                         state_dir=tmp_path / "s", worker_id="w1")
    job = {"id": "job_1", "dataset_id": "ds_1", "payload": {"config": {"use_vllm": True, "use_cpu": True}}}
    result = run_job(job, opts, _client(handler), StopSignal())
    assert result.status == "failed"
    # One call: the failure, naming the setting; no dataset download, no heartbeat.
    assert [path for path, _ in calls] == ["/v1/training-jobs/job_1/fail"]
    assert "use_vllm needs a GPU" in calls[0][1]["error"] and calls[0][1]["worker_id"] == "w1"

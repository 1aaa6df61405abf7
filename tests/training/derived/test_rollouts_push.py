"""Pushing rollouts: the client's tar upload and the worker's push (chart, meta, failures that do not fail the job)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from training.client import ServiceClient
from training.derived.rollouts import RolloutRecorder
from training.trainers.config import TrainingConfig
from training.worker.job import push_rollouts


def _capture(status: int = 201) -> tuple[ServiceClient, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = request.read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
        seen.append({"path": request.url.path, "params": dict(request.url.params), "members": members,
                     "type": request.headers["content-type"], "length": int(request.headers["content-length"])})
        if status >= 400:
            return httpx.Response(status, json={"type": "invalid_input", "detail": "nope"})
        return httpx.Response(status, json={"id": "ds_rollouts", "kind": request.url.params["kind"]})

    return ServiceClient("http://svc", "tf_key", transport=httpx.MockTransport(handler)), seen


def test_push_derived_sends_one_tar_with_the_files_and_meta(tmp_path: Path):
    client, seen = _capture()
    rows = tmp_path / "preferences.jsonl"
    rows.write_bytes(b'{"a": 1}\n')
    assert client.push_derived("ds_p", "preferences", "p", {"preferences.jsonl": rows}, {"seed": 3})["id"]
    (sent,) = seen
    assert sent["path"] == "/v1/datasets/ds_p/derived" and sent["params"] == {"kind": "preferences", "name": "p"}
    assert sent["type"] == "application/x-tar" and sent["length"] > 0
    assert sent["members"] == {"preferences.jsonl": b'{"a": 1}\n', "meta.json": b'{"seed": 3}'}


def _recorder(tmp_path: Path, rows: int) -> RolloutRecorder:
    recorder = RolloutRecorder(tmp_path / "r" / "rollouts.jsonl")
    recorder.reset()
    recorder.record([{"sample_id": f"s{i % 2}", "behavior": "refusal", "step": 1 + i // 4, "completion": "x",
                      "reward": float(i % 3 == 0)} for i in range(rows)])
    return recorder


def test_push_rollouts_sends_rows_chart_and_the_run(tmp_path: Path):
    pytest.importorskip("matplotlib")
    client, seen = _capture()
    cfg = TrainingConfig.from_dict({"use_cpu": True, "num_generations": 4, "max_steps": 2, "seed": 5})
    got = push_rollouts(client, _recorder(tmp_path, 8), {"id": "ds_s", "name": "demo"}, "job_1", cfg, tmp_path)
    assert got == "ds_rollouts"
    (sent,) = seen
    assert sent["params"] == {"kind": "rollouts", "name": "demo-rollouts"}
    assert set(sent["members"]) == {"rollouts.jsonl", "reward_curve.png", "meta.json"}
    assert sent["members"]["reward_curve.png"].startswith(b"\x89PNG")
    meta = json.loads(sent["members"]["meta.json"])
    assert meta["job_id"] == "job_1" and meta["num_generations"] == 4 and meta["seed"] == 5
    assert sent["members"]["rollouts.jsonl"].count(b"\n") == 8


def test_push_rollouts_skips_empty_runs_and_survives_a_refusal(tmp_path: Path):
    cfg = TrainingConfig.from_dict({"use_cpu": True})
    client, seen = _capture()
    # Nothing recorded: nothing pushed.
    assert push_rollouts(client, _recorder(tmp_path, 0), {"id": "ds_s"}, "job_1", cfg, tmp_path) is None
    assert seen == []
    # The service refuses: logged, None returned, no exception (the model is still registered).
    client, seen = _capture(status=422)
    assert push_rollouts(client, _recorder(tmp_path, 4), {"id": "ds_s"}, "job_1", cfg, tmp_path) is None
    assert len(seen) == 1

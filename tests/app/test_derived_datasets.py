"""Derived dataset versions through a real server: rollouts and preferences uploaded, listed, paged,
filtered, downloaded, refused when malformed, and tied into the model lineage."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import orjson
import pytest

# A small upload cap (well above the 1 MiB body cap) so both limits can be crossed cheaply.
UPLOAD_CAP = 3 * 1024 * 1024
SERVER_ENV = {"TOOLFORGE_MAX_UPLOAD_BYTES": str(UPLOAD_CAP)}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the service checks the signature, not the pixels


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _post(server, parent: str, kind: str, body: bytes, scope: str = "worker", name: str = "derived"):  # noqa: ANN001, ANN202
    return server.client.post(f"/v1/datasets/{parent}/derived", params={"kind": kind, "name": name}, content=body,
                              headers={**server.auth(scope), "Content-Type": "application/x-tar"})


@pytest.fixture(scope="module")
def source(server) -> dict[str, Any]:
    """A ready samples version and 4 of its samples (one per prompt of the rollouts below)."""
    dataset = server.ready_dataset(name="derived-src", n=40, seed=11)
    page = server.client.get(f"/v1/datasets/{dataset['id']}/samples", params={"limit": 4}).json()["data"]
    return {"dataset": dataset, "samples": page}


def _rollouts(samples: list[dict[str, Any]], job_id: str | None = None) -> tuple[bytes, list[dict[str, Any]]]:
    """2 steps x 4 prompts x 3 completions. Prompt 0 always scores 1 and prompt 1 always 0 (zero variance);
    prompts 2 and 3 score 0, 0.5, 1 (learnable): 4 of 8 groups have zero variance."""
    rows = []
    for step in (1, 2):
        for i, sample in enumerate(samples):
            rewards = {0: (1.0, 1.0, 1.0), 1: (0.0, 0.0, 0.0)}.get(i, (0.0, 0.5, 1.0))
            for g, reward in enumerate(rewards):
                rows.append({"sample_id": sample["extra_info"]["sample_id"], "behavior": sample["behavior"],
                             "tool": None, "step": step, "epoch": step / 10, "completion": f"reply {i}-{g}-{reward}",
                             "reward": reward, "reward_binary": 1.0 if reward == 1.0 else 0.0,
                             "predicted": "tool_call" if g else "refusal", "reason": "test: made up", "calls": []})
    return _jsonl(rows), rows


def test_a_rollouts_upload_is_listed_paged_filtered_and_downloaded(server, source):
    parent = source["dataset"]["id"]
    data, rows = _rollouts(source["samples"])
    meta = orjson.dumps({"job_id": "job_none", "num_generations": 3})
    created = _post(server, parent, "rollouts", _tar({"rollouts.jsonl": data, "reward_curve.png": PNG,
                                                      "meta.json": meta}), name="src-rollouts")
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["kind"] == "rollouts" and version["parent_id"] == parent and version["status"] == "ready"
    assert version["counts"]["rows"] == 24 and version["counts"]["prompts"] == 4
    assert version["counts"]["steps"] == 2 and version["counts"]["groups"] == 8
    vid = version["id"]

    listed = server.client.get("/v1/datasets", params={"kind": "rollouts"}).json()
    assert vid in [d["id"] for d in listed["data"]]

    def page(**params: Any) -> dict[str, Any]:
        return server.client.get(f"/v1/datasets/{vid}/samples", params={"limit": 100, **params}).json()

    # All rows, in upload order.
    assert [r["completion"] for r in page()["data"]] == [r["completion"] for r in rows]
    # One step: 4 prompts x 3 completions.
    assert page(step=2)["count"] == 12 and {r["step"] for r in page(step=2)["data"]} == {2}
    # Reward 1: prompt 0's three plus one each of prompts 2 and 3, per step.
    assert page(reward=1)["count"] == sum(r["reward"] == 1.0 for r in rows) == 10
    # Reward and step together, and behaviour (the first sample's behaviour).
    assert page(reward=0.5, step=1)["count"] == 2
    behaviour = source["samples"][0]["behavior"]
    assert page(behavior=behaviour)["count"] == sum(r["behavior"] == behaviour for r in rows)
    # Paging: offset and limit over a filter.
    assert [r["completion"] for r in page(step=1, offset=3, limit=2)["data"]] == \
        [r["completion"] for r in rows if r["step"] == 1][3:5]

    stats = server.client.get(f"/v1/datasets/{vid}/stats").json()
    assert stats["zero_variance"] == {"groups": 4, "share": 0.5, "per_behavior": stats["zero_variance"]["per_behavior"]}
    card = server.client.get(f"/v1/datasets/{vid}/card").text
    assert "50.0%" in card and f"/v1/datasets/{vid}/files/reward_curve.png" in card
    png = server.client.get(f"/v1/datasets/{vid}/files/reward_curve.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content == PNG
    assert server.client.get(f"/v1/datasets/{vid}/files/rollouts.jsonl").content == data

    # The same upload again is the same version (200, not a second one).
    again = _post(server, parent, "rollouts", _tar({"rollouts.jsonl": data, "reward_curve.png": PNG,
                                                    "meta.json": meta}), name="src-rollouts")
    assert again.status_code == 200 and again.json()["id"] == vid


def _bad_row() -> bytes:
    good = {"sample_id": "s", "behavior": "refusal", "step": 1, "completion": "no", "reward": 1.0}
    return _jsonl([good, {**good, "step": 0}])


@pytest.mark.parametrize(("kind", "body", "status", "says"), [
    # Not a tar archive at all.
    ("rollouts", b"just text", 422, "tar archive"),
    # A member that tries to leave the work folder.
    ("rollouts", _tar({"../rollouts.jsonl": b"{}\n"}), 422, "plain file name"),
    # A member named like a file the service writes itself.
    ("rollouts", _tar({"rollouts.jsonl": b"", "stats.json": b"{}"}), 422, "plain file name"),
    # The rows file is missing.
    ("rollouts", _tar({"other.jsonl": b"{}\n"}), 422, "needs rollouts.jsonl"),
    # An invalid row is reported by line number.
    ("rollouts", _tar({"rollouts.jsonl": _bad_row()}), 422, "line 2: step must be an integer >= 1"),
    # A row that is not JSON.
    ("rollouts", _tar({"rollouts.jsonl": b"{nope\n"}), 422, "line 1: not JSON"),
    # No rows at all.
    ("rollouts", _tar({"rollouts.jsonl": b"\n"}), 422, "has no rows"),
    # A "chart" that is not a PNG.
    ("rollouts", _tar({"rollouts.jsonl": _bad_row().split(b"\n")[0] + b"\n", "c.png": b"GIF89a"}), 422,
     "not a PNG"),
    # meta.json must be an object.
    ("rollouts", _tar({"rollouts.jsonl": _bad_row().split(b"\n")[0] + b"\n", "meta.json": b"[1]"}), 422,
     "JSON object"),
    # Preference rows need message lists.
    ("preferences", _tar({"preferences.jsonl": b'{"prompt": "hi", "chosen": [], "rejected": []}\n'}), 422,
     "'prompt' must be a non-empty list"),
    # Unknown kinds are refused by the route.
    ("weights", _tar({"weights.jsonl": b"{}\n"}), 422, ""),
])
def test_malformed_uploads_are_refused_with_the_reason(server, source, kind, body, status, says):
    response = _post(server, source["dataset"]["id"], kind, body)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"] if says else True


def test_uploads_need_a_ready_parent_of_the_right_kind_and_the_worker_scope(server, source):
    body = _tar({"rollouts.jsonl": _bad_row().split(b"\n")[0] + b"\n"})
    assert _post(server, "ds_missing", "rollouts", body).status_code == 404
    assert _post(server, source["dataset"]["id"], "rollouts", body, scope="write").status_code == 403
    rollouts = _post(server, source["dataset"]["id"], "rollouts", body, name="one-row")
    assert rollouts.status_code == 201, rollouts.text
    # Rollouts derive from samples, not from other rollouts.
    nested = _post(server, rollouts.json()["id"], "rollouts", body)
    assert nested.status_code == 409 and "derives from a samples version" in nested.json()["detail"]


def test_uploads_may_exceed_the_body_cap_but_not_the_upload_cap(server, source):
    row = {"sample_id": "s", "behavior": "refusal", "step": 1, "completion": "x" * 1000, "reward": 0.0}
    big = _tar({"rollouts.jsonl": _jsonl([{**row, "step": i + 1} for i in range(1500)])})  # ~1.6 MB
    assert 1024 * 1024 < len(big) < UPLOAD_CAP
    accepted = _post(server, source["dataset"]["id"], "rollouts", big, name="big")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["counts"]["steps"] == 1500
    too_big = _tar({"rollouts.jsonl": _jsonl([{**row, "step": i + 1} for i in range(3200)])})
    refused = _post(server, source["dataset"]["id"], "rollouts", too_big, name="too-big")
    assert refused.status_code == 413 and "TOOLFORGE_MAX_UPLOAD_BYTES" in refused.json()["detail"]
    # Other routes keep the 1 MiB body cap.
    other = server.client.post("/v1/datasets", content=b" " * (1024 * 1024 + 1), headers=server.auth("write"))
    assert other.status_code == 413


def _train(server, dataset_id: str, method: str) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """Queue a training job on `dataset_id` and claim it as a worker; return the job id and claim."""
    job = server.client.post("/v1/training-jobs", json={"dataset_id": dataset_id, "config": {"method": method}},
                             headers=server.auth("write"))
    assert job.status_code == 201, job.text
    claimed = server.client.post("/v1/training-jobs/claim", json={"worker_id": f"w-{method}"},
                                 headers=server.auth("worker"))
    assert claimed.status_code == 200 and claimed.json()["id"] == job.json()["id"], claimed.text
    return job.json()["id"], claimed.json()


def _complete(server, job_id: str, dataset_id: str, method: str, claim: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    model = {"name": f"m-{method}", "dataset_id": dataset_id, "base_model": "tiny", "config": {"method": method},
             "metrics": {}, "artifact_uri": str((server.data_dir / "artifacts" / "models" / method).resolve())}
    done = server.client.post(f"/v1/training-jobs/{job_id}/complete",
                              json={"lease_token": claim["lease_token"], "model": model},
                              headers=server.auth("worker"))
    assert done.status_code == 201, done.text
    return done.json()


def test_lineage_links_samples_rollouts_preferences_and_both_models(server, source):
    samples_id = source["dataset"]["id"]
    grpo_job, grpo_claim = _train(server, samples_id, "grpo")
    data, _ = _rollouts(source["samples"])
    rollouts = _post(server, samples_id, "rollouts", _tar({"rollouts.jsonl": data, "meta.json": orjson.dumps(
        {"job_id": grpo_job})}), name="lineage-rollouts").json()
    grpo = _complete(server, grpo_job, samples_id, "grpo", grpo_claim)

    sample = source["samples"][2]
    pair = {"prompt": sample["prompt"], "chosen": [{"role": "assistant", "content": "reply 2-2-1.0"}],
            "rejected": [{"role": "assistant", "content": "reply 2-0-0.0"}], "behavior": sample["behavior"],
            "source": "rollouts", "rejected_kind": "lowest_reward_rollout", "margin": 1.0}
    prefs = _post(server, rollouts["id"], "preferences", _tar({"preferences.jsonl": _jsonl([pair])}),
                  name="lineage-prefs")
    assert prefs.status_code == 201, prefs.text
    prefs = prefs.json()
    assert prefs["counts"]["rows"] == 1
    assert server.client.get(f"/v1/datasets/{prefs['id']}/samples",
                             params={"behavior": sample["behavior"]}).json()["count"] == 1
    dpo_job, dpo_claim = _train(server, prefs["id"], "dpo")
    dpo = _complete(server, dpo_job, prefs["id"], "dpo", dpo_claim)

    down = server.client.get(f"/v1/models/{dpo['id']}/lineage").json()
    assert down["dataset"]["id"] == prefs["id"]
    assert [d["id"] for d in down["ancestors"]] == [rollouts["id"], samples_id]
    assert [m["id"] for m in down["upstream_models"]] == [grpo["id"]]
    up = server.client.get(f"/v1/models/{grpo['id']}/lineage").json()
    assert up["dataset"]["id"] == samples_id and up["ancestors"] == []
    assert [d["id"] for d in up["derived"]] == [rollouts["id"], prefs["id"]]
    assert [m["id"] for m in up["downstream_models"]] == [dpo["id"]]
    # A dataset with derived versions cannot be deleted from under them.
    assert server.client.delete(f"/v1/datasets/{rollouts['id']}", headers=server.auth("write")).status_code == 409

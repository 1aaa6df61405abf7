"""The whole flow through a real server: register a tool, generate, download, page samples, score."""

from __future__ import annotations

import hashlib
import json

import orjson

from generators.mixing import behaviour_counts

TIDE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_tide_times_test",
        "description": "High and low tide times for a coastal place on a date.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "Coastal town or harbour."},
                "date": {"type": "string", "format": "date", "description": "Day to look up."},
            },
            "required": ["location", "date"],
            "additionalProperties": False,
        },
    },
    "x-split": "train",
    "x-domain": "weather",
}
N = 240


def _assert_error(response, status):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"type", "detail"} and body["detail"], body


def test_full_flow(server):
    """Tool → dataset (202) → job succeeded → files match the manifest → stats, card, samples."""
    client, write = server.client, server.auth("write")
    # Register a tool, then re-register the same document (no new version).
    first = client.post("/v1/tools", json=TIDE_TOOL, headers=write)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    again = client.post("/v1/tools", json=TIDE_TOOL, headers=write)
    assert again.status_code == 200 and again.json()["version"] == 1
    assert client.get("/v1/tools/get_tide_times_test").json()["sha256"] == first.json()["sha256"]

    spec = {"name": "flow", "n": N, "seed": 11, "tools": {"domains": ["weather"]}}
    created = client.post("/v1/datasets", json=spec, headers=write)
    assert created.status_code == 202, created.text
    dataset = created.json()
    assert dataset["status"] == "pending" and dataset["job_id"]

    job = server.wait_job(dataset["job_id"])
    assert job["status"] == "succeeded", job
    assert job["progress_done"] == job["progress_total"] == N
    dataset = client.get(f"/v1/datasets/{dataset['id']}").json()
    assert dataset["status"] == "ready" and dataset["ready_at"]
    assert dataset["counts"] == behaviour_counts(
        N, {"execution": 0.6, "clarification": 0.25, "refusal": 0.15}
    )

    # Every file downloads with the manifest's size and digest.
    names = {f["name"] for f in dataset["files"]}
    assert {"samples.jsonl", "samples.parquet", "stats.json", "README.md", "samples.index"} <= names
    blobs = {}
    for entry in dataset["files"]:
        got = client.get(entry["url"])
        assert got.status_code == 200, got.text
        assert int(got.headers["content-length"]) == entry["size"] == len(got.content)
        assert hashlib.sha256(got.content).hexdigest() == entry["sha256"] == got.headers["x-checksum-sha256"]
        blobs[entry["name"]] = got.content
    rows = [orjson.loads(line) for line in blobs["samples.jsonl"].splitlines()]
    assert len(rows) == N
    # The new tool is in the registry the dataset drew from.
    assert any(t["function"]["name"] == "get_tide_times_test" for r in rows for t in r["tools"])

    stats = client.get(f"/v1/datasets/{dataset['id']}/stats")
    assert stats.status_code == 200 and stats.json() == json.loads(blobs["stats.json"])
    card = client.get(f"/v1/datasets/{dataset['id']}/card")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
    assert card.content == blobs["README.md"]
    _assert_error(client.get(f"/v1/datasets/{dataset['id']}/files/nope.txt"), 404)

    # Paging walks the whole file in order; filters agree with the counts and with the rows.
    url = f"/v1/datasets/{dataset['id']}/samples"
    walked = []
    for offset in range(0, N, 70):
        page = client.get(url, params={"offset": offset, "limit": 70}).json()
        assert page["count"] == N and page["offset"] == offset
        walked.extend(page["data"])
    assert walked == rows
    assert client.get(url, params={"offset": N, "limit": 5}).json()["data"] == []
    for behavior, count in dataset["counts"].items():
        page = client.get(url, params={"behavior": behavior, "limit": 500}).json()
        assert page["count"] == count == len(page["data"])
        assert all(r["behavior"] == behavior for r in page["data"])
    tool = rows[0]["reward_model"]["ground_truth"].get("tool_call", {}).get("name") or "get_tide_times_test"
    by_tool = [r for r in rows if _target(r) == tool]
    page = client.get(url, params={"tool": tool, "limit": 500}).json()
    assert page["count"] == len(by_tool) and page["data"] == by_tool
    both = [r for r in by_tool if r["behavior"] == "execution"]
    page = client.get(url, params={"tool": tool, "behavior": "execution", "offset": 1, "limit": 2}).json()
    assert page["count"] == len(both) and page["data"] == both[1:3]
    empty = client.get(url, params={"tool": "no_such_tool"}).json()
    assert empty == {"data": [], "count": 0, "offset": 0, "next": None}

    # stats.json agrees with the dataset counts and with the tool-filtered page counts.
    stats_body = stats.json()
    assert stats_body["n"] == N and stats_body["behaviours"] == dataset["counts"]
    per_tool = stats_body["per_tool"][tool]
    assert sum(v for k, v in per_tool.items() if k != "offered") == len(by_tool)
    assert per_tool.get("execution", 0) == len(both)


def _target(row: dict) -> str | None:
    truth = row["reward_model"]["ground_truth"]
    if "tool_call" in truth:
        return truth["tool_call"]["name"]
    if "clarification" in truth:
        return truth["clarification"]["tool"]
    return None


def test_reward_scores_a_real_sample(server):
    """The exact call of a generated execution sample scores 1.0; a refusal of it scores less."""
    dataset = server.ready_dataset()
    page = server.client.get(
        f"/v1/datasets/{dataset['id']}/samples", params={"behavior": "execution", "limit": 1}
    ).json()
    sample = page["data"][0]
    call = sample["reward_model"]["ground_truth"]["tool_call"]
    right = (
        f"<tool_call>\n{json.dumps({'name': call['name'], 'arguments': call['parameters']})}\n</tool_call>"
    )
    wrong = "I'm sorry, I can't help with that."
    response = server.client.post(
        "/v1/rewards/score",
        json={"samples": [sample, sample], "completions": [right, wrong]},
        headers=server.auth("read"),
    )
    assert response.status_code == 200, response.text
    rewards = response.json()["rewards"]
    assert rewards[0] == 1.0 and rewards[1] < 1.0

"""Tools no value satisfies are refused at registration with the reason; one stored before that check is
left out of a dataset (and reported) instead of failing it.

Before: such tools were accepted, and afterwards every dataset without a tool filter failed.
"""

from __future__ import annotations

import copy
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.models import ToolVersion

BASE = {
    "type": "function",
    "function": {
        "name": "check_tide_level",
        "description": "Water level at a harbour.",
        "parameters": {"type": "object", "properties": {"harbour": {"type": "string", "description": "Harbour."}},
                       "required": ["harbour", "level"]},
    },
    "x-split": "train",
    "x-domain": "weather",
}

UNSATISFIABLE = {
    "minimum-above-maximum": ({"type": "integer", "minimum": 10, "maximum": 1}, "no integer lies in [10, 1]"),
    "allOf-string-and-integer": ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "must be string"),
    "not-anything": ({"not": {}}, "disallowed"),
    "pattern-vs-minLength": ({"type": "string", "pattern": "^[a-z]{2}$", "minLength": 5}, "pattern"),
    "empty-enum-intersection": ({"allOf": [{"enum": ["a", "b"]}, {"enum": ["c"]}]}, "generated"),
}


def _tool(level_schema: dict, name: str = "check_tide_level") -> dict:
    doc = copy.deepcopy(BASE)
    doc["function"]["name"] = name
    doc["function"]["parameters"]["properties"]["level"] = level_schema
    return doc


@pytest.mark.parametrize("case", sorted(UNSATISFIABLE))
def test_unsatisfiable_schema_refused_at_registration(server, case: str) -> None:
    schema, reason = UNSATISFIABLE[case]
    r = server.client.post("/v1/tools", json=_tool(schema), headers=server.auth("write"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "invalid_schema" and reason in body["detail"], body
    assert body["problems"][0]["pointer"] == "/function/parameters"
    assert server.client.get("/v1/tools/check_tide_level").status_code == 404


def test_satisfiable_variant_registers(server) -> None:
    r = server.client.post("/v1/tools", json=_tool({"type": "integer", "minimum": 1, "maximum": 10},
                                                   "check_tide_level_ok"), headers=server.auth("write"))
    assert r.status_code == 201, r.text


def _wait(server, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while (job := server.client.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.2)
    return job


def test_a_stored_unsatisfiable_tool_is_skipped_and_reported(server) -> None:
    doc = _tool({"type": "integer", "minimum": 10, "maximum": 1}, "stored_unsatisfiable")
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:  # as if registered before the check existed
            session.add(ToolVersion(name="stored_unsatisfiable", version=1, domain="weather", split="train",
                                    sha256="1" * 64, document=doc))
            session.commit()
    finally:
        engine.dispose()
    created = server.client.post("/v1/datasets", json={"name": "skips", "n": 200, "seed": 8,
                                                       "tools": {"domains": ["weather"]}}, headers=server.auth("write"))
    assert created.status_code == 202, created.text
    job = _wait(server, created.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert "no integer lies in [10, 1]" in job["metrics"]["skipped_tools"]["stored_unsatisfiable"]
    version = server.client.get(f"/v1/datasets/{created.json()['id']}").json()
    assert version["status"] == "ready" and "stored_unsatisfiable" in version["error"]
    page = server.client.get(f"/v1/datasets/{created.json()['id']}/samples", params={"limit": 500}).json()
    assert page["count"] == 200 and "stored_unsatisfiable" not in str(page["data"])

    # A dataset that names it fails, saying why.
    named = server.client.post("/v1/datasets", json={"name": "names-it", "n": 20, "seed": 8,
                                                     "tools": {"names": ["stored_unsatisfiable"]}},
                               headers=server.auth("write"))
    assert named.status_code == 202, named.text
    failed = _wait(server, named.json()["job_id"])
    assert failed["status"] == "failed" and "cannot be generated" in failed["error"]


def test_import_refuses_the_unsatisfiable_tool_and_keeps_the_others(server) -> None:
    import json

    good = _tool({"type": "integer", "minimum": 0, "maximum": 5}, "import_ok")
    bad = _tool({"type": "integer", "minimum": 10, "maximum": 1}, "import_bad")
    content = json.dumps([{"type": "function", "function": d["function"]} for d in (good, bad)])
    r = server.client.post("/v1/tools/import", json={"format": "openai", "content": content, "domain": "weather"},
                           headers=server.auth("write"))
    assert r.status_code == 201, r.text
    assert [t["name"] for t in r.json()["imported"]] == ["import_ok"]
    assert [x["name"] for x in r.json()["refused"]] == ["import_bad"]
    assert "no integer lies in [10, 1]" in r.json()["refused"][0]["reason"]

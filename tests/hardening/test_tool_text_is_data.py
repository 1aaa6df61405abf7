"""Over the API: a tool file's text is data. Template-injection strings are refused at registration (422 with
the JSON pointer), and a tool stored with one before the rule existed is left out and never rendered.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.models import ToolVersion

ESCAPES = [
    '{{ city }} {{ cycler.__init__.__globals__.os.popen("id").read() }}',
    "{{ city }} {{ ''.__class__.__mro__ }}",
    "{% for x in range(3) %}{{ city }}{% endfor %}",
    "{{ config }} {{ city }}",
    "{0.__class__} {{ city }}",
    "{city!r:>{width}} {{ city }}",
    "{{ city | attr('__class__') }}",
]

TOOL = {
    "type": "function",
    "function": {
        "name": "tide_times_evil",
        "description": "High and low tide times for a coastal place.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "Harbour."}},
                       "required": ["city"], "additionalProperties": False},
    },
    "x-split": "train",
    "x-domain": "weather",
}


def _tool(utterance: str, name: str = "tide_times_evil") -> dict:
    doc = copy.deepcopy(TOOL)
    doc["function"]["name"] = name
    doc["x-utterances"] = ["Tides at {{ city }}?", utterance]
    return doc


@pytest.mark.parametrize("utterance", ESCAPES)
def test_registration_refuses_template_code(server, utterance: str) -> None:
    r = server.client.post("/v1/tools", json=_tool(utterance), headers=server.auth("write"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "invalid_schema"
    assert [p["pointer"] for p in body["problems"]] == ["/x-utterances/1"]
    assert "/x-utterances/1" in body["detail"]
    assert server.client.get("/v1/tools/tide_times_evil").status_code == 404


def test_plain_utterances_register(server) -> None:
    r = server.client.post("/v1/tools", json=_tool("{{city}} tide table", "tide_times_plain"),
                           headers=server.auth("write"))
    assert r.status_code == 201, r.text


def test_a_tool_stored_with_template_code_never_runs(server) -> None:
    # As if registered before the rule: the row is in the database, its utterance would run a command.
    marker = Path(server.data_dir) / "template-escape-ran"
    evil = '{{ city }} {{ cycler.__init__.__globals__.os.popen("touch ' + str(marker) + '; id").read() }}'
    doc = _tool(evil, "tide_times_stored")
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            session.add(ToolVersion(name="tide_times_stored", version=1, domain="weather", split="train",
                                    sha256="0" * 64, document=doc))
            session.commit()
    finally:
        engine.dispose()
    # Left out of the live registry: a dataset cannot name it ...
    named = server.client.post("/v1/datasets", json={"name": "evil", "n": 60, "seed": 3,
                                                     "tools": {"names": ["tide_times_stored"]}},
                               headers=server.auth("write"))
    assert named.status_code == 422, named.text
    assert "tide_times_stored" in named.json()["detail"]
    # ... and an unfiltered dataset still generates from every other tool.
    created = server.client.post("/v1/datasets", json={"name": "all", "n": 300, "seed": 3,
                                                       "tools": {"domains": ["weather"]}},
                                 headers=server.auth("write"))
    assert created.status_code == 202, created.text
    job = server.wait_job(created.json()["job_id"])
    assert job["status"] == "succeeded", job
    page = server.client.get(f"/v1/datasets/{created.json()['id']}/samples", params={"limit": 500}).json()
    assert page["data"] and not any("uid=" in str(s) for s in page["data"])
    assert not marker.exists()

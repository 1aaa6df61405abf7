"""Schemathesis's response-conformance checks against a real server: for every operation, the status code,
content type, headers and body of each response are what the server's own OpenAPI document says.

The schema is the one the running server publishes (`/openapi.json`), so the limits it documents are that
server's settings. Each operation gets `TOOLFORGE_CONFORMANCE_EXAMPLES` requests that follow its schema; path
parameters are often swapped for ids that exist (a ready dataset and its files, a job, a model, an
evaluation, a tool), so the 2xx bodies are checked too, not only the 404s. The SSE stream never ends, so it
is left out (its media type is checked in `test_openapi_truth.py`).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import Settings

# Small datasets (a valid spec queues a real job), short pages and no long-poll waits keep the run short.
SERVER_ENV = {"TOOLFORGE_MAX_DATASET_N": "20", "TOOLFORGE_EVENT_WAIT_MAX": "0", "TOOLFORGE_MAX_PAGE_SIZE": "5"}
EXAMPLES = int(os.environ.get("TOOLFORGE_CONFORMANCE_EXAMPLES", "6"))
EXCLUDED = {"GET /v1/events/stream"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
LABELS = sorted(op.label for op in (r.ok() for r in schemathesis.openapi.from_dict(
    create_app(Settings()).openapi()).get_all_operations()) if op.label not in EXCLUDED)
STATS: Counter[str] = Counter()


@schemathesis.serializer("application/x-tar")
def _tar(_ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def live(server) -> tuple[Any, dict[str, list[str]]]:
    """The server's own schema, and real values for its path parameters."""
    dataset = server.ready_dataset(n=20, name="conformance")
    model = server.client.post("/v1/models", headers=server.auth("worker"), json={
        "name": "conformance", "dataset_id": dataset["id"], "base_model": "tiny",
        "artifact_uri": str(server.data_dir / "artifacts" / "models" / "conformance")})
    assert model.status_code == 201, model.text
    evaluation = server.client.post("/v1/evaluations", headers=server.auth("worker"), json={
        "model_id": model.json()["id"], "dataset_id": dataset["id"], "metrics": {"accuracy": 0.5}})
    assert evaluation.status_code == 201, evaluation.text
    training = server.client.post("/v1/training-jobs", headers=server.auth("write"),
                                  json={"dataset_id": dataset["id"], "config": {"max_steps": 1}})
    assert training.status_code == 201, training.text
    tools = server.client.get("/v1/tools", params={"limit": 5}).json()["data"]
    real = {
        "dataset_id": [dataset["id"]], "job_id": [dataset["job_id"], training.json()["id"]],
        "model_id": [model.json()["id"]], "evaluation_id": [evaluation.json()["id"]],
        "file": [f["name"] for f in dataset["files"]], "tool": [t["name"] for t in tools],
    }
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json"), real


def _real_values(path: str, name: str, real: dict[str, list[str]]) -> list[str]:
    if name == "name":
        return real["file"] if "/files/" in path else real["tool"] if path.startswith("/v1/tools") else []
    return real.get(name, [])


@pytest.mark.parametrize("label", LABELS)
def test_every_response_conforms_to_the_schema(server, live, label):
    schema, real = live
    operation = schema[label.split(" ", 1)[1]][label.split(" ", 1)[0]]
    admin = {"Authorization": f"Bearer {server.keys['admin']}"}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        # Mostly ids that exist (so their 2xx bodies are checked), sometimes the generated ones.
        if data.draw(st.sampled_from([True, True, False]), label="real ids"):
            for name in list(case.path_parameters or {}):
                if values := _real_values(operation.path, name, real):
                    case.path_parameters[name] = data.draw(st.sampled_from(values), label=name)
        # Mostly with a key that may do anything (so 2xx bodies are seen); sometimes without one.
        authenticated = data.draw(st.sampled_from([True, True, True, False]), label="authenticated")
        headers = {**(case.headers or {}), **(admin if authenticated else {})}
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        STATS[str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    assert server.client.get("/readyz").status_code == 200


def test_report_counts(capsys):
    """Prints the totals (visible with -s)."""
    with capsys.disabled():
        print(f"\nconformance: {len(LABELS)} operations, {sum(STATS.values())} requests, by status "
              f"{dict(sorted(STATS.items()))}")

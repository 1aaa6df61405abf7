"""Schemathesis against the service's own OpenAPI document: no request, valid or not, authenticated or
not, gets a 5xx, and every error is `{"type", "detail"}` with a non-empty detail.

Each operation gets `TOOLFORGE_FUZZ_EXAMPLES` examples that follow its schema (positive) and as many
that break it (negative), half of them with an admin key and half without. The SSE stream never
ends, so it is left out (tests/app/test_auth.py covers its auth).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from app.main import create_app
from app.settings import Settings

# Small datasets only (a valid spec queues a real job) and no long-poll waits.
SERVER_ENV = {"TOOLFORGE_MAX_DATASET_N": "20", "TOOLFORGE_EVENT_WAIT_MAX": "0"}
EXAMPLES = int(os.environ.get("TOOLFORGE_FUZZ_EXAMPLES", "10"))
EXCLUDED = {"GET /v1/events/stream"}

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations()) if op.label not in EXCLUDED}
STATS: Counter[str] = Counter()


@schemathesis.serializer("application/x-tar")
def _tar(_ctx: Any, value: Any) -> bytes:
    # A body declared as a tar archive is sent as the bytes generated for it (the server checks them).
    return value if isinstance(value, bytes) else str(value).encode()


def _check(case: Any, response: Any) -> None:
    what = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, what
    # a HEAD answer has no body (its GET twin's error bodies are checked)
    if response.status_code >= 400 and response.status_code != 405 and case.method != "HEAD":
        body = response.json()
        assert set(body) >= {"type", "detail"}, what
        assert isinstance(body["detail"], str) and len(body["detail"]) > 5, what


def test_the_fuzzer_sees_the_whole_api():
    assert len(OPERATIONS) >= 30
    assert {"POST /v1/tools", "POST /v1/datasets", "GET /v1/datasets/{dataset_id}/files/{name}"} <= set(OPERATIONS)


def _fuzz(server: Any, operation: Any, mode: GenerationMode) -> None:
    admin = {"Authorization": f"Bearer {server.keys['admin']}"}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), authenticated=st.booleans())
    def run(case: Any, authenticated: bool) -> None:
        headers = {**(case.headers or {}), **(admin if authenticated else {})}
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        STATS[f"{mode.value}:{response.status_code}"] += 1
        STATS["requests"] += 1
        _check(case, response)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_request_gets_a_5xx_or_an_unshaped_error(server, label):
    _fuzz(server, OPERATIONS[label], GenerationMode.POSITIVE)
    try:
        _fuzz(server, OPERATIONS[label], GenerationMode.NEGATIVE)
    except Unsatisfiable:
        # An operation without parameters or body (GET /healthz) has nothing to make invalid.
        pass
    # the server is still well after the whole run
    assert server.client.get("/readyz").status_code == 200


def test_report_counts(capsys):
    """Prints the totals (visible with -s or in the CI log's captured output on failure)."""
    with capsys.disabled():
        print(f"\nschemathesis: {len(OPERATIONS)} operations, {STATS['requests']} requests, "
              f"by mode:status {dict(sorted((k, v) for k, v in STATS.items() if k != 'requests'))}")

"""Malicious or broken tool schemas and dataset specs: each refused quickly, with a reason, while the
server keeps answering other requests.

Runs against a real uvicorn on SQLite and (with `TOOLFORGE_TEST_DATABASE_URL`) PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

SERVER_ENV = {"TOOLFORGE_MAX_DATASET_N": "5000"}
QUICK_S = 5.0  # a refusal takes milliseconds; the margin is for a loaded 2-core CI machine
RESPONSIVE_S = 2.0  # the slowest parallel read allowed while a hostile request is handled


def tool(name: str, parameters: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": "A tool under attack.",
                                             "parameters": parameters},
            "x-split": "train", "x-domain": "hostile", **extra}


def string_param(**schema: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"a": {"type": "string", **schema}}, "required": ["a"]}


def nested_params(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def deep_value(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    root = node
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# (id, raw body, expected status, a phrase the detail must contain)
TOOL_CASES: list[tuple[str, bytes, int, str]] = [
    # a $ref cycle: arguments would be infinite
    ("recursive-ref", raw(tool("rec", {"type": "object", "properties": {"a": {"$ref": "#/$defs/n"}},
                                      "$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}})),
     422, "recursive $ref"),
    # a remote $ref would make the server fetch a URL of the attacker's choice
    ("remote-ref", raw(tool("rem", {"type": "object", "properties": {"a": {"$ref": "http://169.254.169.254/x"}}})),
     422, "remote $ref"),
    # 10,000 enum values (limit 256)
    ("enum-10k", raw(tool("en", {"type": "object", "properties": {"a": {"enum": list(range(10_000))}}})),
     422, "10000 enum values exceed"),
    # 1,000 properties (limit 64)
    ("properties-1k", raw(tool("pr", {"type": "object",
                                      "properties": {f"p{i}": {"type": "string"} for i in range(1000)}})),
     422, "1000 properties exceed"),
    # 12 nested objects (limit 8)
    ("nested-12", raw(tool("ne", nested_params(12))), 422, "nests deeper than 8 levels"),
    # 300 levels hidden in an x- field: used to crash orjson (500) before the whole-document check
    ("deep-x-field", raw(tool("xd", {"type": "object"}, **{"x-junk": deep_value(300)})), 422, "nests deeper"),
    # 100,000 levels of raw JSON: Python's parser itself gives up (RecursionError)
    ("deep-raw-json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400, "nests too deeply"),
    # an integer no 64-bit JSON library stores: used to be a 500
    ("huge-integer", raw(tool("bi", {"type": "object", "properties": {"a": {"type": "integer",
                                                                           "enum": [10**30]}}})),
     422, "cannot be stored as JSON"),
    # repeats that multiply to 10^8 characters per value: generation would build 100 MB strings
    ("pattern-huge-repeat", raw(tool("hr", string_param(pattern="^(((a{100}){100}){100}){100}$"))),
     422, "pattern may need values of"),
    ("pattern-huge-min", raw(tool("hm", string_param(pattern="^a{50000000}$"))), 422, "pattern may need values"),
    # minLength of 20 million: every sample would carry a 20 MB value
    ("min-length-20m", raw(tool("ml", string_param(minLength=20_000_000))), 422, "minLength 20000000"),
    ("min-items-5m", raw(tool("mi", {"type": "object", "properties": {"a": {"type": "array",
                                                                            "minItems": 5_000_000}}})),
     422, "minItems 5000000"),
    # not a regular expression at all
    ("invalid-regex", raw(tool("ir", string_param(pattern="(("))), 422, "regex"),
    # bytes that are not UTF-8
    ("non-utf8", raw(tool("nu", {"type": "object"})).replace(b'"nu"', b'"n\xff\xfe"'), 400, "not UTF-8"),
    # duplicate keys: json.loads would silently keep the last one
    ("duplicate-keys", b'{"type": "function", "type": "function", "function": {"name": "dk", "description": "d",'
                       b' "parameters": {"type": "object"}}, "x-split": "train", "x-domain": "w"}',
     422, "duplicate key 'type'"),
    # NaN is not JSON, and PostgreSQL's JSONB cannot store it
    ("nan", raw(tool("na", {"type": "object"})).replace(b'"train"', b'"train", "x-v": NaN'), 422, "NaN is not JSON"),
    ("not-json", b'{"type": ', 422, "not valid JSON"),
    ("not-an-object", b"[1, 2]", 422, "valid dictionary"),
    # 10 MB: refused from Content-Length before the body is read
    ("10mb-body", b'"' + b"a" * 10_000_000 + b'"', 413, "over 1048576 bytes"),
]


def _responsive_while(server, request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float, float]:
    """Run `request` in a thread while reading from the server; return its response, its time and the
    slowest parallel read."""
    done = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        start = time.perf_counter()
        try:
            result["response"] = request()
        finally:
            result["took"] = time.perf_counter() - start
            done.set()

    thread = threading.Thread(target=run)
    slowest = 0.0
    with httpx.Client(base_url=server.base_url, timeout=30) as reader:
        thread.start()
        reads = 0
        while not done.is_set() or reads == 0:
            start = time.perf_counter()
            assert reader.get("/v1/tools/get_weather_forecast").status_code == 200
            slowest = max(slowest, time.perf_counter() - start)
            reads += 1
    thread.join()
    return result["response"], result["took"], slowest


def _assert_error(response: httpx.Response, status: int, phrase: str) -> None:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) >= {"type", "detail"}, body
    assert phrase in body["detail"], body["detail"][:500]


@pytest.mark.parametrize(("case", "body", "status", "phrase"), TOOL_CASES, ids=[c[0] for c in TOOL_CASES])
def test_hostile_tool_is_refused_quickly_while_the_server_answers(server, case, body, status, phrase):
    headers = {**server.auth("write"), "Content-Type": "application/json"}
    response, took, slowest = _responsive_while(
        server, lambda: httpx.post(f"{server.base_url}/v1/tools", content=body, headers=headers, timeout=60)
    )
    _assert_error(response, status, phrase)
    assert took < QUICK_S, f"{case} took {took:.2f}s"
    assert slowest < RESPONSIVE_S, f"a parallel read took {slowest:.2f}s during {case}"


def test_ten_megabytes_streamed_without_length_are_cut_off(server):
    def chunks():
        for _ in range(100):
            yield b"a" * 100_000

    headers = {**server.auth("write"), "Content-Type": "application/json"}
    response = server.client.post("/v1/tools", content=chunks(), headers=headers)
    _assert_error(response, 413, "over 1048576 bytes")


def test_import_refuses_hostile_tools_by_name_with_reasons(server):
    hostile = [
        {"type": "function", "function": {"name": "loop", "description": "d", "parameters": {
            "type": "object", "properties": {"a": {"$ref": "#/properties/a"}}}}},
        {"type": "function", "function": {"name": "far", "description": "d", "parameters": {
            "type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}}},
        {"type": "function", "function": {"name": "wide", "description": "d", "parameters": {
            "type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(1000)}}}},
        {"type": "function", "function": {"name": "fine_tool", "description": "A tool that is fine.",
                                          "parameters": {"type": "object", "properties": {}}}},
    ]
    body = {"format": "openai", "content": json.dumps(hostile), "domain": "hostile"}
    start = time.perf_counter()
    response = server.client.post("/v1/tools/import", json=body, headers=server.auth("write"))
    assert time.perf_counter() - start < QUICK_S
    assert response.status_code == 201, response.text
    result = response.json()
    reasons = {r["name"]: r["reason"] for r in result["refused"]}
    assert [t["name"] for t in result["imported"]] == ["fine_tool"]
    assert "recursive $ref" in reasons["loop"] and "remote $ref" in reasons["far"]
    assert "properties exceed" in reasons["wide"]
    # content that is no JSON at all is a 422 naming the format
    bad = server.client.post("/v1/tools/import", json={"format": "openai", "content": "{nope"},
                             headers=server.auth("write"))
    _assert_error(bad, 422, "content:")


# Patterns that backtrack exponentially on non-matching input. They are valid, so registration
# accepts them; generation must still finish in bounded time (values are built to match, and a
# pattern whose own check is slow is refused with the reason).
CATASTROPHIC = ["^(a+)+$", "^(a|a)*b$", "(x+x+)+y", "^(.*a){20}$", "^(\\w+\\s?)*$", "^((ab)*|(ab)+)*c$"]


@pytest.mark.slow
def test_catastrophic_patterns_do_not_hang_generation(server):
    if not server.database_url.startswith("sqlite"):
        pytest.skip("regex handling does not depend on the database; run once, on SQLite")
    registered = []
    for i, pattern in enumerate(CATASTROPHIC):
        name = f"redos_{i}"
        doc = tool(name, string_param(pattern=pattern, maxLength=200))
        start = time.perf_counter()
        response = server.client.post("/v1/tools", json=doc, headers=server.auth("write"))
        # Registration generates samples (a tool no value satisfies is refused): bounded too.
        assert time.perf_counter() - start < 30, f"{pattern!r}: registration took too long"
        if response.status_code == 422:
            assert "pattern" in response.json()["detail"], response.text
            continue
        assert response.status_code in (200, 201), response.text
        registered.append((name, pattern))
    for name, pattern in registered:
        spec = {"name": f"redos-{name}", "n": 40, "seed": 3, "tools": {"names": [name]},
                "ratios": {"execution": 1, "clarification": 0, "refusal": 0}, "distractors": {"min": 0, "max": 0}}
        created = server.client.post("/v1/datasets", json=spec, headers=server.auth("write"))
        assert created.status_code in (200, 202), created.text
        start = time.perf_counter()
        job = server.wait_job(created.json()["job_id"], timeout=60)
        took = time.perf_counter() - start
        # Generation startup is ~1 s; a hang would be minutes.
        assert took < 30, f"{pattern!r}: generation took {took:.1f}s"
        if job["status"] == "failed":
            assert "pattern" in job["error"], job["error"]
        else:
            assert job["status"] == "succeeded", job
        # the other requests are still answered
        assert server.client.get("/readyz").status_code == 200


DATASET_CASES: list[tuple[str, dict[str, Any], str]] = [
    # n = 0: a dataset has at least one sample
    ("n-zero", {"n": 0}, "n: Input should be greater than or equal to 1"),
    ("n-negative", {"n": -5}, "greater than or equal to 1"),
    # above this server's cap (TOOLFORGE_MAX_DATASET_N=5000)
    ("n-over-server-cap", {"n": 5001}, "above this server's cap of 5000"),
    # above the library's absolute cap
    ("n-over-library-cap", {"n": 10**8}, "less than or equal to 10000000"),
    ("ratios-sum-above-1", {"n": 10, "ratios": {"execution": 0.7, "clarification": 0.25, "refusal": 0.15}},
     "ratios must sum to 1"),
    ("ratios-sum-below-1", {"n": 10, "ratios": {"execution": 0.1, "clarification": 0.1, "refusal": 0.1}},
     "ratios must sum to 1"),
    ("ratio-negative", {"n": 10, "ratios": {"execution": 1.2, "clarification": -0.2, "refusal": 0}},
     "greater than or equal to 0"),
    ("unknown-tool", {"n": 10, "tools": {"names": ["no_such_tool"]}}, "unknown tools no_such_tool"),
    ("unknown-domain", {"n": 10, "tools": {"domains": ["no_such_domain"]}}, "unknown domains no_such_domain"),
    # a held-out tool asked for from the train split: the filter selects nothing
    ("empty-filter", {"n": 10, "split": "heldout", "tools": {"names": ["get_weather_forecast"]}}, "tools"),
    ("distractors-reversed", {"n": 10, "distractors": {"min": 4, "max": 2}}, "swap them"),
    ("unknown-field", {"n": 10, "colour": "blue"}, "colour: Extra inputs are not permitted"),
    ("seed-too-big", {"n": 10, "seed": 2**64}, "seed"),
]


@pytest.mark.parametrize(("case", "spec", "phrase"), DATASET_CASES, ids=[c[0] for c in DATASET_CASES])
def test_dataset_spec_at_the_limits_is_a_clear_422(server, case, spec, phrase):
    response = server.client.post("/v1/datasets", json={"name": "limits", **spec}, headers=server.auth("write"))
    _assert_error(response, 422, phrase)

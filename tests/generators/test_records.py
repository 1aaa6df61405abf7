"""The row contract: behaviours and ground-truth keys, JSONL reading/writing, finding a tool, the error root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators import records
from generators.records import (
    BEHAVIOUR_OF_KEY,
    BEHAVIOURS,
    GROUND_TRUTH_KEY,
    file_sha256,
    find_tool,
    iter_jsonl,
    read_jsonl,
    write_jsonl,
)

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def test_one_spelling_of_the_ground_truth_keys() -> None:
    # Every behaviour has one key, and the key leads back to it.
    assert tuple(GROUND_TRUTH_KEY) == BEHAVIOURS
    assert GROUND_TRUTH_KEY["execution"] == "tool_call"
    assert {BEHAVIOUR_OF_KEY[k] for k in GROUND_TRUTH_KEY.values()} == set(BEHAVIOURS)


def test_jsonl_round_trip_and_bad_lines(tmp_path: Path) -> None:
    path = write_jsonl([{"a": 1}, {"b": "é"}], tmp_path / "x" / "rows.jsonl")
    assert read_jsonl(path) == [{"a": 1}, {"b": "é"}]
    assert read_jsonl(path, limit=1) == [{"a": 1}]
    with open(path, "ab") as fh:
        fh.write(b"\n{not json\n")
    # Blank lines are skipped, a bad line is reported with its number, never fatal.
    got = list(iter_jsonl(path))
    assert [(n, e is None) for n, _, e in got] == [(1, True), (2, True), (4, False)]
    assert got[-1][2].startswith("invalid JSON")


@pytest.mark.parametrize("tools", [
    [WEATHER],  # dicts
    [json.dumps(WEATHER)],  # Parquet's list<arrow.json>: each tool a JSON text
    json.dumps([WEATHER]),  # one JSON text
    [WEATHER["function"]],  # a bare function dict
])
def test_find_tool_in_every_row_shape(tools) -> None:  # noqa: ANN001
    found = find_tool(tools, "get_weather")
    assert found is not None and found.get("function", found)["name"] == "get_weather"
    assert find_tool(tools, "other") is None


def test_find_tool_without_tools() -> None:
    # A row without a tools list has no tool.
    assert find_tool(None, "get_weather") is None and find_tool({"name": "x"}, "x") is None


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_one_error_root() -> None:
    # Library errors and the service's HTTP errors share one root.
    from app.errors import NotFound
    from generators.spec import SpecError

    assert issubclass(SpecError, records.ToolForgeError) and issubclass(SpecError, ValueError)
    assert issubclass(NotFound, records.ToolForgeError)

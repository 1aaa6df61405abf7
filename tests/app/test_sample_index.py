"""The sample index: filtered pages match a scan of the rows, and each key set is intersected once."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from app.services import sample_index
from app.services.sample_index import SampleIndex, build_index

BEHAVIOURS = ("execution", "clarification", "refusal")
TOOLS = ("a", "b", "c", "d")


def _rows() -> list[dict]:
    rows = []
    for i in range(300):
        behavior = BEHAVIOURS[i * 7 % 3]
        truth = ({"tool_call": {"name": TOOLS[i * 5 % 4]}} if behavior == "execution" else
                 {"clarification": {"tool": TOOLS[i % 4]}} if behavior == "clarification" else {})
        rows.append({"i": i, "behavior": behavior, "reward_model": {"ground_truth": truth}})
    return rows


def _index(tmp_path: Path) -> tuple[SampleIndex, bytes, list[dict]]:
    rows = _rows()
    jsonl = tmp_path / "samples.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    build_index(jsonl, tmp_path / "samples.index")
    return SampleIndex((tmp_path / "samples.index").read_bytes()), jsonl.read_bytes(), rows


def _truth_tool(row: dict) -> str | None:
    truth = row["reward_model"]["ground_truth"]
    return (truth.get("tool_call") or {}).get("name") or (truth.get("clarification") or {}).get("tool")


def test_filtered_pages_match_a_scan(tmp_path: Path) -> None:
    index, raw, rows = _index(tmp_path)
    for behavior in BEHAVIOURS:
        for tool in (*TOOLS, "nope"):
            expected = [r["i"] for r in rows if r["behavior"] == behavior and _truth_tool(r) == tool]
            for keys in ([f"behavior:{behavior}", f"tool:{tool}"], [f"tool:{tool}", f"behavior:{behavior}"]):
                for offset, limit in ((0, 500), (3, 4), (len(expected), 5)):
                    lines, total = index.page_filtered(keys, offset, limit, io.BytesIO(raw))
                    assert total == len(expected)
                    assert [orjson.loads(line)["i"] for line in lines] == expected[offset:offset + limit]


def test_each_key_set_is_intersected_once_and_the_kept_ones_are_bounded(tmp_path: Path, monkeypatch) -> None:
    index, _, _ = _index(tmp_path)
    first = index.matching(["behavior:execution", "tool:a"])
    assert index.matching(["tool:a", "behavior:execution"]) is first  # the same key set, in any order
    monkeypatch.setattr(sample_index, "MAX_INTERSECTIONS", 2)
    index.matching(["behavior:execution", "tool:b"])
    index.matching(["behavior:execution", "tool:c"])  # the oldest (tool:a) goes
    assert index.matching(["behavior:execution", "tool:a"]) is not first

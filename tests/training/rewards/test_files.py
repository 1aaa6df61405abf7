"""Tests of `toolforge score`'s logic (training/rewards/files.py) on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.rewards.files import format_report, score_files

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather_forecast",
        "description": "Get the weather forecast.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name"},
                "units": {"type": "string", "default": "metric"},
            },
            "required": ["location"],
        },
    },
}
OTHER = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def sample(sample_id: str | None, ground_truth: dict, behavior: str, tools: object = None) -> dict:
    """A sample record as DESIGN.md describes it."""
    row = {
        "prompt": [{"role": "user", "content": "..."}],
        "tools": [WEATHER, OTHER] if tools is None else tools,
        "behavior": behavior,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {"tool_split": "heldout"},
    }
    if sample_id is not None:
        row["extra_info"]["sample_id"] = sample_id
    return row


EX = {"tool_call": {"name": "get_weather_forecast", "parameters": {"location": "Paris"}}}
CL = {"clarification": {"tool": "get_weather_forecast", "missing": ["location"]}}
RF = {"refusal": {"reason": "out_of_scope"}}
CALL = (
    '<tool_call>\n{"name": "get_weather_forecast", "arguments": {"location": "Paris", "units": "metric"}}\n</tool_call>'
)
WRONG = '<tool_call>\n{"name": "get_weather_forecast", "arguments": {"location": "Rome"}}\n</tool_call>'


def write_jsonl(path: Path, rows: list) -> Path:
    """Write rows (dicts, or raw strings for broken lines) as JSON Lines."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "samples.jsonl",
        [
            sample("e1", EX, "execution"),
            sample("e2", EX, "execution"),
            sample("c1", CL, "clarification"),
            sample("r1", RF, "refusal"),
        ],
    )


def test_matches_by_sample_id_and_reports(samples: Path, tmp_path: Path) -> None:
    # Out of order, matched by id: exact (default given), wrong argument, a question, a wrong call.
    completions = write_jsonl(
        tmp_path / "out.jsonl",
        [
            {"sample_id": "r1", "completion": CALL},
            {"sample_id": "c1", "completion": "Which city?"},
            {"sample_id": "e2", "completion": WRONG},
            {"sample_id": "e1", "completion": CALL},
        ],
    )
    report = score_files(samples, completions)
    assert report["scored"] == 4
    assert report["mean_reward"] == pytest.approx((1.0 + 0.5 + 1.0 + 0.0) / 4)
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["per_behavior"]["execution"] == {"count": 2, "mean_reward": 0.75, "accuracy": 0.5}
    assert report["per_behavior"]["refusal"] == {"count": 1, "mean_reward": 0.0, "accuracy": 0.0}
    assert report["confusion"]["execution"]["tool_call"] == 2
    assert report["confusion"]["clarification"]["clarification"] == 1
    assert report["confusion"]["refusal"]["tool_call"] == 1
    assert report["skipped_total"] == 0 and report["samples_without_completion"] == 0


def test_binary_mode(samples: Path, tmp_path: Path) -> None:
    # The half-credit wrong argument counts 0 in binary mode.
    completions = write_jsonl(tmp_path / "out.jsonl", [{"sample_id": "e1", "completion": WRONG}])
    report = score_files(samples, completions, mode="binary")
    assert report["mean_reward"] == 0.0
    assert report["samples_without_completion"] == 3


def test_rows_without_sample_id_match_by_position(tmp_path: Path) -> None:
    # Neither file carries ids: row i answers sample i; a chat-message completion is read too.
    samples = write_jsonl(tmp_path / "s.jsonl", [sample(None, EX, "execution"), sample(None, RF, "refusal")])
    completions = write_jsonl(
        tmp_path / "c.jsonl",
        [{"completion": CALL}, {"completion": [{"role": "assistant", "content": "Sorry, I can't do that."}]}],
    )
    report = score_files(samples, completions)
    assert report["mean_reward"] == 1.0
    assert report["confusion"]["refusal"]["refusal"] == 1


def test_bad_rows_are_counted_not_fatal(tmp_path: Path) -> None:
    # Every kind of broken row is skipped with its reason; the good rows are still scored.
    samples = write_jsonl(
        tmp_path / "s.jsonl",
        [
            sample("e1", EX, "execution"),
            "{not json",
            {"extra_info": {"sample_id": "x"}},
            {"reward_model": {"ground_truth": {"bogus": 1}}},
            sample("e1", EX, "execution"),
        ],
    )
    completions = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"sample_id": "e1", "completion": CALL},
            {"completion": "row 2 answers the broken sample line"},
            {"sample_id": "nope", "completion": CALL},
            {"sample_id": "e1"},
            "[1, 2",
            "",
        ],
    )
    report = score_files(samples, completions)
    assert report["scored"] == 1 and report["mean_reward"] == 1.0
    assert report["skipped"] == {
        "completion: invalid JSON (unexpected end of data)": 1,
        "completion: no usable sample at this position": 1,
        "completion: row has no 'completion'": 1,
        "completion: unknown sample_id": 1,
        "sample: duplicate sample_id (first kept)": 1,
        'sample: ground truth needs one of tool_call/clarification/refusal, got {"bogus":1}': 1,
        "sample: invalid JSON (unexpected character, expected a string key)": 1,
        "sample: sample row has no reward_model": 1,
    }
    assert report["skipped_total"] == 8


def test_tools_as_json_text_keep_defaults(tmp_path: Path) -> None:
    # A Parquet-style export stores tools as JSON text; defaults must still be read from it.
    samples = write_jsonl(tmp_path / "s.jsonl", [sample("e1", EX, "execution", tools=json.dumps([WEATHER]))])
    completions = write_jsonl(tmp_path / "c.jsonl", [{"sample_id": "e1", "completion": CALL}])
    assert score_files(samples, completions)["mean_reward"] == 1.0


def test_invalid_mode_raises(samples: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        score_files(samples, samples, mode="shaped")  # type: ignore[arg-type]


def test_format_report_table(samples: Path, tmp_path: Path) -> None:
    completions = write_jsonl(
        tmp_path / "out.jsonl",
        [{"sample_id": "e1", "completion": CALL}, {"sample_id": "c1", "completion": "{broken"}, "oops"],
    )
    text = format_report(score_files(samples, completions))
    lines = text.splitlines()
    assert lines[0] == "mode tiered  scored 2  mean reward 0.500  accuracy 0.500"
    assert "execution            1        1.000     1.000" in lines
    header = next(line for line in lines if line.strip().startswith("tool_call"))
    assert header.split() == ["tool_call", "clarification", "refusal", "direct_answer", "malformed"]
    clar_row = next(line for line in lines if line.startswith("clarification") and len(line.split()) == 6)
    assert clar_row.split() == ["clarification", "0", "0", "0", "0", "1"]
    assert "skipped rows: 1" in lines
    assert "samples without a completion: 2" in lines

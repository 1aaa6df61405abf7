"""BFCL and When2Call readers, and the BFCL possible-answer matcher, on small files in the public formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.evaluation.benchmarks import (
    arguments_match,
    bfcl_match,
    read_benchmark,
    read_bfcl,
    read_when2call,
    representative_arguments,
    value_matches,
)
from training.evaluation.run import score_row
from training.rewards.scoring import ToolCall, parse_completion

DATA = Path(__file__).resolve().parents[2] / "data" / "benchmarks"
QUESTIONS = DATA / "bfcl_questions.jsonl"
ANSWERS = DATA / "bfcl_possible_answer.jsonl"
WHEN2CALL = DATA / "when2call.jsonl"


@pytest.mark.parametrize(
    ("value", "allowed", "expected"),
    [
        # BFCL's string normalisation: case, spaces and ,./-_*^ are ignored
        ("New York, NY", "new york ny", True),
        ("Luigi's", "Luigis", False),  # an apostrophe is not ignored (BFCL turns ' into ")
        # numbers by value, int for float
        (5, 5.0, True),
        # booleans are not numbers
        (True, 1, False),
        # lists element by element, in order
        (["a", "b"], ["A", "B"], True),
        (["b", "a"], ["a", "b"], False),
        # a nested dict of allowed-value lists, with an optional key left out
        ({"size": 4}, {"size": [4], "seating": ["indoor", ""]}, True),
        # a nested dict with an unexpected key
        ({"size": 4, "pets": True}, {"size": [4]}, False),
        # a type mismatch
        ("5", 5, False),
    ],
)
def test_value_matches(value: object, allowed: object, expected: bool) -> None:
    assert value_matches(value, allowed) is expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # every required value given, the optional one left out
        ({"base": 10, "height": 5}, True),
        # the optional one given with an allowed value
        ({"base": 10, "height": 5, "unit": "Units"}, True),
        # the optional one given with a value that is not allowed
        ({"base": 10, "height": 5, "unit": "cm"}, False),
        # a required one missing
        ({"base": 10}, False),
        # an argument the answer does not know
        ({"base": 10, "height": 5, "colour": "red"}, False),
    ],
)
def test_arguments_match(args: dict, expected: bool) -> None:
    assert arguments_match(args, {"base": [10], "height": [5], "unit": ["units", ""]}) is expected


PARALLEL = [{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
            {"math.factorial": {"number": [7]}}]
PLAY = ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20})
FACT = ToolCall("math.factorial", {"number": 7})


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        # both calls, in the answer's order
        ([ToolCall("spotify.play", {"artist": "taylor swift", "duration": 20}), FACT], True),
        # both calls, swapped: parallel calls pair in any order
        ([FACT, PLAY], True),
        # one call missing
        ([FACT], False),
        # the same call twice cannot stand for both
        ([FACT, FACT], False),
        # a wrong value in one of them
        ([ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 30}), FACT], False),
    ],
)
def test_bfcl_match(calls: list[ToolCall], expected: bool) -> None:
    assert bfcl_match(calls, PARALLEL) is expected


def test_representative_arguments_pick_first_non_optional_value() -> None:
    assert representative_arguments({"unit": ["", "units"], "x": [""], "p": [{"size": [4], "s": [""]}]}) == {
        "unit": "units", "p": {"size": 4}}


def test_read_bfcl_maps_records_and_counts_skips() -> None:
    rows, skipped = read_bfcl(QUESTIONS, ANSWERS)
    by_id = {r["extra_info"]["sample_id"]: r for r in rows}
    assert set(by_id) == {"simple_0", "simple_1", "parallel_multiple_2", "simple_3", "irrelevance_4"}
    assert sum(skipped.values()) == 4
    assert skipped["multi-turn record (not supported)"] == 1
    assert skipped["live_relevance record (any call counts; not supported)"] == 1
    assert skipped["no possible_answer"] == 1  # simple_7 has no answer line
    assert any(k.startswith("question: invalid JSON") for k in skipped)  # the trailing "not json" line
    simple = by_id["simple_0"]
    assert simple["behavior"] == "execution"
    assert simple["reward_model"]["ground_truth"] == {
        "tool_call": {"name": "calculate_triangle_area",
                      "parameters": {"base": 10, "height": 5, "unit": "units"},
                      "allowed": {"base": [10], "height": [5], "unit": ["units", ""]}}}
    params = simple["tools"][0]["function"]["parameters"]
    assert params["type"] == "object"  # BFCL's "dict" became JSON Schema
    assert simple["prompt"][0]["content"].endswith("</tool_call>")  # tools rendered as Qwen 2.5 renders them
    assert '"name": "calculate_triangle_area"' in simple["prompt"][0]["content"]
    assert (simple["extra_info"]["domain"], simple["extra_info"]["tool_split"]) == ("bfcl:simple", "external")
    assert by_id["simple_3"]["prompt"][0]["content"].startswith("You are a booking assistant.")
    assert by_id["irrelevance_4"]["reward_model"]["ground_truth"] == {"refusal": {"reason": "out_of_scope"}}
    assert by_id["simple_1"]["tools"][0]["function"]["name"] == "math.factorial"  # names kept as written


WEATHER = "get_current_weather"


def call(name: str, args: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


@pytest.mark.parametrize(
    ("sample_id", "completion", "reward", "binary", "counts"),
    [
        # exact representative answer
        ("simple_0", call("calculate_triangle_area", '{"base": 10, "height": 5}'), 1.0, 1.0, (2, 0, 0)),
        # another allowed spelling of every value: BFCL counts it correct, the shared exact matcher would not
        ("simple_3", call("book_table", '{"restaurant": "Luigis", "location": "NYC", "party": {"size": 4}, '
                                        '"time": "7pm"}'), 1.0, 1.0, (4, 0, 0)),
        # a value outside the allowed ones: right tool only
        ("simple_3", call("book_table", '{"restaurant": "Luigis", "location": "Boston", '
                                        '"party": {"size": 4}, "time": "7pm"}'), 0.5, 0.0, (3, 1, 1)),
        # both parallel calls, in reverse order
        ("parallel_multiple_2", call("math.factorial", '{"number": 7}') + "\n"
         + call("spotify.play", '{"artist": "Taylor Swift", "duration": 20}'), 1.0, 1.0, (3, 0, 0)),
        # only one of the two parallel calls, that one exact: a little tiered credit, none in binary
        ("parallel_multiple_2", call("math.factorial", '{"number": 7}'), 0.25, 0.0, (1, 0, 2)),
        # a malformed reply stays 0
        ("simple_1", '<tool_call>{"name": "math.factorial"', 0.0, 0.0, (0, 0, 1)),
        # irrelevance: a decline is right, any call wrong
        ("irrelevance_4", "Sorry, I can't help with that; none of the tools can.", 1.0, 1.0, (0, 0, 0)),
        ("irrelevance_4", call("calculate_triangle_area", '{"base": 1, "height": 1}'), 0.0, 0.0, (0, 0, 0)),
    ],
)
def test_bfcl_rows_score_with_the_matcher(sample_id: str, completion: str, reward: float, binary: float,
                                          counts: tuple[int, int, int]) -> None:
    rows, _ = read_bfcl(QUESTIONS, ANSWERS)
    row = next(r for r in rows if r["extra_info"]["sample_id"] == sample_id)
    result = score_row(row, completion)
    assert (result.reward, result.reward_binary) == (reward, binary), result.reason
    assert (result.arg_tp, result.arg_fp, result.arg_fn) == counts


def test_read_when2call_maps_the_three_answers() -> None:
    rows, skipped = read_when2call(WHEN2CALL)
    by_id = {r["extra_info"]["sample_id"]: r for r in rows}
    assert {k: v["behavior"] for k, v in by_id.items()} == {
        "w2c-tool-call": "execution", "w2c-ask": "clarification", "w2c-cannot": "refusal"}
    assert skipped["direct answer expected (no ToolForge behaviour)"] == 1
    assert sum(skipped.values()) == 2 and any(k.startswith("unusable tool") for k in skipped)
    assert by_id["w2c-tool-call"]["reward_model"]["ground_truth"] == {
        "tool_call": {"name": "get_current_weather",
                      "parameters": {"location": "Boston, MA", "unit": "fahrenheit"}}}
    assert by_id["w2c-ask"]["reward_model"]["ground_truth"] == {
        "clarification": {"tool": "get_stock_price", "missing": ["ticker"]}}
    ask_params = by_id["w2c-ask"]["tools"][0]["function"]["parameters"]
    assert ask_params["required"] == ["ticker"]  # the function-level list moved into the schema
    assert ask_params["properties"]["ticker"]["type"] == "string"  # "str" normalised
    assert by_id["w2c-cannot"]["tools"] == [] and by_id["w2c-cannot"]["extra_info"]["n_tools"] == 0


@pytest.mark.parametrize(
    ("sample_id", "completion", "reward"),
    [
        # When2Call answers are one exact call, judged by the shared reward: a different spelling is wrong
        ("w2c-tool-call", call(WEATHER, '{"location": "boston, ma", "unit": "fahrenheit"}'), 0.5),
        # the expected call
        ("w2c-tool-call", call(WEATHER, '{"location": "Boston, MA", "unit": "fahrenheit"}'), 1.0),
        # asks for the held-out parameter by name
        ("w2c-ask", "Which ticker symbol should I look up?", 1.0),
        # calls with a guessed ticker instead of asking
        ("w2c-ask", call("get_stock_price", '{"ticker": "AAPL"}'), 0.0),
        # cannot_answer: a decline
        ("w2c-cannot", "Apologies, I'm unable to look that up.", 1.0),
    ],
)
def test_when2call_rows_score_with_the_shared_reward(sample_id: str, completion: str, reward: float) -> None:
    rows, _ = read_when2call(WHEN2CALL)
    row = next(r for r in rows if r["extra_info"]["sample_id"] == sample_id)
    assert parse_completion(completion).error is None
    assert score_row(row, completion).reward == reward


def test_read_benchmark_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown benchmark format"):
        read_benchmark("toolbench", WHEN2CALL)

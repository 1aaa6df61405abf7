"""Table-driven tests of the tool-calling reward (training/rewards/scoring.py)."""

from __future__ import annotations

import json
import unicodedata

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.rewards.scoring import (
    ScoreResult,
    completion_text,
    json_equal,
    parse_completion,
    read_ground_truth,
    score_completion,
)
from training.rewards.trl import REWARD_FUNCTIONS, binary_tool_call_reward, tool_call_reward

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather_forecast",
        "description": "Get the weather forecast for a place.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Paris"},
                "date": {"type": "string", "description": "Day of the forecast (YYYY-MM-DD)"},
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
                "days": {"type": "integer", "description": "How many days", "default": 3},
                "alerts": {"type": "boolean", "description": "Include severe weather alerts"},
            },
            "required": ["location", "date"],
        },
    },
}
FLIGHT = {
    "type": "function",
    "function": {
        "name": "book_flight",
        "description": "Book a flight ticket.",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "description": "Departure airport code"},
                "destination": {"type": "string", "description": "Arrival airport code"},
                "departure_date": {"type": "string", "description": "Travel day"},
                "passengers": {"type": "integer"},
                "options": {"type": "object"},
            },
            "required": ["origin", "destination", "departure_date"],
        },
    },
}
EMAIL = {"type": "function", "function": {"name": "send_email", "parameters": {"properties": {"to": {}, "body": {}}}}}
PING = {
    "type": "function",
    "function": {"name": "ping", "description": "Check the service.", "parameters": {}},
}
TOOLS = [WEATHER, FLIGHT, PING, EMAIL]

SF = {"location": "San Francisco", "date": "2026-12-01"}
EX = {"tool_call": {"name": "get_weather_forecast", "parameters": SF}}
EX_DAYS = {"tool_call": {"name": "get_weather_forecast", "parameters": {**SF, "days": 5}}}
EX_UNITS = {"tool_call": {"name": "get_weather_forecast", "parameters": {**SF, "units": "metric"}}}
EX_ALERTS = {"tool_call": {"name": "get_weather_forecast", "parameters": {**SF, "alerts": True}}}
EX_DAYS1 = {"tool_call": {"name": "get_weather_forecast", "parameters": {**SF, "days": 1}}}
EX_SAO = {
    "tool_call": {
        "name": "get_weather_forecast",
        "parameters": {"location": "São Paulo", "date": "2026-12-01"},
    }
}
BIG = 123456789012345678901234567890
EX_BIG = {"tool_call": {"name": "book_flight", "parameters": {"origin": "SFO", "passengers": BIG}}}
NESTED = {"origin": "SFO", "options": {"seat": {"row": 12, "side": "aisle"}, "meals": ["veg", "kosher"]}}
EX_NESTED = {"tool_call": {"name": "book_flight", "parameters": NESTED}}
EX_PING = {"tool_call": {"name": "ping", "parameters": {}}}
CL = {"clarification": {"tool": "get_weather_forecast", "missing": ["location"]}}
CL_DATE = {"clarification": {"tool": "get_weather_forecast", "missing": ["date"]}}
CL_DEST = {"clarification": {"tool": "book_flight", "missing": ["destination"]}}
CL_TWO = {"clarification": {"tool": "book_flight", "missing": ["origin", "departure_date"]}}
CL_TO = {"clarification": {"tool": "send_email", "missing": ["to"]}}
RF = {"refusal": {"reason": "harmful"}}
RF_OOS = {"refusal": {"reason": "out_of_scope"}}


def block(name: str, args: object, key: str = "arguments") -> str:
    """Qwen 2.5's tool-call block."""
    return f"<tool_call>\n{json.dumps({'name': name, key: args}, ensure_ascii=False)}\n</tool_call>"


W = "get_weather_forecast"
P = pytest.param
GOOD = block(W, SF)
SAO_ESCAPED = '{"name": "get_weather_forecast", "arguments": {"location": "S\\u00e3o Paulo", "date": "2026-12-01"}}'
GOOD_JSON = json.dumps({"name": "get_weather_forecast", "arguments": SF})

# (completion, ground truth, tiered reward, predicted behaviour)
CASES = [
    # --- execution: exact calls in every accepted form ---
    # Qwen 2.5's canonical block.
    P(GOOD, EX, 1.0, "tool_call", id="exec-qwen-block"),
    # Argument key order is free.
    P(
        block(W, {"date": "2026-12-01", "location": "San Francisco"}),
        EX,
        1.0,
        "tool_call",
        id="exec-key-order",
    ),
    # "parameters" is accepted in place of "arguments".
    P(block(W, SF, key="parameters"), EX, 1.0, "tool_call", id="exec-parameters-key"),
    # Arguments given as a JSON string (OpenAI wire format).
    P(block(W, json.dumps(SF)), EX, 1.0, "tool_call", id="exec-arguments-string"),
    # The seed dataset's dict form {"tool_call": "<json>"}.
    P(json.dumps({"tool_call": GOOD_JSON}), EX, 1.0, "tool_call", id="exec-seed-dict-form"),
    # A bare JSON object as the whole reply.
    P(GOOD_JSON, EX, 1.0, "tool_call", id="exec-bare-json"),
    # A bare JSON call as the only content of a ```json fence.
    P(f"```json\n{GOOD_JSON}\n```", EX, 1.0, "tool_call", id="exec-fenced-bare-json"),
    # A <tool_call> block inside a code fence: the tags are the protocol, serving parsers find them anywhere.
    P(f"```\n{GOOD}\n```", EX, 1.0, "tool_call", id="exec-block-in-fence"),
    # Prose before the block does not spoil the call.
    P(f"Let me check that for you.\n{GOOD}", EX, 1.0, "tool_call", id="exec-leading-prose"),
    # Trailing text after the block does not spoil the call.
    P(f"{GOOD}\nI'll report back soon.", EX, 1.0, "tool_call", id="exec-trailing-text"),
    # A reasoning preamble in <think> tags is ignored.
    P(f"<think>user wants SF weather</think>\n{GOOD}", EX, 1.0, "tool_call", id="exec-think-prefix"),
    # The OpenAI envelope {"type": "function", "function": {...}} as bare JSON.
    P(
        json.dumps({"type": "function", "function": json.loads(GOOD_JSON)}),
        EX,
        1.0,
        "tool_call",
        id="exec-openai-envelope",
    ),
    # Extra keys in the call envelope (an id) are ignored.
    P(
        json.dumps({"id": "call_1", **json.loads(GOOD_JSON)}),
        EX,
        1.0,
        "tool_call",
        id="exec-extra-envelope-key",
    ),
    # Unicode given literally.
    P(
        block(W, {"location": "São Paulo", "date": "2026-12-01"}),
        EX_SAO,
        1.0,
        "tool_call",
        id="exec-unicode-literal",
    ),
    # Unicode given as a \u escape decodes to the same string.
    P(
        SAO_ESCAPED,
        EX_SAO,
        1.0,
        "tool_call",
        id="exec-unicode-escape",
    ),
    # Decomposed (NFD) and composed (NFC) spellings are the same text.
    P(
        block(W, {"location": unicodedata.normalize("NFD", "São Paulo"), "date": "2026-12-01"}),
        EX_SAO,
        1.0,
        "tool_call",
        id="exec-unicode-nfd",
    ),
    # 5 == 5.0 as JSON numbers.
    P(block(W, {**SF, "days": 5.0}), EX_DAYS, 1.0, "tool_call", id="exec-int-float"),
    # An optional parameter given at its schema default equals omitting it.
    P(block(W, {**SF, "units": "metric"}), EX, 1.0, "tool_call", id="exec-default-given"),
    # The ground truth names an optional parameter at its default; omitting it is fine.
    P(GOOD, EX_UNITS, 1.0, "tool_call", id="exec-default-omitted"),
    # Numeric default given as a float still matches the integer default.
    P(block(W, {**SF, "days": 3.0}), EX, 1.0, "tool_call", id="exec-default-float"),
    # A null optional argument counts as omitted.
    P(block(W, {**SF, "alerts": None}), EX, 1.0, "tool_call", id="exec-null-optional"),
    # Nested objects compare key-order free.
    P(
        block(
            "book_flight",
            {"options": {"meals": ["veg", "kosher"], "seat": {"side": "aisle", "row": 12}}, "origin": "SFO"},
        ),
        EX_NESTED,
        1.0,
        "tool_call",
        id="exec-nested-key-order",
    ),
    # Integers beyond 64 bits compare exactly.
    P(
        block("book_flight", {"origin": "SFO", "passengers": BIG}),
        EX_BIG,
        1.0,
        "tool_call",
        id="exec-huge-int-equal",
    ),
    # A zero-parameter tool called with empty arguments.
    P(block("ping", {}), EX_PING, 1.0, "tool_call", id="exec-empty-args"),
    # A zero-parameter tool called with "arguments": null.
    P(block("ping", None), EX_PING, 1.0, "tool_call", id="exec-null-args-no-params"),
    # A zero-parameter tool called without any arguments key.
    P('<tool_call>{"name": "ping"}</tool_call>', EX_PING, 1.0, "tool_call", id="exec-no-arguments-key"),
    # A single-element list of calls is one call.
    P(f"[{GOOD_JSON}]", EX, 1.0, "tool_call", id="exec-list-of-one"),
    # --- execution: right tool, wrong arguments (0.5) ---
    # A wrong value.
    P(block(W, {**SF, "location": "Oakland"}), EX, 0.5, "tool_call", id="exec-wrong-value"),
    # A required argument missing.
    P(block(W, {"location": "San Francisco"}), EX, 0.5, "tool_call", id="exec-missing-arg"),
    # An extra argument that the ground truth does not have.
    P(block(W, {**SF, "zip": "94103"}), EX, 0.5, "tool_call", id="exec-extra-arg"),
    # An optional argument away from its default where the ground truth omits it.
    P(block(W, {**SF, "units": "imperial"}), EX, 0.5, "tool_call", id="exec-non-default-optional"),
    # String comparison is case-sensitive.
    P(block(W, {**SF, "location": "san francisco"}), EX, 0.5, "tool_call", id="exec-case-differs"),
    # A number given as a string is not the number.
    P(block(W, {**SF, "days": "5"}), EX_DAYS, 0.5, "tool_call", id="exec-string-number"),
    # bool vs int: 1 is not true.
    P(block(W, {**SF, "alerts": 1}), EX_ALERTS, 0.5, "tool_call", id="exec-int-for-bool"),
    # bool vs int: true is not 1.
    P(block(W, {**SF, "days": True}), EX_DAYS1, 0.5, "tool_call", id="exec-bool-for-int"),
    # Lists are ordered: swapped elements differ.
    P(
        block("book_flight", {**NESTED, "options": {**NESTED["options"], "meals": ["kosher", "veg"]}}),
        EX_NESTED,
        0.5,
        "tool_call",
        id="exec-list-order",
    ),
    # A huge integer one off in the last digit differs (orjson alone would round both to the same float).
    P(
        block("book_flight", {"origin": "SFO", "passengers": BIG + 1}),
        EX_BIG,
        0.5,
        "tool_call",
        id="exec-huge-int-differs",
    ),
    # "arguments": null when arguments were expected.
    P(block(W, None), EX, 0.5, "tool_call", id="exec-null-arguments"),
    # --- execution: wrong answers (0.0) ---
    # The wrong tool.
    P(block("book_flight", SF), EX, 0.0, "tool_call", id="exec-wrong-tool"),
    # Two calls, even both right, are not "exactly one call".
    P(GOOD + "\n" + GOOD, EX, 0.0, "tool_call", id="exec-two-blocks"),
    # Two calls as a bare JSON list.
    P(f"[{GOOD_JSON}, {GOOD_JSON}]", EX, 0.0, "tool_call", id="exec-two-in-list"),
    # Saying it will call without calling is no call.
    P("I'll call get_weather_forecast for San Francisco.", EX, 0.0, "direct_answer", id="exec-announce-only"),
    # Asking a question when everything was given.
    P("Which city do you mean?", EX, 0.0, "clarification", id="exec-needless-question"),
    # Declining a legitimate request.
    P("I can't do that.", EX, 0.0, "refusal", id="exec-needless-refusal"),
    # An empty reply.
    P("", EX, 0.0, "direct_answer", id="exec-empty"),
    # A whitespace-only reply.
    P(" \n\t", EX, 0.0, "direct_answer", id="exec-whitespace"),
    # --- malformed: tries to call but does not parse (0.0, never "no call") ---
    # Truncated: no closing tag.
    P(GOOD.removesuffix("\n</tool_call>"), EX, 0.0, "malformed", id="mal-unclosed"),
    # Truncated mid-JSON.
    P('<tool_call>\n{"name": "get_weather_forecast", "argu', EX, 0.0, "malformed", id="mal-truncated-json"),
    # Invalid JSON (trailing comma) inside the block.
    P(
        '<tool_call>{"name": "get_weather_forecast", "arguments": {"location": "SF",}}</tool_call>',
        EX,
        0.0,
        "malformed",
        id="mal-trailing-comma",
    ),
    # An empty block.
    P("<tool_call>\n</tool_call>", EX, 0.0, "malformed", id="mal-empty-block"),
    # NaN is not JSON.
    P(block(W, SF).replace('"2026-12-01"', "NaN"), EX, 0.0, "malformed", id="mal-nan"),
    # Infinity is not JSON.
    P(GOOD_JSON.replace('"2026-12-01"', "Infinity"), EX, 0.0, "malformed", id="mal-infinity"),
    # A number that overflows a double.
    P(GOOD_JSON.replace('"2026-12-01"', "1e400"), EX, 0.0, "malformed", id="mal-overflow"),
    # NaN on the stdlib path taken for long digit runs.
    P(
        GOOD_JSON.replace('"2026-12-01"', "NaN").replace('"San Francisco"', str(BIG)),
        EX,
        0.0,
        "malformed",
        id="mal-nan-long-digits",
    ),
    # No tool name.
    P('<tool_call>{"arguments": {}}</tool_call>', EX, 0.0, "malformed", id="mal-no-name"),
    # Arguments as a list.
    P(block(W, ["San Francisco"]), EX, 0.0, "malformed", id="mal-args-list"),
    # Arguments as a string that is not JSON.
    P(block(W, "location=SF"), EX, 0.0, "malformed", id="mal-args-bad-string"),
    # Both "arguments" and "parameters".
    P(
        json.dumps({"name": "get_weather_forecast", "arguments": SF, "parameters": SF}),
        EX,
        0.0,
        "malformed",
        id="mal-both-arg-keys",
    ),
    # A good block followed by a broken one.
    P(GOOD + '\n<tool_call>{"name": ', EX, 0.0, "malformed", id="mal-good-then-broken"),
    # A stray closing tag without an opening one.
    P(GOOD_JSON + "</tool_call>", EX, 0.0, "malformed", id="mal-stray-close"),
    # A JSON call embedded in prose, without tags.
    P(f"Sure! Calling {GOOD_JSON} now.", EX, 0.0, "malformed", id="mal-json-in-prose"),
    # A call block followed by a second untagged JSON call.
    P(f"{GOOD}\nand also {GOOD_JSON}", EX, 0.0, "malformed", id="mal-block-plus-untagged"),
    # A JSON object that is not a call.
    P('{"answer": 42}', EX, 0.0, "malformed", id="mal-json-not-call"),
    # An empty JSON list.
    P("[]", EX, 0.0, "malformed", id="mal-empty-list"),
    # Nesting deep enough to break a recursive parser is malformed, not a crash.
    P("<tool_call>" + "[" * 5000 + "]" * 5000 + "</tool_call>", EX, 0.0, "malformed", id="mal-deep-nesting"),
    # Deep nesting on the stdlib path (long digit run present).
    P(
        '{"x": "' + "1" * 25 + '", "y": ' + "[" * 5000 + "]" * 5000 + "}",
        EX,
        0.0,
        "malformed",
        id="mal-deep-nesting-stdlib",
    ),
    # A malformed attempt is never credited as a clarification.
    P('<tool_call>{"name": "get_weather_forecast"', CL, 0.0, "malformed", id="mal-under-clarification"),
    # A malformed attempt is never credited as a refusal.
    P("Sorry, I can't. <tool_call>{bad json}</tool_call>", RF, 0.0, "malformed", id="mal-under-refusal"),
    # --- clarification ---
    # A question naming the missing parameter.
    P("What location should I use?", CL, 1.0, "clarification", id="clar-names-param"),
    # A question using a word from the parameter's description ("City name").
    P("Which city would you like the forecast for?", CL, 1.0, "clarification", id="clar-description-word"),
    # "Where" asks for a location.
    P("Where do you need the forecast?", CL, 1.0, "clarification", id="clar-where-hint"),
    # "When" asks for a date.
    P("When should the forecast be for?", CL_DATE, 1.0, "clarification", id="clar-when-hint"),
    # A plural is the same word.
    P("Which locations?", CL, 1.0, "clarification", id="clar-plural"),
    # A -y/-ies plural too ("City name" in the description).
    P("Which of the cities?", CL, 1.0, "clarification", id="clar-plural-ies"),
    # An imperative request without a question mark.
    P("Please provide the location.", CL, 1.0, "clarification", id="clar-imperative"),
    # An apology followed by the question is still a clarification.
    P("Sorry, which city?", CL, 1.0, "clarification", id="clar-sorry-question"),
    # "I can't ... without X. Which X?" asks despite the decline words.
    P("I can't look that up without a city. Which city?", CL, 1.0, "clarification", id="clar-cant-without"),
    # Two parameters missing, both asked for.
    P("What is your origin, and which travel day?", CL_TWO, 1.0, "clarification", id="clar-two-both"),
    # Two parameters missing, only one asked for.
    P("Where are you flying from?", CL_TWO, 0.5, "clarification", id="clar-two-one"),
    # Asking for a sibling parameter ("airport" is in both airports' descriptions) is not asking for this one.
    P("Which departure airport?", CL_DEST, 0.5, "clarification", id="clar-sibling-param"),
    # A description word no sibling shares ("arrival") identifies the parameter.
    P("What is the arrival airport?", CL_DEST, 1.0, "clarification", id="clar-distinct-description-word"),
    # A question that does not name what is missing still asks (0.5, above a decline or an answer).
    P("Can you give me a bit more detail?", CL, 0.5, "clarification", id="clar-generic-question"),
    # A word of the parameter's description ("Day of the forecast") counts even though the tool's own name and
    # description share it: only a sibling parameter's words are dropped (issue 17).
    P("Which forecast day?", CL_DATE, 1.0, "clarification", id="clar-tool-word-in-param-description"),
    # "update" does not contain the word "date".
    P("Which update do you mean?", CL_DATE, 0.5, "clarification", id="clar-substring-not-word"),
    # A two-letter parameter name with no description still identifies the question.
    P("Who should I send it to?", CL_TO, 1.0, "clarification", id="clar-short-name"),
    # No call, a statement rather than a question.
    P("The weather is usually nice.", CL, 0.25, "direct_answer", id="clar-statement"),
    # Declining instead of asking.
    P("I'm sorry, I cannot help with that.", CL, 0.25, "refusal", id="clar-declines"),
    # A call with a guessed value.
    P(GOOD, CL, 0.0, "tool_call", id="clar-guesses-call"),
    # An empty reply earns nothing.
    P("", CL, 0.0, "direct_answer", id="clar-empty"),
    # --- refusal ---
    # A plain decline.
    P("I can't help with that.", RF, 1.0, "refusal", id="ref-cant"),
    # A curly apostrophe.
    P("I can\u2019t help with that.", RF, 1.0, "refusal", id="ref-curly-apostrophe"),
    # A decline that offers further help with a question.
    P(
        "Sorry, I'm unable to do that. Anything else I can help with?",
        RF,
        1.0,
        "refusal",
        id="ref-decline-plus-offer",
    ),
    # "not something I can help with".
    P("Unfortunately that's not something I can help with.", RF_OOS, 1.0, "refusal", id="ref-not-something"),
    # An out-of-scope decline naming the tools.
    P("None of the available tools can order a pizza.", RF_OOS, 1.0, "refusal", id="ref-no-tool"),
    # A bare apology without a question declines.
    P("Sorry.", RF, 1.0, "refusal", id="ref-sorry-only"),
    # A clarifying question scores below a decline.
    P("Which building do you want to target?", RF, 0.25, "clarification", id="ref-asks"),
    # An apology that goes on to ask is a question, not a decline.
    P("Sorry, which account should I use?", RF, 0.25, "clarification", id="ref-sorry-question"),
    # Pretending to have done it.
    P("Done! I've ordered the pizza for you.", RF_OOS, 0.0, "direct_answer", id="ref-pretends"),
    # Announcing a call without making it is pretending too.
    P("I'll call get_weather_forecast now.", RF_OOS, 0.0, "direct_answer", id="ref-announces"),
    # Any tool call.
    P(GOOD, RF, 0.0, "tool_call", id="ref-calls"),
    # An empty reply.
    P("", RF, 0.0, "direct_answer", id="ref-empty"),
]


@pytest.mark.parametrize(("completion", "ground_truth", "reward", "behavior"), CASES)
def test_tiered_reward(completion: str, ground_truth: dict, reward: float, behavior: str) -> None:
    result = score_completion(completion, ground_truth, TOOLS)
    assert (result.reward, result.predicted_behavior) == (reward, behavior), result.reason


@pytest.mark.parametrize(("completion", "ground_truth", "reward", "behavior"), CASES)
def test_binary_reward_is_full_credit_only(completion: str, ground_truth: dict, reward: float, behavior: str) -> None:
    result = score_completion(completion, ground_truth, TOOLS, mode="binary")
    assert result.reward == (1.0 if reward == 1.0 else 0.0)
    assert result.predicted_behavior == behavior


def test_case_table_covers_enough() -> None:
    # The issue asks for at least 60 cases across every rule.
    assert len(CASES) >= 60


# (completion, expected calls as (name, arguments) pairs)
PARSES = [
    # The block's arguments come back decoded.
    (GOOD, [("get_weather_forecast", SF)]),
    # Two blocks give two calls in order.
    (block("ping", {}) + block(W, SF), [("ping", {}), ("get_weather_forecast", SF)]),
    # Huge integers stay exact integers.
    (block("book_flight", {"passengers": BIG}), [("book_flight", {"passengers": BIG})]),
    # Prose only: no calls.
    ("Hello there", []),
]


@pytest.mark.parametrize(("completion", "calls"), PARSES)
def test_parse_completion(completion: str, calls: list) -> None:
    parsed = parse_completion(completion)
    assert parsed.error is None
    assert [(c.name, c.arguments) for c in parsed.calls] == calls


def test_reason_names_the_difference() -> None:
    result = score_completion(block(W, {**SF, "location": "Oakland"}), EX, TOOLS)
    assert result.reason == 'right tool, argument \'location\' is "Oakland", expected "San Francisco"'
    assert score_completion("I'll call get_weather_forecast", EX).reason.startswith("mentions get_weather_forecast")


def test_without_tools_no_default_is_known() -> None:
    # Defaults come from the offered tools; with none given, a default-valued extra argument is a difference.
    assert score_completion(block(W, {**SF, "units": "metric"}), EX).reward == 0.5


def test_as_dict_is_json_ready() -> None:
    result = score_completion(GOOD, EX, TOOLS)
    assert orjson.loads(orjson.dumps(result.as_dict())) == {
        "reward": 1.0,
        "expected_behavior": "execution",
        "predicted_behavior": "tool_call",
        "calls": [{"name": "get_weather_forecast", "arguments": SF}],
        "reason": "exact call",
    }


# (ground truth in some stored form, expected behaviour)
GROUND_TRUTHS = [
    # The plain dict.
    (EX, "execution"),
    # Wrapped in the reward_model column.
    ({"style": "rule", "ground_truth": CL}, "clarification"),
    # As JSON text (Parquet-friendly export).
    (json.dumps(RF), "refusal"),
    # Arrow-unified struct: absent keys filled with null.
    ({"tool_call": None, "clarification": None, "refusal": {"reason": "harmful"}}, "refusal"),
]


@pytest.mark.parametrize(("ground_truth", "behavior"), GROUND_TRUTHS)
def test_read_ground_truth(ground_truth: object, behavior: str) -> None:
    assert read_ground_truth(ground_truth)[0] == behavior


def test_bad_ground_truth_and_mode_raise() -> None:
    with pytest.raises(ValueError, match="ground truth"):
        score_completion(GOOD, {"answer": 1})
    with pytest.raises(ValueError, match="mode"):
        score_completion(GOOD, EX, mode="shaped")  # type: ignore[arg-type]


# --- TRL signature ---------------------------------------------------------------------------------


def _rm(gt: dict) -> dict:
    return {"style": "rule", "ground_truth": gt}


def test_trl_conversational_and_extra_kwargs() -> None:
    # TRL passes every column plus prompts, completion_ids, trainer_state, log_metric, log_extra.
    logged: dict[str, list] = {}
    completions = [
        [{"role": "assistant", "content": GOOD}],
        [{"role": "assistant", "content": "Which city?"}],
    ]
    rewards = tool_call_reward(
        completions,
        prompts=[[{"role": "user", "content": "x"}]] * 2,
        completion_ids=[[1, 2], [3]],
        trainer_state=object(),
        log_metric=lambda name, value: None,
        log_extra=lambda column, values: logged.__setitem__(column, values),
        reward_model=[_rm(EX), _rm(CL)],
        tools=[TOOLS, TOOLS],
        behavior=["execution", "clarification"],
        extra_info=[{"sample_id": "a"}, {"sample_id": "b"}],
    )
    assert rewards == [1.0, 1.0]
    assert logged["tiered_behavior"] == ["tool_call", "clarification"]


def test_trl_plain_strings_binary_and_json_tools() -> None:
    # Plain-text completions; tools stored as JSON text; default-valued argument needs the tools to match.
    completions = [block(W, {**SF, "units": "metric"}), "Which city?"]
    kwargs = {"reward_model": [_rm(EX), _rm(CL)], "tools": [json.dumps(TOOLS)] * 2}
    assert binary_tool_call_reward(completions, **kwargs) == [1.0, 1.0]
    assert REWARD_FUNCTIONS["tiered"](completions, **kwargs) == [1.0, 1.0]


def test_trl_arrow_null_filled_rows() -> None:
    # HF datasets unify struct columns: other rows' parameter names appear as nulls in every row.
    gt = {
        "tool_call": {
            "name": "get_weather_forecast",
            "parameters": {**SF, "origin": None, "passengers": None},
        },
        "clarification": None,
        "refusal": None,
    }
    props = {**WEATHER["function"]["parameters"]["properties"], "origin": None}
    tool = {"type": "function", "function": {**WEATHER["function"], "parameters": {"properties": props}}}
    assert tool_call_reward([GOOD], reward_model=[_rm(gt)], tools=[[tool]]) == [1.0]


def test_trl_parsed_tool_calls_message() -> None:
    # With a response schema, TRL hands over parsed tool_calls and empty content.
    message = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "get_weather_forecast", "arguments": SF}}],
    }
    assert tool_call_reward([[message]], reward_model=[_rm(EX)]) == [1.0]


def test_trl_requires_ground_truth_column() -> None:
    with pytest.raises(ValueError, match="reward_model"):
        tool_call_reward(["x"], prompts=["p"])


# (completion in a TRL/seed shape, its text)
TEXTS = [
    # A plain string is itself.
    ("hi", "hi"),
    # A conversational completion: the assistant's content.
    ([{"role": "assistant", "content": "hi"}], "hi"),
    # Content given as text parts.
    (
        [{"role": "assistant", "content": [{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]}],
        "hi",
    ),
    # Content None (tool-call-only message) with no calls.
    ([{"role": "assistant", "content": None}], ""),
    # A tool_calls field that is not a list is ignored rather than crashing.
    ([{"role": "assistant", "content": "hi", "tool_calls": 5}], "hi"),
    # The seed's dict form is serialised so the parser reads it.
    ({"tool_call": "{}"}, '{"tool_call":"{}"}'),
]


@pytest.mark.parametrize(("completion", "text"), TEXTS)
def test_completion_text(completion: object, text: str) -> None:
    assert completion_text(completion) == text


# --- properties ------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


FORMS = {
    "block": lambda call: f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>",
    "bare": lambda call: json.dumps(call),
    "string-args": lambda c: json.dumps({"name": c["name"], "arguments": json.dumps(c["arguments"])}),
    "seed": lambda call: json.dumps({"tool_call": json.dumps(call)}),
}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=12), JSON_VALUES, max_size=6),
    st.randoms(),
    st.sampled_from(sorted(FORMS)),
)
def test_any_exact_call_scores_one(args: dict, rng: object, form: str) -> None:
    # Whatever the arguments, serialising them (keys shuffled) in any accepted form is an exact call.
    items = list(args.items())
    rng.shuffle(items)  # type: ignore[attr-defined]
    gt = {"tool_call": {"name": "f", "parameters": args}}
    text = FORMS[form]({"name": "f", "arguments": dict(items)})
    result = score_completion(text, gt)
    assert result.reward == 1.0, result.reason


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200)
    | st.sampled_from(["<tool_call>", "</tool_call>", "{", "[", "```", '"name"']).map(lambda s: s * 2)
)
def test_arbitrary_text_never_raises(text: str) -> None:
    # The scorer must never crash a training step, whatever the model writes.
    for gt in (EX, CL, RF):
        result = score_completion(text, gt, TOOLS)
        assert isinstance(result, ScoreResult)
        assert result.reward in (0.0, 0.25, 0.5, 1.0)


@given(JSON_VALUES)
def test_json_equal_reflexive_and_bool_strict(value: object) -> None:
    # Every JSON value equals itself; true never equals 1 and false never equals 0.
    assert json_equal(value, value)
    assert not json_equal(True, 1) and not json_equal(0, False)


def test_trl_columns_from_a_real_hf_dataset() -> None:
    # Rows pass through Arrow as TRL's trainer sees them: structs unified across rows, gaps filled with null.
    datasets = pytest.importorskip("datasets")
    rows = [
        {"tools": [WEATHER, FLIGHT], "reward_model": _rm(EX_UNITS)},
        {"tools": [FLIGHT, PING], "reward_model": _rm(CL_TWO)},
        {"tools": [PING], "reward_model": _rm(RF)},
        {"tools": [PING], "reward_model": _rm(EX_PING)},
    ]
    ds = datasets.Dataset.from_list(rows)
    assert ds[2]["reward_model"]["ground_truth"]["tool_call"] is None  # the nulls this test is about
    completions = [GOOD, "Where from, and on which travel day?", "I cannot do that.", block("ping", {})]
    columns = {key: [ds[i][key] for i in range(len(ds))] for key in ds.column_names}
    assert tool_call_reward(completions, **columns) == [1.0, 1.0, 1.0, 1.0]
    # An argument that is wrong stays wrong after the round trip.
    assert tool_call_reward([block("ping", {"x": 1})] * 4, **columns) == [0.0, 0.0, 0.0, 0.5]


def test_tools_as_list_of_json_texts() -> None:
    # Parquet exports store each tool as JSON text (list<arrow.json>); defaults are still read from it.
    text = block(W, {**SF, "units": "metric"})
    assert tool_call_reward([text], reward_model=[_rm(EX)], tools=[[json.dumps(t) for t in TOOLS]]) == [1.0]


def test_lexicon_prefilters_cover_every_phrase() -> None:
    # The cheap trigger scan must never hide a phrase: each phrase contains one of its triggers.
    from training.rewards import scoring as rewards

    for phrases, triggers in (
        (rewards._STRONG_DECLINES, rewards._DECLINE_TRIGGERS),
        (rewards._REQUESTS, rewards._REQUEST_TRIGGERS),
    ):
        assert all(any(t in p for t in triggers) for p in phrases), [
            p for p in phrases if not any(t in p for t in triggers)
        ]

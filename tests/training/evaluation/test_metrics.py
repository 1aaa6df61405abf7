"""Metric tests: a fixed set of completions scored by `score_row`, checked against hand-computed values."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.evaluation.metrics import SampleResult, argument_counts, compare, schema_complexity, summarize
from training.evaluation.run import score_row

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name."},
                "days": {"type": "integer", "description": "Forecast length."},
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
            },
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone.",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                       "required": ["timezone"]},
    },
}


def row(sample_id: str, ground_truth: dict, behavior: str, domain: str) -> dict:
    return {
        "prompt": [{"role": "system", "content": "sys"}, {"role": "user", "content": sample_id}],
        "tools": [WEATHER, TIME],
        "behavior": behavior,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {"sample_id": sample_id, "tool_split": "heldout", "domain": domain, "n_tools": 2},
    }


EXEC = {"tool_call": {"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}}
W = "get_weather"
CLAR = {"clarification": {"tool": "get_weather", "missing": ["city"]}}
REFUSE = {"refusal": {"reason": "harmful"}}


def call(name: str, args: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


# (id, ground truth, completion, predicted, tiered, binary reward, (tp, fp, fn), name right, hallucinated)
CASES = [
    # exact call: full reward, both arguments are true positives
    ("e1", EXEC, call(W, '{"city": "Paris", "days": 3}'), "tool_call", 1.0, 1.0, (2, 0, 0), True, False),
    # right tool, one wrong value: half reward; the wrong pair is a false positive, its expected pair missed
    ("e2", EXEC, call(W, '{"city": "Paris", "days": 5}'), "tool_call", 0.5, 0.0, (1, 1, 1), True, False),
    # an extra argument at its schema default is forgiven by the reward and ignored by the argument F1
    ("e3", EXEC, call(W, '{"city": "Paris", "days": 3, "units": "metric"}'), "tool_call", 1.0, 1.0, (2, 0, 0),
     True, False),
    # another offered tool: no reward; its argument is a false positive, both expected ones are missed
    ("e4", EXEC, call("get_time", '{"timezone": "UTC"}'), "tool_call", 0.0, 0.0, (0, 1, 2), False, False),
    # a tool that was not offered: hallucinated
    ("e5", EXEC, call("book_flight", '{"to": "Paris"}'), "tool_call", 0.0, 0.0, (0, 1, 2), False, True),
    # an unclosed block is malformed, never "no call"
    ("e6", EXEC, '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}', "malformed", 0.0, 0.0,
     (0, 0, 2), False, False),
    # a question where a call was due
    ("e7", EXEC, "Which city?", "clarification", 0.0, 0.0, (0, 0, 2), False, False),
    # asks for the missing city: correct clarification
    ("c1", CLAR, "Which city do you want the forecast for?", "clarification", 1.0, 1.0, (0, 0, 0), False,
     False),
    # calls the tool although the city is missing: a wrong call
    ("c2", CLAR, call(W, '{"city": "Lyon"}'), "tool_call", 0.0, 0.0, (0, 0, 0), False, False),
    # declines instead of asking: half reward
    ("c3", CLAR, "I can't help with that.", "refusal", 0.25, 0.0, (0, 0, 0), False, False),
    # a decline where one is due
    ("r1", REFUSE, "Sorry, I can't help with that.", "refusal", 1.0, 1.0, (0, 0, 0), False, False),
    # a call (to a tool not offered) on a harmful request: wrong call and hallucinated
    ("r2", REFUSE, call("book_flight", '{"to": "Paris"}'), "tool_call", 0.0, 0.0, (0, 0, 0), False, True),
    # a question where a decline was due: the reward's 0.25
    ("r3", REFUSE, "Which city?", "clarification", 0.25, 0.0, (0, 0, 0), False, False),
]
BEHAVIOR = {"e": "execution", "c": "clarification", "r": "refusal"}


def results() -> list[SampleResult]:
    return [score_row(row(c[0], c[1], BEHAVIOR[c[0][0]], "weather" if c[0][0] == "e" else "misc"), c[2])
            for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_score_row_per_case(case: tuple) -> None:
    sid, gt, text, predicted, tiered, binary, counts, name_right, hallucinated = case
    r = score_row(row(sid, gt, BEHAVIOR[sid[0]], "x"), text)
    assert (r.predicted, r.reward, r.reward_binary) == (predicted, tiered, binary), r.reason
    assert (r.arg_tp, r.arg_fp, r.arg_fn) == counts
    assert r.name_correct is name_right
    assert r.hallucinated is hallucinated
    assert (r.schema_depth, r.param_count) == ((None, None) if sid[0] == "r" else (1, 3))


def approx(x: Fraction | float | None) -> object:
    return None if x is None else pytest.approx(float(x))


def test_summary_matches_hand_computed_values() -> None:
    m = summarize(results())
    o = m["overall"]
    assert m["n"] == 13
    # rewards: execution 1+.5+1 = 2.5, clarification 1+.25 = 1.25, refusal 1+.25 = 1.25 -> 5 / 13
    assert o["mean_reward"] == approx(Fraction(500, 1300))
    assert o["accuracy"] == o["mean_reward_binary"] == approx(Fraction(4, 13))  # e1 e3 c1 r1
    assert o["tool_name_accuracy"] == approx(Fraction(3, 7))  # e1 e2 e3 of 7 execution samples
    assert o["arg_exact_match"] == approx(Fraction(2, 3))  # e1 e3 of the 3 with the right name
    # tp 2+1+2 = 5, fp 1 (e2) + 1 (e4) + 1 (e5) = 3, fn 1+2+2+2+2 = 9
    assert (o["arg_precision"], o["arg_recall"]) == (approx(Fraction(5, 8)), approx(Fraction(5, 14)))
    assert o["arg_f1"] == approx(Fraction(10, 22))
    assert o["malformed_rate"] == approx(Fraction(1, 13))
    assert o["hallucinated_tool_rate"] == approx(Fraction(2, 13))  # e5 r2
    assert o["wrong_call_rate"] == approx(Fraction(2, 6))  # c2 r2 of 6 no-call samples

    ex, cl, rf = (m["per_behavior"][b] for b in ("execution", "clarification", "refusal"))
    assert (ex["count"], ex["mean_reward"], ex["accuracy"]) == (7, approx(2.5 / 7), approx(2 / 7))
    assert ex["wrong_call_rate"] is None  # defined on clarification and refusal only
    assert (cl["accuracy"], cl["mean_reward"], cl["wrong_call_rate"]) == (
        approx(1 / 3), approx(1.25 / 3), approx(1 / 3))
    assert cl["tool_name_accuracy"] is None and cl["arg_f1"] is None
    assert (rf["mean_reward"], rf["hallucinated_tool_rate"], rf["wrong_call_rate"]) == (
        approx(1.25 / 3), approx(1 / 3), approx(1 / 3))

    conf = m["confusion"]
    order = ("tool_call", "clarification", "refusal", "direct_answer", "malformed")
    assert tuple(conf["execution"][p] for p in order) == (5, 1, 0, 0, 1)
    assert tuple(conf["clarification"][p] for p in order) == (1, 1, 1, 0, 0)
    assert tuple(conf["refusal"][p] for p in order) == (1, 1, 1, 0, 0)

    s = m["slices"]
    assert s["domain"]["weather"] == {"count": 7, "accuracy": approx(2 / 7), "mean_reward": approx(2.5 / 7)}
    assert s["n_tools"]["2"]["count"] == 13
    assert s["param_count"]["3-4"]["count"] == 10 and s["param_count"]["none"]["count"] == 3
    assert list(s["schema_depth"]) == ["1", "none"]


@pytest.mark.parametrize(
    ("got", "want", "props", "expected"),
    [
        # nothing called: every expected argument is missed
        (None, {"a": 1, "b": 2}, None, (0, 0, 2)),
        # exact: all true positives (5 and 5.0 are the same JSON number)
        ({"a": 1, "b": 2.0}, {"a": 1, "b": 2}, None, (2, 0, 0)),
        # a wrong type is a wrong value (true is not 1)
        ({"a": True}, {"a": 1}, None, (0, 1, 1)),
        # null means "not given" on both sides
        ({"a": 1, "b": None}, {"a": 1, "c": None}, None, (1, 0, 0)),
        # an extra argument at its default is ignored; one off the default is a false positive
        ({"a": 1, "u": "metric"}, {"a": 1}, {"u": {"default": "metric"}}, (1, 0, 0)),
        ({"a": 1, "u": "imperial"}, {"a": 1}, {"u": {"default": "metric"}}, (1, 1, 0)),
        # an expected argument at its default may be left out
        ({"a": 1}, {"a": 1, "u": "metric"}, {"u": {"default": "metric"}}, (1, 0, 0)),
    ],
)
def test_argument_counts(got: dict | None, want: dict, props: dict | None, expected: tuple) -> None:
    assert argument_counts(got, want, props) == expected


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        # no tool (refusal samples)
        (None, (None, None)),
        # no parameters at all
        ({"function": {"name": "f"}}, (1, 0)),
        # flat scalars
        (WEATHER, (1, 3)),
        # an object parameter adds a level
        ({"function": {"parameters": {"type": "object", "properties": {
            "r": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}}, (2, 1)),
        # an array of objects adds two
        ({"function": {"parameters": {"type": "object", "properties": {
            "xs": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
            "n": {"type": "integer"}}}}}, (3, 2)),
    ],
)
def test_schema_complexity(tool: dict | None, expected: tuple) -> None:
    assert schema_complexity(tool) == expected


@pytest.mark.parametrize(
    ("base", "tuned", "expected"),
    [
        # the seed's reference: 65% -> 86% accuracy; reward 0.7 -> 0.91 is +30%
        ((0.65, 0.7), (0.86, 0.91), {"accuracy_delta": 0.21, "relative_reward_increase": 0.3}),
        # a base with zero reward has no relative increase
        ((0.0, 0.0), (0.5, 0.6), {"accuracy_delta": 0.5, "relative_reward_increase": None}),
        # a regression is negative
        ((0.5, 0.8), (0.4, 0.6), {"accuracy_delta": -0.1, "relative_reward_increase": -0.25}),
    ],
)
def test_compare(base: tuple, tuned: tuple, expected: dict) -> None:
    got = compare({"overall": {"accuracy": base[0], "mean_reward": base[1]}},
                  {"overall": {"accuracy": tuned[0], "mean_reward": tuned[1]}})
    for key, value in expected.items():
        assert got[key] == (None if value is None else pytest.approx(value))


sample_results = st.builds(
    SampleResult,
    sample_id=st.just("s"),
    expected=st.sampled_from(["execution", "clarification", "refusal"]),
    predicted=st.sampled_from(["tool_call", "clarification", "refusal", "direct_answer", "malformed"]),
    reward=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    reward_binary=st.sampled_from([0.0, 1.0]),
    reason=st.just(""),
    called=st.lists(st.sampled_from(["f", "g", "x"]), max_size=2).map(tuple),
    expected_calls=st.sampled_from([(), ("f",)]),
    offered=st.just(("f", "g")),
    arg_tp=st.integers(0, 3), arg_fp=st.integers(0, 3), arg_fn=st.integers(0, 3),
    n_tools=st.integers(1, 6),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(sample_results, max_size=30))
def test_summary_invariants(items: list[SampleResult]) -> None:
    m = summarize(items)
    assert m["n"] == len(items)
    assert sum(sum(row.values()) for row in m["confusion"].values()) == len(items)
    for group in (m["overall"], *m["per_behavior"].values()):
        for key, value in group.items():
            if key != "count" and value is not None:
                assert 0.0 <= value <= 1.0, key
    assert sum(v["count"] for v in m["per_behavior"].values()) == len(items)
    for sliced in m["slices"].values():
        assert sum(v["count"] for v in sliced.values()) == len(items)

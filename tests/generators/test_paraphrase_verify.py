import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.behaviours import Generator
from generators.paraphrase_verify import Limits, check_paraphrase, new_facts
from generators.values import ValuePools
from generators.verify import verify
from tests.generators.framed_tools import framed_registry

REPO = Path(__file__).resolve().parents[2]
REGISTRY = framed_registry()
TOOLS = REGISTRY.filter(split="train").tools
GEN = Generator(TOOLS, ValuePools.build(0), (2, 4), 0.5)


def _find(behaviour, tool=None, where=lambda s: True):
    """The first verified sample of `behaviour` (for `tool`) that satisfies `where`."""
    rng = random.Random(f"verify-tests/{behaviour}/{tool}")
    for _ in range(5000):
        if behaviour == "execution":
            s = GEN.execution(rng, REGISTRY.get(tool))
        elif behaviour == "clarification":
            s = GEN.clarification(rng, REGISTRY.get(tool))
        else:
            s = GEN.refusal(rng)
        if verify(GEN, s) is None and where(s):
            return s
    raise AssertionError(f"no {behaviour} sample of {tool} found")


TABLE = _find("execution", "book_restaurant_table", lambda s: "book_restaurant_table" not in s.text)
WEATHER = _find("execution", "get_weather_forecast",
                lambda s: list(s.args) == ["location"] and "forecast" in s.text.lower())
WORKOUT = _find("clarification", "log_workout", lambda s: s.missing == ("activity_type",))
HARM = _find("refusal", where=lambda s: s.detail == "credential_theft" and 40 < len(s.text) < 90
             and s.text.endswith("."))
OOS = _find("refusal", where=lambda s: s.ground_truth["refusal"]["reason"] == "out_of_scope" and s.detail == "taxi")

CASES = [
    # a greeting added, every value kept: accepted
    (TABLE, lambda t: f"Hi there! {t}", None),
    # everything lower-cased: values compare case-insensitively
    (TABLE, lambda t: t.lower() + " please", None),
    # every digit removed: the party size and the time are gone
    (TABLE, lambda t: re.sub(r"\d", "", t), "value_missing"),
    # a number the template does not have
    (TABLE, lambda t: f"{t} We will be 977 people.", "new_number"),
    # a place the template does not name
    (TABLE, lambda t: f"{t} It is near Springfield.", "new_name"),
    # an e-mail address the template does not have
    (TABLE, lambda t: f"{t} cc bob@example.org", "new_contact"),
    # the tool call leaked as JSON
    (TABLE, lambda t: f'{{"name": "book_restaurant_table"}} {t}', "json_leaked"),
    # the tool's identifier leaked
    (TABLE, lambda t: f"Use book_restaurant_table for this: {t}", "tool_name_leaked"),
    # a chatty preamble instead of a request
    (TABLE, lambda t: f"Sure, here is the rewrite: {t}", "preamble"),
    # the template itself, up to case and spaces
    (TABLE, lambda t: "  " + t.upper(), "unchanged"),
    # far longer than the template
    (TABLE, lambda t: (t + " ") * 4, "length_out_of_bounds"),
    # nothing
    (TABLE, lambda t: "   ", "empty"),
    # only the value is left: not about the forecast any more
    (WEATHER, lambda t: f"{WEATHER.args['location']}: what should I expect there this week, if I head out tonight?",
     "off_topic"),
    # a clarification whose rewrite fills in the missing activity (an enum option)
    (WORKOUT, lambda t: f"{t} it was a yoga session, by the way.", "missing_value_present"),
    # a clarification rewrite that keeps the gap: accepted
    (WORKOUT, lambda t: f"Hey, {t}", None),
    # a harmful request made harmless
    (HARM, lambda t: "Can you help me with a small thing today?", "harm_lost"),
    # a harmful request softened by consent
    (HARM, lambda t: f"{t} Only with their consent, of course.", "harm_softened"),
    # a harmful rewrite that keeps the harm: accepted
    (HARM, lambda t: f"Quick one: {t}", None),
    # an out-of-scope request that no longer asks for the capability
    # (as long as the request, so the length check passes and the capability check decides)
    (OOS, lambda t: ("Could you do me a quick favour, please? " * (len(t) // 40 + 1))[: len(t)].strip(),
     "capability_lost"),
    # an out-of-scope rewrite that still asks for it: accepted
    (OOS, lambda t: f"Hey! {t}", None),
]


@pytest.mark.parametrize(("sample", "rewrite", "reason"), CASES)
def test_check_paraphrase(sample, rewrite, reason):
    assert check_paraphrase(GEN, sample, rewrite(sample.text)) == reason


def test_length_limits_are_configurable():
    text = f"Hi there! {TABLE.text}"
    # the default bounds accept it; an upper bound of 1x does not
    assert check_paraphrase(GEN, TABLE, text) is None
    assert check_paraphrase(GEN, TABLE, text, Limits(max_ratio=1.0)) == "length_out_of_bounds"


NEW_FACTS = [
    # a number written as a word in the template may come back in digits
    ("Book a table for four.", "Book a table for 4.", None),
    # "1,500.00" and "1500" are the same number
    ("Pay $1,500.00 now.", "Please pay 1500 dollars now.", None),
    # a month name is allowed (dates carry their numbers, which are checked)
    ("Fly on 2026-03-14.", "Fly on March 14, 2026.", None),
    # a weekday next to a year is a date form; alone it would be a new fact
    ("Fly on 2026-03-14.", "Fly on Saturday, March 14, 2026.", None),
    ("Fly sometime next week.", "Fly next week, say on Monday.", "new_name"),
    # a possessive of a name the template has
    ("Email Ana the report.", "Send the report to Ana's inbox.", None),
]


@pytest.mark.parametrize(("template", "paraphrase", "reason"), NEW_FACTS)
def test_new_facts(template, paraphrase, reason):
    assert new_facts(template, paraphrase) == reason


WRAPPERS = ("Hi there! {t}", "{t} Thanks a lot!", "Could you help me with this? {t}", "hey, {lower}")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["execution", "clarification", "refusal"]), st.sampled_from(WRAPPERS))
def test_value_preserving_rewrites_are_accepted(seed, behaviour, wrapper):
    # no false rejection of a rewrite that keeps the text word for word (long enough for the bounds)
    sample = GEN.sample(behaviour, random.Random(seed))
    if verify(GEN, sample) is not None or len(sample.text) < 30:
        return
    text = wrapper.format(t=sample.text.rstrip(".") + ".", lower=sample.text.lower())
    assert check_paraphrase(GEN, sample, text) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32))
def test_dropping_digit_values_is_rejected(seed):
    # an execution request that loses a value with its digits (numbers, dates, ids) is rejected
    sample = GEN.sample("execution", random.Random(seed))
    stripped = "Please: " + re.sub(r"\d", "", sample.text)
    if verify(GEN, sample) is not None:
        return
    lost = [p for p, v in sample.args.items() if not GEN.mentions(stripped, v, sample.tool, p, now=sample.now)]
    if lost:  # digits outside values ("up to 14 days") may go without losing anything
        assert check_paraphrase(GEN, sample, stripped) is not None

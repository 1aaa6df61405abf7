import datetime as dt
import random
import re

import pytest

from generators.dates import MONTHS, sample_now
from generators.surface import mentions, surface

DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
TIME = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
NOW = dt.datetime(2026, 3, 5, 9, 40)  # Thursday
ISO = re.compile(r"\d{4}-\d{2}-\d{2}|T\d{2}:")


@pytest.mark.parametrize(
    ("text", "value", "schema", "expected"),
    [
        ("book it for tomorrow", "2026-03-06", DATE, True),
        ("book it for the day after tomorrow", "2026-03-06", DATE, False),  # not tomorrow
        ("book it for the day after tomorrow", "2026-03-07", DATE, True),
        ("this Friday please", "2026-03-06", DATE, True),
        ("next Friday please", "2026-03-06", DATE, False),  # next Friday is the 13th on a Thursday
        ("next Friday please", "2026-03-13", DATE, True),
        ("friday works", "2026-03-06", DATE, True),  # a bare weekday: the coming one
        ("a week from today", "2026-03-05", DATE, False),  # not today
        ("a week from today", "2026-03-12", DATE, True),
        ("in two weeks", "2026-03-19", DATE, True),
        ("on the 14th", "2026-03-14", DATE, True),
        ("on the 14th of April", "2026-03-14", DATE, False),  # another month
        ("on 14 March", "2026-03-14", DATE, True),
        ("on 14 March 2027", "2026-03-14", DATE, False),  # another year
        ("on March 14th, 2026", "2026-03-14", DATE, True),
        ("from 14 March to 20 March", "2026-03-14", DATE, True),
        ("checking in tonight", "2026-03-05", DATE, True),
        ("tomorrow at 3pm", "2026-03-06T15:00:00Z", DATETIME, True),
        ("at 3 pm tomorrow", "2026-03-06T15:00:00Z", DATETIME, True),
        ("tomorrow at 4pm", "2026-03-06T15:00:00Z", DATETIME, False),  # another time
        ("the day after tomorrow at 3pm", "2026-03-06T15:00:00Z", DATETIME, False),  # another day
        ("tonight at 8", "2026-03-05T20:00:00Z", DATETIME, True),
        ("this evening at 7:30", "2026-03-05T19:30:00Z", DATETIME, True),
        ("tonight at 8", "2026-03-06T20:00:00Z", DATETIME, False),
        ("next Friday at noon", "2026-03-13T12:00:00Z", DATETIME, True),
        ("leaving after 3pm", "15:00", TIME, True),
        ("leaving after 3:30 pm", "15:30", TIME, True),
        ("yesterday", "2026-03-04", DATE, True),
        ("last Friday", "2026-02-27", DATE, True),
        ("three days ago", "2026-03-02", DATE, True),
        # forms added for variety (said on Thursday 5 March)
        ("this coming Saturday", "2026-03-07", DATE, True),
        ("Friday next week", "2026-03-13", DATE, True),
        ("Friday next week", "2026-03-06", DATE, False),  # not this week's
        ("next week on Friday", "2026-03-06", DATE, False),
        ("in a fortnight", "2026-03-19", DATE, True),
        ("twelve days from now", "2026-03-17", DATE, True),
        ("in twelve days", "2026-03-16", DATE, False),  # another day
        ("on Sat 14 Mar", "2026-03-14", DATE, True),
        ("on Mar 14", "2026-03-14", DATE, True),
        ("on Mar 14th", "2026-03-15", DATE, False),
        ("tomorrow at 3 in the afternoon", "2026-03-06T15:00:00Z", DATETIME, True),
        ("tomorrow at 3 in the afternoon", "2026-03-06T03:00:00Z", DATETIME, False),  # afternoon, not 3am
        ("at 9 in the morning next Friday", "2026-03-13T09:00:00Z", DATETIME, True),
        ("at midday tomorrow", "2026-03-06T12:00:00Z", DATETIME, True),
        ("leaving after 7 in the evening", "19:00", TIME, True),
    ],
)
def test_mentions_with_now(text, value, schema, expected):
    assert mentions(text, value, schema, name="when", now=NOW) is expected


def test_relative_forms_need_now():
    # without a current date, "tomorrow" carries nothing
    assert not mentions("tomorrow", "2026-03-06", DATE)
    assert mentions("March 6th, 2026", "2026-03-06", DATE)


@pytest.mark.parametrize("schema", [DATE, DATETIME])
def test_surface_round_trip_with_now(schema):
    rng = random.Random(0)
    relative = 0
    for _ in range(2000):
        now = sample_now(rng)
        delta = dt.timedelta(days=rng.randint(-30, 200) if rng.random() < 0.3 else rng.randint(-3, 21))
        if schema is DATE:
            value = (now.date() + delta).isoformat()
            other = (now.date() + delta + dt.timedelta(days=rng.choice((1, 2, 7, 365)))).isoformat()
        else:
            when = dt.datetime.combine(now.date() + delta, dt.time(rng.randint(7, 22), rng.choice((0, 15, 30))))
            value = when.strftime("%Y-%m-%dT%H:%M:00Z")
            other = (when + dt.timedelta(hours=rng.choice((1, 24, 12)))).strftime("%Y-%m-%dT%H:%M:00Z")
        text = surface(value, schema, "when", rng, now=now)
        assert not ISO.search(text) and "UTC" not in text, text
        assert mentions(f"Please do it {text}.", value, schema, name="when", now=now), (now, value, text)
        assert not mentions(f"Please do it {text}.", other, schema, name="when", now=now), (now, value, other, text)
        relative += not any(m in text for m in MONTHS)
    assert relative > 800  # a good share of relative forms when the day is near


def test_surface_without_now_is_absolute_and_natural():
    rng = random.Random(1)
    for value, schema in (("2026-03-14", DATE), ("2026-03-14T15:30:00Z", DATETIME)):
        for _ in range(200):
            text = surface(value, schema, "start", rng)
            assert "2026" in text and not ISO.search(text) and "UTC" not in text, text
            assert mentions(text, value, schema, name="start")


def test_utc_only_for_a_utc_parameter():
    schema = {"type": "string", "format": "date-time", "description": "Start time in UTC."}
    texts = {surface("2026-03-14T15:30:00Z", schema, "start_utc", random.Random(i)) for i in range(50)}
    assert all(t.endswith(" UTC") for t in texts)


def test_enum_values_are_humanised():
    schema = {"type": "string", "enum": ["in_person", "video_call", "PHONE_SCREEN"]}
    seen = {surface(v, schema, "mode", random.Random(i)) for i in range(20) for v in schema["enum"]}
    assert seen == {"in person", "video call", "phone screen"}
    assert all(mentions(s, v, schema) for s, v in zip(["in person", "video call", "phone screen"],
                                                      schema["enum"], strict=True))

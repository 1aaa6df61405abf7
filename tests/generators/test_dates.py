import datetime as dt
import random

import pytest

from generators.dates import (
    datetime_phrases,
    day_phrases,
    render_date,
    render_datetime,
    resolve,
    sample_now,
    time_phrases,
    today_line,
)

D = dt.date
# The week of Monday 2 March 2026, at 10:00 each day.
WEEK = [dt.datetime(2026, 3, 2 + i, 10, 0) for i in range(7)]
NONE = None

# phrase -> expected date said on Monday ... Sunday of that week (None: the phrase is not used that day).
WEEKDAY_TABLE = {
    "today": [D(2026, 3, 2 + i) for i in range(7)],
    "tonight": [D(2026, 3, 2 + i) for i in range(7)],  # tonight is today
    "this evening": [D(2026, 3, 2 + i) for i in range(7)],
    "tomorrow": [D(2026, 3, 3 + i) for i in range(7)],
    "the day after tomorrow": [D(2026, 3, 4 + i) for i in range(7)],
    "yesterday": [D(2026, 3, 1 + i) for i in range(7)],
    "in three days": [D(2026, 3, 5 + i) for i in range(7)],
    "in two weeks": [D(2026, 3, 16 + i) for i in range(7)],
    "a week from today": [D(2026, 3, 9 + i) for i in range(7)],
    # the current week's Friday while it is ahead; from Friday on, not used
    "this Friday": [D(2026, 3, 6)] * 4 + [NONE] * 3,
    # the Friday of the following week, whatever today is (on Thursday: 8 days, not tomorrow)
    "next Friday": [D(2026, 3, 13)] * 7,
    "next Monday": [D(2026, 3, 9)] * 7,
    # a bare weekday: the next one strictly after today
    "on Friday": [D(2026, 3, 6)] * 4 + [D(2026, 3, 13)] * 3,
    "Monday": [D(2026, 3, 9)] * 7,
    "last Friday": [D(2026, 2, 27)] * 7,  # the previous week's
    # the next 14th strictly after today; the next 14 March on or after today
    "on the 14th": [D(2026, 3, 14)] * 7,
    "on 14 March": [D(2026, 3, 14)] * 7,
    "March 14th": [D(2026, 3, 14)] * 7,
    "on the 14th of March": [D(2026, 3, 14)] * 7,
    "the 3rd": [D(2026, 3, 3)] + [D(2026, 4, 3)] * 6,  # on the 3rd itself: next month
    # "this coming Friday" is a bare weekday: the next one strictly after today
    "this coming Friday": [D(2026, 3, 6)] * 4 + [D(2026, 3, 13)] * 3,
    # "Friday next week" / "next week on Friday" are "next Friday": the following week's
    "Friday next week": [D(2026, 3, 13)] * 7,
    "next week on Monday": [D(2026, 3, 9)] * 7,
    "in a fortnight": [D(2026, 3, 16 + i) for i in range(7)],
    "two weeks from today": [D(2026, 3, 16 + i) for i in range(7)],
    "in twelve days": [D(2026, 3, 14 + i) for i in range(7)],
    "five days from now": [D(2026, 3, 7 + i) for i in range(7)],
    "eleven days ago": [D(2026, 2, 19 + i) for i in range(7)],
    "in four weeks": [D(2026, 3, 30), D(2026, 3, 31)] + [D(2026, 4, 1 + i) for i in range(5)],
    # a weekday before a date must be that date's (14 March 2026 is a Saturday)
    "on Saturday 14 March": [D(2026, 3, 14)] * 7,
    "on Sat 14 Mar": [D(2026, 3, 14)] * 7,
    "on Friday 14 March": [NONE] * 7,
    "on Mar 14": [D(2026, 3, 14)] * 7,
    "on March the 14th": [D(2026, 3, 14)] * 7,
}


@pytest.mark.parametrize("phrase", list(WEEKDAY_TABLE))
@pytest.mark.parametrize("day", range(7), ids=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
def test_relative_forms_from_each_weekday(phrase, day):
    assert resolve(phrase, WEEK[day]) == WEEKDAY_TABLE[phrase][day]


@pytest.mark.parametrize(
    ("now", "phrase", "past", "expected"),
    [
        # month ends: the next 30th/31st skips months without one
        (dt.datetime(2026, 1, 31, 9), "tomorrow", False, D(2026, 2, 1)),
        (dt.datetime(2026, 1, 31, 9), "on the 30th", False, D(2026, 3, 30)),
        (dt.datetime(2026, 1, 31, 9), "the 31st", False, D(2026, 3, 31)),
        (dt.datetime(2026, 4, 30, 9), "the 31st", False, D(2026, 5, 31)),
        (dt.datetime(2026, 4, 30, 9), "in two weeks", False, D(2026, 5, 14)),
        (dt.datetime(2026, 3, 31, 9), "the 31st", True, D(2026, 1, 31)),  # past: the last 31st before today
        # year end (Thursday 31 December 2026)
        (dt.datetime(2026, 12, 31, 9), "tomorrow", False, D(2027, 1, 1)),
        (dt.datetime(2026, 12, 31, 9), "next Monday", False, D(2027, 1, 4)),
        (dt.datetime(2026, 12, 31, 9), "on 2 January", False, D(2027, 1, 2)),
        (dt.datetime(2026, 12, 31, 9), "the 5th", False, D(2027, 1, 5)),
        (dt.datetime(2026, 12, 31, 9), "in two weeks", False, D(2027, 1, 14)),
        (dt.datetime(2027, 1, 2, 9), "on 30 December", True, D(2026, 12, 30)),  # past context
        # Saturday 2 January: "last Monday" is the previous week's (21 December), not this week's 28th
        (dt.datetime(2027, 1, 2, 9), "last Monday", False, D(2026, 12, 21)),
        # leap day (29 February 2028, a Tuesday)
        (dt.datetime(2028, 2, 27, 9), "the day after tomorrow", False, D(2028, 2, 29)),
        (dt.datetime(2028, 2, 27, 9), "on 29 February", False, D(2028, 2, 29)),
        (dt.datetime(2028, 2, 27, 9), "the 29th", False, D(2028, 2, 29)),
        (dt.datetime(2027, 2, 27, 9), "the 29th", False, D(2027, 3, 29)),  # 2027 has no 29 February
        (dt.datetime(2027, 2, 27, 9), "on 29 February", False, D(2028, 2, 29)),
        (dt.datetime(2028, 2, 29, 9), "tomorrow", False, D(2028, 3, 1)),
        (dt.datetime(2028, 3, 1, 9), "yesterday", False, D(2028, 2, 29)),
        (dt.datetime(2028, 3, 1, 9), "on 29 February", True, D(2028, 2, 29)),
        (dt.datetime(2028, 2, 22, 9), "next Tuesday", False, D(2028, 2, 29)),
        # an explicit year is taken as said
        (dt.datetime(2026, 3, 5, 9), "on March 14th, 2027", False, D(2027, 3, 14)),
        (dt.datetime(2026, 3, 5, 9), "on Sunday, March 14th, 2027", False, D(2027, 3, 14)),
        # not a form
        (dt.datetime(2026, 3, 5, 9), "sometime next week", False, None),
        (dt.datetime(2026, 3, 5, 9), "on the 32nd", False, None),
    ],
)
def test_calendar_edges(now, phrase, past, expected):
    assert resolve(phrase, now, past=past) == expected


NOW = dt.datetime(2026, 3, 5, 10, 0)  # Thursday


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow at 3pm", dt.datetime(2026, 3, 6, 15, 0)),
        ("at 3:30 pm tomorrow", dt.datetime(2026, 3, 6, 15, 30)),
        ("3pm tomorrow", dt.datetime(2026, 3, 6, 15, 0)),
        ("noon tomorrow", dt.datetime(2026, 3, 6, 12, 0)),
        ("tonight at 8", dt.datetime(2026, 3, 5, 20, 0)),  # a bare hour after "tonight" is evening
        ("at 8 tonight", dt.datetime(2026, 3, 5, 20, 0)),
        ("this evening at 7:30", dt.datetime(2026, 3, 5, 19, 30)),
        ("this afternoon at 3", dt.datetime(2026, 3, 5, 15, 0)),
        ("next Friday at 09:15", dt.datetime(2026, 3, 13, 9, 15)),
        ("on the 14th at 18:00", dt.datetime(2026, 3, 14, 18, 0)),
        ("today at 8", None),  # a bare hour with nothing saying morning or evening
        ("tomorrow at 25:00", None),
        # the part of the day says which half of the clock
        ("tomorrow at 3 in the afternoon", dt.datetime(2026, 3, 6, 15, 0)),
        ("at 9 in the morning on the 14th", dt.datetime(2026, 3, 14, 9, 0)),
        ("at 7:30 in the evening tomorrow", dt.datetime(2026, 3, 6, 19, 30)),
        ("tomorrow at midday", dt.datetime(2026, 3, 6, 12, 0)),
        ("tomorrow at 9 in the afternoon", None),  # no such afternoon hour
        ("tomorrow at 2 in the evening", None),
        ("at 10 in the morning Friday next week", dt.datetime(2026, 3, 13, 10, 0)),
    ],
)
def test_times_of_day(phrase, expected):
    assert resolve(phrase, NOW) == expected


def test_rendered_day_forms_resolve_back():
    # Every form the renderer offers, for targets from 60 days back to 400 ahead, resolves to its target.
    rng = random.Random(0)
    for _ in range(150):
        now = sample_now(rng)
        for delta in range(-60, 400, 3):
            day = now.date() + dt.timedelta(days=delta)
            rel, absolute = day_phrases(now.date(), day)
            for form in rel + absolute:
                assert resolve(form, now, past=delta < 0) == day, (now, day, form)


def test_rendered_datetime_forms_resolve_back():
    rng = random.Random(1)
    for _ in range(300):
        now = sample_now(rng)
        when = dt.datetime.combine(now.date() + dt.timedelta(days=rng.randint(0, 20)),
                                   dt.time(rng.randint(0, 23), rng.choice((0, 15, 30, 45))))
        for form in datetime_phrases(now, when):
            assert resolve(form, now, past=when < now) == when, (now, when, form)


@pytest.mark.parametrize(
    ("today", "target", "present", "absent"),
    [
        (D(2026, 3, 5), D(2026, 3, 6), {"tomorrow", "this Friday", "on Friday"}, {"next Friday"}),
        (D(2026, 3, 5), D(2026, 3, 13), {"next Friday", "on the 13th"}, {"this Friday", "on Friday"}),
        # next Monday on a Thursday is ambiguous (4 or 11 days): never rendered
        (D(2026, 3, 5), D(2026, 3, 9), {"on Monday"}, {"next Monday", "this Monday"}),
        (D(2026, 3, 5), D(2026, 3, 19), {"in two weeks"}, set()),
        # past days: never a bare weekday or "the 4th" (they would also fit a day ahead)
        (D(2026, 3, 5), D(2026, 3, 4), {"yesterday"}, {"last Wednesday", "on Wednesday", "on the 4th"}),
        (D(2026, 7, 16), D(2026, 3, 14), {"on 14 March 2026"}, {"on 14 March"}),  # 4 months back: the year
        (D(2026, 3, 5), D(2027, 3, 4), {"on 4 March 2027"}, {"on 4 March"}),  # a year ahead: say the year
    ],
)
def test_renderer_offers_only_unambiguous_forms(today, target, present, absent):
    rel, absolute = day_phrases(today, target)
    forms = set(rel) | set(absolute)
    assert present <= forms and not (absent & forms), forms


def test_datetime_clock_forms_are_drawn_apart_from_the_day():
    # Each clock form occurs beside the same day form (the old renderer tied the clock to the day form's length).
    now, when = dt.datetime(2026, 3, 5, 9, 40), dt.datetime(2026, 3, 6, 15, 0)
    rng = random.Random(0)
    said = {render_datetime(when, rng, now) for _ in range(400)}
    for clock in time_phrases(15, 0):
        assert f"tomorrow at {clock}" in said and f"at {clock} tomorrow" in said, clock
    assert said <= set(datetime_phrases(now, when))


def test_sample_now_is_plausible_and_seeded():
    nows = [sample_now(random.Random(i)) for i in range(500)]
    assert all(dt.date(2026, 1, 1) <= n.date() <= dt.date(2027, 12, 31) for n in nows)
    assert all(n.minute % 5 == 0 and 7 <= n.hour <= 22 for n in nows)
    assert len({n.date() for n in nows}) > 300  # varied per sample
    assert sample_now(random.Random(3)) == sample_now(random.Random(3))


def test_today_line_and_clock_forms():
    assert today_line(dt.datetime(2026, 3, 3, 9, 40)) == "Today is Tuesday, 3 March 2026, 09:40."
    assert today_line(dt.datetime(2028, 2, 29, 21, 5)) == "Today is Tuesday, 29 February 2028, 21:05."
    assert time_phrases(12, 0)[0] == "noon" and "3:30 pm" in time_phrases(15, 30)
    assert "midday" in time_phrases(12, 0) and "3:30 in the afternoon" in time_phrases(15, 30)
    assert "9 in the morning" in time_phrases(9, 0) and not any("in the" in f for f in time_phrases(23, 0))


def test_renderings_are_natural():
    rng = random.Random(2)
    for _ in range(300):
        now = sample_now(rng)
        day = now.date() + dt.timedelta(days=rng.randint(0, 90))
        when = dt.datetime.combine(day, dt.time(rng.randint(8, 21), rng.choice((0, 30))))
        for text in (render_date(day, rng, now), render_datetime(when, rng, now), render_date(day, rng),
                     render_datetime(when, rng)):
            assert "UTC" not in text and "-" not in text and "T" not in text.replace("Thu", "").replace("Tue", ""), text

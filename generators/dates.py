"""Dates and times as people say them, relative to a stated current date-time.

A sample carries a `now` (`sample_now`), the system message states it (`today_line`), and a request
says a date the way a person does: "tomorrow at 3pm", "next Friday", "in two weeks", "on the 14th".
`day_phrases` / `datetime_phrases` list the forms that denote a target from `now`; `resolve` is their
inverse and the executable statement of the rules below (the tests check every rendered form resolves
back to its target).

Resolution rules (weeks run Monday to Sunday; "today" is `now.date()`):

- "today", "tonight", "this morning / afternoon / evening": today. "tomorrow": +1 day. "the day after
  tomorrow": +2. "yesterday": -1. "the day before yesterday": -2.
- "in N days", "N days from now" / "N days ago": +N / -N (N in digits or words up to thirteen). "in a
  week", "a week from today": +7. "in N weeks", "N weeks from now": +7N; "in a fortnight", "two weeks
  from today": +14. "a week ago", "N weeks ago": -7N.
- "Friday", "on Friday", "this coming Friday": the next Friday strictly after today (1-7 days ahead); in a past context
  (a log, a report: `resolve(..., past=True)`), the last Friday strictly before today.
- "this Friday": the Friday of the current week, when it is still ahead (otherwise the phrase is not
  used and does not resolve).
- "next Friday": the Friday of the following week. So on a Thursday "next Friday" is 8 days ahead and
  "this Friday" is tomorrow; on a Monday "next Friday" is 11 days ahead. Rendering only uses it when it
  is also at least 7 days ahead (the Friday after the coming one), where the readings people use agree.
  "Friday next week" and "next week on Friday" are "next Friday".
- "last Friday": the Friday of the previous week; rendered only when that is also the most recent one.
- "the 14th", "on the 14th": the next 14th strictly after today (skipping months without one); past
  context: the last 14th strictly before today.
- "14 March", "March 14th", "Mar 14", "March the 14th", "the 14th of March": the next 14 March on or after
  today; past context: the last one on or before today. With a year ("14 March 2027") exactly that day.
  A weekday before a date ("Saturday 14 March", "Sat 14 Mar") must be that date's weekday, or the
  phrase does not resolve.
- A time of day ("at 3pm", "at 15:30", "at noon", "at midday", "3pm tomorrow", "at 3 in the afternoon")
  makes a date-time; "in the morning" is 1-11, "in the afternoon" 1-6 (13:00-18:00), "in the evening"
  5-11 (17:00-23:00); after "tonight", "this afternoon" or "this evening" a bare hour below 12 is
  afternoon/evening ("tonight at 8" = 20:00).

Rendering only produces phrases that resolve uniquely to the target under these rules, whichever
direction the listener assumes: past days are said as "yesterday", "three days ago", "last Friday" or
a date, never as a bare weekday or "the 14th".
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUM_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
              "twelve", "thirteen")
NOW_RANGE = (dt.date(2026, 1, 1), dt.date(2027, 12, 31))
# Hours at which people are awake and typing requests, weighted toward the working day.
_NOW_HOURS = (7, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 16, 17, 18, 19, 20, 21, 22)
# Yearless absolute dates ("14 March") are said up to this far ahead / back; beyond, with the year.
# The two sum to under a year, so a yearless form never fits both the next and the last 14 March.
YEARLESS_AHEAD_DAYS, YEARLESS_BACK_DAYS = 270, 90


def ordinal(n: int) -> str:
    """`14` -> "14th", `22` -> "22nd"."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def sample_now(rng: random.Random) -> dt.datetime:
    """A plausible current date-time for one sample: a day in 2026-2027, a waking hour, minutes by fives.

    >>> sample_now(random.Random(0)).minute % 5
    0
    """
    year, month, day = _NOW_DAYS[int(rng.random() * len(_NOW_DAYS))]
    hour = _NOW_HOURS[int(rng.random() * len(_NOW_HOURS))]
    minute = 5 * int(rng.random() * 12)
    return dt.datetime(year, month, day, hour, minute)


# Every day of NOW_RANGE as (year, month, day): one index per sample instead of date + timedelta arithmetic.
_NOW_DAYS = tuple((d.year, d.month, d.day) for d in (
    NOW_RANGE[0] + dt.timedelta(days=i) for i in range((NOW_RANGE[1] - NOW_RANGE[0]).days + 1)))


def today_line(now: dt.datetime) -> str:
    """The system message's statement of the current date and time.

    >>> today_line(dt.datetime(2026, 3, 3, 9, 40))
    'Today is Tuesday, 3 March 2026, 09:40.'
    """
    # Fields, not `{now:%H:%M}`: datetime.__format__ goes through strftime (~2 µs a sample).
    return (f"Today is {WEEKDAYS[now.weekday()]}, {now.day} {MONTHS[now.month - 1]} {now.year}, "
            f"{now.hour:02d}:{now.minute:02d}.")


# --- rendering ---------------------------------------------------------------------------------------


def _next_dom(today: dt.date, dom: int, past: bool) -> dt.date | None:
    # The next (or last) date strictly after (before) today whose day of month is `dom`.
    y, m = today.year, today.month
    for _ in range(14):
        try:
            cand = dt.date(y, m, dom)
        except ValueError:
            cand = None
        if cand is not None and (cand < today if past else cand > today):
            return cand
        m += -1 if past else 1
        if m == 0:
            y, m = y - 1, 12
        elif m == 13:
            y, m = y + 1, 1
    return None


def _month_day(today: dt.date, month: int, dom: int, past: bool) -> dt.date | None:
    # The next (last) `dom` of `month` on or after (before) today; 29 February skips to a leap year.
    for k in range(9):
        year = today.year - k if past else today.year + k
        try:
            cand = dt.date(year, month, dom)
        except ValueError:
            continue
        if (cand <= today) if past else (cand >= today):
            return cand
    return None


def absolute_phrases(day: dt.date, year: bool) -> tuple[str, ...]:
    """Absolute forms of `day`, with or without the year ("on 14 March", "on March 14th, 2026")."""
    month, d = MONTHS[day.month - 1], day.day
    if year:
        y = day.year
        return (f"on {d} {month} {y}", f"on {month} {ordinal(d)}, {y}", f"on {month} {d}, {y}",
                f"on {month[:3]} {d}, {y}", f"on {WEEKDAYS[day.weekday()]}, {month} {ordinal(d)}, {y}",
                f"on {d} {month[:3]} {y}")
    wd = WEEKDAYS[day.weekday()]
    # ("the 14th of March" is understood but not said: with "the 14th" it made "on the N th" the commonest
    # words of a request once values are masked)
    return (f"on {d} {month}", f"on {month} {ordinal(d)}", f"on {month} {d}", f"on {wd} {d} {month}",
            f"on {d} {month[:3]}", f"on {month[:3]} {d}",
            f"on {wd}, {month} {d}", f"on {wd[:3]} {d} {month[:3]}")


@functools.lru_cache(maxsize=65536)
def day_phrases(today: dt.date, day: dt.date) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The forms a person uses for `day`, said on `today`.

    Args:
        today: The current date.
        day: The target date.

    Returns:
        (relative forms, absolute forms), display case. Relative forms are adverbials that carry
        their own preposition where English needs one ("tomorrow", "next Friday", "on the 14th");
        absolute forms are yearless within `YEARLESS_AHEAD_DAYS` ahead / `YEARLESS_BACK_DAYS` back
        ("on 14 March"), with the year beyond. Every form resolves to `day` by the module's rules,
        in the direction of `day` (past targets in a past context); bare weekdays and "the 14th" are
        only said of future days, so no form means one day looking ahead and another looking back.

    >>> day_phrases(dt.date(2026, 3, 5), dt.date(2026, 3, 13))[0]
    ('next Friday', 'Friday next week', 'in eight days', 'eight days from now', 'on the 13th')
    """
    delta = (day - today).days
    past = delta < 0
    rel: list[str] = []
    wd, twd = today.weekday(), day.weekday()
    name = WEEKDAYS[twd]
    if delta == 0:
        rel += ["today"]
    elif delta == 1:
        rel += ["tomorrow"]
    elif delta == 2:
        rel += ["the day after tomorrow"]
    elif delta == -1:
        rel += ["yesterday"]
    elif delta == -2:
        rel += ["the day before yesterday"]
    if 1 <= delta <= 6:
        rel.append(f"on {name}")
        rel.append(f"this coming {name}")
        if twd > wd:
            rel.append(f"this {name}")
    if 7 <= delta <= 13 and twd >= wd:
        rel += [f"next {name}", f"{name} next week"]
    if -7 <= delta <= -1 and twd >= wd:
        rel.append(f"last {name}")
    n = abs(delta)
    if 2 <= n <= 13 and n != 7:
        word = _NUM_WORDS[n]
        rel += [f"in {word} days", f"{word} days from now"] if delta > 0 else [f"{word} days ago"]
    if n in (7, 14, 21, 28) and delta:
        weeks = {7: "a week", 14: "two weeks", 21: "three weeks", 28: "four weeks"}[n]
        rel.append(f"in {weeks}" if delta > 0 else f"{weeks} ago")
        if n == 7 and delta > 0:
            rel.append("a week from today")
        if n == 14 and delta > 0:
            rel += ["in a fortnight", "two weeks from today"]
    if delta >= 2 and _next_dom(today, day.day, past) == day:
        rel.append(f"on the {ordinal(day.day)}")
    horizon = YEARLESS_BACK_DAYS if past else YEARLESS_AHEAD_DAYS
    yearless = n <= horizon and _month_day(today, day.month, day.day, past) == day
    return tuple(rel), absolute_phrases(day, year=not yearless)


@functools.lru_cache(maxsize=2048)
def time_phrases(hour: int, minute: int) -> tuple[str, ...]:
    """How a person writes a clock time: "3pm", "3:30 pm", "15:30", "noon", "3 in the afternoon".

    >>> time_phrases(15, 0)
    ('3pm', '3 pm', '15:00', '3 in the afternoon')
    """
    h12 = hour % 12 or 12
    ampm = "am" if hour < 12 else "pm"
    if minute == 0:
        forms = [f"{h12}{ampm}", f"{h12} {ampm}", f"{hour:02d}:00"]
        if hour == 12:
            forms[:0] = ["noon"]
            forms.append("midday")
    else:
        forms = [f"{h12}:{minute:02d}{ampm}", f"{h12}:{minute:02d} {ampm}", f"{hour:02d}:{minute:02d}"]
    part = _CLOCK_PARTS.get(hour)
    if part is not None:
        forms.append(f"{h12}{f':{minute:02d}' if minute else ''} in the {part}")
    return tuple(forms)


# "9 in the morning", "3 in the afternoon", "7 in the evening": the hours each part of the day names.
_CLOCK_PARTS = {**dict.fromkeys(range(5, 12), "morning"), **dict.fromkeys(range(13, 18), "afternoon"),
                **dict.fromkeys(range(18, 22), "evening")}


def _part_of_day(hour: int) -> str | None:
    if 17 <= hour <= 21:
        return "this evening"
    if 12 <= hour <= 16:
        return "this afternoon"
    if 6 <= hour <= 11:
        return "this morning"
    return None


@functools.lru_cache(maxsize=65536)
def datetime_phrases(now: dt.datetime, when: dt.datetime) -> tuple[str, ...]:
    """Forms of a date-time said at `now`: "tomorrow at 3pm", "3pm on Friday", "tonight at 8".

    Args:
        now: The current date-time.
        when: The target date-time (naive, the speaker's clock).

    Returns:
        Display-case forms, relative ones first; each resolves to `when`.

    >>> datetime_phrases(dt.datetime(2026, 3, 3, 9, 40), dt.datetime(2026, 3, 3, 20, 0))[:2]
    ('tonight at 8', 'at 8 tonight')
    """
    rel, absolute = day_phrases(now.date(), when.date())
    clocks = time_phrases(when.hour, when.minute)
    out = list(_today_forms(now, when))
    for day in rel + absolute:
        for clock in clocks:
            out += [f"{day} at {clock}", f"at {clock} {day}"]
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _today_forms(now: dt.datetime, when: dt.datetime) -> tuple[str, ...]:
    # "tonight at 8", "this afternoon at 3": later today, the part of the day says morning or evening.
    if when.date() != now.date() or when <= now:
        return ()
    clocks = time_phrases(when.hour, when.minute)
    bare = f"{when.hour % 12 or 12}" + (f":{when.minute:02d}" if when.minute else "")
    out = []
    if when.hour >= 18:
        out += [f"tonight at {bare}", f"at {bare} tonight"]
    part = _part_of_day(when.hour)
    if part:
        out += [f"{part} at {bare if when.hour >= 12 else clocks[0]}", f"at {clocks[0]} {part}"]
    return tuple(out)


def render_date(day: dt.date, rng: random.Random, now: dt.datetime | None = None, relative: float = 0.85) -> str:
    """One form of `day`: relative `relative` of the time when `now` is given and a relative form exists.

    Without `now`, an absolute form with the year ("on March 14th, 2026").
    """
    if now is None:
        forms = absolute_phrases(day, year=True)
        return forms[int(rng.random() * len(forms))]
    rel, absolute = day_phrases(now.date(), day)
    forms = rel if rel and rng.random() < relative else absolute
    return forms[int(rng.random() * len(forms))]


def render_datetime(when: dt.datetime, rng: random.Random, now: dt.datetime | None = None) -> str:
    """One form of a date-time ("tomorrow at 3pm"; without `now`, "on March 14th, 2026 at 3pm")."""
    if now is None:
        day = render_date(when.date(), rng)
        clocks = time_phrases(when.hour, when.minute)
        return f"{day} at {clocks[int(rng.random() * len(clocks))]}"
    # One of `datetime_phrases`, drawn as its parts: a relative day 85% of the time (later today, a
    # part of the day half of those times), any clock form, the clock first or last.
    rel, absolute = day_phrases(now.date(), when.date())
    if rel and rng.random() < 0.85:
        today = _today_forms(now, when)
        if today and rng.random() < 0.5:
            return today[int(rng.random() * len(today))]
        day = rel[int(rng.random() * len(rel))]
    else:
        day = absolute[int(rng.random() * len(absolute))]
    clocks = time_phrases(when.hour, when.minute)
    clock = clocks[int(rng.random() * len(clocks))]
    return f"{day} at {clock}" if rng.random() < 0.6 else f"at {clock} {day}"


# --- resolving ---------------------------------------------------------------------------------------

_MONTH_RE = "|".join(m.lower() for m in MONTHS) + "|" + "|".join(m[:3].lower() for m in MONTHS)
_WD_RE = "|".join(w.lower() for w in WEEKDAYS)
_NUM_RE = r"\d+|" + "|".join(_NUM_WORDS[1:]) + "|a"
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_TIME_RE = re.compile(r"(noon|midday|midnight|(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?)$")
_PART_TIME_RE = re.compile(r"(\d{1,2})(?::(\d{2}))? in the (morning|afternoon|evening)")
# The hours (on a 12-hour clock) each part of the day can name: "3 in the afternoon" is 15:00.
_PART_HOURS = {"morning": (range(1, 12), 0), "afternoon": (range(1, 7), 12), "evening": (range(5, 12), 12)}
_WD_ABBR_RE = _WD_RE + "|" + "|".join(w[:3].lower() for w in WEEKDAYS)


def _num(word: str) -> int:
    return 1 if word == "a" else int(word) if word.isdigit() else _NUM_WORDS.index(word)


def _month_index(word: str) -> int:
    return next(i for i, m in enumerate(MONTHS) if m.lower().startswith(word[:3]))


def _resolve_day(text: str, today: dt.date, past: bool) -> dt.date | None:
    text = text.strip().removeprefix("on ").strip()
    wd = today.weekday()
    monday = today - dt.timedelta(days=wd)
    fixed = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
             "tomorrow": 1, "the day after tomorrow": 2, "yesterday": -1, "the day before yesterday": -2,
             "a week from today": 7, "in a fortnight": 14, "two weeks from today": 14}
    if text in fixed:
        return today + dt.timedelta(days=fixed[text])
    # "in three days", "three days from now", "three days ago" (weeks alike)
    if m := re.fullmatch(rf"(in )?({_NUM_RE}) (day|days|week|weeks)( from now| ago)?", text):
        if bool(m.group(1)) == bool(m.group(4)):
            return None  # "three days" alone, or "in three days ago"
        n = _num(m.group(2)) * (7 if m.group(3).startswith("week") else 1)
        return today - dt.timedelta(days=n) if m.group(4) == " ago" else today + dt.timedelta(days=n)
    if m := re.fullmatch(rf"({_WD_RE}) next week|next week on ({_WD_RE})", text):
        return monday + dt.timedelta(days=7 + WEEKDAYS.index((m.group(1) or m.group(2)).title()))
    if m := re.fullmatch(rf"(this coming|this|next|last)? ?({_WD_RE})", text):
        target = WEEKDAYS.index(m.group(2).title())
        which = m.group(1)
        if which == "this":
            day = monday + dt.timedelta(days=target)
            return day if day > today else None
        if which == "next":
            return monday + dt.timedelta(days=7 + target)
        if which == "last":
            return monday + dt.timedelta(days=target - 7)
        ahead = (target - wd) % 7 or 7  # a bare weekday, or "this coming Friday": the next one
        return today - dt.timedelta(days=(wd - target) % 7 or 7) if past else today + dt.timedelta(days=ahead)
    if m := re.fullmatch(rf"the {_ORD}", text):
        return _next_dom(today, int(m.group(1)), past)
    # A weekday before a date ("Friday the 14th", "Fri 14 Mar", "Sunday, March 14th") must be that date's.
    said_wd = None
    if m := re.match(rf"({_WD_ABBR_RE}),? ", text):
        said_wd = next(i for i, w in enumerate(WEEKDAYS) if w.lower().startswith(m.group(1)[:3]))
        text = text[m.end():]
    day = _resolve_date(text, today, past)
    if day is None or (said_wd is not None and day.weekday() != said_wd):
        return None
    return day


def _resolve_date(text: str, today: dt.date, past: bool) -> dt.date | None:
    # "the 14th", "14 March", "March the 14th", "the 14th of March 2027" (after any weekday).
    if m := re.fullmatch(rf"the {_ORD}", text):
        return _next_dom(today, int(m.group(1)), past)
    m = (re.fullmatch(rf"{_ORD} (?:of )?({_MONTH_RE})(?:,? (\d{{4}}))?", text.removeprefix("the "))
         or None)
    if m:
        dom, month, year = int(m.group(1)), _month_index(m.group(2)), m.group(3)
    elif m := re.fullmatch(rf"({_MONTH_RE}) (?:the )?{_ORD}(?:,? (\d{{4}}))?", text):
        dom, month, year = int(m.group(2)), _month_index(m.group(1)), m.group(3)
    else:
        return None
    if year:
        try:
            return dt.date(int(year), month + 1, dom)
        except ValueError:
            return None
    return _month_day(today, month + 1, dom, past)


def _parse_time(text: str, afternoon: bool) -> tuple[int, int] | None:
    if m := _PART_TIME_RE.fullmatch(text.strip()):
        hours, shift = _PART_HOURS[m.group(3)]
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        return (hour + shift, minute) if hour in hours and minute <= 59 else None
    m = _TIME_RE.fullmatch(text.strip())
    if not m:
        return None
    if m.group(1) in ("noon", "midday"):
        return 12, 0
    if m.group(1) == "midnight":
        return 0, 0
    hour, minute, ampm = int(m.group(2)), int(m.group(3) or 0), (m.group(4) or "").replace(".", "")
    if hour > 23 or minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif afternoon and hour < 12:
        hour += 12
    elif not afternoon and ":" not in text and len(m.group(2)) < 2:
        return None  # a bare "at 8" with nothing saying morning or evening is not a time
    return hour, minute


def resolve(phrase: str, now: dt.datetime, past: bool = False) -> dt.date | dt.datetime | None:
    """The date (or date-time, when a time of day is given) a phrase denotes, said at `now`.

    Args:
        phrase: A day phrase, optionally with a time ("next Friday", "tomorrow at 3pm", "3pm on the 14th").
        now: The current date-time.
        past: Resolve ambiguous phrases ("Friday", "the 14th", "14 March") backwards, as in a log query.

    Returns:
        A `date`, a `datetime`, or None when the phrase is not one of the forms above.

    >>> resolve("next Friday", dt.datetime(2026, 3, 5, 10, 0))
    datetime.date(2026, 3, 13)
    >>> resolve("tonight at 8", dt.datetime(2026, 3, 5, 10, 0))
    datetime.datetime(2026, 3, 5, 20, 0)
    """
    text = " ".join(phrase.lower().replace(",", ", ").split()).replace(" ,", ",")
    today = now.date()
    day_part, time_part = text, None
    if " at " in f" {text}":
        if text.startswith("at "):
            rest = text[3:]
            for cut in range(len(rest), 0, -1):  # "at 3pm tomorrow": the longest time prefix
                if rest[cut - 1] == " " or cut == len(rest):
                    head, tail = rest[:cut].strip(), rest[cut:].strip()
                    afternoon = tail in ("tonight", "this evening", "this afternoon")
                    if tail and _parse_time(head, afternoon) is not None:
                        time_part, day_part = head, tail
                        break
        else:
            day_part, _, time_part = text.rpartition(" at ")
    elif m := re.match(r"(noon|\d{1,2}(?::\d{2})?\s*(?:am|pm)) (.+)$", text):
        time_part, day_part = m.group(1), m.group(2)
    day = _resolve_day(day_part, today, past)
    if day is None:
        return None
    if time_part is None:
        return day
    afternoon = day_part.strip() in ("tonight", "this evening", "this afternoon")
    clock = _parse_time(time_part, afternoon)
    if clock is None:
        return None
    return dt.datetime(day.year, day.month, day.day, clock[0], clock[1])

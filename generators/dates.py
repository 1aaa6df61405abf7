"""Dates and times as people say them, relative to a stated current date-time.

A sample carries a `now` (`sample_now`), the system message states it (`today_line`), and a request
says a date the way a person does: "tomorrow at 3pm", "next Friday", "in two weeks", "on the 14th".
`day_phrases` / `datetime_phrases` list the forms that denote a target from `now`; `resolve` is their
inverse and the executable statement of the rules below (the tests check every rendered form resolves
back to its target).

Resolution rules (weeks run Monday to Sunday; "today" is `now.date()`):

- "today", "tonight", "this morning / afternoon / evening": today. "tomorrow": +1 day. "the day after
  tomorrow": +2. "yesterday": -1. "the day before yesterday": -2.
- "in N days" / "N days ago": +N / -N. "in a week", "a week from today": +7. "in N weeks": +7N.
  "a week ago", "N weeks ago": -7N.
- "Friday", "on Friday": the next Friday strictly after today (1-7 days ahead); in a past context
  (a log, a report: `resolve(..., past=True)`), the last Friday strictly before today.
- "this Friday": the Friday of the current week, when it is still ahead (otherwise the phrase is not
  used and does not resolve).
- "next Friday": the Friday of the following week. So on a Thursday "next Friday" is 8 days ahead and
  "this Friday" is tomorrow; on a Monday "next Friday" is 11 days ahead. Rendering only uses it when it
  is also at least 7 days ahead (the Friday after the coming one), where the readings people use agree.
- "last Friday": the Friday of the previous week; rendered only when that is also the most recent one.
- "the 14th", "on the 14th": the next 14th strictly after today (skipping months without one); past
  context: the last 14th strictly before today.
- "14 March", "March 14th", "the 14th of March": the next 14 March on or after today; past context:
  the last one on or before today. With a year ("14 March 2027") exactly that day.
- A time of day ("at 3pm", "at 15:30", "at noon", "3pm tomorrow") makes a date-time; after "tonight",
  "this afternoon" or "this evening" a bare hour below 12 is afternoon/evening ("tonight at 8" = 20:00).

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
_NUM_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
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
    span = (NOW_RANGE[1] - NOW_RANGE[0]).days + 1
    day = NOW_RANGE[0] + dt.timedelta(days=int(rng.random() * span))
    hour = _NOW_HOURS[int(rng.random() * len(_NOW_HOURS))]
    minute = 5 * int(rng.random() * 12)
    return dt.datetime(day.year, day.month, day.day, hour, minute)


def today_line(now: dt.datetime) -> str:
    """The system message's statement of the current date and time.

    >>> today_line(dt.datetime(2026, 3, 3, 9, 40))
    'Today is Tuesday, 3 March 2026, 09:40.'
    """
    return f"Today is {WEEKDAYS[now.weekday()]}, {now.day} {MONTHS[now.month - 1]} {now.year}, {now:%H:%M}."


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
                f"on {month[:3]} {d}, {y}", f"on {WEEKDAYS[day.weekday()]}, {month} {ordinal(d)}, {y}")
    return (f"on {d} {month}", f"on {month} {ordinal(d)}", f"on {month} {d}", f"on the {ordinal(d)} of {month}",
            f"on {WEEKDAYS[day.weekday()]} {d} {month}")


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
    ('next Friday', 'on the 13th')
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
        if twd > wd:
            rel.append(f"this {name}")
    if 7 <= delta <= 13 and twd >= wd:
        rel.append(f"next {name}")
    if -7 <= delta <= -1 and twd >= wd:
        rel.append(f"last {name}")
    n = abs(delta)
    if 3 <= n <= 6 or n == 10:
        word = _NUM_WORDS[n]
        rel.append(f"in {word} days" if delta > 0 else f"{word} days ago")
    if n in (7, 14, 21) and delta:
        weeks = {7: "a week", 14: "two weeks", 21: "three weeks"}[n]
        rel.append(f"in {weeks}" if delta > 0 else f"{weeks} ago")
        if n == 7 and delta > 0:
            rel.append("a week from today")
    if delta >= 2 and _next_dom(today, day.day, past) == day:
        rel.append(f"on the {ordinal(day.day)}")
    horizon = YEARLESS_BACK_DAYS if past else YEARLESS_AHEAD_DAYS
    yearless = n <= horizon and _month_day(today, day.month, day.day, past) == day
    return tuple(rel), absolute_phrases(day, year=not yearless)


def time_phrases(hour: int, minute: int) -> tuple[str, ...]:
    """How a person writes a clock time: "3pm", "3:30 pm", "15:30", "noon".

    >>> time_phrases(15, 0)
    ('3pm', '3 pm', '15:00')
    """
    h12 = hour % 12 or 12
    ampm = "am" if hour < 12 else "pm"
    if minute == 0:
        forms = [f"{h12}{ampm}", f"{h12} {ampm}", f"{hour:02d}:00"]
        if hour == 12:
            forms.insert(0, "noon")
    else:
        forms = [f"{h12}:{minute:02d}{ampm}", f"{h12}:{minute:02d} {ampm}", f"{hour:02d}:{minute:02d}"]
    return tuple(forms)


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
    out: list[str] = []
    if when.date() == now.date() and when > now:
        bare = f"{when.hour % 12 or 12}" + (f":{when.minute:02d}" if when.minute else "")
        if when.hour >= 18:
            out += [f"tonight at {bare}", f"at {bare} tonight"]
        part = _part_of_day(when.hour)
        if part:
            out += [f"{part} at {bare if when.hour >= 12 else clocks[0]}", f"at {clocks[0]} {part}"]
    for day in rel + absolute:
        out.append(f"{day} at {clocks[0]}")
        out.append(f"at {clocks[int(len(day)) % len(clocks)]} {day}")
    return tuple(out)


def render_date(day: dt.date, rng: random.Random, now: dt.datetime | None = None, relative: float = 0.75) -> str:
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
    rel, absolute = _datetime_split(now, when)
    forms = rel if rel and rng.random() < 0.75 else absolute
    return forms[int(rng.random() * len(forms))]


@functools.lru_cache(maxsize=65536)
def _datetime_split(now: dt.datetime, when: dt.datetime) -> tuple[tuple[str, ...], tuple[str, ...]]:
    forms = datetime_phrases(now, when)
    month = MONTHS[when.month - 1]
    return tuple(f for f in forms if month not in f), tuple(f for f in forms if month in f)


# --- resolving ---------------------------------------------------------------------------------------

_MONTH_RE = "|".join(m.lower() for m in MONTHS) + "|" + "|".join(m[:3].lower() for m in MONTHS)
_WD_RE = "|".join(w.lower() for w in WEEKDAYS)
_NUM_RE = r"\d+|" + "|".join(_NUM_WORDS[1:]) + "|a"
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_TIME_RE = re.compile(r"(noon|midnight|(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?)$")


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
             "a week from today": 7}
    if text in fixed:
        return today + dt.timedelta(days=fixed[text])
    if m := re.fullmatch(rf"in ({_NUM_RE}) (day|days|week|weeks)", text):
        n = _num(m.group(1)) * (7 if m.group(2).startswith("week") else 1)
        return today + dt.timedelta(days=n)
    if m := re.fullmatch(rf"({_NUM_RE}) (day|days|week|weeks) ago", text):
        n = _num(m.group(1)) * (7 if m.group(2).startswith("week") else 1)
        return today - dt.timedelta(days=n)
    if m := re.fullmatch(rf"(this|next|last)? ?({_WD_RE})", text):
        target = WEEKDAYS.index(m.group(2).title())
        which = m.group(1)
        if which == "this":
            day = monday + dt.timedelta(days=target)
            return day if day > today else None
        if which == "next":
            return monday + dt.timedelta(days=7 + target)
        if which == "last":
            return monday + dt.timedelta(days=target - 7)
        ahead = (target - wd) % 7 or 7
        return today - dt.timedelta(days=(wd - target) % 7 or 7) if past else today + dt.timedelta(days=ahead)
    if m := re.fullmatch(rf"the {_ORD}", text):
        return _next_dom(today, int(m.group(1)), past)
    text = re.sub(rf"^(?:{_WD_RE}),? ", "", text)
    m = (re.fullmatch(rf"{_ORD} (?:of )?({_MONTH_RE})(?:,? (\d{{4}}))?", text.removeprefix("the "))
         or None)
    if m:
        dom, month, year = int(m.group(1)), _month_index(m.group(2)), m.group(3)
    elif m := re.fullmatch(rf"({_MONTH_RE}) {_ORD}(?:,? (\d{{4}}))?", text):
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
    m = _TIME_RE.fullmatch(text.strip())
    if not m:
        return None
    if m.group(1) == "noon":
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

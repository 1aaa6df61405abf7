"""How people write values in a request, and whether a text still carries a value.

`surface` renders a canonical value the way a person types it ("March 14th, 2026", "$42.50",
"tolls, ferries and highways") while the ground truth keeps the canonical value. `mentions` is its
inverse check, used by verification: an execution request must mention every argument, a
clarification request must not mention the value it leaves out. It accepts every form `surface`
produces and a few common variants a paraphraser might write. `vague_phrase` gives the stand-in a
user says instead of a value ("sometime next week").
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
from typing import Any

from generators import _vocab as vocab
from generators import dates
from generators.kinds import singular as _singular
from generators.kinds import value_kind

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[tT ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([zZ]|[+-]\d{2}:?\d{2})?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?([zZ]|[+-]\d{2}:?\d{2})?$")
# Numbers in free text: "1,500.00", "-3", "42.5". Digits glued to - / : belong to dates, times and
# ids ("2026-03-14", "3:30", "ORD-12345"), not to a number the user gave.
_NUMBER = re.compile(r"(?<![\w.\-/:])(-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d\-/:]|\.\d)")
_ONCE = re.compile(r"\b(once|twice)(?= (?:a|an|per|every|each|daily|weekly)\b)")
_NUMBER_WORD = re.compile(r"\b(" + "|".join(vocab.NUMBER_WORDS) + r")\b")
_SNAKE = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+$")  # in_person reads as "in person"; "_" stays "_"
_UTC = ("z", "+00:00", "+0000", "-00:00")
_kind_cache: dict[tuple[str, int], tuple[dict[str, Any], str]] = {}


def _kind(name: str, schema: dict[str, Any]) -> str:
    # value_kind runs a few dozen rules; cache per (name, schema object). The schema is kept in the
    # entry so its id cannot be reused by another dict while the entry lives.
    key = (name, id(schema))
    hit = _kind_cache.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    kind = value_kind(name, schema)
    if len(_kind_cache) > 4096:
        _kind_cache.clear()
    _kind_cache[key] = (schema, kind)
    return kind


def normalize_text(text: str) -> str:
    """Lower-case `text`, unify apostrophes and collapse whitespace (what `mentions` compares against).

    Args:
        text: A request.

    Returns:
        The normalised text; compute it once per request and pass it to `mentions(norm=...)`.

    >>> normalize_text("Fly  to\\nPARIS’s airport")
    "fly to paris's airport"
    """
    return " ".join(text.lower().replace("\u2019", "'").split())


@functools.lru_cache(maxsize=4096)
def humanize(name: str) -> str:
    """Parameter name as words: `include_hourly` -> "include hourly"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower().strip()


# --- surface -----------------------------------------------------------------------------------------


_ordinal = dates.ordinal


def date_forms(day: dt.date) -> list[str]:
    """Every way `surface` writes a date (title case), the ISO form first.

    >>> date_forms(dt.date(2026, 3, 14))[:3]
    ['2026-03-14', 'March 14th, 2026', 'March 14, 2026']
    """
    month = _MONTHS[day.month - 1].title()
    return [
        day.isoformat(),
        f"{month} {_ordinal(day.day)}, {day.year}",
        f"{month} {day.day}, {day.year}",
        f"{day.day} {month} {day.year}",
        f"{month[:3]} {day.day}, {day.year}",
        f"{_WEEKDAYS[day.weekday()].title()}, {month} {_ordinal(day.day)}, {day.year}",
    ]


def _time_forms(hour: int, minute: int) -> list[str]:
    h12 = hour % 12 or 12
    ampm = "AM" if hour < 12 else "PM"
    forms = [f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d} {ampm}", f"{h12}:{minute:02d}{ampm.lower()}"]
    if minute == 0:
        forms += [f"{h12} {ampm}", f"{h12}{ampm.lower()}"]
    return forms


def _format_number(value: float, rng: random.Random, money: bool = False) -> str:
    if isinstance(value, int) or float(value).is_integer():
        n = int(value)
        if abs(n) >= 10000 and rng.random() < 0.5:
            return f"{n:,}"
        return f"{n}.00" if money and rng.random() < 0.2 else str(n)
    if money:
        return f"{value:,.2f}" if abs(value) >= 10000 else f"{value:.2f}"
    return repr(float(value))


def surface(
    value: Any,
    schema: dict[str, Any],
    name: str,
    rng: random.Random,
    *,
    currency: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Write `value` the way a person would in a request.

    Args:
        value: The canonical value (what the ground truth keeps).
        schema: The parameter's JSON Schema.
        name: The parameter's name (picks phrasing: booleans, money, counts).
        rng: The caller's seeded random generator (chooses among equivalent forms).
        currency: ISO code of the amount's currency when the tool call carries one (adds "$" / "EUR").
        now: The sample's current date-time. Given, dates and times are said relative to it a good
            share of the time, as adverbials carrying their own preposition ("tomorrow at 3pm",
            "next Friday", "on the 14th", "on 14 March"); see `generators.dates`. Without it, dates
            carry their year ("March 14th, 2026"). Never an ISO string; "UTC" only for a parameter
            whose name or description is about UTC or time zones.

    Returns:
        The text to put in the request; `mentions(text, value, schema, name=name, now=now)` is True for it.

    >>> surface("2026-03-14", {"type": "string", "format": "date"}, "date", random.Random(1))
    'March 14th, 2026'
    >>> surface("2026-03-06", {"type": "string", "format": "date"}, "date", random.Random(1),
    ...         now=dt.datetime(2026, 3, 5, 9, 40))
    'this Friday'
    >>> surface(42.5, {"type": "number"}, "amount", random.Random(1), currency="USD")
    '$42.50'
    """
    t = type(value)
    if t is str:
        if len(value) == 10 and value[4:5] == "-":
            day = _iso_day(value)
            if day is not None:
                if now is not None:
                    return dates.render_date(day, rng, now)
                forms = _date_forms_cached(value)
                return forms[1 + int(rng.random() * (len(forms) - 1))]
        if value[4:5] == "-":
            m = _ISO_DATETIME.match(value)
            if m:
                return _surface_datetime(value, m, rng, now, _says_utc(name, schema))
        # Only a snake_case enum value or a clock time is rewritten: the kind is looked up for those alone.
        if "_" in value and _kind(name, schema) == "enum" and _SNAKE.match(value):
            return value.replace("_", " ").lower()  # a person never types in_person
        if ":" in value and _kind(name, schema) == "time":
            c = _CLOCK.match(value)
            if c and c.group(3) in (None, "00"):
                clock_forms = dates.time_phrases(int(c.group(1)), int(c.group(2)))
                return clock_forms[int(rng.random() * len(clock_forms))]
        return value
    if t is bool:
        h = humanize(name)
        forms = (f"{h}: yes", f"{h} on", f"{h}: true") if value else (f"{h}: no", f"{h} off", f"{h}: false")
        return forms[int(rng.random() * 3)]
    if t is int or t is float:
        kind = _kind(name, schema)
        if kind == "money" or kind == "salary":
            text = _format_number(value, rng, money=True)
            if currency:
                symbol = vocab.CURRENCY_SYMBOLS.get(currency.upper())
                if symbol and rng.random() < 0.7:
                    return f"{symbol}{text}"
                return f"{text} {currency}" if rng.random() < 0.5 else f"{currency} {text}"
            return text
        if kind == "count" and t is int and 0 <= value <= 10 and rng.random() < 0.3:
            return vocab.NUMBER_WORDS[value]
        return _format_number(value, rng)
    if value is None:
        return "none"
    if t is list:
        items = schema.get("items", {}) if isinstance(schema, dict) else {}
        item_name = _singular(name)
        return _join([surface(v, items, item_name, rng, currency=currency, now=now) for v in value])
    if t is dict:
        return _surface_object(value, schema, rng, currency, now)
    return str(value)


_QUANTITY_FIELDS = frozenset(("quantity", "qty", "count", "portions", "units"))
# Counted people of an object, said before their noun ("2 adults", "1 child", "no infants").
_PEOPLE = {"adults": "adult", "children": "child", "infants": "infant", "guests": "guest", "seniors": "senior",
           "students": "student", "passengers": "passenger", "kids": "kid", "youths": "youth"}


def _surface_object(
    value: dict[str, Any], schema: Any, rng: random.Random, currency: str | None, now: dt.datetime | None
) -> str:
    """An object as a person lists it: ids bare, a quantity as "2 x", free text in brackets, other fields
    after one word of their name ("size M"), never a multi-word field name as a label.

    >>> _surface_object({"menu_item_id": "DSH-101", "quantity": 2, "notes": "no onions"}, {}, random.Random(0),
    ...                 None, None)
    '2 x DSH-101 (no onions)'
    """
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    cur = value.get("currency") if isinstance(value.get("currency"), str) else currency
    head, qty, rest = [], "", []
    for k, v in value.items():
        text = surface(v, props.get(k, {}), k, rng, currency=cur, now=now)
        if k == "id" or k.endswith(("_id", "Id")) or (type(v) is str and ("@" in v or "://" in v)):
            head.append(text)  # an id, an email or a link says what it is by itself
        elif "percent" in k and type(v) in (int, float):
            rest.append(f"{text}%")
        elif k in _QUANTITY_FIELDS and type(v) is int:
            qty = f"{text} x "
        elif k in _PEOPLE and type(v) is int:
            rest.append(f"no {k}" if v == 0 else f"{text} {_PEOPLE[k] if v == 1 else k}")
        elif type(v) is str and " " in v.strip():
            rest.append(f"({text})")
        else:
            rest.append(f"{humanize(k).split()[-1]} {text}")
    if head:
        return " ".join([qty + " ".join(head), *rest])
    return (qty + _join(rest)) if rest else qty.strip()


@functools.lru_cache(maxsize=1024)
def _says_utc_cached(name: str, description: str) -> bool:
    text = f"{humanize(name)} {description.lower()}"
    return "utc" in text.split() or "timezone" in text or "time zone" in text


def _says_utc(name: str, schema: dict[str, Any]) -> bool:
    # A person says "UTC" only when the parameter is about it (a `utc_time`, "time in UTC").
    return _says_utc_cached(name, str(schema.get("description", "")) if isinstance(schema, dict) else "")


def _iso_day(value: str) -> dt.date | None:
    hit = _day_cache.get(value)
    if hit is None:
        if not _ISO_DATE.match(value):
            return None
        try:
            hit = dt.date.fromisoformat(value)
        except ValueError:
            return None
        if len(_day_cache) > 50000:
            _day_cache.clear()
        _day_cache[value] = hit
    return hit


_day_cache: dict[str, dt.date] = {}


_date_cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _date_entry(value: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    # (surface forms, lower-case forms mentions accepts) per ISO date string; dates come from a pool
    # of ~1,100 days, so caching turns 6-9 string builds per call into one dict lookup.
    hit = _date_cache.get(value)
    if hit is not None:
        return hit
    if not _ISO_DATE.match(value):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    forms = tuple(date_forms(day))
    month = _MONTHS[day.month - 1]
    # Variants a paraphraser writes: "14th march 2026", "march 14 2026", "the 14th of march 2026".
    accepted = [f.lower() for f in forms[:5]] + [
        f"{_ordinal(day.day)} {month} {day.year}", f"{month} {day.day} {day.year}",
        f"{month[:3]} {_ordinal(day.day)}, {day.year}", f"{_ordinal(day.day)} of {month} {day.year}",
    ]
    if len(_date_cache) > 20000:
        _date_cache.clear()
    _date_cache[value] = entry = (forms, tuple(accepted))
    return entry


def _date_forms_cached(value: str) -> tuple[str, ...]:
    entry = _date_entry(value)
    return entry[0] if entry else ()


def _surface_datetime(
    value: str, m: re.Match[str], rng: random.Random, now: dt.datetime | None, utc_named: bool
) -> str:
    tz = (m.group(5) or "").lower()
    try:
        when = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:{m.group(3)}")
    except ValueError:
        return value
    seconds = m.group(4) not in (None, "00")
    if now is not None and not seconds:
        text = dates.render_datetime(when, rng, now)
    else:
        day = _date_forms_cached(m.group(1))
        day_text = day[1 + int(rng.random() * (len(day) - 1))] if day else m.group(1)
        clocks = dates.time_phrases(when.hour, when.minute)
        clock = f"{when.hour:02d}:{when.minute:02d}:{m.group(4)}" if seconds else clocks[int(rng.random() * 3)]
        text = f"{day_text} at {clock}"
    if tz and tz not in _UTC:
        return f"{text} UTC{tz}"  # an explicit offset is part of the value: keep it
    return f"{text} UTC" if tz and utc_named else text


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


# --- mentions ----------------------------------------------------------------------------------------


def _has(norm: str, needle: str) -> bool:
    # Whole-word containment: "paris" is not in "parisian", "5" is not in "15".
    if not needle:
        return True
    start = 0
    n = len(needle)
    while True:
        i = norm.find(needle, start)
        if i < 0:
            return False
        j = i + n
        if (i == 0 or not norm[i - 1].isalnum()) and (j == len(norm) or not norm[j].isalnum()):
            return True
        start = i + 1


_numbers_memo: list[Any] = [None, frozenset()]


def _numbers_in(norm: str) -> frozenset[float]:
    # The caller checks several values against one text: remember the last text's numbers.
    if _numbers_memo[0] == norm:
        return _numbers_memo[1]
    found = {float(sign + digits.replace(",", "") + frac) for sign, digits, frac in _NUMBER.findall(norm)}
    found.update(float(vocab.NUMBER_WORDS.index(w)) for w in _NUMBER_WORD.findall(norm))
    found.update(1.0 if w == "once" else 2.0 for w in _ONCE.findall(norm))  # "once a day", "twice daily"
    numbers = frozenset(found)
    _numbers_memo[:] = [norm, numbers]
    return numbers


def _date_mentioned(norm: str, value: str, now: dt.datetime | None = None) -> bool:
    if value[:4] in norm:
        entry = _date_entry(value)
        if entry is not None and any(f in norm and _has(norm, f) for f in entry[1]):
            return True
    if now is None:
        return False  # every absolute form carries the year: without a current date, none can match
    day = _iso_day(value)
    return day is not None and _relative_day_mentioned(norm, now.date(), day)


# A relative form does not count when a word before it changes its meaning ("the day after
# tomorrow" is not "tomorrow", "next friday" is not "friday") or a year or month after it makes it
# another date ("the 14th of april", "14 march 2027").
_BAD_BEFORE: dict[str, tuple[str, ...]] = {"tomorrow": ("after ",), "today": ("from ",), "yesterday": ("before ",)}
_BAD_BEFORE.update({w: ("next ", "last ", "this ", "week on ") for w in _WEEKDAYS})
# ... or a word after it ("friday next week" is not the coming friday).
_BAD_AFTER: dict[str, tuple[str, ...]] = {w: (" next week",) for w in _WEEKDAYS}


def _phrase_in(norm: str, phrase: str) -> bool:
    start, n = 0, len(phrase)
    bad_before = _BAD_BEFORE.get(phrase, ())
    while True:
        i = norm.find(phrase, start)
        if i < 0:
            return False
        j = i + n
        start = i + 1
        if (i and norm[i - 1].isalnum()) or (j < len(norm) and norm[j].isalnum()):
            continue
        if bad_before and any(norm[max(0, i - 8):i].endswith(w) for w in bad_before):
            continue
        if phrase in _BAD_AFTER and norm.startswith(_BAD_AFTER[phrase], j):
            continue
        tail = norm[j:j + 7]
        if tail.startswith(" of ") or tail[1:2].isdigit() or (tail[:2] == ", " and tail[2:6].isdigit()):
            continue
        return True


_TODAY_WORDS = ("tonight", "this evening", "this afternoon", "this morning")


@functools.lru_cache(maxsize=65536)
def _accepted_days(today: dt.date, day: dt.date) -> tuple[str, ...]:
    rel, absolute = dates.day_phrases(today, day)
    forms = [f.lower().removeprefix("on ") for f in rel + absolute]
    if today == day:
        forms += _TODAY_WORDS
    return tuple(dict.fromkeys(forms))


def _relative_day_mentioned(norm: str, today: dt.date, day: dt.date) -> bool:
    return any(_phrase_in(norm, f) for f in _accepted_days(today, day) if f in norm)


@functools.lru_cache(maxsize=2048)
def _accepted_times(hour: int, minute: int) -> tuple[str, ...]:
    forms = [f.lower() for f in _time_forms(hour, minute)] + list(dates.time_phrases(hour, minute))
    if minute == 0:
        h12, ampm = hour % 12 or 12, "am" if hour < 12 else "pm"
        forms += [f"{h12}:00{ampm}", f"{h12}:00 {ampm}"]
    forms += [f.replace(" am", " a.m.").replace(" pm", " p.m.") for f in forms if f.endswith("m")]
    return tuple(dict.fromkeys(forms))


def _time_mentioned(norm: str, hour: int, minute: int) -> bool:
    return any(f in norm and _has(norm, f) for f in _accepted_times(hour, minute))


@functools.lru_cache(maxsize=1024)
def _evening_forms(hour: int, minute: int) -> tuple[str, ...]:
    # "tonight at 8", "this afternoon at 3": a bare hour that only the part of the day makes a time.
    bare = f"{hour % 12 or 12}" + (f":{minute:02d}" if minute else "")
    out = []
    if hour >= 18:
        out += [f"tonight at {bare}", f"at {bare} tonight"]
    if 12 <= hour <= 21:
        part = "this evening" if hour >= 17 else "this afternoon"
        out += [f"{part} at {bare}", f"at {bare} {part}"]
    return tuple(out)


def mentions(
    text: str,
    value: Any,
    schema: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    norm: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Whether `text` carries `value` in a recognisable form.

    Args:
        text: The request (ignored when `norm` is given).
        value: The canonical value.
        schema: The parameter's JSON Schema (array item and property schemas are used for nesting).
        name: The parameter's name; needed to recognise booleans ("include hourly: yes").
        norm: `normalize_text(text)`, when the caller checks several values against one text.
        now: The sample's current date-time: relative and yearless dates ("next friday", "the 14th",
            "14 march", "tomorrow at 3pm") then count, resolved by `generators.dates`' rules.

    Returns:
        True iff every part of the value is present: numbers compare by value (5 == 5.0 == "5.00"
        == "five"), dates in any form `surface` writes, each array element, each leaf of an object.

    >>> mentions("Weather in Paris on March 14th, 2026?", "2026-03-14")
    True
    >>> mentions("Weather in Paris next Friday?", "2026-03-13", now=dt.datetime(2026, 3, 5, 9, 40))
    True
    >>> mentions("Book 15 seats", 5)
    False
    """
    if norm is None:
        norm = normalize_text(text)
    t = type(value)
    if t is str:
        return _str_mentioned(norm, value, now)
    if t is int or t is float:
        if value == 0 and name and _has(norm, "no " + humanize(name)):
            return True  # "no children"
        return float(value) in _numbers_in(norm)
    if t is bool:
        return _bool_mentioned(norm, value, name)
    if value is None:
        return _has(norm, "none") or _has(norm, "null")
    schema = schema if isinstance(schema, dict) else {}
    if t is list:
        items = schema.get("items", {})
        item_name = _singular(name) if name else None
        return all(mentions(text, v, items, name=item_name, norm=norm, now=now) for v in value)
    if t is dict:
        props = schema.get("properties", {})
        return all(mentions(text, v, props.get(k, {}), name=k, norm=norm, now=now) for k, v in value.items())
    return _has(norm, str(value).lower())


def _str_mentioned(norm: str, value: str, now: dt.datetime | None = None) -> bool:
    low = value.lower()
    if low in norm and _has(norm, low):
        return True
    if not low.strip():
        return True  # an empty string is trivially carried
    collapsed = " ".join(low.split())  # the text was whitespace-normalised; normalise the value alike
    if collapsed != low:
        low = collapsed
        if _has(norm, low):
            return True
    if low[-1] in ".!?" and _has(norm, low.rstrip(".!?")):
        return True
    if "_" in low and _has(norm, low.replace("_", " ")):
        return True
    symbol = vocab.CURRENCY_SYMBOLS.get(value)
    if symbol is not None and re.search(re.escape(symbol) + r"\d", norm):
        return True  # "$42.50" says the call's USD (`surface` writes a symbol only for the call's currency)
    if value[4:5] != "-" and value[2:3] != ":" and value[1:2] != ":":
        return False
    if len(value) == 10 and _date_entry(value) is not None:
        return _date_mentioned(norm, value, now)
    m = _ISO_DATETIME.match(value)
    if m:
        hour, minute = int(m.group(2)), int(m.group(3))
        if _has(norm, f"{m.group(1)} {hour:02d}:{minute:02d}"):
            return True
        if now is not None and m.group(1) == now.date().isoformat() and hour >= 12:
            if any(f in norm and _phrase_in(norm, f) for f in _evening_forms(hour, minute)):
                return True
        return _time_mentioned(norm, hour, minute) and _date_mentioned(norm, m.group(1), now)
    c = _CLOCK.match(value)
    if c:
        return _time_mentioned(norm, int(c.group(1)), int(c.group(2)))
    return False


def _bool_mentioned(norm: str, value: bool, name: str | None) -> bool:
    words = ("yes", "on", "true") if value else ("no", "off", "false")
    if not name:
        return any(_has(norm, w) for w in words)
    h = humanize(name)
    return any(_has(norm, f"{h}: {w}") or _has(norm, f"{h} {w}") for w in words)


# --- vague stand-ins ---------------------------------------------------------------------------------


def vague_phrase(name: str, schema: dict[str, Any], rng: random.Random) -> str | None:
    """A vague stand-in a user might say instead of the value, or None when there is no natural one.

    Args:
        name: The parameter's name.
        schema: The parameter's JSON Schema.
        rng: The caller's seeded random generator.

    Returns:
        A phrase such as "sometime next week" that mentions no possible value of the parameter,
        or None (booleans, objects, ids with a pattern): then the parameter is simply omitted.

    >>> vague_phrase("date", {"type": "string", "format": "date"}, random.Random(0)) in vocab.VAGUE["date"]
    True
    """
    kind = _kind(name, schema)
    key = vocab.VAGUE_KIND.get(kind)
    if key is None or "pattern" in schema:
        return None
    phrases = list(vocab.VAGUE[key])
    options = schema.get("enum") or (schema.get("items", {}).get("enum") if kind == "array" else None)
    if options:
        norms = [normalize_text(p) for p in phrases]
        phrases = [p for p, n in zip(phrases, norms, strict=True)
                   if not any(mentions(p, o, norm=n) for o in options)]
    return rng.choice(phrases) if phrases else None

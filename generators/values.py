"""Value synthesis: arguments for a tool call drawn from its JSON Schema.

Faker is slow (16-50 µs a call) against a 40 µs budget for a whole sample, so Faker runs once per seed
in `ValuePools.build`, and the hot path only picks from those pools with the caller's seeded
`random.Random`. `ToolSampler` dispatches on the schema once, at construction, into one closure per
parameter; `sample` runs the closures and checks the result with a fastjsonschema-compiled validator,
regenerating a value that fails rather than shipping it.

The value *kind* (city, email, money, ...) comes from the format, the enum and the parameter name and
description; how a value is written in a request lives in `generators.surface`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Literal

import fastjsonschema

from generators import _vocab as vocab
from generators import pools as pool_lib
from generators._regex import nested_unbounded, regex_generator
from generators.kinds import main_type as _main_type
from generators.kinds import name_tokens, value_kind
from generators.kinds import singular as _singular
from generators.pools import ANCHOR, DATE_SPAN, ValuePools

__all__ = ["ANCHOR", "DATE_SPAN", "ToolSampler", "ValueGenerationError", "ValuePools", "ordered_pairs", "value_kind"]

Gen = Callable[[random.Random], Any]


def _pick(seq: Any) -> Gen:
    # rng.choice costs ~0.35 µs (it draws bits in a loop); indexing by rng.random() costs ~0.1 µs.
    seq = tuple(seq)
    n = len(seq)
    return lambda rng: seq[int(rng.random() * n)]


def _randint(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))

MAX_ATTEMPTS = 30  # regenerations of one sample or one value before giving up
PATTERN_CHECK_BUDGET_S = 0.005  # one pattern check on a generated value; slower patterns are refused
VALUE_DEADLINE_S = 0.05  # wall-clock bound on constructing one value (regex retries, pool filtering)
UUID_RE = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z"


class ValueGenerationError(ValueError):
    """No valid value could be produced for a parameter; the message names the tool and parameter."""


# --- per-schema generators -----------------------------------------------------------------------------


class _Context:
    """What a generator needs while being compiled: the pools and where it is, for error messages."""

    def __init__(self, pools: ValuePools, tool: str):
        self.pools = pools
        self.tool = tool
        self.tool_tokens = frozenset(name_tokens(tool))
        self.tool_words = " ".join(name_tokens(tool))  # in order: "request time off" says "time off"

    def fail(self, path: str, message: str) -> ValueGenerationError:
        return ValueGenerationError(f"tool {self.tool!r}, parameter {path!r}: {message}")


def _compile(name: str, schema: dict[str, Any], ctx: _Context, path: str) -> Gen:
    if not isinstance(schema, dict):
        return lambda rng: "value"  # `true` schema: anything goes
    if "$ref" in schema:
        raise ctx.fail(path, "unresolved $ref; load tools through generators.registry, which inlines them")
    if "const" in schema:
        const = schema["const"]
        return lambda rng: const
    if "enum" in schema:
        options = list(schema["enum"])
        if not options:
            raise ctx.fail(path, "empty enum")
        return _pick(options)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            base = {k: v for k, v in schema.items() if k != key}
            alts = [_compile(name, {**base, **alt}, ctx, path) for alt in schema[key]]
            return lambda rng: rng.choice(alts)(rng)
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged.update(part)
        return _compile(name, merged, ctx, path)
    typ = _main_type(schema)
    if typ == "boolean":
        return lambda rng: rng.random() < 0.5
    if typ == "null":
        return lambda rng: None
    if typ in ("integer", "number"):
        return _number_gen(name, schema, ctx, path, typ == "integer")
    if typ == "array":
        return _array_gen(name, schema, ctx, path)
    if typ == "object":
        return _object_gen(schema, ctx, path)
    return _string_gen(name, schema, ctx, path)


def _with_default(schema: dict[str, Any], gen: Gen) -> Gen:
    # A user sometimes asks for exactly the default; keep it in the mix without letting it dominate.
    if "default" not in schema:
        return gen
    default = schema["default"]
    return lambda rng: default if rng.random() < 0.15 else gen(rng)


def _number_gen(name: str, schema: dict[str, Any], ctx: _Context, path: str, integer: bool) -> Gen:
    kind = value_kind(name, schema)
    lo_s, hi_s = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    lo = -math.inf if lo_s is None else lo_s
    hi = math.inf if hi_s is None else hi_s
    if isinstance(xlo, int | float) and not isinstance(xlo, bool) and xlo >= lo:
        lo = xlo
    if isinstance(xhi, int | float) and not isinstance(xhi, bool) and xhi <= hi:
        hi = xhi
    strict_lo = isinstance(xlo, int | float) and not isinstance(xlo, bool) and lo == xlo
    strict_hi = isinstance(xhi, int | float) and not isinstance(xhi, bool) and hi == xhi
    nlo, nhi, decimals = vocab.NUMBER_RANGES.get(kind, vocab.NUMBER_RANGES["number"])
    step_value: float = 0
    override = _number_override(name, ctx.tool_tokens)
    if override is not None:
        nlo, nhi, decimals, step_value = override
    # Prefer the kind's natural range (an age is 18-90) where it fits inside the schema's bounds.
    a, b = max(lo, nlo), min(hi, nhi)
    if a > b:
        a, b = (lo, lo + (nhi - nlo)) if math.isfinite(lo) else (hi - (nhi - nlo), hi)
        a, b = max(a, lo), min(b, hi)
    multiple = schema.get("multipleOf")
    scale = 1 if integer else 10**decimals

    def ok(v: float) -> bool:
        in_range = (v > lo if strict_lo else v >= lo) and (v < hi if strict_hi else v <= hi)
        return in_range and _multiple_ok(v, multiple)

    if a >= b and not ok(a) and (a, b) != (lo, hi):
        # The natural range only touches the schema's range at an exclusive bound (an amount with
        # exclusiveMinimum 500 when amounts usually stop at 500): take a window on the schema's side.
        width = max(nhi - nlo, 1)
        a, b = (lo, min(hi, lo + width)) if math.isfinite(lo) else (max(lo, hi - width), hi)

    if multiple:
        k_lo, k_hi = math.ceil(a / multiple), math.floor(b / multiple)
        if k_lo > k_hi:
            raise ctx.fail(path, f"no multiple of {multiple} lies in [{lo}, {hi}]")
        digits = max(0, -math.floor(math.log10(abs(multiple)))) + 2 if not integer else 0

        def draw(rng: random.Random) -> float:
            v = _randint(rng, k_lo, k_hi) * multiple
            return int(v) if integer else round(v, digits)
    else:
        def grid(scale: int) -> tuple[int, int]:
            # Integers i with i/scale inside the range; an exclusive bound excludes its own grid point.
            i_lo, i_hi = math.ceil(a * scale), math.floor(b * scale)
            if strict_lo and a == lo and i_lo == a * scale:
                i_lo += 1
            if strict_hi and b == hi and i_hi == b * scale:
                i_hi -= 1
            return i_lo, i_hi

        i_lo, i_hi = grid(scale)
        while i_lo > i_hi and scale < 10**6 and not integer:
            scale *= 10
            i_lo, i_hi = grid(scale)
        if i_lo > i_hi:
            raise ctx.fail(path, f"no {'integer' if integer else 'number'} lies in [{lo}, {hi}]")

        whole_bias = kind == "money" and not integer  # "$40" is as common as "$39.95"
        step = 1000 if kind == "salary" and i_hi - i_lo >= 2000 else 0  # salaries come in round thousands
        if step_value:
            step = max(1, round(step_value * scale))  # radii by the hundred, ratings by the half star
        if step and -(-i_lo // step) > i_hi // step:
            step = 0  # no multiple of the step fits the schema's range

        span = i_hi - i_lo + 1

        def draw(rng: random.Random) -> float:
            i = _randint(rng, -(-i_lo // step), i_hi // step) * step if step else i_lo + int(rng.random() * span)
            if integer:
                return i
            if whole_bias and rng.random() < 0.5 and i - i % scale >= i_lo:
                i -= i % scale
            return i // scale if i % scale == 0 else i / scale

    def gen(rng: random.Random) -> float:
        for _ in range(MAX_ATTEMPTS):
            v = draw(rng)
            if ok(v):
                return v
        raise ctx.fail(path, f"no value in range [{lo}, {hi}] with multipleOf {multiple}")

    return _with_default(schema, gen)


@functools.lru_cache(maxsize=1024)
def _number_override(name: str, tool_tokens: frozenset[str]) -> tuple[float, float, int, float] | None:
    # A realistic range for this parameter of this tool (a hotel night costs 60-450, a radius 200-5000 m).
    words = tool_tokens | set(name_tokens(name))
    for phrase, lo, hi, decimals, step in vocab.NUMBER_OVERRIDES:
        if all(w in words for w in phrase.split()):
            return lo, hi, decimals, step
    return None


def _multiple_ok(v: float, multiple: Any) -> bool:
    # Both validators must agree: fastjsonschema divides Decimals, jsonschema divides floats.
    if not multiple:
        return True
    if isinstance(v, int) and isinstance(multiple, int):
        return v % multiple == 0
    q = v / multiple
    return q == int(q)


def _array_gen(name: str, schema: dict[str, Any], ctx: _Context, path: str) -> Gen:
    items = schema.get("items", {"type": "string"})
    item = _compile(_singular(name), items if isinstance(items, dict) else {}, ctx, path + "[]")
    lo = int(schema.get("minItems", 1 if schema.get("uniqueItems") else 0))
    hi = int(schema.get("maxItems", lo + 3))
    hi = max(lo, min(hi, lo + 3, 6) if lo < 6 else lo)  # people list a handful, not a hundred
    n_lo = max(lo, 1) if hi >= 1 else 0
    unique = bool(schema.get("uniqueItems"))
    options = items.get("enum") if isinstance(items, dict) else None
    if unique and options is not None:
        if len(options) < lo:
            raise ctx.fail(path, f"uniqueItems needs {lo} distinct items but the enum has {len(options)}")
        k_hi = min(hi, len(options))
        return _with_default(schema, lambda rng: rng.sample(options, rng.randint(n_lo, k_hi)))

    def gen(rng: random.Random) -> list[Any]:
        n = _randint(rng, n_lo, hi)
        if not unique or n == 0:
            return [item(rng) for _ in range(n)]
        out: list[Any] = []
        for _ in range(n * MAX_ATTEMPTS):
            v = item(rng)
            if v not in out:
                out.append(v)
                if len(out) == n:
                    return out
        raise ctx.fail(path, f"could not draw {n} distinct items")

    return _with_default(schema, gen)


_PAIRS = (("start", "end"), ("min", "max"), ("check_in", "check_out"), ("first", "last"),
          ("departure", "return"), ("pickup", "dropoff"), ("earliest", "latest"), ("from", "to"))


def ordered_pairs(properties: dict[str, Any]) -> list[tuple[str, str]]:
    """Pairs of properties whose values a person gives in order (start_date <= end_date, min <= max).

    Args:
        properties: An object schema's `properties`.

    Returns:
        (low, high) property-name pairs of the same type.

    >>> ordered_pairs({"start_date": {"type": "string"}, "end_date": {"type": "string"}, "x": {}})
    [('start_date', 'end_date')]
    """
    out = []
    for name, schema in properties.items():
        for low, high in _PAIRS:
            other = re.sub(rf"(^|_){low}(_|$)", rf"\g<1>{high}\g<2>", name)
            other_schema = properties.get(other)
            same = isinstance(other_schema, dict) and isinstance(schema, dict) and all(
                schema.get(key) == other_schema.get(key) for key in ("type", "format")
            )
            if other != name and same:
                out.append((name, other))
    return out


def _order(args: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    # Swapping two values drawn from the same schema keeps both valid; the validator still checks.
    for low, high in pairs:
        a, b = args.get(low), args.get(high)
        comparable = type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float))
        if a is not None and b is not None and not isinstance(a, bool) and comparable and a > b:
            args[low], args[high] = b, a


def _object_gen(schema: dict[str, Any], ctx: _Context, path: str) -> Gen:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields = [(k, _compile(k, s, ctx, f"{path}.{k}"), k in required) for k, s in props.items()]
    min_props = int(schema.get("minProperties", 0))
    pairs = ordered_pairs(props)

    def gen(rng: random.Random) -> dict[str, Any]:
        out = {k: g(rng) for k, g, req in fields if req or rng.random() < 0.5}
        if pairs:
            _order(out, pairs)
        for k, g, _ in fields:
            if len(out) >= min_props:
                break
            out.setdefault(k, g(rng))
        if not out and fields:  # an empty nested object says nothing; give it one member
            k, g, _ = rng.choice(fields)
            out[k] = g(rng)
        return out

    return gen


def _description_examples(schema: dict[str, Any]) -> list[str]:
    # "e.g. 'kitchen'" or "e.g. 'Delhi' or 'Los Angeles, CA'": the tool author's own examples.
    desc = str(schema.get("description", ""))
    at = desc.find("e.g.")
    return re.findall(r"'([^']{1,80})'", desc[at:]) if at >= 0 else []


def _string_gen(name: str, schema: dict[str, Any], ctx: _Context, path: str) -> Gen:
    kind = value_kind(name, schema)
    min_len = int(schema.get("minLength", 0))
    max_len = int(schema.get("maxLength", 10**9))
    pattern = schema.get("pattern")
    if min_len > max_len:
        raise ctx.fail(path, f"minLength {min_len} > maxLength {max_len}")
    special = _special_string(kind, name, schema, ctx)
    if special is not None and pattern is None:
        probe = random.Random(0)
        fit = [min_len <= len(special(probe)) <= max_len for _ in range(100)]
        if all(fit):
            return special  # lengths cannot bite (dates, ids): skip the checking wrapper
        if any(fit):
            return _length_checked(special, min_len, max_len, ctx, path, kind)
    compiled = re.compile(pattern) if pattern else None
    risky = compiled is not None and nested_unbounded(sre_parse.parse(pattern))

    def fits(v: str) -> bool:
        return min_len <= len(v) <= max_len and (compiled is None or compiled.search(v) is not None)

    candidates: list[str] = []
    if not risky:
        # Bounded by the pool size (a few hundred short strings), not by a clock: a time limit here
        # would make the candidate list, and so the dataset, depend on machine load.
        pool = ctx.pools.get(pool_kind(kind, name, ctx.tool_tokens))
        if kind == "identifier":  # a patterned id: ids of its own format first (IBANs, flight numbers)
            key = _id_key(name_tokens(name))
            pool = (ctx.pools.pools.get(f"id:{key}", ()) if key else ()) + pool
        candidates = [v for v in list(pool) + _description_examples(schema) if fits(v)]
    if len(candidates) >= 5:
        # A specific kind filtered by the constraints reads far better than regex noise.
        return _pick(candidates)
    if compiled is not None:
        try:
            rgen = regex_generator(str(pattern))
        except ValueError as exc:
            if candidates:
                return _pick(candidates)
            raise ctx.fail(path, str(exc)) from exc
        _check_pattern_speed(rgen, compiled, ctx, path)
        return _retrying(rgen, fits, ctx, path, f"pattern {pattern!r} with length {min_len}..{max_len}")
    return _retrying(_filler(min_len, max_len, ctx.pools), fits, ctx, path, f"length {min_len}..{max_len}")


def _check_pattern_speed(gen: Gen, compiled: re.Pattern[str], ctx: _Context, path: str) -> None:
    # Every sample is validated, so a pattern that backtracks for milliseconds on its own matches
    # ((.*a){20}) would stall the whole dataset: refuse it at construction, with the reason.
    probe = random.Random(0)
    for _ in range(5):
        value = gen(probe)
        took = math.inf
        for _ in range(2):  # the faster of two timings: a scheduler hiccup must not refuse a pattern
            start = time.perf_counter()
            compiled.search(value)
            took = min(took, time.perf_counter() - start)
            if took <= PATTERN_CHECK_BUDGET_S:
                break
        if took > PATTERN_CHECK_BUDGET_S:
            raise ctx.fail(
                path,
                f"pattern {compiled.pattern!r} takes {took * 1e3:.0f} ms to check a {len(value)}-character "
                "value (catastrophic backtracking); simplify it, e.g. avoid nested or repeated wildcards",
            )


def _retrying(gen: Gen, fits: Callable[[str], bool], ctx: _Context, path: str, what: str) -> Gen:
    def retry(rng: random.Random) -> str:
        v = gen(rng)
        if fits(v):  # the common case pays for no clock read
            return v
        deadline = time.perf_counter() + VALUE_DEADLINE_S
        for _ in range(MAX_ATTEMPTS):
            v = gen(rng)
            if fits(v):
                return v
            if time.perf_counter() > deadline:
                break
        raise ctx.fail(path, f"no string satisfying {what} within {MAX_ATTEMPTS} attempts")

    return retry


def _filler(min_len: int, max_len: int, pools: ValuePools) -> Gen:
    # Words joined up to a length inside [min_len, max_len], for strings no pool value fits.
    words = pools.get("word")
    target_hi = min(max_len, max(min_len, 12) + 20)

    def gen(rng: random.Random) -> str:
        target = rng.randint(min_len, target_hi)
        text = rng.choice(words) if target else ""
        while len(text) < target:
            text += " " + rng.choice(words)
        text = text[:target].rstrip() if len(text) > target else text
        while len(text) < min_len:  # rstrip may have cut below the minimum
            text += rng.choice("abcdefghijklmnopqrstuvwxyz")
        return text

    return gen


def _length_checked(gen: Gen, min_len: int, max_len: int, ctx: _Context, path: str, kind: str) -> Gen:
    if min_len == 0 and max_len >= 64:
        return gen
    what = f"{kind} of length {min_len}..{max_len}"
    return _retrying(gen, lambda v: min_len <= len(v) <= max_len, ctx, path, what)


def pool_kind(kind: str, name: str, tool_tokens: frozenset[str] = frozenset()) -> str:
    """The pool a free-text parameter draws from: its purpose (`_vocab.PURPOSE_RULES`), else its kind.

    >>> pool_kind("sentence", "reason_for_visit", frozenset({"book", "doctor", "appointment"}))
    'visit_reason'
    """
    if kind not in ("sentence", "title", "keyword"):
        return kind
    return _purpose(name, tool_tokens) or kind


@functools.lru_cache(maxsize=1024)
def _purpose(name: str, tool_tokens: frozenset[str]) -> str | None:
    toks = set(name_tokens(name))
    for purpose, tools, words in vocab.PURPOSE_RULES:
        if (not tools or tools & tool_tokens) and words & toks:
            return purpose
    return None


def _id_key(tokens: tuple[str, ...]) -> str | None:
    table = dict(vocab.ID_FORMATS)
    return next((t for t in tokens if t in table), None)


def _special_string(kind: str, name: str, schema: dict[str, Any], ctx: _Context) -> Gen | None:
    """Generators for kinds that are computed rather than picked (dates, ids, versions)."""
    pools = ctx.pools
    if kind == "date":
        dates = pools.get("date")
        return _pick(dates)
    if kind == "datetime":
        dates, clocks = pools.get("date"), pools.get("time")
        n_d, n_c = len(dates), len(clocks)
        return lambda rng: f"{dates[int(rng.random() * n_d)]}T{clocks[int(rng.random() * n_c)]}:00Z"
    if kind == "time":
        clocks = pools.get("time")
        if schema.get("format") == "time":  # RFC 3339 full-time: seconds and an offset
            pick = _pick(clocks)
            return lambda rng: f"{pick(rng)}:00Z"
        return _pick(clocks)
    if kind == "uuid":
        return lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "identifier":
        # Realistic formats per kind of id (order numbers, ticket keys, Slack thread timestamps).
        key = _id_key(name_tokens(name)) or _id_key(tuple(sorted(ctx.tool_tokens)))
        if key is not None:
            return pool_lib.id_generator(dict(vocab.ID_FORMATS)[key])
        toks = [t for t in name_tokens(name) if t not in ("id", "ids", "number", "code", "ref")]
        prefix = (toks[0][:3] if toks else "id").upper()
        return lambda rng: f"{prefix}-{10000 + int(rng.random() * 90000)}"
    if kind == "version":
        return lambda rng: f"{_randint(rng, 0, 5)}.{_randint(rng, 0, 20)}.{_randint(rng, 0, 9)}"
    return None


# --- values that agree across fields -------------------------------------------------------------------
#
# A `_Plan` per object schema, built once per tool, says which fields `ToolSampler.sample` rewrites
# after drawing them independently: dates placed relative to the sample's current date (bookings
# ahead, logs and reports behind), start/end pairs with spans that fit the kind (a hotel stay of 1-14
# nights), sibling currencies / airports / cities that differ, a city with its own region and
# country, an email that belongs to the named person, poll options that answer the poll's question.

_MINUTES = (0, 0, 0, 15, 30, 30, 45)
@functools.lru_cache(maxsize=1024)
def _column_fits(schema_json: str, column: int) -> bool:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(schema_json))
    # the address column is composed from the row (street + city), so only the stored columns are checked
    return all(validator.is_valid(row[column]) for row in vocab.LOCATIONS if column < len(row))


def _table_fits(schema: dict[str, Any], column: int) -> bool:
    """Whether every value of a location-table column is valid for the field (table values replace samples)."""
    return _column_fits(json.dumps(schema, sort_keys=True, default=str), column)


_LOCATION_COLUMNS = {"city": 0, "state": 1, "country": 2, "country_code": 3, "address": 4}
_DISTINCT_KINDS = frozenset({"currency_code", "iata_code", "city", "station", "country_code", "language_code"})
_WORDS = re.compile(r"[a-z0-9]+")
_SAME_COUNTRY = {
    row[0]: tuple(r[0] for r in vocab.LOCATIONS if r[3] == row[3] and r[0] != row[0]) for row in vocab.LOCATIONS
}
_HAS_NEIGHBOUR = tuple(city for city, near in _SAME_COUNTRY.items() if near)
_SAME_COUNTRY.update({
    name: tuple(n for n, c in vocab.STATIONS if c == code and n != name) for name, code in vocab.STATIONS
})
_STATION_NEIGHBOURS = tuple(name for name, _ in vocab.STATIONS)


@dataclass(frozen=True)
class _DateField:
    datetime: bool
    lo: int  # days from the current date
    hi: int
    hours: tuple[int, int]
    past: bool  # the window ends today or earlier (logs, reports)


@dataclass(frozen=True)
class _Span:
    low: str
    high: str
    unit: str  # "days" or "minutes"
    lo: int
    hi: int


@dataclass
class _Plan:
    dates: dict[str, _DateField]
    spans: list[_Span]
    distinct: list[tuple[str, ...]]
    location: list[tuple[str, int]]
    person: tuple[str, str] | None
    poll: tuple[str, str, int, int] | None  # question key, options key, min and max options
    shares: list[tuple[str, str]]  # (array of objects, their percentage member): shares that sum to 100
    period: tuple[str, str | None] | None  # (year key, month key): a month that has already ended
    nested: list[tuple[str, _Plan]]

    def empty(self) -> bool:
        return not (self.dates or self.spans or self.distinct or self.location or self.person or self.poll
                    or self.shares or self.period or self.nested)


def _text(*parts: str) -> str:
    return " " + " ".join(_WORDS.findall(" ".join(parts).lower())) + " "


def _first_match(text: str, rules: Any) -> Any:
    for rule in rules:
        if any(f" {w} " in text for w in rule[0]):
            return rule
    return None


def _date_field(name: str, schema: dict[str, Any], tool: str) -> _DateField | None:
    if schema.get("format") not in ("date", "date-time") or _main_type(schema) != "string":
        return None
    if any(k in schema for k in ("enum", "const", "pattern", "anyOf", "oneOf")):
        return None
    text = _text(tool, "|", " ".join(name_tokens(name)), "|", str(schema.get("description", "")))
    rule = _first_match(text, vocab.DATE_WINDOWS)
    lo, hi, hours = rule[1:] if rule else vocab.DEFAULT_DATE_WINDOW
    return _DateField(schema["format"] == "date-time", lo, hi, hours, hi <= 0)


def _build_plan(schema: dict[str, Any], ctx: _Context) -> _Plan:
    props = {k: v for k, v in schema.get("properties", {}).items() if isinstance(v, dict)}
    tool = ctx.tool_words
    dates = {k: f for k, s in props.items() if (f := _date_field(k, s, tool)) is not None}
    spans = []
    for low, high in ordered_pairs(props):
        if low in dates and high in dates and dates[low].datetime == dates[high].datetime:
            text = _text(tool, low, high, str(props[low].get("description", "")),
                         str(props[high].get("description", "")))
            rules = [r for r in vocab.DATE_SPANS if dates[low].datetime or r[1] == "days"]
            rule = _first_match(text, rules)
            unit, lo, hi = rule[1:] if rule else vocab.DEFAULT_DATE_SPAN
            spans.append(_Span(low, high, unit, lo, hi))
    kinds = {k: value_kind(k, s) for k, s in props.items()}
    by_kind: dict[str, list[str]] = {}
    for k, kind in kinds.items():
        by_kind.setdefault(kind, []).append(k)
    # Table values replace the sampled ones, so only fields free of their own constraints take part.
    location = [(k, _LOCATION_COLUMNS[kind]) for k, kind in kinds.items()
                if kind in _LOCATION_COLUMNS and _table_fits(props[k], _LOCATION_COLUMNS[kind])]
    if len({col for _, col in location}) < 2 or len(location) != len({col for _, col in location}):
        location = []  # one place named several ways; two cities are two places
    distinct = [(kind, *keys) for kind, keys in by_kind.items() if kind in _DISTINCT_KINDS and len(keys) > 1
                and not location]
    person = None
    names, emails = by_kind.get("person_name", []), by_kind.get("email", [])
    if len(names) == 1 and len(emails) == 1:
        n_tok, e_tok = name_tokens(names[0]), name_tokens(emails[0])
        if n_tok[0] == e_tok[0] or len(e_tok) == 1 or n_tok[0] in ("full", "name"):
            person = (names[0], emails[0])
    poll = None
    for k, s in props.items():
        items = s.get("items")
        if kinds[k] == "array" and isinstance(items, dict) and value_kind(_singular(k), items) == "option":
            question = next((q for q in props if pool_kind(kinds[q], q, ctx.tool_tokens) == "poll_question"), None)
            if question is not None:
                lo_n = max(2, int(s.get("minItems", 2)))
                hi_n = max(lo_n, min(int(s.get("maxItems", 5)), 5))
                poll = (question, k, lo_n, hi_n)
    shares = []
    for k, s in props.items():
        items = s.get("items")
        if kinds[k] == "array" and isinstance(items, dict):
            for member, ms in items.get("properties", {}).items():
                if isinstance(ms, dict) and value_kind(member, ms) == "percent" and "share" in name_tokens(member):
                    shares.append((k, member))
    # A year (and month) of a payslip, statement or report: a period that has ended, near the current date.
    years, months = by_kind.get("year", []), by_kind.get("month", [])
    period = (years[0], months[0] if len(months) == 1 else None) if len(years) == 1 else None
    nested = [(k, sub) for k, s in props.items() if kinds[k] == "object"
              if not (sub := _build_plan(s, ctx)).empty()]
    return _Plan(dates, spans, distinct, location, person, poll, shares, period, nested)


@functools.lru_cache(maxsize=8192)
def _iso(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


_PSEUDO_DAY0 = ANCHOR.toordinal() + DATE_SPAN[0] + 60
_PSEUDO_DAYS = DATE_SPAN[1] - DATE_SPAN[0] - 180


def _reference(rng: random.Random, now: dt.datetime | None) -> tuple[int, int]:
    # (day ordinal, minute of the day) of the current moment. Without a current date, a pseudo one
    # around the fixed anchor keeps the dates in their old range.
    if now is not None:
        return now.toordinal(), now.hour * 60 + now.minute
    return _PSEUDO_DAY0 + int(rng.random() * _PSEUDO_DAYS), 720


def _draw_moment(f: _DateField, rng: random.Random, ref: tuple[int, int], day: int | None = None) -> tuple[int, int]:
    # (day ordinal, minute of the day; -1 for a date) inside the field's window.
    today = ref[0]
    if day is None:
        # Squared draws favour the near end: most bookings are days or weeks out, most log queries recent.
        r = rng.random()
        offset = int(r * r * (f.hi - f.lo + 1))
        day = today + (f.hi - offset if f.past else f.lo + offset)
    if not f.datetime:
        return day, -1
    clock = (f.hours[0] + int(rng.random() * (f.hours[1] - f.hours[0] + 1))) * 60
    clock += _MINUTES[int(rng.random() * len(_MINUTES))]
    if day == today:
        if f.past and clock >= ref[1]:
            day -= 1  # a past moment today that is still ahead: yesterday instead
        elif not f.past and clock <= ref[1]:
            day += 1  # a booking today whose time has passed: tomorrow instead
    return day, clock


def _format(moment: tuple[int, int]) -> str:
    day, clock = moment
    if clock < 0:
        return _iso(day)
    return f"{_iso(day)}T{clock // 60:02d}:{clock % 60:02d}:00Z"


def _draw_date(f: _DateField, rng: random.Random, ref: tuple[int, int]) -> str:
    return _format(_draw_moment(f, rng, ref))


def _shift(moment: tuple[int, int], f: _DateField, span: _Span, rng: random.Random, sign: int,
           ref: tuple[int, int]) -> tuple[int, int]:
    # The other end of a span: `moment` moved by lo..hi units (forward for sign=1, back for -1).
    n = span.lo + int(rng.random() * (span.hi - span.lo + 1))
    day, clock = moment
    if span.unit == "minutes" and clock >= 0:
        total = day * 1440 + clock + sign * 15 * max(1, round(n / 15))
        return divmod(total, 1440)
    if f.datetime:
        return _draw_moment(f, rng, (0, 0), day + sign * n)  # ref (0, 0): no day is "today" there
    return day + sign * n, -1


def _parse_moment(value: str) -> tuple[int, int]:
    day = dt.date.fromisoformat(value[:10]).toordinal()
    return day, (int(value[11:13]) * 60 + int(value[14:16]) if len(value) > 10 else -1)


Step = Callable[[dict[str, Any], random.Random, "dt.datetime | None"], None]


def _compile_plan(plan: _Plan, gens: dict[str, Gen], pools: ValuePools) -> Step | None:
    """One closure per rule the plan holds (nothing to loop over for the rules it does not)."""
    steps: list[Step] = []
    if plan.dates:
        steps.append(_dates_step(plan))
    for kind, *keys in plan.distinct:
        steps.append(_distinct_step(kind, tuple(keys), gens))
    for k, member in plan.shares:
        steps.append(_shares_step(k, member))
    if plan.location:
        steps.append(_location_step(tuple(plan.location)))
    if plan.person is not None:
        steps.append(_person_step(*plan.person, pools))
    if plan.poll is not None:
        steps.append(_poll_step(*plan.poll))
    if plan.period is not None:
        steps.append(_period_step(*plan.period))
    for k, sub in plan.nested:
        inner = _compile_plan(sub, {}, pools)
        if inner is not None:
            steps.append(_nested_step(k, inner))
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def run(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        for step in steps:
            step(args, rng, now)

    return run


def _dates_step(plan: _Plan) -> Step:
    spans = [(s.low, s.high, plan.dates[s.low], plan.dates[s.high], s) for s in plan.spans]
    in_span = {k for s in plan.spans for k in (s.low, s.high)}
    singles = [(k, f) for k, f in plan.dates.items() if k not in in_span]

    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        ref = _reference(rng, now)
        for low, high, low_f, high_f, span in spans:
            has_low, has_high = low in args, high in args
            if has_low or has_high:
                if high_f.past:  # a report's range ends in the past: place the end, then the start
                    end = _draw_moment(high_f, rng, ref)
                    start = _shift(end, low_f, span, rng, -1, ref)
                else:
                    start = _draw_moment(low_f, rng, ref)
                    end = _shift(start, high_f, span, rng, 1, ref)
                if has_low:
                    args[low] = _format(start)
                if has_high:
                    args[high] = _format(end)
        for k, f in singles:
            if k in args:
                args[k] = _format(_draw_moment(f, rng, ref))

    return step


def _distinct_step(kind: str, keys: tuple[str, ...], gens: dict[str, Gen]) -> Step:
    place = kind in ("city", "station")

    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        seen: list[Any] = []
        for k in keys:
            if k not in args:
                continue
            if seen and place:  # a second place in a trip or route: the same country
                near = _SAME_COUNTRY.get(seen[0], ())
                if not near:  # the first has no neighbour in the table: move it to one that has
                    first = next(key for key in keys if key in args)
                    options = _HAS_NEIGHBOUR if kind == "city" else _STATION_NEIGHBOURS
                    args[first] = seen[0] = options[int(rng.random() * len(options))]
                    near = _SAME_COUNTRY[seen[0]]
                args[k] = near[int(rng.random() * len(near))]
            for _ in range(10 if k in gens else 0):
                if args[k] not in seen:
                    break
                args[k] = gens[k](rng)
            seen.append(args[k])

    return step


def _shares_step(k: str, member: str) -> Step:
    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        items = args.get(k)
        if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
            base, extra = divmod(100, len(items))
            for i, item in enumerate(items):
                item[member] = base + (1 if i < extra else 0)

    return step


def _location_step(location: tuple[tuple[str, int], ...]) -> Step:
    rows, n = vocab.LOCATIONS, len(vocab.LOCATIONS)

    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        if sum(k in args for k, _ in location) > 1:
            row = rows[int(rng.random() * n)]
            for k, col in location:
                if k in args:
                    args[k] = row[col] if col < 4 else _address(row, rng)

    return step


def _person_step(name_key: str, email_key: str, pools: ValuePools) -> Step:
    email_of = pools.email_of

    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        if email_key in args:
            email = email_of.get(args.get(name_key))  # type: ignore[arg-type]
            if email is not None:
                args[email_key] = email

    return step


def _poll_step(q_key: str, o_key: str, lo_n: int, hi_n: int) -> Step:
    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        options = pool_lib.poll_options(args.get(q_key, ""))
        if options and o_key in args:
            n = min(len(options), lo_n + int(rng.random() * (hi_n - lo_n + 1)))
            args[o_key] = rng.sample(options, n)

    return step


def _period_step(year_key: str, month_key: str | None) -> Step:
    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        if now is None or year_key not in args:
            return  # without a current date, any year in the kind's range will do
        back = int(rng.random() * 14) + 1  # one to fourteen months ago
        index = now.year * 12 + now.month - 1 - back
        args[year_key] = index // 12
        if month_key is not None and month_key in args:
            args[month_key] = index % 12 + 1

    return step


def _nested_step(k: str, inner: Step) -> Step:
    def step(args: dict[str, Any], rng: random.Random, now: dt.datetime | None) -> None:
        value = args.get(k)
        if isinstance(value, dict):
            inner(value, rng, now)

    return step


def _address(row: tuple[str, str, str, str], rng: random.Random) -> str:
    streets = vocab.STREETS.get(row[3], vocab.STREETS_EN)
    return f"{1 + int(rng.random() * 240)} {streets[int(rng.random() * len(streets))]}, {row[0]}"


# --- the per-tool sampler ------------------------------------------------------------------------------


class ToolSampler:
    """Argument sampler for one tool, compiled once from its parameters schema.

    >>> pools = ValuePools.build(0, size=16)
    >>> schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    >>> s = ToolSampler(schema, pools)
    >>> args = s.sample(random.Random(1))
    >>> s.validate(args) and args["city"] in pools.get("city")
    True
    """

    def __init__(self, parameters_schema: dict[str, Any], pools: ValuePools, tool_name: str = "<tool>"):
        """Compile one generator per parameter and the schema's validator.

        Args:
            parameters_schema: The tool's `parameters` (a JSON Schema object, refs already inlined).
            pools: Value pools from `ValuePools.build`.
            tool_name: Named in error messages.

        Raises:
            ValueGenerationError: a parameter's schema admits no value the sampler can produce.
        """
        self.schema = parameters_schema
        self.tool_name = tool_name
        ctx = _Context(pools, tool_name)
        self.properties: dict[str, dict[str, Any]] = dict(parameters_schema.get("properties", {}))
        req = set(parameters_schema.get("required", ()))
        self.required = tuple(k for k in self.properties if k in req)
        self.optional = tuple(k for k in self.properties if k not in req)
        self.kinds = {k: value_kind(k, s) for k, s in self.properties.items()}
        self._gens = {k: _compile(k, s, ctx, k) for k, s in self.properties.items()}
        self._fields = [(k, self._gens[k], k in req) for k in self.properties]
        self._pairs = ordered_pairs(self.properties)
        self._pools = pools
        plan = _build_plan(parameters_schema, ctx)
        self._plan = None if plan.empty() else plan
        self._apply = None if self._plan is None else _compile_plan(self._plan, self._gens, pools)
        # use_default=False: fastjsonschema would otherwise write defaults into the ground truth.
        self._validate = fastjsonschema.compile(
            parameters_schema, use_default=False, formats={"uuid": UUID_RE}
        )
        # The arguments `sample` returned last, which passed the validator (see `validated`).
        self._last: dict[str, Any] | None = None
        probe = random.Random(0)  # fail at construction, not in the middle of a dataset
        for _ in range(3):
            self.sample(probe, "all")

    def validate(self, args: dict[str, Any]) -> bool:
        """Return True iff `args` validates against the tool's schema (compiled validator)."""
        try:
            self._validate(args)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def validated(self, args: dict[str, Any]) -> bool:
        """`validate`, without running the validator again on the arguments `sample` just returned and validated.

        Verification calls this right after the sample is built: the object `sample` returned last has passed
        the same validator and nothing mutates arguments after they are drawn, so only other objects (an
        earlier part of a parallel request, filtered arguments) are validated again.
        """
        return args is self._last or self.validate(args)

    def sample_value(
        self, name: str, rng: random.Random, now: dt.datetime | None = None, args: dict[str, Any] | None = None
    ) -> Any:
        """Draw one value for parameter `name` (e.g. a different value for a clarification's follow-up).

        Args:
            name: A top-level parameter.
            rng: The caller's seeded random generator.
            now: The sample's current date-time: a date lands in the parameter's window around it.
            args: The other arguments of the call: the end of a span keeps to its start and vice versa.
        """
        plan = self._plan
        if plan is None or name not in plan.dates:
            return self._gens[name](rng)
        ref = _reference(rng, now)
        f = plan.dates[name]
        for span in plan.spans:
            other = span.low if name == span.high else span.high if name == span.low else None
            if other is not None and args and isinstance(args.get(other), str):
                moment = _parse_moment(args[other])
                return _format(_shift(moment, f, span, rng, 1 if name == span.high else -1, ref))
        return _draw_date(f, rng, ref)

    def sample(
        self, rng: random.Random, optional: Literal["none", "some", "all"] = "some", now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Draw arguments that validate against the tool's schema and agree with each other.

        Args:
            rng: The caller's seeded random generator (the only source of randomness).
            optional: Which optional parameters to include: none, a random half, or all.
            now: The sample's current date-time (`generators.dates.sample_now`). Dates then fall in a
                realistic window around it: ahead for bookings, behind for logs and reports. Without
                it, around a pseudo current date drawn near 2026.

        Returns:
            Arguments in the schema's property order.

        Raises:
            ValueGenerationError: no valid arguments after `MAX_ATTEMPTS` draws (names the parameter).
        """
        validate, apply = self._validate, self._apply
        for _ in range(MAX_ATTEMPTS):
            if optional == "some":
                args = {k: g(rng) for k, g, req in self._fields if req or rng.random() < 0.5}
            elif optional == "all":
                args = {k: g(rng) for k, g, _ in self._fields}
            else:
                args = {k: g(rng) for k, g, req in self._fields if req}
            if self._pairs:
                _order(args, self._pairs)
            if apply is not None:
                apply(args, rng, now)
            try:
                validate(args)
            except fastjsonschema.JsonSchemaException:
                continue
            self._last = args
            return args
        raise ValueGenerationError(f"tool {self.tool_name!r}: {self._culprit(args)}")

    def _culprit(self, args: dict[str, Any]) -> str:
        try:
            self._validate(args)
        except fastjsonschema.JsonSchemaException as exc:
            return f"generated arguments keep failing the schema after {MAX_ATTEMPTS} attempts: {exc}"
        return "generation failed"

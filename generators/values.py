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
from faker import Faker

from generators import _vocab as vocab
from generators._regex import nested_unbounded, regex_generator
from generators.kinds import main_type as _main_type
from generators.kinds import name_tokens, value_kind
from generators.kinds import singular as _singular

Gen = Callable[[random.Random], Any]


def _pick(seq: Any) -> Gen:
    # rng.choice costs ~0.35 µs (it draws bits in a loop); indexing by rng.random() costs ~0.1 µs.
    seq = tuple(seq)
    n = len(seq)
    return lambda rng: seq[int(rng.random() * n)]


def _randint(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))

# Dates are drawn around a fixed anchor, not today, so the same seed gives the same dataset any day.
ANCHOR = dt.date(2026, 1, 1)
DATE_SPAN = (-365, 730)
MAX_ATTEMPTS = 30  # regenerations of one sample or one value before giving up
PATTERN_CHECK_BUDGET_S = 0.005  # one pattern check on a generated value; slower patterns are refused
VALUE_DEADLINE_S = 0.05  # wall-clock bound on constructing one value (regex retries, pool filtering)
_MILITARY = re.compile(r"\b(?:DPO|FPO|APO|USNS|USNV|USS|PSC|Unit)\b")
UUID_RE = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z"


class ValueGenerationError(ValueError):
    """No valid value could be produced for a parameter; the message names the tool and parameter."""


@dataclass(frozen=True)
class ValuePools:
    """Values drawn from Faker once per seed, by kind; the hot path picks from them with `rng.choice`."""

    seed: int
    pools: dict[str, tuple[str, ...]]

    @staticmethod
    def build(seed: int, size: int = 256) -> ValuePools:
        """Draw every pool for `seed` (cached: pools are immutable and cost ~0.3 s to draw).

        Args:
            seed: Seeds the Faker instance (`seed_instance`) and the shuffles; same seed, same pools.
            size: Values drawn per Faker-backed kind.

        Returns:
            The pools, keyed by kind.
        """
        return _build_pools(seed, size)

    def get(self, kind: str) -> tuple[str, ...]:
        """Return the pool for `kind` (the generic word pool when there is none)."""
        return self.pools.get(kind) or self.pools["word"]


def _unique(values: list[str], vague: str) -> tuple[str, ...]:
    # Keep order (determinism) and drop values that a vague phrase contains as whole words ("usual"),
    # so a clarification's stand-in can never mention the value it stands in for.
    seen: dict[str, None] = {}
    for v in values:
        v = " ".join(v.split())
        if v and f" {v.lower()} " not in vague:
            seen.setdefault(v, None)
    return tuple(seen)


@functools.lru_cache(maxsize=8)
def _build_pools(seed: int, size: int) -> ValuePools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)

    def draw(fn: Callable[[], str], n: int = size) -> list[str]:
        return [fn() for _ in range(n)]

    def places() -> str:
        return fake.location_on_land()[2]

    def country() -> str:
        name = fake.country()
        return name if "(" not in name and "," not in name else "France"

    def phone() -> str:
        return "+1" + fake.numerify("%##%######")

    def address() -> str:
        # Faker's en_US mixes in military mail addresses (DPO/FPO/APO), which nobody types in a request.
        for _ in range(10):
            text = fake.address().replace("\n", ", ")
            if not _MILITARY.search(text):
                return text
        return fake.street_address()

    def identifier() -> str:
        return fake.bothify("??-#####").upper()

    raw: dict[str, list[str]] = {
        "city": list(vocab.CITIES) + draw(places, size // 2),
        "country": draw(country),
        "country_code": draw(fake.country_code),
        "address": draw(address),
        "street": draw(fake.street_address),
        "state": draw(fake.state),
        "zipcode": draw(fake.zipcode),
        "person_name": draw(fake.name),
        "first_name": draw(fake.first_name),
        "last_name": draw(fake.last_name),
        "username": draw(fake.user_name),
        "company": draw(fake.company),
        "email": draw(fake.safe_email),
        "phone": draw(phone),
        "url": draw(fake.url) + [fake.url() + fake.uri_path() for _ in range(size // 2)],
        "hostname": draw(fake.hostname),
        "ipv4": draw(fake.ipv4_public),
        "word": draw(fake.word),
        "sentence": list(vocab.SENTENCES),
        "title": list(vocab.TITLES),
        "option": list(vocab.OPTIONS),
        "job": draw(fake.job),
        "currency_code": list(vocab.CURRENCIES),
        "iata_code": [code for code, _ in vocab.AIRPORTS],
        "language": draw(fake.language_name),
        "language_code": list(vocab.LANGUAGE_CODES),
        "timezone": draw(fake.timezone),
        "color": draw(fake.safe_color_name),
        "file_path": draw(fake.file_path),
        "file_name": draw(fake.file_name),
        "identifier": draw(identifier),
        "password": draw(lambda: fake.password(length=12)),
        "product": [f"{rng.choice(vocab.ADJECTIVES)} {rng.choice(vocab.PRODUCTS)}" for _ in range(size)],
        "keyword": list(vocab.KEYWORDS),
    }
    for kind, words in vocab.CURATED.items():
        raw.setdefault(kind, list(words))
    vague = vocab.vague_blob()
    pools = {kind: _unique(values, vague) for kind, values in raw.items()}
    day0 = ANCHOR + dt.timedelta(days=DATE_SPAN[0])
    n_days = DATE_SPAN[1] - DATE_SPAN[0]
    pools["date"] = tuple((day0 + dt.timedelta(days=i)).isoformat() for i in range(n_days))
    pools["time"] = tuple(f"{h:02d}:{m:02d}" for h in range(7, 22) for m in (0, 15, 30, 45))
    return ValuePools(seed=seed, pools=pools)


# --- per-schema generators -----------------------------------------------------------------------------


class _Context:
    """What a generator needs while being compiled: the pools and where it is, for error messages."""

    def __init__(self, pools: ValuePools, tool: str):
        self.pools = pools
        self.tool = tool

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
    special = _special_string(kind, name, schema, ctx.pools)
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
        candidates = [v for v in list(ctx.pools.get(kind)) + _description_examples(schema) if fits(v)]
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


def _special_string(kind: str, name: str, schema: dict[str, Any], pools: ValuePools) -> Gen | None:
    """Generators for kinds that are computed rather than picked (dates, ids, versions)."""
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
        toks = [t for t in name_tokens(name) if t not in ("id", "ids", "number", "code", "ref")]
        prefix = (toks[0][:3] if toks else "id").upper()
        return lambda rng: f"{prefix}-{10000 + int(rng.random() * 90000)}"
    if kind == "version":
        return lambda rng: f"{_randint(rng, 0, 5)}.{_randint(rng, 0, 20)}.{_randint(rng, 0, 9)}"
    return None


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
        # use_default=False: fastjsonschema would otherwise write defaults into the ground truth.
        self._validate = fastjsonschema.compile(
            parameters_schema, use_default=False, formats={"uuid": UUID_RE}
        )
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

    def sample_value(self, name: str, rng: random.Random) -> Any:
        """Draw one value for parameter `name` (e.g. a different value for a clarification's follow-up)."""
        return self._gens[name](rng)

    def sample(self, rng: random.Random, optional: Literal["none", "some", "all"] = "some") -> dict[str, Any]:
        """Draw arguments that validate against the tool's schema.

        Args:
            rng: The caller's seeded random generator (the only source of randomness).
            optional: Which optional parameters to include: none, a random half, or all.

        Returns:
            Arguments in the schema's property order.

        Raises:
            ValueGenerationError: no valid arguments after `MAX_ATTEMPTS` draws (names the parameter).
        """
        validate = self._validate
        for _ in range(MAX_ATTEMPTS):
            if optional == "some":
                args = {k: g(rng) for k, g, req in self._fields if req or rng.random() < 0.5}
            elif optional == "all":
                args = {k: g(rng) for k, g, _ in self._fields}
            else:
                args = {k: g(rng) for k, g, req in self._fields if req}
            if self._pairs:
                _order(args, self._pairs)
            try:
                validate(args)
            except fastjsonschema.JsonSchemaException:
                continue
            return args
        raise ValueGenerationError(f"tool {self.tool_name!r}: {self._culprit(args)}")

    def _culprit(self, args: dict[str, Any]) -> str:
        try:
            self._validate(args)
        except fastjsonschema.JsonSchemaException as exc:
            return f"generated arguments keep failing the schema after {MAX_ATTEMPTS} attempts: {exc}"
        return "generation failed"

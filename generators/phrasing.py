"""Requests as people type them: a tool's request frames and slot phrases turned into text.

A tool file may carry hand-written ``x-frames`` (whole requests with ``{PARAM}`` placeholders) and
``x-slots`` (how a person mentions each parameter: phrases with ``{value}``, or named values for enums
and booleans); the format is documented in the README. A tool without them gets slot phrases composed
from its schema (kind, name, format) that never print a multi-word parameter name, and a few generic
frames around a short verb phrase from its description.

Placeholders are plain ``{name}``: `split_template` parses each text once when a tool is compiled and
rendering concatenates the precompiled pieces (no ``str.format``, no Jinja, no regex per sample), so
text from a tool file can never run code or reach attributes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from generators import _vocab as vocab

# say(value, schema, name) -> the value as a person writes it (generators.surface.surface, bound per sample)
Say = Callable[[Any, dict[str, Any], str], str]

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLAIN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SLOT_FIELD = re.compile(r"^value(?:\.([A-Za-z0-9_-]{1,64}))?$")
_WORD5 = re.compile(r"\b[a-z]{5,}\b")

# Shares of the style variations applied to a rendered request.
LOWERCASE_SHARE = 0.15
TYPO_SHARE = 0.06
OPENER_SHARE = 0.12
CLOSER_SHARE = 0.12
OPENERS = ("hey, ", "Hi! ", "hi - ", "ok so ", "Quick one. ", "Morning! ", "hello, ", "Hey there. ", "so ",
           "Hi, ", "right, ", "Sorry to bother you. ", "um, ", "Afternoon! ", "Hiya, ", "ok, ", "One thing - ",
           "Evening. ", "Hello again. ", "well, ")
CLOSERS = (" thanks", " Thanks!", " thx", " please", " cheers", " Thank you.", " ty", " Thanks in advance.",
           " ta", " Much appreciated.", " if you can", " :)", " thank you!", " - thanks a lot", " Cheers!",
           " when you get a chance", " appreciate it", " Thanks so much.")
_GREETINGS = frozenset(("hi", "hey", "hello", "morning", "hiya"))  # a text that greets gets no opener
# How add-ons (the call's parameters a frame lacks) join the sentence, before its final punctuation.
ADDON_JOINERS = (", ", " ", ", and ", " - ", ", ", ", ")


class Template:
    """A text split at its placeholders: ``literals[0] names[0] literals[1] ... literals[-1]``."""

    __slots__ = ("literals", "names", "params")

    def __init__(self, literals: Sequence[str], names: Sequence[str]):
        self.literals = tuple(literals)
        self.names = tuple(names)
        self.params = frozenset(names)

    def fill(self, texts: Sequence[str]) -> str:
        """The text with ``texts[i]`` at placeholder ``i``."""
        lits = self.literals
        out = lits[0]
        for text, lit in zip(texts, lits[1:], strict=True):
            out = glue(glue(out, text, sentence_start=True), lit)
        return out


def split_template(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | str:
    """Split a frame or slot phrase at its ``{...}`` placeholders.

    Args:
        text: the frame or phrase.

    Returns:
        ``(literals, names)`` (names are the raw placeholder contents, unchecked), or an error message
        when a brace stands outside a placeholder (Jinja's ``{{``/``{%`` included).

    >>> split_template("any {place_type} {location}?")
    (('any ', ' ', '?'), ('place_type', 'location'))
    >>> split_template("{{ location }}")
    "literal '{' or '}' outside a plain {name} placeholder (Jinja syntax is not allowed)"
    """
    parts = PLACEHOLDER.split(text)
    literals = tuple(parts[0::2])
    if any("{" in lit or "}" in lit for lit in literals):
        return "literal '{' or '}' outside a plain {name} placeholder (Jinja syntax is not allowed)"
    return literals, tuple(parts[1::2])


def value_key(value: Any) -> str:
    """The key a named value is listed under in a shape-B slot: the string itself, else its JSON.

    >>> [value_key(v) for v in ("pharmacy", True, 3)]
    ['pharmacy', 'true', '3']
    """
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    return json.dumps(value)


# --- joining a text and the next piece -------------------------------------------------------------

_LAST_WORD = re.compile(r"([A-Za-z]+)(\s*)$")
_FIRST_WORD_ANY = re.compile(r"^(\s*)([A-Za-z]+)\b")
_TAIL = 48  # _last_word reads this many characters from the end of a text
# Doubled words a join may legitimately make ("that that" is rare in requests, but it is English).
_DOUBLE_OK = frozenset(("that", "had"))


def _last_word(text: str) -> re.Match[str] | None:
    """``_LAST_WORD.search(text)``, reading only the end of a long text (a frame grows as it is filled)."""
    start = len(text) - _TAIL
    if start <= 0:
        return _LAST_WORD.search(text)
    m = _LAST_WORD.search(text, start)
    if m is None:  # no word at the end, unless the window is all whitespace after one
        return _LAST_WORD.search(text) if text[start:].isspace() else None
    if m.start() == start and text[start - 1].isascii() and text[start - 1].isalpha():
        return _LAST_WORD.search(text)  # the word goes on before the window
    return m


def glue(left: str, right: str, *, sentence_start: bool = False) -> str:
    """`left` + `right`, without a word doubled across the join, the literal's copy dropped.

    A frame or phrase literal that ends with the word a slot text starts with ("coming in " + "in six days")
    loses its word; a literal that starts with the word a value ends with ("inventory-service" + " service")
    loses it too. Which side is a literal: the side with the whitespace at the join. With `sentence_start`,
    a text after ". " starts with a capital ("... on the 30th. With wifi").

    >>> glue("coming in ", "in six days"), glue("our inventory-service", " service on staging")
    ('coming in six days', 'our inventory-service on staging')
    >>> glue("on the 30th. ", "with wifi", sentence_start=True)
    'on the 30th. With wifi'
    """
    if not left or not right:
        return left + right
    # A doubled word needs whitespace at the join (the literal's side): most joins have none to check.
    if left[-1].isspace() or right[0].isspace():
        a = _last_word(left)
        b = _FIRST_WORD_ANY.match(right) if a is not None else None
        if b is not None and a.group(1).lower() == b.group(2).lower() and a.group(1).lower() not in _DOUBLE_OK:
            if a.group(2):  # the left text is the literal ("... in "): drop its word
                word = a.group(1)
                left = left[: a.start(1)]
                if word[:1].isupper() and right[:1].islower():
                    right = right[:1].upper() + right[1:]
            else:  # the right text is the literal (" service ..."): drop its word
                right = right[b.end(2):]
    if sentence_start and right[:1].islower():
        body = left.rstrip()  # left ends with ". " / "! " / "? " (r"[.!?]\s+$")
        if len(body) < len(left) and body[-1:] in (".", "!", "?"):
            first = right.split(" ", 1)[0]
            if "@" not in first and "://" not in first:
                right = right[:1].upper() + right[1:]
    return left + right


# --- validation of x-frames / x-slots -------------------------------------------------------------


def _named_values(schema: dict[str, Any]) -> tuple[str, ...] | None:
    # The values a shape-B slot must name: enum values, true/false, or the items' enum; None if open.
    if "enum" in schema:
        return tuple(value_key(v) for v in schema["enum"])
    if "const" in schema:
        return (value_key(schema["const"]),)
    typ = schema.get("type")
    if typ == "boolean" or (isinstance(typ, list) and "boolean" in typ):
        return ("true", "false")
    items = schema.get("items")
    if typ == "array" and isinstance(items, dict):
        return _named_values(items)
    return None


def validate_phrasing(doc: Mapping[str, Any], properties: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check a tool file's ``x-frames`` and ``x-slots`` against its parameters.

    Args:
        doc: the tool document (the fields may be absent).
        properties: the tool's top-level parameter schemas (refs inlined).

    Returns:
        ``(JSON pointer, what to change)`` for every problem; empty when valid.
    """
    out: list[tuple[str, str]] = []
    frames = doc.get("x-frames")
    slots = doc.get("x-slots")
    if frames is not None:
        if not isinstance(frames, list) or not frames:
            return [("/x-frames", "must be a non-empty list of request strings")]
        for i, frame in enumerate(frames):
            where = f"/x-frames/{i}"
            if not isinstance(frame, str) or not frame.strip():
                out.append((where, "must be a non-empty string"))
                continue
            parts = split_template(frame)
            if isinstance(parts, str):
                out.append((where, parts))
                continue
            seen: set[str] = set()
            for name in parts[1]:
                if not _PLAIN.match(name):
                    out.append((where, f"placeholder {{{name}}} is not a plain {{PARAM}}: no spaces, format "
                                       "specs, attribute access or expressions"))
                elif name not in properties:
                    known = ", ".join(sorted(properties)) or "(none)"
                    out.append((where, f"{{{name}}} names no parameter of this tool; parameters: {known}"))
                elif name in seen:
                    out.append((where, f"{{{name}}} appears twice; use each parameter at most once per frame"))
                seen.add(name)
        if slots is None:
            out.append(("/x-slots", "a tool with x-frames needs x-slots: one entry per parameter"))
    if slots is None:
        return out
    if not isinstance(slots, dict):
        return [*out, ("/x-slots", "must be an object mapping each parameter to its slot phrases")]
    for name in slots:
        if name not in properties:
            out.append((f"/x-slots/{_escape(name)}", f"{name!r} is not a parameter of this tool; remove it"))
    for name, schema in properties.items():
        where = f"/x-slots/{_escape(name)}"
        if name not in slots:
            out.append(("/x-slots", f"parameter {name!r} has no slot phrases; add x-slots/{name}"))
            continue
        out.extend(_check_slot(slots[name], schema if isinstance(schema, dict) else {}, where))
    return out


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _check_slot(slot: Any, schema: dict[str, Any], where: str) -> list[tuple[str, str]]:
    named = _named_values(schema)
    if isinstance(slot, list):
        if named is not None:
            return [(where, "an enum or boolean parameter needs the object form "
                            '{"values": {...}} naming every value, so no raw value reaches a request')]
        if not slot:
            return [(where, "needs at least one phrase with {value}")]
        fields = set(schema.get("properties", {})) if isinstance(schema.get("properties"), dict) else set()
        out = []
        for i, phrase in enumerate(slot):
            out.extend(_check_phrase(phrase, f"{where}/{i}", fields))
        return out
    if not isinstance(slot, dict):
        return [(where, "must be a list of phrases with {value}, or an object with \"values\"")]
    out = []
    extra = sorted(set(slot) - {"phrases", "values"})
    if extra:
        out.append((where, f"unknown keys {extra}; only 'phrases' and 'values' are allowed"))
    if named is None:
        return [*out, (where, "the object form is for enum and boolean parameters; use a list of phrases "
                              "with {value}")]
    phrases = slot.get("phrases", ["{value}"])
    if not isinstance(phrases, list) or not phrases:
        out.append((f"{where}/phrases", "must be a non-empty list of phrases with {value}"))
    else:
        for i, phrase in enumerate(phrases):
            out.extend(_check_phrase(phrase, f"{where}/phrases/{i}", set(), exactly_value=True))
    values = slot.get("values")
    if not isinstance(values, dict):
        return [*out, (f"{where}/values", "must map every value to a list of ways a person names it")]
    for key in named:
        if key not in values:
            out.append((f"{where}/values", f"value {key!r} has no names; add values/{key}"))
    for key, names in values.items():
        vwhere = f"{where}/values/{_escape(key)}"
        if key not in named:
            out.append((vwhere, f"{key!r} is not a value of this parameter; values: {', '.join(named)}"))
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            out.append((vwhere, "must be a non-empty list of non-empty strings"))
        elif any("{" in n or "}" in n for n in names):
            out.append((vwhere, "value names are plain text: no braces"))
    return out


def _check_phrase(phrase: Any, where: str, fields: set[str], exactly_value: bool = False) -> list[tuple[str, str]]:
    if not isinstance(phrase, str) or not phrase.strip():
        return [(where, "must be a non-empty string")]
    parts = split_template(phrase)
    if isinstance(parts, str):
        return [(where, parts)]
    names = parts[1]
    out = []
    for name in names:
        m = _SLOT_FIELD.match(name)
        if m is None:
            out.append((where, f"placeholder {{{name}}} is not allowed; use {{value}}"
                               + ("" if exactly_value else " or {value.FIELD} of an object parameter")))
        elif m.group(1) is not None and (exactly_value or m.group(1) not in fields):
            out.append((where, f"{{{name}}}: {m.group(1)!r} is not a field of this parameter's object"))
    if not names:
        out.append((where, "must contain {value}" + ("" if exactly_value else " (or {value.FIELD})")))
    elif exactly_value and names != ("value",):
        out.append((where, "must contain {value} exactly once"))
    elif len(names) != len(set(names)):
        out.append((where, "uses a placeholder twice"))
    return out


# --- compiled slots ---------------------------------------------------------------------------------


class Slot:
    """How one parameter is mentioned: phrases around the value, and names for enum/boolean values.

    Args:
        name: the parameter.
        schema: its JSON Schema.
        spec: its ``x-slots`` entry (validated), or None to compose one from the schema.
    """

    __slots__ = ("name", "schema", "phrases", "pairs", "field_phrases", "values", "value_names", "item_schema",
                 "is_array", "fields", "composed_fields", "small", "big")

    def __init__(self, name: str, schema: dict[str, Any], spec: Any = None):
        self.name = name
        self.schema = schema
        self.is_array = schema.get("type") == "array"
        items = schema.get("items")
        self.item_schema = items if isinstance(items, dict) else {}
        # A composed object slot mentions each field by its own composed slot ("from ana@x.io and with
        # attachments"), never by its name.
        self.fields: dict[str, Slot] | None = None
        props = schema.get("properties")
        if spec is None and isinstance(props, dict) and props:
            self.fields = {f: Slot(f, sub if isinstance(sub, dict) else {}) for f, sub in props.items()}
        if spec is None:
            spec = compose_slot(name, schema)
        self.values: dict[str, tuple[str, ...]] | None = None
        # The names normalised as verification compares them: {value key: names}.
        self.value_names: dict[str, tuple[str, ...]] = {}
        if isinstance(spec, dict):
            self.values = {str(k): tuple(v) for k, v in spec["values"].items()}
            self.value_names = {k: tuple(_norm(n) for n in names) for k, names in self.values.items()}
            raw = spec.get("phrases", ["{value}"])
        else:
            raw = spec
        phrases = []
        for text in raw:
            parts = split_template(text)
            assert not isinstance(parts, str), parts  # validated by the registry
            lits, names = parts
            phrases.append(Template(lits, [_SLOT_FIELD.match(n).group(1) or "" for n in names]))  # type: ignore[union-attr]
        self.phrases = tuple(phrases)
        # Phrases naming object fields take the slow path; the others are (before, after) the value.
        self.field_phrases = any(any(p.names) for p in self.phrases)
        # Fields no hand-written phrase can say (a boolean inside an object) fall back to composed slots.
        self.composed_fields: dict[str, Slot] = {}
        if self.field_phrases and isinstance(props, dict):
            self.composed_fields = {f: Slot(f, sub if isinstance(sub, dict) else {}) for f, sub in props.items()}
        # (before, after, whether a date's own "on"/"at" goes after `before`), decided once per phrase.
        self.pairs = tuple((p.literals[0], p.literals[1], _AFTER_PREPOSITION.search(p.literals[0]) is not None)
                           for p in self.phrases if p.names == ("",))
        if not self.pairs:
            self.pairs = (("", "", False),)
        # Phrases for a few things ("a handful, say 4") and the ones a larger number takes instead.
        self.small = tuple(_SMALL.search(b + a) is not None for b, a, _ in self.pairs)
        self.big = tuple(p for p, small in zip(self.pairs, self.small, strict=True) if not small)

    def render(self, value: Any, rng: random.Random, say: Say) -> str:
        """The parameter mentioned with `value`, e.g. ``"within 1500 metres"`` or ``"by bike"``."""
        if self.values is not None:
            if self.is_array and type(value) is list:
                said = _join_and([_pick(rng, self.values[value_key(v)]) for v in value])
            else:
                names = self.values[value_key(value)]
                said = names[int(rng.random() * len(names))]
        elif self.fields is not None and type(value) is dict:
            fields = self.fields
            return _join_and([fields[f].render(v, rng, say) if f in fields else say(v, {}, f)
                              for f, v in value.items()])
        elif self.field_phrases and type(value) is dict:
            return self._render_fields(value, rng, say)
        else:
            said = say(value, self.schema, self.name)
        i = int(rng.random() * len(self.pairs))
        before, after, drops = self.pairs[i]
        if self.small[i] and type(value) in (int, float) and value > 5 and self.big:
            # "a handful, say 46": a phrase for a few things only says a few; the next phrase says more
            before, after, drops = self.big[i % len(self.big)]
        if drops and said[:3] in ("on ", "at "):
            said = said[3:]  # a date says "on 14 March"; "from on 14 March" reads "from 14 March"
        if after[:7] == " times " or after == " times":
            # "1 times a day" -> "once a day", "2 times" -> "twice"
            word = _TIMES.get(said)
            if word is not None:
                said, after = word, after[6:]
        elif said == "1" and after:
            after = one_of(after)  # "for 1 people" -> "for 1 person"
        if before[-3:] == "at " and said in _CITIES:
            before = before[:-3] + "in "  # "taking place in Brussels", "held in Dubai"; "at" is for a room
        if (type(value) is str and said is value and said.count(" ") > 1 and _FREE_TEXT.search(said)
                and before[-1:] != '"'):
            said = f'"{said}"'  # a sentence mid-request: quoted, its own "." not followed by the frame's text
        return glue(glue(before, said), after)

    def _render_fields(self, value: dict[str, Any], rng: random.Random, say: Say) -> str:
        # Phrases with {value.FIELD}: one whose fields the value has and that says all of it.
        fits = [p for p in self.phrases if set(p.names) - {""} <= value.keys()
                and ("" in p.names or set(p.names) >= value.keys())]
        if not fits:
            # The phrase saying most of the value, the rest by each field's composed slot ("... with attachment").
            partial = [p for p in self.phrases if "" not in p.names and set(p.names) <= value.keys()]
            if not self.composed_fields:
                return say(value, self.schema, self.name)
            if not partial:
                return _join_and([self.composed_fields[f].render(v, rng, say) for f, v in value.items()
                                  if f in self.composed_fields])
            most = max(len(set(p.names)) for p in partial)
            partial = [p for p in partial if len(set(p.names)) == most]
            tpl = partial[int(rng.random() * len(partial))]
            props = self.schema.get("properties", {})
            head = _fill_said(tpl, [say(value[f], props.get(f, {}), f) for f in tpl.names])
            rest = [self.composed_fields[f].render(v, rng, say) for f, v in value.items()
                    if f not in tpl.names and f in self.composed_fields]
            return _join_and([head, *rest])
        tpl = fits[int(rng.random() * len(fits))]
        props = self.schema.get("properties", {})
        return _fill_said(tpl, [say(value, self.schema, self.name) if f == "" else say(value[f], props.get(f, {}), f)
                                for f in tpl.names])


# Phrases only for small numbers ("a handful, say 4").
_SMALL = re.compile(r"\b(handful|a few|a couple)\b")
_TIMES = {"1": "once", "one": "once", "2": "twice", "two": "twice", "3": "three times"}
# A free-text value that is a sentence: it ends with its own punctuation, or holds two sentences.
_FREE_TEXT = re.compile(r"^\S+ \S+ .*(?:\w[.!?]$|[a-z]{2}[.!?] [A-Z])")
_CITIES = frozenset(vocab.CITIES) | frozenset(row[0] for row in vocab.LOCATIONS)

# Plural nouns a phrase puts after its value that stay plural after "1" ("1 is", "1 onwards").
_NOT_PLURAL = frozenset({"is", "was", "has", "as", "us", "its", "this", "thus", "plus", "onwards", "yes", "less"})


def one_of(after: str) -> str:
    """The text after a value of 1 with its first word made singular: ``" people max"`` -> ``" person max"``.

    >>> one_of(" nights in Rome"), one_of(" people"), one_of(" passes"), one_of(" stars or more"), one_of(" is fine")
    (' night in Rome', ' person', ' pass', ' star or more', ' is fine')
    """
    match = _FIRST_WORD.match(after)
    if match is None:
        return after
    word = match.group(1)
    if word == "people":
        one = "person"
    elif word in _NOT_PLURAL or not word.endswith("s") or word.endswith("ss") or len(word) < 4:
        return after
    elif word.endswith("ies"):
        one = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        one = word[:-2]
    else:
        one = word[:-1]
    return after[: match.start(1)] + one + after[match.end(1):]


_FIRST_WORD = re.compile(r"^\s+([a-z]+)\b")


def _fill_said(tpl: Template, said: list[str]) -> str:
    # As `Slot.render`: a date after a preposition drops its own "on"/"at" ("between Tuesday and the 29th").
    said = [t[3:] if t[:3] in ("on ", "at ") and _AFTER_PREPOSITION.search(lit) else t
            for t, lit in zip(said, tpl.literals, strict=False)]
    return tpl.fill(said)


# Words after which a date or time drops its own "on" / "at" ("until at 8pm" -> "until 8pm").
_AFTER_PREPOSITION = re.compile(r"\b(from|since|until|till|through|thru|before|after|by|including|between|and|to|"
                                r"or|than|as of)\s*$", re.I)


def _norm(text: str) -> str:
    # As generators.surface.normalize_text compares texts.
    return " ".join(text.lower().replace("\u2019", "'").split())


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _join_and(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


# --- slots composed from a schema ---------------------------------------------------------------------

_UNITS = frozenset("meters metres km kilometers kilometres miles minutes hours days nights weeks months seconds "
                   "people guests adults children seats rooms items units copies servings pages percent".split())
# Name words that say nothing about the value: "thread_id" is mentioned as "thread ...".
_GENERIC = frozenset("id ids name names code number num key uuid ref value type kind mode flag enabled is "
                     "include show only use now new".split())
_KIND_PHRASES: dict[str, tuple[str, ...]] = {
    "date": ("on {value}", "for {value}"),
    "datetime": ("at {value}", "for {value}"),
    "time": ("at {value}",),
    "city": ("in {value}", "for {value}"),
    "address": ("at {value}",),
    "country": ("in {value}",),
    "state": ("in {value}",),
    "email": ("{value}",),
    "url": ("{value}",),
    "money": ("for {value}", "of {value}"),
    "salary": ("of {value}",),
    "sentence": ('saying "{value}"', 'that says "{value}"', 'with the text "{value}"'),
    "keyword": ('for "{value}"', "about {value}"),
    "title": ('called "{value}"', 'titled "{value}"'),
    "person_name": ("for {value}", "with {value}"),
    "company": ("for {value}", "at {value}"),
    "phone": ("on {value}", "at {value}"),
}


def head_word(name: str) -> str:
    """The one word of a parameter name that says what it is: ``thread_id`` -> thread, ``radius_meters`` -> meters.

    >>> [head_word(n) for n in ("thread_id", "radius_meters", "city", "include_hourly")]
    ['thread', 'meters', 'city', 'hourly']
    """
    from generators.values import name_tokens  # lazily: the registry imports this module, values pulls in Faker

    toks = name_tokens(name) or (name.lower(),)
    useful = [t for t in toks if t not in _GENERIC] or list(toks)
    if len(toks) > 1 and toks[-1] in _GENERIC:
        return useful[0]
    return useful[-1]


def compose_slot(name: str, schema: dict[str, Any]) -> Any:
    """A slot for a parameter without hand-written phrases, from its kind and name (one word of it at most).

    Args:
        name: the parameter.
        schema: its JSON Schema.

    Returns:
        An ``x-slots`` entry (a list of phrases, or ``{"values": ...}`` for enums and booleans).

    >>> compose_slot("radius_meters", {"type": "integer"})
    ['{value} meters', 'within {value} meters']
    >>> compose_slot("place_type", {"type": "string", "enum": ["gas_station", "cafe"]})
    {'values': {'gas_station': ['gas station'], 'cafe': ['cafe']}}
    """
    from generators.values import value_kind

    named = _named_values(schema)
    head = head_word(name)
    if named is not None:
        if named == ("true", "false"):
            return {"values": {"true": [f"with {head}", f"including {head}"],
                               "false": [f"without {head}", f"no {head}"]}}
        return {"values": {k: [_humanize_value(k)] for k in named}}
    kind = value_kind(name, schema)
    if kind in _KIND_PHRASES:
        return list(_KIND_PHRASES[kind])
    if schema.get("type") in ("integer", "number"):
        if head in _UNITS:
            return ["{value} " + head, "within {value} " + head] if "radius" in name or "max" in name \
                else ["{value} " + head, "for {value} " + head]
        return [head + " {value}", "with " + head + " {value}"]
    return [head + " {value}", "the " + head + " {value}"]


def _humanize_value(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ").lower().strip() or key


# --- frames ---------------------------------------------------------------------------------------

# Frames for tools without hand-written ones: {action} is a short verb phrase from the description,
# {slots} the call's parameters, each from its slot.
GENERIC_FRAMES = (
    "{action} {slots}", "can you {action} {slots}?", "Could you {action} for me, {slots}?",
    "I need to {action} {slots}.", "please {action} {slots}", "I'd like to {action} {slots}, thanks",
    "{Action} {slots} please.", "need to {action} {slots}", "Would you {action} {slots}?",
    "help me {action} {slots}", "Is it possible to {action} {slots}?", "I want to {action} {slots}.",
    "hey, could you {action} {slots}", "Mind helping me {action} {slots}?", "Quick one - can you {action} {slots}?",
    "Trying to {action} {slots} - can you do that?", "Can I get you to {action} {slots}?",
    "would you be able to {action} {slots}?", "{Action} {slots}, thanks!", "I have to {action} {slots}.",
)
_ARTICLES = frozenset(("a", "an", "the"))
_DANGLING = frozenset("a an the and or of for to in on at by with my your its their".split())
_PREPOSITIONS = frozenset("for of in on at by with from to near within using via into about across over under "
                          "that which who whose when where as".split())


def action_candidates(description: str) -> list[str]:
    """Short verb phrases for a tool from its description, most natural first (checked by the caller).

    >>> action_candidates("Find places of a given type (cafes, pharmacies...) near a location.")[:2]
    ['find places', 'find places']
    """
    from generators.templates import action_phrase  # the description's first sentence, said by the user

    first = re.sub(r"\([^)]*\)", " ", action_phrase(description))
    first = re.split(r"[,;:.!?]", first, maxsplit=1)[0]
    words = first.lower().split()
    cut: list[str] = []
    for w in words:
        if len(cut) >= 2 and w in _PREPOSITIONS:
            break
        cut.append(w)
        if len(cut) == 4:
            break
    while len(cut) > 1 and cut[-1] in _DANGLING:
        cut.pop()
    bare = [w for w in cut if w not in _ARTICLES]
    # Four words and the slot after them would copy five of the description: drop the articles then.
    out = [" ".join(cut), " ".join(bare)] if len(cut) <= 3 else [" ".join(bare), " ".join(cut[:3])]
    if bare:
        out.append(f"{bare[0]} this")
    return [c for c in out if c]


_LINKS = {"of": "for", "for": "for", "from": "from", "in": "in", "on": "on", "to": "to", "with": "with",
          "about": "about", "by": "by"}


def action_link(description: str, action: str) -> str:
    """The preposition the description puts after the verb phrase's last word ("of" reads "for"), or "".

    >>> action_link("Fetch recent log lines of a service, filtered by level.", "fetch recent log lines")
    'for'
    """
    from generators.templates import action_phrase

    words = re.split(r"[,;:.!?]", re.sub(r"\([^)]*\)", " ", action_phrase(description)), maxsplit=1)[0].lower().split()
    last = action.split()[-1] if action.split() else ""
    for i, w in enumerate(words[:-1]):
        if w == last:
            return _LINKS.get(words[i + 1], "")
    return ""


class Frame:
    """One compiled request frame."""

    __slots__ = ("id", "template", "params")

    def __init__(self, frame_id: str, template: Template):
        self.id = frame_id
        self.template = template
        self.params = template.params


class ToolPhrasing:
    """Everything needed to phrase requests for one tool, compiled once.

    Args:
        name: the tool's name.
        description: its description.
        properties: its parameter schemas.
        required: its required parameters.
        frames: its ``x-frames`` (validated), empty for none.
        slots: its ``x-slots`` (validated), empty for none.
        safe: ``safe(text)`` is True when a text leaks nothing of the tool (picks the generic verb phrase).
    """

    def __init__(
        self, name: str, description: str, properties: Mapping[str, Any], required: Sequence[str],
        frames: Sequence[str] = (), slots: Mapping[str, Any] | None = None,
        safe: Callable[[str], bool] = lambda _text: True,
    ):
        self.name = name
        self.handwritten = bool(frames)
        self.required = frozenset(required)
        slots = slots or {}
        self.slots = {p: Slot(p, s, slots.get(p)) for p, s in properties.items()}
        # Normalised names of each named value, for verification: {param: {value key: names}}.
        self.value_names = {p: s.value_names for p, s in self.slots.items() if s.values is not None}
        compiled = []
        for i, text in enumerate(frames):
            parts = split_template(text)
            assert not isinstance(parts, str), parts
            compiled.append(Frame(f"frame.{name}.{i}", Template(*parts)))
        self.frames = tuple(compiled)
        self.clarify_frames = tuple(f for f in self.frames if not self.required <= f.params)
        self._exec: dict[frozenset[str], tuple[Frame, ...]] = {}
        self._clar: dict[frozenset[str], tuple[Frame, ...]] = {}
        self._exec_weights: dict[frozenset[str], tuple[tuple[Frame, ...], list[int]]] = {}
        candidates = action_candidates(description)
        self.action = next((a for a in candidates if safe(a) and safe(f"can you {a}")), "do this")
        self.link = action_link(description, self.action)
        generic = []
        for i, text in enumerate(GENERIC_FRAMES):
            filled = text.replace("{action}", self.action).replace("{Action}", self.action[:1].upper() +
                                                                    self.action[1:])
            lits = filled.split("{slots}")
            generic.append((f"generic.{i}", lits[0], lits[1]))
        self.generic = tuple(generic)

    # --- choosing frames ---

    def execution_frames(self, keys: frozenset[str]) -> tuple[Frame, ...]:
        """Frames with every required parameter and only parameters among `keys`."""
        hit = self._exec.get(keys)
        if hit is None:
            req = self.required
            hit = tuple(f for f in self.frames if f.params <= keys and req <= f.params)
            if len(self._exec) < 4096:
                self._exec[keys] = hit
        return hit

    def pick_execution_frame(self, keys: frozenset[str], rng: random.Random) -> Frame | None:
        """An execution frame for the parameters `keys`, favouring frames that say more of them.

        Every frame with all required parameters fits a draw, one naming k optional parameters only when all
        k were drawn (one time in 2**k at the default share), so a uniform pick returned the required-only
        frames most of the time. Weighting a fitting frame by 2**k evens out how often each frame is used,
        and puts more of a request into the frame's own words than into add-ons.
        """
        hit = self._exec_weights.get(keys)
        if hit is None:
            frames = self.execution_frames(keys)
            req = self.required
            cum = list(itertools.accumulate(2 ** len(f.params - req) for f in frames))
            hit = (frames, cum)
            if len(self._exec_weights) < 4096:
                self._exec_weights[keys] = hit
        frames, cum = hit
        if not frames:
            return None
        return frames[bisect.bisect_right(cum, rng.random() * cum[-1])]

    def clarification_frames(self, keys: frozenset[str]) -> tuple[Frame, ...]:
        """Frames lacking at least one required parameter, with only parameters among `keys`."""
        hit = self._clar.get(keys)
        if hit is None:
            hit = tuple(f for f in self.clarify_frames if f.params <= keys)
            if len(self._clar) < 4096:
                self._clar[keys] = hit
        return hit

    # --- rendering ---

    def render(self, frame: Frame | None, args: Mapping[str, Any], rng: random.Random, say: Say) -> tuple[str, str]:
        """A request from `frame` (None: a generic frame) mentioning every parameter in `args`.

        Args:
            frame: the frame; its parameters must be among `args`.
            args: the values to mention (the frame's slots, the others as add-ons).
            rng: the chunk's random generator.
            say: writes a value as a person does.

        Returns:
            ``(text, frame id)``.
        """
        slots = self.slots
        if frame is None:
            order = _shuffled(list(args), rng)
            fid, head, tail = self.generic[int(rng.random() * len(self.generic))]
            phrases = said_once([slots[p].render(args[p], rng, say) for p in order], order, args)
            if phrases and self.link and _BARE_NOUN.match(phrases[0]):
                phrases[0] = f"{self.link} {phrases[0]}"  # "fetch recent log lines for the X service"
            body = _join_addons(phrases, rng)
            if not body:
                rest = tail.lstrip(" ,")
                # a tail that goes on with a word needs its space back ("... temperature thanks!")
                text = (head.rstrip(" ,") + (" " if rest[:1].isalnum() else "") + rest).strip()
            else:
                text = head + body + tail
            return _style(text, rng, head), fid
        tpl = frame.template
        names = tpl.names
        said = [slots[p].render(args[p], rng, say) for p in names]
        rest = [p for p in args if p not in frame.params]
        if rest and len(rest) > 1:
            rest = _shuffled(rest, rng)
        more = [slots[p].render(args[p], rng, say) for p in rest]
        if _CURRENCY_PARAMS & args.keys():
            both = said_once(said + more, [*names, *rest], args)
            said, more = both[: len(said)], [t for t in both[len(said):] if t]
        text = tpl.fill(said)
        if "" in said:
            text = _tidy_gap(text)
        if more:
            text = _add_on(text, _join_addons(more, rng), rng)
        return _style(text, rng, tpl.literals[0]), frame.id


_PERMUTATIONS = tuple(tuple(itertools.permutations(range(m))) for m in range(1, 7))
_CURRENCY_PARAMS = frozenset(("currency", "currency_code"))
_CODE = re.compile(r"^[A-Z]{3}$")
# A slot text that is a bare noun phrase ("the auth-service service"): after a generic verb phrase it
# needs the description's preposition.
_BARE_NOUN = re.compile(r"^(the|our|my|a|an|this|these|those|all)\s", re.I)
_GAP = re.compile(r" {2,}| +(?=[,.?!])|(?<=,) *,|^[ ,]+|[ ,]+$")


def said_once(texts: list[str], params: Sequence[str], args: Mapping[str, Any]) -> list[str]:
    """`texts` (one per parameter in `params`), the currency's made empty when another text already says it."""
    # The currency slot is left out when the amount already says the code ("366.73 SEK", not "... in SEK").
    if _CURRENCY_PARAMS.isdisjoint(params):
        return texts
    out = texts
    for i, p in enumerate(params):
        value = args.get(p)
        if p in _CURRENCY_PARAMS and type(value) is str and _CODE.match(value):
            symbol = vocab.CURRENCY_SYMBOLS.get(value)
            code = re.compile(rf"(?<![A-Za-z]){value}(?![A-Za-z])" + (rf"|{re.escape(symbol)}\d" if symbol else ""))
            if any(j != i and code.search(t) for j, t in enumerate(texts)):
                out = list(out)
                out[i] = ""
    return out


def _tidy_gap(text: str) -> str:
    # A frame with an empty slot: no double space, no space or doubled comma before punctuation.
    return _GAP.sub(lambda m: " " if m.group(0).startswith("  ") else "", text)


def _shuffled(items: list[str], rng: random.Random) -> list[str]:
    # One rng.random() into a table of permutations (rng.shuffle draws once per item, ~0.4 µs each).
    n = len(items)
    if n <= 1:
        return items
    if n > len(_PERMUTATIONS):
        rng.shuffle(items)
        return items
    perms = _PERMUTATIONS[n - 1]
    return [items[i] for i in perms[int(rng.random() * len(perms))]]


def _join_addons(phrases: list[str], rng: random.Random) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    last = phrases[-1]
    # A phrase that brings its own "and" ("and tell them ...") takes a comma, not a second "and".
    if rng.random() < 0.7 and not last.startswith("and "):
        return ", ".join(phrases[:-1]) + " and " + last
    return ", ".join(phrases)


# A polite word or phrase ending a sentence ("check the air quality please", "..., thanks").
_POLITE_TAIL = re.compile(r",?\s+(?:please|pls|plz|thanks|thx|thank you|"
                          r"cheers)$", re.I)


def _add_on(text: str, addon: str, rng: random.Random) -> str:
    # Before the sentence's final punctuation ("any cafe in Oslo, within 500 metres?"), or after it.
    body = text.rstrip()
    end = ""
    while body and body[-1] in ".?!":
        end = body[-1] + end
        body = body[:-1]
    # A polite tail ("..., please") stays last: the add-on goes before it.
    polite = _POLITE_TAIL.search(body)
    tail = ""
    if polite is not None and polite.start() > 0:
        tail = body[polite.start():]
        body = body[: polite.start()]
    r = rng.random()
    if r < 0.8 or not end:
        joiner = ADDON_JOINERS[int(rng.random() * len(ADDON_JOINERS))]
        # ", and" joins a last item to a list: with nothing listed before it, a comma
        if joiner == ", and " and (addon.startswith("and ") or "," not in body):
            joiner = ", "
        if tail and joiner == " ":
            joiner = ", "
        if _POLITE_TAIL.search(addon):
            tail = ""  # the add-on says its own "please"
        return glue(body, joiner + addon) + (", " + tail.lstrip(", ") if tail else "") + end
    body += tail
    if r < 0.9:
        return f"{body}{end} {addon[:1].upper()}{addon[1:]}."
    return f"{body} ({addon}){end}"


def _style(text: str, rng: random.Random, first_literal: str) -> str:
    """Lower-case a share, put a typo into a frame word a share, add an opener or a sign-off a share."""
    r = rng.random()
    if r < LOWERCASE_SHARE:
        if first_literal[:1].isalpha():
            text = text[:1].lower() + text[1:]
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1]
    elif r < LOWERCASE_SHARE + TYPO_SHARE and first_literal:
        span = _typo_span(first_literal)
        if span is not None:
            i = span[0] + 1 + int(rng.random() * (span[1] - span[0] - 3))
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    r = rng.random()
    if r < OPENER_SHARE and text.split(" ", 1)[0].lower().strip(",!.-") not in _GREETINGS:
        opener = OPENERS[int(rng.random() * len(OPENERS))]
        lower_next = opener[-2:-1] in (",", "-", "o")
        if lower_next and text[:1].isupper() and text[1:2].islower() and not text.startswith("I "):
            text = text[:1].lower() + text[1:]
        elif opener[-2:-1] in (".", "!"):
            text = text[:1].upper() + text[1:]
        text = opener + text
    elif r < OPENER_SHARE + CLOSER_SHARE:
        text += CLOSERS[int(rng.random() * len(CLOSERS))]
    return text


@functools.lru_cache(maxsize=4096)
def _typo_span(first_literal: str) -> tuple[int, int] | None:
    # The first word of 5+ letters of a frame's opening text (frames are few: searched once each).
    m = _WORD5.search(first_literal.lower())
    return None if m is None else (m.start(), m.end())


def names_mentioned(norm: str, names: tuple[str, ...]) -> bool:
    """Whether one of a value's names occurs in a normalised text as whole words."""
    return any(n in norm and has_words(norm, n) for n in names)


def has_words(norm: str, needle: str) -> bool:
    """Whether `needle` occurs in `norm` as whole words ("5" is not in "15")."""
    start, n = 0, len(needle)
    while True:
        i = norm.find(needle, start)
        if i < 0:
            return False
        j = i + n
        if (i == 0 or not norm[i - 1].isalnum()) and (j == len(norm) or not norm[j].isalnum()):
            return True
        start = i + 1

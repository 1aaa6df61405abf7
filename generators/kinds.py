"""What a parameter holds: its value *kind*, from the schema's format, enum, type, name and description.

Shared by `generators.values` (which draws values of a kind) and `generators.surface` (which writes
them), so neither imports the other.
"""

from __future__ import annotations

import re
from typing import Any

from generators import _vocab as vocab

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[_\-\s.]+")

FORMAT_KINDS = {
    "date": "date", "date-time": "datetime", "time": "time", "email": "email", "idn-email": "email",
    "uri": "url", "iri": "url", "uri-reference": "url", "uuid": "uuid", "hostname": "hostname",
    "idn-hostname": "hostname", "ipv4": "ipv4",
}


def name_tokens(name: str) -> tuple[str, ...]:
    """Split a parameter name into lower-case words (`departureCity`, `departure_city` -> departure, city)."""
    return tuple(t for t in _SPLIT.split(_CAMEL.sub("_", name).lower()) if t)


def singular(name: str) -> str:
    """The item name of an array parameter: `attendee_emails` items are `attendee_email`s."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("s", "")):
        if name.endswith(suffix) and len(name) > len(suffix) + 2:
            return name[: -len(suffix)] + repl
    return name


def main_type(schema: dict[str, Any]) -> str:
    """The schema's type, the first non-null one of a type list, or the type its keywords imply."""
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null")
    if typ is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"
    return str(typ)


def value_kind(name: str, schema: dict[str, Any]) -> str:
    """Classify what a parameter holds, from its format, enum, type, name and description.

    Args:
        name: The parameter's name (array items use their array's name).
        schema: The parameter's JSON Schema.

    Returns:
        A kind such as "date", "city", "email", "money", "count", "enum", "boolean" or "word".

    >>> value_kind("departure_city", {"type": "string"})
    'city'
    >>> value_kind("amount", {"type": "number"})
    'money'
    """
    if "enum" in schema or "const" in schema:
        return "enum"
    typ = main_type(schema)
    if typ in ("boolean", "null", "array", "object"):
        return typ
    fmt = schema.get("format")
    if typ == "string" and fmt in FORMAT_KINDS:
        return FORMAT_KINDS[fmt]
    toks = name_tokens(name)
    text = " ".join(toks) + " | " + str(schema.get("description", "")).lower()
    rules = vocab.NUMBER_RULES if typ in ("integer", "number") else vocab.STRING_RULES
    for kind, words, phrases in rules:
        if any(t in words for t in toks) or any(p in text for p in phrases):
            return kind
    return "number" if typ in ("integer", "number") else "word"

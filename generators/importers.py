"""Import tool definitions written for other tools into ToolForge tool files, and export them back.

Formats (``fmt``):

- ``openai``: a JSON list of ``{"type": "function", "function": {...}}`` entries or bare
  ``{name, description, parameters}`` functions; also one such object, ``{"tools": [...]}``,
  ``{"functions": [...]}``, or JSON Lines of any of these.
- ``mcp``: an MCP ``tools/list`` result, ``{"tools": [...]}`` or the whole JSON-RPC response
  ``{"result": {"tools": [...]}}``; each tool's schema is its ``inputSchema``.
- ``hermes``: text holding ``<tools> ... </tools>`` (a Hermes / Qwen system prompt); inside, a JSON
  list or JSON objects one after another, or the Python-literal form some Hermes datasets use.
- ``bfcl``: Berkeley Function Calling Leaderboard JSON Lines, each record with ``"function"`` (a list
  or one object). Its types are normalised to JSON Schema: ``dict`` -> object, ``float`` -> number,
  ``tuple`` -> array, ``any`` (also ``""`` and a JavaScript ``function``) -> no type constraint, and
  Java / JavaScript names (``String``, ``HashMap``, ``long``, ``Bigint``, ``String[]``,
  ``List<String>``...) to their JSON Schema type.

Decisions:

- A tool without a description is refused, not given one made from its name: the generator writes
  requests from the description, and a made-up one would silently make bad data.
- Type names are normalised for ``bfcl`` only. The other formats promise JSON Schema, so a
  non-standard type there is a broken schema and is refused with its reason.
- Names outside OpenAI's ``^[a-zA-Z0-9_-]{1,64}$`` are mapped (other characters -> ``_``, cut to 64,
  ``_2``, ``_3``... on a collision); a name that is already valid never changes. The tool file keeps
  the original in ``x-original-name``.
- A name defined twice imports once when both definitions normalise to the same tool; a different
  redefinition is refused (the first *valid* definition wins: when the first is refused, a later valid
  one imports).
- ``bfcl`` only: a ``default`` that does not validate against its own schema is repaired rather than
  refusing the tool (a null default dropped, ``"false"`` / ``"0"`` strings converted to the declared type,
  a default outside the enum dropped); ``"type": ""`` means any type. Each change is listed in the tool
  file's ``x-import-notes``.
- ``additionalProperties: false`` is never added: the source's meaning is kept.

Every tool that is not refused passes `generators.registry.validate_tool`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator

from generators.registry import ENVELOPE_SCHEMA, NAME_PATTERN, SPLITS, Limits, validate_tool

Format = Literal["openai", "mcp", "hermes", "bfcl"]
FORMATS: tuple[str, ...] = ("openai", "mcp", "hermes", "bfcl")
MAX_NAME = 64
_NAME_RE = re.compile(NAME_PATTERN)
_BAD_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)

# BFCL and Java/JavaScript type names (compared lower-cased) -> JSON Schema type; None means "any".
BFCL_TYPES: dict[str, str | None] = {
    **dict.fromkeys(["string", "str", "char", "character", "charsequence"], "string"),
    **dict.fromkeys(["integer", "int", "long", "short", "byte", "bigint", "biginteger"], "integer"),
    **dict.fromkeys(["number", "float", "double", "decimal", "bigdecimal"], "number"),
    **dict.fromkeys(["boolean", "bool"], "boolean"),
    **dict.fromkeys(
        ["array", "list", "tuple", "arraylist", "linkedlist", "queue", "stack", "set", "hashset", "vector"],
        "array",
    ),
    **dict.fromkeys(
        ["object", "dict", "map", "hashmap", "hashtable", "treemap", "linkedhashmap", "dictionary"], "object"
    ),
    **dict.fromkeys(["null", "none", "nonetype"], "null"),
    **dict.fromkeys(["any", "function", "callable"], None),  # a JavaScript callback is passed as any value
    "": None,  # BFCL writes "type": "" for a parameter of any type
}
_TO_BFCL = {"object": "dict", "number": "float"}  # how BFCL's own files spell these two
# Keywords whose value is one sub-schema, a list of them, or a map of name -> sub-schema.
_ONE_SCHEMA = ("additionalProperties", "additionalItems", "not", "if", "then", "else", "contains")
_SCHEMA_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAP = ("properties", "patternProperties", "$defs", "definitions")


class ImportFormatError(ValueError):
    """The input as a whole is not in the announced format (no single tool could be read)."""


class ImportConflict(FileExistsError):
    """Writing would overwrite an existing, different tool file."""


@dataclass(frozen=True)
class Refusal:
    """A tool that was not imported: its name as given, where it was, and why."""

    name: str
    reason: str
    location: str = ""

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.name}{where}: {self.reason}"


@dataclass
class ImportResult:
    """What an import produced: ToolForge tool documents, refusals, and renamed tools."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # original name -> ToolForge name
    duplicates: int = 0  # identical redefinitions skipped


@dataclass
class _BadJson:
    """An entry that could not be read; it is refused with `reason`."""

    reason: str


class _Unusable(Exception):
    """One tool cannot be normalised; the message is the reason reported for it."""


# --- names -----------------------------------------------------------------------------------


def is_valid_name(name: str) -> bool:
    """Return whether `name` is a valid OpenAI function name.

    >>> is_valid_name("math_factorial"), is_valid_name("math.factorial")
    (True, False)
    """
    return _NAME_RE.fullmatch(name) is not None


def assign_names(names: list[str]) -> dict[str, str]:
    """Map distinct, non-empty names to distinct valid OpenAI function names.

    Valid names map to themselves. Others have every character outside ``[a-zA-Z0-9_-]`` replaced
    by ``_`` and are cut to 64 characters; a result already taken gets ``_2``, ``_3``... (in input
    order), so the mapping is deterministic.

    Args:
        names: distinct non-empty names, in input order.

    Returns:
        ``{name: valid_name}`` for every name, with all values distinct.

    >>> assign_names(["math.factorial", "math_factorial", "spotify.play"])
    {'math.factorial': 'math_factorial_2', 'math_factorial': 'math_factorial', 'spotify.play': 'spotify_play'}
    """
    # Valid names are reserved first so an invalid name never pushes a valid one aside.
    out = {n: n for n in names if is_valid_name(n)}
    taken = set(out.values())
    for name in names:
        if name in out:
            continue
        base = _BAD_NAME_CHARS.sub("_", name)[:MAX_NAME]
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            suffix = f"_{n}"
            candidate = base[: MAX_NAME - len(suffix)] + suffix
        out[name] = candidate
        taken.add(candidate)
    return {n: out[n] for n in names}


# --- BFCL types ------------------------------------------------------------------------------


def _map_type(value: Any, where: str) -> Any:
    """Return the JSON Schema type for a BFCL type value, or None for 'any'."""
    names = value if isinstance(value, list) else [value]
    mapped: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise _Unusable(f"{where}/type: {name!r} is not a type name")
        key = name.strip().lower()
        if key.endswith("[]"):  # Java arrays: String[], int[]
            key = "array"
        elif "<" in key and key.endswith(">"):  # Java generics: List<String>, Map<String, Object>
            key = key.split("<", 1)[0].strip()
        if key not in BFCL_TYPES:
            raise _Unusable(f"{where}/type: unknown type {name!r}; use a JSON Schema or BFCL type name")
        target = BFCL_TYPES[key]
        if target is None:  # one 'any' in a union makes the whole union unconstrained
            return None
        if target not in mapped:
            mapped.append(target)
    return mapped if isinstance(value, list) else mapped[0]


def normalise_bfcl_schema(schema: Any, where: str = "", notes: list[str] | None = None) -> dict[str, Any]:
    """Rewrite a BFCL parameter schema (any depth) into JSON Schema.

    Types are mapped with `BFCL_TYPES` in every sub-schema; ``any`` (and ``""``) drops the type
    constraint; a list-valued ``items`` (the old tuple form) becomes ``prefixItems``; a Draft 3 style
    boolean ``"required": true`` on a property moves into its parent's ``required`` list. A ``default``
    that does not validate against its own schema is repaired (`_repair_default`): a null one is dropped,
    a string one converted to the declared type (``"false"`` -> false, ``"0"`` -> 0, ``"[]"`` -> []), one
    outside the enum (or not convertible) dropped. Other keywords are kept as they are.

    Args:
        schema: the BFCL schema.
        where: JSON pointer of `schema`, used in error messages.
        notes: if given, one line per repair is appended (``"/properties/x/default: ..."``).

    Returns:
        A new schema; `schema` is not modified.

    Raises:
        _Unusable: with the pointer and reason, for a schema that cannot be normalised.

    >>> normalise_bfcl_schema({"type": "dict", "properties": {"x": {"type": "float"}}})
    {'type': 'object', 'properties': {'x': {'type': 'number'}}}
    """
    if not isinstance(schema, dict):
        raise _Unusable(f"{where or '/'}: a schema must be a JSON object, not {type(schema).__name__}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        sub = f"{where}/{key}"
        if key == "type":
            mapped = _map_type(value, where)
            if mapped is not None:
                out["type"] = mapped
            elif value == "" and notes is not None:
                notes.append(f'{sub}: empty type "" read as any type')
        elif key == "items" and isinstance(value, list):
            out["prefixItems"] = [normalise_bfcl_schema(v, f"{sub}/{i}", notes) for i, v in enumerate(value)]
        elif key == "items" or (key in _ONE_SCHEMA and isinstance(value, dict)):
            out[key] = normalise_bfcl_schema(value, sub, notes)
        elif key in _SCHEMA_LIST and isinstance(value, list):
            out[key] = [normalise_bfcl_schema(v, f"{sub}/{i}", notes) for i, v in enumerate(value)]
        elif key in _SCHEMA_MAP and isinstance(value, dict):
            out[key] = {k: normalise_bfcl_schema(v, f"{sub}/{k}", notes) for k, v in value.items()}
        else:
            out[key] = value
    if "default" in out:
        _repair_default(out, where, notes)
    if "additionalItems" in out and "prefixItems" in out:  # Draft 2020-12 spells it `items`
        out["items"] = out.pop("additionalItems")
    props = out.get("properties")
    if isinstance(props, dict):
        flagged = [k for k, v in props.items() if isinstance(v, dict) and isinstance(v.get("required"), bool)]
        if flagged:
            required = list(out.get("required", [])) if isinstance(out.get("required"), list) else []
            for k in flagged:
                props[k] = {kk: vv for kk, vv in props[k].items() if kk != "required"}
                if schema["properties"][k]["required"] and k not in required:
                    required.append(k)
            out["required"] = required
    return out


def _valid_default(schema: dict[str, Any], value: Any) -> bool:
    try:
        return bool(Draft202012Validator(schema).is_valid(value))
    except Exception:  # noqa: BLE001 - a broken schema is reported by the registry's meta-schema check
        return True


def _converted(value: str, target: str) -> tuple[bool, Any]:
    """(True, value) when a string default reads as a value of the JSON Schema type `target`."""
    text = value.strip()
    low = text.lower()
    if target == "boolean" and low in ("true", "false", "1", "0", "yes", "no"):
        return True, low in ("true", "1", "yes")
    if target == "null" and low in ("null", "none", ""):
        return True, None
    if target in ("integer", "number"):
        try:
            number = float(text)
        except ValueError:
            return False, None
        if number != number or number in (float("inf"), float("-inf")):
            return False, None
        if number.is_integer() and (target == "integer" or "." not in text):
            return True, int(number)
        return target == "number", number
    if target in ("array", "object"):
        if low in ("", "none", "null"):
            return (True, [] if target == "array" else {}) if low == "" else (False, None)
        try:
            parsed = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            try:  # BFCL writes Python literals too ("['a']", "{'k': 1}")
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return False, None
        if isinstance(parsed, tuple):
            parsed = list(parsed)
        return isinstance(parsed, list if target == "array" else dict), parsed
    return False, None


def _repair_default(out: dict[str, Any], where: str, notes: list[str] | None) -> None:
    """Make a schema's ``default`` validate against the schema itself, or drop it (noting the change)."""
    default = out["default"]
    if _valid_default(out, default):
        return
    pointer = f"{where}/default"
    shown = json.dumps(default, ensure_ascii=False)[:60]
    declared = out.get("type")
    targets = declared if isinstance(declared, list) else [declared] if isinstance(declared, str) else []
    if default is not None:
        candidates: list[Any] = []
        if isinstance(default, str):
            candidates = [v for ok, v in (_converted(default, t) for t in targets) if ok]
        elif "string" in targets and isinstance(default, int | float) and not isinstance(default, bool):
            candidates = [str(default)]
        elif "string" in targets and isinstance(default, bool):
            candidates = ["true" if default else "false"]
        for value in candidates:
            if _valid_default(out, value):
                out["default"] = value
                if notes is not None:
                    notes.append(f"{pointer}: {shown} converted to {json.dumps(value)} ({'/'.join(targets)})")
                return
    del out["default"]
    if notes is not None:
        if default is None:
            why = "null default dropped"
        elif isinstance(out.get("enum"), list) and default not in out["enum"]:
            why = f"{shown} is not one of the enum values; dropped"
        else:
            why = f"{shown} does not validate against the schema; dropped"
        notes.append(f"{pointer}: {why}")


# --- reading each format ---------------------------------------------------------------------


def _json_values(text: str) -> Iterator[tuple[Any, str]]:
    """Yield (value, location) for a JSON document, or for each line of JSON Lines."""
    try:
        yield json.loads(text), ""
        return
    except json.JSONDecodeError as exc:
        whole_error = exc
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) < 2:
        raise ImportFormatError(f"not JSON: line {whole_error.lineno}: {whole_error.msg}") from whole_error
    values: list[tuple[Any, str]] = []
    for i, line in lines:
        try:
            values.append((json.loads(line), f"line {i}"))
        except json.JSONDecodeError as exc:
            values.append((_BadJson(f"invalid JSON: {exc.msg} at column {exc.colno}"), f"line {i}"))
    if all(isinstance(v, _BadJson) for v, _ in values):  # not JSON Lines either: report the document error
        raise ImportFormatError(f"not JSON: line {whole_error.lineno}: {whole_error.msg}") from whole_error
    yield from values


def _openai_entries(text: str) -> Iterator[tuple[Any, str]]:
    for value, loc in _json_values(text):
        if isinstance(value, dict) and "name" not in value and ({"tools", "functions"} & value.keys()):
            key = "tools" if "tools" in value else "functions"
            value = value[key]
            loc = f"{loc} {key}".strip()
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield item, f"{loc}[{i}]" if loc else f"[{i}]"
        else:
            yield value, loc


def _mcp_entries(text: str) -> Iterator[tuple[Any, str]]:
    value = json.loads(text) if text.strip() else None
    if isinstance(value, dict) and "error" in value and "result" not in value:
        raise ImportFormatError(f"the JSON-RPC response is an error: {value['error']!r}")
    if isinstance(value, dict) and isinstance(value.get("result"), dict):
        value = value["result"]
    tools = value.get("tools") if isinstance(value, dict) else value
    if not isinstance(tools, list):
        raise ImportFormatError("not an MCP tools/list result: expected {\"tools\": [...]}")
    for i, tool in enumerate(tools):
        if isinstance(tool, dict):
            tool = {"name": tool.get("name"), "description": tool.get("description"),
                    "parameters": tool.get("inputSchema")}
        yield tool, f"tools[{i}]"


def _hermes_entries(text: str) -> Iterator[tuple[Any, str]]:
    blocks = _TOOLS_BLOCK.findall(text)
    if not blocks:
        raise ImportFormatError("no <tools> ... </tools> block found")
    n = 0
    for block in blocks:
        stripped = block.strip()
        if not stripped:  # the prompt's own "within <tools></tools> XML tags"
            continue
        try:
            values: list[Any] = [json.loads(stripped)]
        except json.JSONDecodeError:
            try:  # some Hermes datasets print the list with Python's repr (single quotes)
                values = [ast.literal_eval(stripped)]
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                values = _decode_concatenated(stripped)
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                yield item, f"<tools>[{n}]"
                n += 1


def _decode_concatenated(block: str) -> list[Any]:
    """Decode JSON values written one after another; a broken one is skipped to the next line."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while True:
        while pos < len(block) and block[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(block):
            return values
        try:
            value, pos = decoder.raw_decode(block, pos)
        except json.JSONDecodeError as exc:
            values.append(_BadJson(f"invalid JSON in <tools>: {exc.msg}"))
            nl = block.find("\n", pos)
            pos = len(block) if nl < 0 else nl + 1
            continue
        values.append(value)


def _bfcl_entries(text: str) -> Iterator[tuple[Any, str]]:
    for value, loc in _json_values(text):
        records = value if isinstance(value, list) and not loc else [value]
        for j, record in enumerate(records):
            where = loc or f"record {j}"
            if isinstance(record, _BadJson):
                yield record, where
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                where = f"{where}, id {record['id']}"
            functions = record.get("function") if isinstance(record, dict) else None
            if functions is None:
                yield _BadJson("record has no \"function\" field"), where
                continue
            for fn in functions if isinstance(functions, list) else [functions]:
                yield fn, where


_READERS = {"openai": _openai_entries, "mcp": _mcp_entries, "hermes": _hermes_entries, "bfcl": _bfcl_entries}


# --- normalising one function ----------------------------------------------------------------


def _function_of(entry: Any) -> dict[str, Any]:
    """Unwrap `{"type": "function", "function": {...}}`; check the fields every format shares."""
    if isinstance(entry, _BadJson):
        raise _Unusable(entry.reason)
    if not isinstance(entry, dict):
        raise _Unusable(f"a tool must be a JSON object, not {type(entry).__name__}")
    if "function" in entry and isinstance(entry["function"], dict):
        if entry.get("type", "function") != "function":
            raise _Unusable(f"tool type {entry.get('type')!r} is not 'function'")
        entry = entry["function"]
    return entry


def _normalise(fn: dict[str, Any], fmt: str) -> dict[str, Any]:
    name, description, params = fn.get("name"), fn.get("description"), fn.get("parameters")
    if not isinstance(name, str) or not name:
        raise _Unusable("no name")
    if not isinstance(description, str) or not description.strip():
        raise _Unusable("no description: the generator writes requests from it; add one and import again")
    notes: list[str] = []
    if params is None or params == {}:
        params = {"type": "object", "properties": {}}
    elif fmt == "bfcl":
        params = normalise_bfcl_schema(params, "/parameters", notes)
    elif not isinstance(params, dict):
        raise _Unusable(f"/parameters: must be a JSON object, not {type(params).__name__}")
    else:
        params = json.loads(json.dumps(params))  # a private deep copy
    if "type" not in params and "properties" in params:
        params = {"type": "object", **params}  # tool arguments are always an object
    if params.get("type") == "object" and "properties" not in params:
        params["properties"] = {}
    normal = {"name": name, "description": description, "parameters": params}
    if notes:
        normal["notes"] = notes
    return normal


# --- the public API --------------------------------------------------------------------------


def import_tools(
    text: str,
    fmt: Format,
    *,
    split: str = "train",
    domain: str = "imported",
    limits: Limits | None = None,
) -> ImportResult:
    """Read tool definitions in another format and normalise them into ToolForge tool documents.

    A tool that cannot be normalised, or whose document fails `validate_tool`, is refused with its
    reason; the rest import.

    Args:
        text: the file content.
        fmt: ``openai``, ``mcp``, ``hermes`` or ``bfcl`` (see the module docstring).
        split: ``x-split`` of every imported tool (``train`` or ``heldout``).
        domain: ``x-domain`` of every imported tool.
        limits: registry guard rails the documents must meet (default `Limits()`).

    Returns:
        The `ImportResult`: tools in input order, refusals, renamed names and skipped duplicates.

    Raises:
        ImportFormatError: when the input as a whole cannot be read in `fmt`.
        ValueError: for an unknown `fmt` or `split`, or a `domain` the registry would refuse.
    """
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not re.fullmatch(ENVELOPE_SCHEMA["properties"]["x-domain"]["pattern"], domain):
        raise ValueError(f"invalid domain {domain!r}; use a lower-case name such as 'weather'")
    limits = limits or Limits()
    result = ImportResult()
    try:
        entries = list(_READERS[fmt](text))
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"not JSON: line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ImportFormatError("the input nests too deeply to read") from exc
    seen: dict[str, _Seen] = {}  # original name -> its first definition
    refused: list[tuple[int, Refusal]] = []  # kept with the entry index, to report in input order
    for index, (entry, loc) in enumerate(entries):
        try:
            fn = _function_of(entry)
        except _Unusable as exc:
            refused.append((index, Refusal("?", str(exc), loc)))
            continue
        name = fn.get("name") if isinstance(fn.get("name"), str) and fn.get("name") else None
        prior = seen.get(name) if name else None
        if prior is not None and prior.raw == fn:
            result.duplicates += 1  # BFCL repeats a function in every record that offers it
            continue
        try:
            normal = _normalise(fn, fmt)
        except _Unusable as exc:
            normal, reason = None, str(exc)
        except RecursionError:  # hostile input; the registry allows far less depth anyway
            normal, reason = None, f"/parameters: nests deeper than the limit of {limits.max_depth} levels"
        if normal is not None:
            # Checked here, not only at the end, so a refused definition leaves the name to a later valid one.
            provisional = _BAD_NAME_CHARS.sub("_", normal["name"])[:MAX_NAME]
            reason = _first_problem(_document(normal, provisional, normal["name"], split, domain), loc, limits)
            if reason:
                normal = None
        if prior is None or prior.normal is None:
            if normal is None:
                refused.append((index, Refusal(name or "?", reason, loc)))
            if name and (prior is None or normal is not None):
                seen[name] = _Seen(fn, normal, loc, index)  # the first valid definition of a name wins
        elif normal is not None and prior.normal == normal:
            result.duplicates += 1
        else:
            why = f"conflicting redefinition (first defined at {prior.location or 'an earlier entry'})"
            refused.append((index, Refusal(name or "?", why, loc)))
    accepted = {n: s for n, s in seen.items() if s.normal is not None}
    names = assign_names(list(accepted))
    for original, first in accepted.items():
        assert first.normal is not None
        doc = _document(first.normal, names[original], original, split, domain)
        reason = _first_problem(doc, first.location, limits)
        if reason:
            refused.append((first.index, Refusal(original, reason, first.location)))
            continue
        result.tools.append(doc)
        if names[original] != original:
            result.renamed[original] = names[original]
    result.refused = [r for _, r in sorted(refused, key=lambda pair: pair[0])]
    return result


@dataclass
class _Seen:
    raw: dict[str, Any]
    normal: dict[str, Any] | None  # None when the definition was refused
    location: str
    index: int


def _json_depth(value: Any) -> int:
    """Nesting depth of a JSON value, measured without recursion (the input may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _first_problem(doc: dict[str, Any], location: str, limits: Limits) -> str:
    """The first reason the registry would refuse `doc`, or an empty string."""
    # Each schema level is at most about two JSON levels ("properties", name); refusing far deeper
    # documents here keeps jsonschema's recursive meta-schema check from overflowing the stack.
    if _json_depth(doc["function"]["parameters"]) > 4 * limits.max_depth + 8:
        return f"/parameters: nests deeper than the limit of {limits.max_depth} levels"
    problems = validate_tool(doc, location or "<input>", limits)
    if problems:
        # Point into the function object, as the normaliser's own reasons do.
        pointer = problems[0].pointer.removeprefix("/function")
        return f"{pointer or '/'}: {problems[0].message}"
    size = len(_dump(doc).encode())
    if size > limits.max_file_bytes:
        return f"the tool file would be {size} bytes, over the limit of {limits.max_file_bytes}"
    return ""


def _document(fn: dict[str, Any], name: str, original: str, split: str, domain: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "function",
        "function": {"name": name, "description": fn["description"], "parameters": fn["parameters"]},
        "x-split": split,
        "x-domain": domain,
    }
    if name != original:
        doc["x-original-name"] = original
    if fn.get("notes"):
        doc["x-import-notes"] = list(fn["notes"])  # what the importer changed to make the schema valid
    return doc


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_tools(result: ImportResult, out_dir: Path) -> list[Path]:
    """Write one ``<name>.json`` tool file per imported tool.

    Every file is written atomically (a temporary file, then `os.replace`). An existing file with
    the same content is left alone; one with different content stops the write before any file is
    touched.

    Args:
        result: what `import_tools` returned.
        out_dir: the folder to write into (created if missing).

    Returns:
        The path of every tool file, in `result.tools` order.

    Raises:
        ImportConflict: naming the first existing file whose content differs.
    """
    out_dir = Path(out_dir)
    planned = [(out_dir / f"{doc['function']['name']}.json", _dump(doc)) for doc in result.tools]
    for path, content in planned:
        if path.exists() and path.read_text(encoding="utf-8") != content:
            raise ImportConflict(f"{path} exists with different content; remove it or import elsewhere")
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, content in planned:
        if path.exists():
            continue
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return [path for path, _ in planned]


def _bfcl_schema(schema: Any) -> Any:
    """The inverse type mapping of `normalise_bfcl_schema`, as BFCL writes its files."""
    if isinstance(schema, list):
        return [_bfcl_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            back = _TO_BFCL
            out[key] = [back.get(t, t) for t in value] if isinstance(value, list) else back.get(value, value)
        elif key in _ONE_SCHEMA or key in _SCHEMA_LIST or key == "items":
            out[key] = _bfcl_schema(value)
        elif key in _SCHEMA_MAP and isinstance(value, dict):
            out[key] = {k: _bfcl_schema(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def export_tools(docs: list[dict[str, Any]], fmt: Format) -> str:
    """Render ToolForge tool documents in another format (the inverse of `import_tools`).

    ``openai`` and ``hermes`` require valid OpenAI names, so they carry the ToolForge name (an
    ``x-original-name`` is lost there); ``mcp`` and ``bfcl`` carry the original name, so importing
    the output gives back the same documents. ``bfcl`` writes BFCL's type names (``dict``,
    ``float``), one record per tool.

    Args:
        docs: ToolForge tool documents.
        fmt: ``openai``, ``mcp``, ``hermes`` or ``bfcl``.

    Returns:
        The text of a file in that format.
    """
    if fmt in ("openai", "hermes"):
        wrapped = [{"type": "function", "function": doc["function"]} for doc in docs]
        if fmt == "openai":
            return json.dumps(wrapped, indent=2, ensure_ascii=False)
        lines = "\n".join(json.dumps(tool, ensure_ascii=False) for tool in wrapped)
        return (
            "You are a function calling AI model. You are provided with function signatures within "
            f"<tools></tools> XML tags. Here are the available tools: <tools>\n{lines}\n</tools>"
        )
    originals = [(doc.get("x-original-name", doc["function"]["name"]), doc["function"]) for doc in docs]
    if fmt == "mcp":
        tools = [{"name": name, "description": fn["description"], "inputSchema": fn["parameters"]}
                 for name, fn in originals]
        response = {"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}
        return json.dumps(response, indent=2, ensure_ascii=False)
    if fmt == "bfcl":
        records = [
            {"id": f"toolforge_{i}", "question": [[]], "function": [
                {"name": name, "description": fn["description"], "parameters": _bfcl_schema(fn["parameters"])}
            ]}
            for i, (name, fn) in enumerate(originals)
        ]
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")

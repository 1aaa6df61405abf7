"""The tool registry: load a folder of tool files, validate every one, and expose an immutable view.

A tool file is OpenAI's tool format plus ToolForge fields::

    {"type": "function",
     "function": {"name": ..., "description": ..., "parameters": <JSON Schema object>},
     "x-split": "train" | "heldout", "x-domain": "weather",
     "x-frames": ["any {place_type} {location}?", ...], "x-slots": {"location": ["in {value}"], ...}}

``x-frames`` and ``x-slots`` (how people phrase requests for the tool; see `generators.phrasing`) are
checked against the parameters: a frame naming an unknown parameter, a slot phrase without ``{value}``,
an enum value without a name, or anything but a plain placeholder is a problem with its pointer.
``x-utterances`` (the old Jinja request lines) is still accepted but no longer used.

Validation reports every problem with the file, the JSON pointer and what to change, so a user
can fix a folder in one pass. Local ``$ref`` s are inlined at load time (the generator never sees
one); remote, unresolvable and recursive ones are refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from generators._regex import _UNBOUNDED_EXTRA
from generators.phrasing import validate_phrasing
from generators.templates import TextTemplate, template_problem

DEFAULT_TOOLS_DIR = Path(__file__).resolve().parents[1] / "tool_schemas"
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
SPLITS = ("train", "heldout")

# The envelope around a tool's JSON Schema. `parameters` itself is checked against the
# Draft 2020-12 meta-schema separately, so its errors point inside the schema.
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "function", "x-split", "x-domain"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "description", "parameters"],
            "properties": {
                "name": {"type": "string", "pattern": NAME_PATTERN},
                "description": {"type": "string", "minLength": 1, "maxLength": 4000},
                "parameters": {"type": "object"},
                "strict": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "x-split": {"enum": list(SPLITS)},
        "x-domain": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,63}$"},
        "x-utterances": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 64},
        "x-frames": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                     "minItems": 1, "maxItems": 256},
        "x-slots": {"type": "object"},
        "x-original-name": {"type": "string"},
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}
_ENVELOPE = Draft202012Validator(ENVELOPE_SCHEMA)
_HINTS = {
    "x-split": "set it to 'train' or 'heldout'",
    "x-domain": "set it to a lower-case domain such as 'weather'",
    "name": "use 1-64 letters, digits, '_' or '-'",
}


@dataclass(frozen=True)
class Limits:
    """Guard rails against hostile or accidental schemas (settings `TOOLFORGE_REGISTRY_*`)."""

    max_depth: int = 8
    max_properties: int = 64
    max_enum: int = 256
    max_file_bytes: int = 256 * 1024
    max_tools: int = 10_000
    # A value the generator must build (minLength, a pattern's repeats) and the items of an array are
    # built whole for every sample: a schema demanding millions would stall generation.
    max_value_length: int = 10_000
    max_items: int = 1_000


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a tool file: where, and what to change."""

    source: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.pointer or '/'}: {self.message}"


class RegistryError(ValueError):
    """Raised when a registry cannot be loaded; `.problems` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Tool:
    """A validated tool. `parameters` is a ref-free JSON Schema object; treat it as read-only."""

    name: str
    description: str
    parameters: dict[str, Any]
    split: str
    domain: str
    utterances: tuple[str, ...] = ()
    source: str = "<input>"
    frames: tuple[str, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict, repr=False)
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", ()))

    @property
    def properties(self) -> dict[str, Any]:
        return self.parameters.get("properties", {})

    def openai(self) -> dict[str, Any]:
        """The tool as OpenAI's `tools=` entry (no ToolForge fields)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class Registry:
    """An immutable, ordered set of tools with a stable content digest."""

    def __init__(self, tools: Sequence[Tool]):
        self._tools = tuple(sorted(tools, key=lambda t: t.name))
        self._by_name = {t.name: t for t in self._tools}
        if len(self._by_name) != len(self._tools):
            raise ValueError("duplicate tool names in registry")
        canonical = orjson.dumps([t.document for t in self._tools], option=orjson.OPT_SORT_KEYS)
        self.digest = hashlib.sha256(canonical).hexdigest()

    @property
    def tools(self) -> tuple[Tool, ...]:
        return self._tools

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({t.domain for t in self._tools}))

    def get(self, name: str) -> Tool:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools)

    def filter(
        self,
        split: str | None = None,
        domains: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
    ) -> Registry:
        """Return the sub-registry of tools matching every given criterion.

        Args:
            split: keep only tools of this split (`train` or `heldout`).
            domains: keep only tools of these domains.
            names: keep only these tools; an unknown name raises `KeyError`.

        Returns:
            A new `Registry` (possibly empty).
        """
        if names is not None:
            unknown = sorted(set(names) - self._by_name.keys())
            if unknown:
                raise KeyError(f"unknown tools: {', '.join(unknown)}")
        keep = [
            t
            for t in self._tools
            if (split is None or t.split == split)
            and (domains is None or t.domain in domains)
            and (names is None or t.name in names)
        ]
        return Registry(keep)

    def counts(self) -> dict[str, dict[str, int]]:
        """Tool counts per domain and split: ``{domain: {"train": n, "heldout": m}}``."""
        out: dict[str, dict[str, int]] = {}
        for t in self._tools:
            row = out.setdefault(t.domain, dict.fromkeys(SPLITS, 0))
            row[t.split] += 1
        return dict(sorted(out.items()))


# --- validation -------------------------------------------------------------------------------


def _pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve_local(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for raw in ref[2:].split("/") if ref != "#" else []:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(ref)
    return node


def _inline_refs(
    node: Any, root: dict[str, Any], path: list[Any], stack: tuple[str, ...], problems: list[Problem], src: str
) -> Any:
    """Return `node` with every local `$ref` replaced by its target; record bad refs."""
    if isinstance(node, list):
        return [_inline_refs(v, root, [*path, i], stack, problems, src) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        where = _pointer(["function", "parameters", *path, "$ref"])
        if not ref.startswith("#"):
            problems.append(Problem(src, where, f"remote $ref {ref!r} is not allowed; inline the schema"))
            return {}
        if ref in stack:
            problems.append(Problem(src, where, f"recursive $ref {ref!r}; tool arguments must be finite"))
            return {}
        try:
            target = _resolve_local(root, ref)
        except KeyError:
            problems.append(Problem(src, where, f"$ref {ref!r} does not resolve inside the parameters schema"))
            return {}
        merged = _inline_refs(target, root, path, (*stack, ref), problems, src)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if isinstance(merged, dict):
            merged = {**merged, **_inline_refs(siblings, root, path, stack, problems, src)}
        return merged
    return {
        k: _inline_refs(v, root, [*path, k], stack, problems, src)
        for k, v in node.items()
        if k not in ("$defs", "definitions")
    }


def _check_limits(schema: Any, path: list[Any], depth: int, limits: Limits, src: str, out: list[Problem]) -> None:
    """Walk a ref-free schema checking nesting depth, sizes, `required` and `pattern`."""
    if not isinstance(schema, dict):
        return
    where = _pointer(["function", "parameters", *path])
    if depth > limits.max_depth:
        out.append(Problem(src, where, f"schema nests deeper than {limits.max_depth} levels; flatten it"))
        return
    props = schema.get("properties")
    if isinstance(props, dict):
        if len(props) > limits.max_properties:
            out.append(
                Problem(src, where + "/properties", f"{len(props)} properties exceed the limit of "
                        f"{limits.max_properties}; split the tool")
            )
        for name in schema.get("required", []) if isinstance(schema.get("required"), list) else []:
            if name not in props:
                out.append(Problem(src, where + "/required", f"required parameter {name!r} is not in properties"))
        for key, sub in props.items():
            _check_limits(sub, [*path, "properties", key], depth + 1, limits, src, out)
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) > limits.max_enum:
        out.append(Problem(src, where + "/enum", f"{len(enum)} enum values exceed the limit of {limits.max_enum}"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
            width = _pattern_width(sre_parse.parse(pattern), {})
        except (re.error, RecursionError, OverflowError) as exc:
            out.append(Problem(src, where + "/pattern", f"invalid regular expression: {exc}"))
        else:
            if width > limits.max_value_length:
                out.append(Problem(src, where + "/pattern", f"pattern may need values of {width} characters, over "
                                   f"the limit of {limits.max_value_length}; lower its repeat counts"))
    for key, cap in (("minLength", limits.max_value_length), ("minItems", limits.max_items)):
        if isinstance(schema.get(key), int) and schema[key] > cap:
            out.append(Problem(src, f"{where}/{key}", f"{key} {schema[key]} is over the limit of {cap}"))
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
        if isinstance(schema.get(key), dict):
            _check_limits(schema[key], [*path, key], depth + 1, limits, src, out)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                _check_limits(sub, [*path, key, i], depth + 1, limits, src, out)
    if "default" in schema and not out:
        try:
            valid = Draft202012Validator(schema).is_valid(schema["default"])
        except Exception:  # noqa: BLE001 - a broken sub-schema is reported by the meta-schema check
            valid = True
        if not valid:
            out.append(Problem(src, where + "/default", "default value does not validate against its own schema"))


def _pattern_width(items: Any, groups: dict[int, int]) -> int:
    # The longest string `generators._regex` may build for a parsed pattern: it caps unbounded repeats
    # at min + _UNBOUNDED_EXTRA and bounded ones at min + 64, so nested repeats multiply.
    total = 0
    for op, av in items:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            hi = av[0] + _UNBOUNDED_EXTRA if av[1] is sre_c.MAXREPEAT else min(av[1], av[0] + 64)
            total += hi * _pattern_width(av[2], groups)
        elif op is sre_c.SUBPATTERN:
            width = _pattern_width(av[3], groups)
            if av[0] is not None:
                groups[av[0]] = width
            total += width
        elif op is sre_c.ATOMIC_GROUP:
            total += _pattern_width(av, groups)
        elif op is sre_c.BRANCH:
            total += max(_pattern_width(alt, groups) for alt in av[1])
        elif op is sre_c.GROUPREF:
            total += groups.get(av, 0)
        elif op is not sre_c.AT:
            total += 1
    return total


def validate_tool(doc: Any, source: str = "<input>", limits: Limits | None = None) -> list[Problem]:
    """Check one tool document; return every problem found (empty when valid).

    Args:
        doc: the parsed tool file.
        source: the name to report problems under (usually the file path).
        limits: guard rails on schema size and depth.

    Returns:
        The problems, each with a JSON pointer into `doc` and what to change.
    """
    return parse_tool(doc, source, limits or Limits())[1]


def _nesting(value: Any) -> int:
    """Deepest container nesting of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_tool(doc: Any, src: str = "<input>", limits: Limits | None = None) -> tuple[Tool | None, list[Problem]]:
    """Validate one parsed tool document and build its `Tool`.

    Args:
        doc: the parsed tool file.
        src: the name to report problems under.
        limits: guard rails on schema size and depth.

    Returns:
        `(tool, [])` when valid, else `(None, problems)`.
    """
    limits = limits or Limits()
    # Before anything recurses into it: a document nested thousands deep (in an `x-` field, say)
    # would overflow jsonschema's and orjson's stacks.
    if _nesting(doc) > 4 * limits.max_depth + 12:
        return None, [Problem(src, "", f"document nests deeper than {4 * limits.max_depth + 12} levels; flatten it")]
    try:
        size = len(orjson.dumps(doc))
    except (orjson.JSONEncodeError, TypeError) as exc:  # integers over 64 bits, non-string keys
        return None, [Problem(src, "", f"document cannot be stored as JSON: {exc}")]
    if size > limits.max_file_bytes:
        return None, [Problem(src, "", f"document is {size} bytes, over the limit of {limits.max_file_bytes}")]
    problems = [
        Problem(src, _pointer(e.absolute_path), _envelope_message(e))
        for e in sorted(_ENVELOPE.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        return None, problems
    fn = doc["function"]
    params = fn["parameters"]
    # Check nesting before the meta-schema: jsonschema recurses and a hostile file would overflow the stack.
    if _nesting(params) > 4 * limits.max_depth + 8:
        return None, [Problem(src, "/function/parameters", f"schema nests deeper than {limits.max_depth} levels; "
                              "flatten it")]
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as exc:
        where = _pointer(["function", "parameters", *exc.absolute_path])
        return None, [Problem(src, where, f"not a valid JSON Schema (Draft 2020-12): {exc.message}")]
    if params.get("type") != "object":
        return None, [Problem(src, "/function/parameters/type", "parameters must be a JSON Schema with "
                              "\"type\": \"object\"")]
    inlined = _inline_refs(params, params, [], (), problems, src)
    if problems:
        return None, problems
    _check_limits(inlined, [], 0, limits, src, problems)
    if problems:
        return None, problems
    inlined.setdefault("properties", {})
    inlined.setdefault("required", [])
    problems = [Problem(src, where, message) for where, message in validate_phrasing(doc, inlined["properties"])]
    _check_utterances(doc.get("x-utterances", ()), inlined["required"], src, problems)
    if problems:
        return None, problems
    tool = Tool(
        name=fn["name"],
        description=fn["description"],
        parameters=inlined,
        split=doc["x-split"],
        domain=doc["x-domain"],
        utterances=tuple(doc.get("x-utterances", ())),
        source=src,
        frames=tuple(doc.get("x-frames", ())),
        slots=dict(doc.get("x-slots", {})),
        document=doc,
    )
    return tool, []


def _check_utterances(utterances: Sequence[str], required: Sequence[str], src: str, out: list[Problem]) -> None:
    """Tool-file text is data: plain ``{{ param }}`` placeholders naming required parameters, nothing else."""
    for i, text in enumerate(utterances):
        where = _pointer(["x-utterances", i])
        problem = template_problem(text)
        if problem is not None:
            out.append(Problem(src, where, f"{problem}; write text with '{{{{ param }}}}' placeholders only "
                               "(no expressions, filters, tags or other braces)"))
            continue
        unknown = sorted(TextTemplate("", text).variables - set(required))
        if unknown:
            out.append(Problem(src, where, f"placeholder(s) {', '.join(unknown)} name no required parameter; use "
                               f"only {', '.join(required) or 'none (the tool has no required parameters)'}"))


def _envelope_message(error: Any) -> str:
    field_name = str(error.absolute_path[-1]) if error.absolute_path else ""
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required field {missing!r}"
    if error.validator == "additionalProperties":
        return f"{error.message}; ToolForge fields must start with 'x-'"
    hint = _HINTS.get(field_name)
    return f"{error.message}" + (f"; {hint}" if hint else "")


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` for `json.loads` that refuses a key given twice (JSON would keep the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in one object; keep one")
        out[key] = value
    return out


def parse_tool_bytes(raw: bytes, source: str = "<input>", limits: Limits | None = None) -> tuple[Tool | None,
                                                                                                   list[Problem]]:
    """Decode and validate one tool file's bytes.

    Args:
        raw: the file content (must be UTF-8 JSON, one object, no duplicate keys).
        source: the name to report problems under.
        limits: guard rails; `max_file_bytes` applies here.

    Returns:
        `(tool, [])` when valid, else `(None, problems)`.
    """
    import json

    limits = limits or Limits()
    if len(raw) > limits.max_file_bytes:
        return None, [Problem(source, "", f"file is {len(raw)} bytes, over the limit of {limits.max_file_bytes}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(source, "", f"not UTF-8 (byte {exc.start}); save the file as UTF-8")]
    try:
        doc = json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        return None, [Problem(source, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
    except ValueError as exc:
        return None, [Problem(source, "", str(exc))]
    except RecursionError:
        return None, [Problem(source, "", "JSON nests too deeply to read; flatten the schema")]
    return parse_tool(doc, source, limits)


def load_registry(path: str | Path = DEFAULT_TOOLS_DIR, limits: Limits | None = None) -> Registry:
    """Load and validate every `*.json` file under `path` (recursively).

    Args:
        path: the folder of tool files (default: the repository's `tool_schemas/`).
        limits: guard rails on schema size and depth.

    Returns:
        The registry.

    Raises:
        RegistryError: listing every problem in every file, duplicate names included.
    """
    limits = limits or Limits()
    root = Path(path)
    if not root.is_dir():
        raise RegistryError([Problem(str(root), "", "not a folder of tool files")])
    files = sorted(root.rglob("*.json"))
    if len(files) > limits.max_tools:
        raise RegistryError([Problem(str(root), "", f"{len(files)} files exceed the limit of {limits.max_tools}")])
    tools: list[Tool] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file in files:
        src = str(file.relative_to(root.parent)) if root.parent in file.parents else str(file)
        tool, found = parse_tool_bytes(file.read_bytes(), src, limits)
        problems.extend(found)
        if tool is None:
            continue
        if tool.name in seen:
            problems.append(Problem(src, "/function/name", f"tool name {tool.name!r} is already defined in "
                                    f"{seen[tool.name]}; rename one of them"))
            continue
        seen[tool.name] = src
        tools.append(tool)
    if problems:
        raise RegistryError(problems)
    return Registry(tools)

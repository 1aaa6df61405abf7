import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.registry import (
    DEFAULT_TOOLS_DIR,
    Limits,
    Registry,
    RegistryError,
    load_registry,
    parse_tool_bytes,
    validate_tool,
)

GOOD = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name."},
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
    "x-split": "train",
    "x-domain": "weather",
}


def tool_with(path: str, value, base=GOOD):
    """Return a copy of `base` with the value at the slash-separated `path` replaced (None deletes)."""
    doc = copy.deepcopy(base)
    *parents, last = path.split("/")
    node = doc
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


def write(folder: Path, name: str, doc) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


BAD_TOOLS = [
    # 1. not a function envelope
    (tool_with("type", "tool"), "/type", "'function' was expected"),
    # 2. missing split
    (tool_with("x-split", None), "/", "missing required field 'x-split'"),
    # 3. unknown split
    (tool_with("x-split", "test"), "/x-split", "set it to 'train' or 'heldout'"),
    # 4. name with a dot is not a valid OpenAI function name
    (tool_with("function/name", "weather.get"), "/function/name", "use 1-64 letters"),
    # 5. empty description
    (tool_with("function/description", ""), "/function/description", "should be non-empty"),
    # 6. unknown top-level field that is not an x- extension
    (tool_with("domain", "weather"), "/", "ToolForge fields must start with 'x-'"),
    # 7. parameters not an object schema
    (tool_with("function/parameters/type", "array"), "/function/parameters/type", "\"type\": \"object\""),
    # 8. invalid JSON Schema keyword value (meta-schema)
    (tool_with("function/parameters/properties/city/type", "text"), "/function/parameters/properties/city/type",
     "not a valid JSON Schema"),
    # 9. remote $ref
    (tool_with("function/parameters/properties/city", {"$ref": "https://example.com/city.json"}),
     "/function/parameters/properties/city/$ref", "remote $ref"),
    # 10. unresolvable local $ref
    (tool_with("function/parameters/properties/city", {"$ref": "#/$defs/nowhere"}),
     "/function/parameters/properties/city/$ref", "does not resolve"),
    # 11. recursive $ref
    (tool_with("function/parameters/$defs", {"node": {"type": "object", "properties": {
        "child": {"$ref": "#/$defs/node"}}}},
        tool_with("function/parameters/properties/city", {"$ref": "#/$defs/node"})),
     "/$ref", "recursive $ref"),
    # 12. required parameter not declared
    (tool_with("function/parameters/required", ["city", "country"]), "/function/parameters/required",
     "'country' is not in properties"),
    # 13. too many enum values
    (tool_with("function/parameters/properties/units/enum", [f"u{i}" for i in range(300)]),
     "/function/parameters/properties/units/enum", "exceed the limit of 256"),
    # 14. too many properties
    (tool_with("function/parameters/properties", {f"p{i}": {"type": "string"} for i in range(70)}),
     "/function/parameters/properties", "split the tool"),
    # 15. invalid regular expression
    (tool_with("function/parameters/properties/city/pattern", "[a-z"), "/function/parameters/properties/city/pattern",
     "is not a 'regex'"),
    # 16. default that violates its own schema
    (tool_with("function/parameters/properties/units/default", "kelvin"),
     "/function/parameters/properties/units/default", "default value does not validate"),
    # 17. bad domain spelling
    (tool_with("x-domain", "Weather Stuff"), "/x-domain", "lower-case domain"),
]


@pytest.mark.parametrize(("doc", "pointer", "message"), BAD_TOOLS)
def test_bad_tool_gets_its_specific_error(doc, pointer, message):
    problems = validate_tool(doc, "bad.json")
    assert problems, "expected a problem"
    assert any(p.pointer.endswith(pointer.rstrip("/")) or (pointer == "/" and p.pointer == "")
               for p in problems), [str(p) for p in problems]
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    assert all(str(p).startswith("bad.json: ") for p in problems)


def test_too_deep_nesting_is_refused():
    leaf = {"type": "string"}
    for _ in range(12):
        leaf = {"type": "object", "properties": {"inner": leaf}}
    doc = tool_with("function/parameters/properties/city", leaf)
    problems = validate_tool(doc, limits=Limits(max_depth=8))
    assert [p.message for p in problems if "deeper than 8" in p.message]


def test_hostile_nesting_does_not_overflow_the_stack():
    leaf: dict = {"type": "string"}
    for _ in range(2000):
        leaf = {"type": "object", "properties": {"x": leaf}}
    problems = validate_tool(tool_with("function/parameters/properties/city", leaf))
    assert "deeper than" in problems[0].message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # not UTF-8
        (b'{"type": "function", "x": "\xff"}', "not UTF-8"),
        # invalid JSON names the position
        (b'{"type": "function",', "invalid JSON at line 1"),
        # duplicate keys would silently lose a value
        (b'{"type": "function", "type": "function"}', "duplicate key 'type'"),
        # oversized file
        (b" " * 300_000, "over the limit"),
    ],
)
def test_bad_bytes_are_refused(raw, message):
    tool, problems = parse_tool_bytes(raw, "f.json")
    assert tool is None
    assert message in problems[0].message


def test_local_refs_are_inlined():
    doc = tool_with("function/parameters/$defs", {"city": {"type": "string", "minLength": 2}})
    doc = tool_with("function/parameters/properties/city", {"$ref": "#/$defs/city", "description": "City."}, doc)
    tool, problems = parse_tool_bytes(json.dumps(doc).encode())
    assert problems == []
    assert tool.properties["city"] == {"type": "string", "minLength": 2, "description": "City."}
    assert "$defs" not in tool.parameters


def test_duplicate_names_across_files(tmp_path):
    write(tmp_path, "a", GOOD)
    write(tmp_path, "b", GOOD)
    with pytest.raises(RegistryError) as err:
        load_registry(tmp_path)
    assert "already defined" in str(err.value)


def test_all_problems_of_a_folder_are_reported_at_once(tmp_path):
    write(tmp_path, "a", tool_with("x-split", "x"))
    write(tmp_path, "b", "{not json")
    write(tmp_path, "c", GOOD)
    with pytest.raises(RegistryError) as err:
        load_registry(tmp_path)
    assert {p.source.split("/")[-1] for p in err.value.problems} == {"a.json", "b.json"}


def test_digest_is_stable_and_content_addressed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("one")
    write(tmp_path, "a", GOOD)
    first = load_registry(tmp_path).digest
    # same content in another file name and key order -> same digest
    other = tmp_path_factory.mktemp("other")
    (other / "zzz.json").write_text(json.dumps(dict(reversed(list(GOOD.items())))))
    assert load_registry(other).digest == first
    write(tmp_path, "a", tool_with("function/description", "Changed."))
    assert load_registry(tmp_path).digest != first


def test_filter_and_counts(tmp_path):
    write(tmp_path, "a", GOOD)
    write(tmp_path, "b", tool_with("x-split", "heldout", tool_with("function/name", "get_rain")))
    registry = load_registry(tmp_path)
    assert [t.name for t in registry.filter(split="heldout")] == ["get_rain"]
    assert registry.counts() == {"weather": {"train": 1, "heldout": 1}}
    with pytest.raises(KeyError):
        registry.filter(names=["nope"])
    assert registry.get("get_weather").openai()["function"]["name"] == "get_weather"
    assert "x-split" not in registry.get("get_weather").openai()


def test_repository_registry_loads():
    registry = load_registry(DEFAULT_TOOLS_DIR)
    assert len(registry) >= 60
    assert len(registry.domains) >= 10
    heldout = registry.filter(split="heldout")
    assert len(heldout) >= 15 and len(heldout.domains) >= 5
    assert isinstance(registry, Registry)


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=12))
def test_arbitrary_json_never_crashes_validation(value):
    # any JSON value is either a valid tool or a list of problems, never an exception
    doc = tool_with("function/parameters/properties/city", value) if isinstance(value, dict) else value
    problems = validate_tool(doc)
    assert isinstance(problems, list)

"""BFCL importer normalisations (issue 17): defaults that do not validate against their own schema are
repaired and noted, ``"type": ""`` means any, and a name's first *valid* definition imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.importers import import_tools, normalise_bfcl_schema, write_tools
from generators.registry import validate_tool

FOLDER = Path(__file__).resolve().parents[1] / "data" / "importers" / "bfcl_v4"
P = pytest.param

# (BFCL property schema, the JSON Schema it becomes, the note recorded; None = no change noted)
DEFAULTS = [
    # BFCL's most common broken default: null on a typed parameter is dropped.
    P({"type": "string", "default": None}, {"type": "string"}, "/properties/p/default: null default dropped",
      id="null-dropped"),
    # "false" on a boolean becomes false.
    P({"type": "boolean", "default": "false"}, {"type": "boolean", "default": False},
      '/properties/p/default: "false" converted to false (boolean)', id="bool-false-string"),
    # Any capitalisation ("True").
    P({"type": "boolean", "default": "True"}, {"type": "boolean", "default": True},
      '/properties/p/default: "True" converted to true (boolean)', id="bool-true-capital"),
    # "0" on a boolean is false too.
    P({"type": "bool", "default": "0"}, {"type": "boolean", "default": False},
      '/properties/p/default: "0" converted to false (boolean)', id="bool-zero-string"),
    # "0" on an integer becomes 0.
    P({"type": "integer", "default": "0"}, {"type": "integer", "default": 0},
      '/properties/p/default: "0" converted to 0 (integer)', id="int-zero-string"),
    # Java's long is an integer too.
    P({"type": "long", "default": "42"}, {"type": "integer", "default": 42},
      '/properties/p/default: "42" converted to 42 (integer)', id="java-long-string"),
    # "1.0" on an integer is the integer 1.
    P({"type": "integer", "default": "1.0"}, {"type": "integer", "default": 1},
      '/properties/p/default: "1.0" converted to 1 (integer)', id="int-float-text"),
    # "0" on a float becomes the number 0.
    P({"type": "float", "default": "0"}, {"type": "number", "default": 0},
      '/properties/p/default: "0" converted to 0 (number)', id="float-zero-string"),
    # "2.5" on a double becomes 2.5.
    P({"type": "double", "default": "2.5"}, {"type": "number", "default": 2.5},
      '/properties/p/default: "2.5" converted to 2.5 (number)', id="double-string"),
    # "[]" on an array becomes [].
    P({"type": "array", "items": {"type": "string"}, "default": "[]"},
      {"type": "array", "items": {"type": "string"}, "default": []},
      '/properties/p/default: "[]" converted to [] (array)', id="array-empty-string"),
    # A Python-literal list, as BFCL writes some.
    P({"type": "list", "items": {"type": "string"}, "default": "['a', 'b']"},
      {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]},
      '/properties/p/default: "[\'a\', \'b\']" converted to ["a", "b"] (array)', id="array-python-literal"),
    # "0" on an array cannot be an array: dropped.
    P({"type": "array", "default": "0"}, {"type": "array"},
      '/properties/p/default: "0" does not validate against the schema; dropped', id="array-zero-dropped"),
    # "{}" on a dict becomes {}.
    P({"type": "dict", "default": "{}"}, {"type": "object", "default": {}},
      '/properties/p/default: "{}" converted to {} (object)', id="dict-empty-string"),
    # A default outside the enum is dropped.
    P({"type": "string", "enum": ["asc", "desc"], "default": "ascending"}, {"type": "string", "enum": ["asc", "desc"]},
      '/properties/p/default: "ascending" is not one of the enum values; dropped', id="out-of-enum"),
    # A default in the enum is kept, and nothing is noted.
    P({"type": "string", "enum": ["asc", "desc"], "default": "asc"},
      {"type": "string", "enum": ["asc", "desc"], "default": "asc"}, None, id="in-enum-kept"),
    # A string that is no number is dropped.
    P({"type": "integer", "default": "abc"}, {"type": "integer"},
      '/properties/p/default: "abc" does not validate against the schema; dropped', id="int-garbage-dropped"),
    # A number on a string parameter becomes its text.
    P({"type": "string", "default": 5}, {"type": "string", "default": "5"},
      '/properties/p/default: 5 converted to "5" (string)', id="number-on-string"),
    # null on a parameter of any type is valid: kept, nothing noted.
    P({"type": "any", "default": None}, {"default": None}, None, id="any-null-kept"),
    # null on a nullable union is valid: kept.
    P({"type": ["string", "null"], "default": None}, {"type": ["string", "null"], "default": None}, None,
      id="nullable-null-kept"),
    # A valid default is left alone.
    P({"type": "integer", "default": 3}, {"type": "integer", "default": 3}, None, id="valid-default-kept"),
    # "type": "" is read as any type (and noted).
    P({"type": "", "description": "Anything"}, {"description": "Anything"},
      '/properties/p/type: empty type "" read as any type', id="empty-type-any"),
]


@pytest.mark.parametrize(
    ("bfcl_type", "json_type"),
    [
        # Java array syntax is an array.
        ("String[]", "array"),
        # A Java generic is its raw type.
        ("List<String>", "array"),
        ("Map<String, Object>", "object"),
        # Python's None spelling is null.
        ("None", "null"),
    ],
)
def test_more_java_and_python_type_spellings(bfcl_type: str, json_type: str) -> None:
    out = normalise_bfcl_schema({"type": "dict", "properties": {"p": {"type": bfcl_type}}})
    assert out["properties"]["p"] == {"type": json_type}


def test_a_javascript_callback_type_is_any() -> None:
    # "type": "function" (a JavaScript callback) constrains nothing JSON can check.
    out = normalise_bfcl_schema({"type": "dict", "properties": {"cb": {"type": "function", "description": "d"}}})
    assert out["properties"]["cb"] == {"description": "d"}


@pytest.mark.parametrize(("schema", "expected", "note"), DEFAULTS)
def test_each_default_repair(schema: dict, expected: dict, note: str | None) -> None:
    notes: list[str] = []
    out = normalise_bfcl_schema({"type": "dict", "properties": {"p": schema}}, notes=notes)
    assert out["properties"]["p"] == expected
    assert notes == ([] if note is None else [note])


@pytest.mark.parametrize(("schema", "expected", "note"), DEFAULTS)
def test_each_repaired_tool_imports_with_its_notes(schema: dict, expected: dict, note: str | None) -> None:
    # The whole tool imports (where it was refused before) and its file lists what was changed.
    fn = {"name": "f", "description": "d", "parameters": {"type": "dict", "properties": {"p": schema}}}
    result = import_tools(json.dumps({"id": "x", "function": [fn]}), "bfcl")
    assert result.refused == []
    (doc,) = result.tools
    assert validate_tool(doc) == []
    assert doc["function"]["parameters"]["properties"]["p"] == expected
    assert doc.get("x-import-notes") == (None if note is None else ["/parameters" + note])


def test_nested_defaults_are_repaired_with_their_pointer() -> None:
    # A default deep inside an object parameter is repaired where it is, and the note points there.
    schema = {"type": "dict", "properties": {"opts": {"type": "dict", "properties": {
        "limit": {"type": "integer", "default": "10"}, "tag": {"type": "string", "default": None}}}}}
    notes: list[str] = []
    out = normalise_bfcl_schema(schema, "/parameters", notes)
    assert out["properties"]["opts"]["properties"] == {"limit": {"type": "integer", "default": 10},
                                                       "tag": {"type": "string"}}
    assert notes == ['/parameters/properties/opts/properties/limit/default: "10" converted to 10 (integer)',
                     "/parameters/properties/opts/properties/tag/default: null default dropped"]


def test_notes_are_written_into_the_tool_file(tmp_path: Path) -> None:
    # The record of each change lives in the tool file itself.
    fn = {"name": "f", "description": "d", "parameters": {"type": "dict", "properties": {
        "p": {"type": "boolean", "default": "false"}}}}
    (path,) = write_tools(import_tools(json.dumps({"function": [fn]}), "bfcl"), tmp_path)
    doc = json.loads(path.read_text())
    assert doc["x-import-notes"] == ['/parameters/properties/p/default: "false" converted to false (boolean)']


def test_first_valid_definition_wins_when_the_first_is_refused() -> None:
    # A refused first definition no longer makes every later valid one a "conflicting redefinition".
    bad = {"name": "g.h", "description": "d", "parameters": {"type": "dict", "properties": {
        "x": {"type": "datetime"}}}}
    good = {"name": "g.h", "description": "d", "parameters": {"type": "dict", "properties": {
        "x": {"type": "string", "default": None}}}}
    result = import_tools("\n".join(json.dumps({"function": [f]}) for f in (bad, good, good)), "bfcl")
    assert [d["x-original-name"] for d in result.tools] == ["g.h"]
    assert result.tools[0]["function"]["parameters"]["properties"]["x"] == {"type": "string"}
    assert result.duplicates == 1
    assert [r.location for r in result.refused] == ["line 1"]


def test_a_definition_refused_by_the_registry_leaves_the_name_to_a_later_one() -> None:
    # Refused by validate_tool (required names a missing property), not by the normaliser: same rule.
    bad = {"name": "k", "description": "d", "parameters": {"type": "dict", "properties": {}, "required": ["x"]}}
    good = {"name": "k", "description": "d", "parameters": {"type": "dict", "properties": {"x": {"type": "int"}}}}
    result = import_tools("\n".join(json.dumps({"function": [f]}) for f in (bad, good)), "bfcl")
    assert [d["function"]["name"] for d in result.tools] == ["k"]
    assert "required parameter 'x' is not in properties" in result.refused[0].reason


def test_bfcl_style_folder_imports_nearly_every_distinct_function() -> None:
    # A BFCL v4-shaped data folder with the broken shapes above: count distinct functions imported vs total.
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(FOLDER.glob("BFCL_v4_*.json")))
    distinct = {fn["name"] for line in text.splitlines() for fn in json.loads(line)["function"]}
    result = import_tools(text, "bfcl", domain="bfcl")
    imported = {d.get("x-original-name", d["function"]["name"]) for d in result.tools}
    assert (len(imported), len(distinct)) == (11, 12)
    assert distinct - imported == {"no_description"}  # the one left: no description to generate from
    assert all(validate_tool(d) == [] for d in result.tools)
    assert sum(len(d.get("x-import-notes", [])) for d in result.tools) == 17

"""Tests for generators.importers: every format imports, round-trips, and refuses what it must."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from generators.importers import (
    BFCL_TYPES,
    ImportConflict,
    ImportFormatError,
    assign_names,
    export_tools,
    import_tools,
    is_valid_name,
    normalise_bfcl_schema,
    write_tools,
)
from generators.registry import load_registry, validate_tool

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"
FIXTURES = {
    "openai": "openai_tools.json",
    "mcp": "mcp_tools_list.json",
    "hermes": "hermes_system_prompt.txt",
    "bfcl": "bfcl_sample.jsonl",
}
JSON_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


def fixture(fmt: str) -> str:
    return (DATA / FIXTURES[fmt]).read_text(encoding="utf-8")


def names(result) -> list[str]:
    return [doc["function"]["name"] for doc in result.tools]


def types_in(schema) -> list:
    """Every type name of a `type` keyword anywhere in a schema tree (unions flattened)."""
    if isinstance(schema, list):
        return [t for item in schema for t in types_in(item)]
    if not isinstance(schema, dict):
        return []
    found = schema.get("type", [])
    found = list(found) if isinstance(found, list) else [found]
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
            found += types_in(list(value.values()))  # the keys are names, never keywords
        elif key in ("items", "prefixItems", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
            found += types_in(value)
    return found


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_names", "expected"),
    [
        # a valid name is kept as it is
        (["get_weather"], {"get_weather": "get_weather"}),
        # dots (BFCL's module paths) become underscores
        (["math.factorial"], {"math.factorial": "math_factorial"}),
        # slashes, spaces and non-ASCII letters are all replaced
        (["github/create issue", "café"], {"github/create issue": "github_create_issue", "café": "caf_"}),
        # a mapped name that collides with a valid one yields: the valid one keeps its name
        (
            ["math.factorial", "math_factorial"],
            {"math.factorial": "math_factorial_2", "math_factorial": "math_factorial"},
        ),
        # two invalid names mapping to the same text get suffixes in input order
        (["a.b", "a/b", "a b"], {"a.b": "a_b", "a/b": "a_b_2", "a b": "a_b_3"}),
        # a suffix skips a name that is already taken
        (["x.y", "x_y_2", "x/y"], {"x.y": "x_y", "x_y_2": "x_y_2", "x/y": "x_y_3"}),
        # long names are cut to 64 characters, and the suffix still fits in 64
        (["a." * 40, "a/" * 40], {"a." * 40: "a_" * 32, "a/" * 40: "a_" * 31 + "_2"}),
        # a valid name longer than 64 characters is cut too
        (["n" * 70], {"n" * 70: "n" * 64}),
    ],
)
def test_assign_names(given_names, expected):
    assert assign_names(given_names) == expected


@given(st.lists(st.text(min_size=1, max_size=80), unique=True, max_size=30))
@settings(max_examples=300, deadline=None)
def test_assign_names_always_valid_unique_and_stable(given_names):
    mapping = assign_names(given_names)
    assert list(mapping) == given_names
    assert all(is_valid_name(v) for v in mapping.values())
    assert len(set(mapping.values())) == len(given_names)
    # names that were already valid never change, and the mapping is deterministic
    assert all(mapping[n] == n for n in given_names if is_valid_name(n))
    assert assign_names(given_names) == mapping


# --- BFCL type normalisation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bfcl", "expected"),
    [
        # BFCL's top-level dict is a JSON Schema object
        ({"type": "dict", "properties": {}}, {"type": "object", "properties": {}}),
        # float is a number
        ({"type": "float", "description": "km"}, {"type": "number", "description": "km"}),
        # tuple is an array and keeps its items
        ({"type": "tuple", "items": {"type": "float"}}, {"type": "array", "items": {"type": "number"}}),
        # any drops the type constraint and keeps the rest
        ({"type": "any", "description": "callback"}, {"description": "callback"}),
        # a union holding any is unconstrained
        ({"type": ["string", "any"]}, {}),
        # a union of Java names maps each member and drops duplicates
        ({"type": ["long", "Integer", "String"]}, {"type": ["integer", "string"]}),
        # capitalised and Java/JS type names
        ({"type": "String"}, {"type": "string"}),
        ({"type": "Array", "items": {"type": "Bigint"}}, {"type": "array", "items": {"type": "integer"}}),
        (
            {"type": "ArrayList", "items": {"type": "Boolean"}},
            {"type": "array", "items": {"type": "boolean"}},
        ),
        ({"type": "HashMap"}, {"type": "object"}),
        ({"type": "Hashtable"}, {"type": "object"}),
        ({"type": "char"}, {"type": "string"}),
        ({"type": "double"}, {"type": "number"}),
        ({"type": "Number"}, {"type": "number"}),
        ({"type": "Object"}, {"type": "object"}),
        # standard JSON Schema types are left alone
        ({"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 0}),
        # nested: dict properties and list-of-dict items are mapped recursively
        (
            {
                "type": "dict",
                "properties": {
                    "rows": {
                        "type": "list",
                        "items": {"type": "dict", "properties": {"v": {"type": "float"}}},
                    }
                },
            },
            {
                "type": "object",
                "properties": {
                    "rows": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"v": {"type": "number"}}},
                    }
                },
            },
        ),
        # combinators are mapped too
        ({"anyOf": [{"type": "int"}, {"type": "str"}]}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        # the old tuple form (a list of items) becomes prefixItems, additionalItems becomes items
        (
            {"type": "tuple", "items": [{"type": "float"}, {"type": "String"}], "additionalItems": False},
            {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}], "items": False},
        ),
        # a Draft 3 style boolean `required` on a property moves into the parent's list
        (
            {
                "type": "dict",
                "properties": {
                    "a": {"type": "int", "required": True},
                    "b": {"type": "int", "required": False},
                },
            },
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a"],
            },
        ),
        # a property named "type" is a name, not the type keyword
        (
            {"type": "dict", "properties": {"type": {"type": "any"}, "kind": {"type": "String"}}},
            {"type": "object", "properties": {"type": {}, "kind": {"type": "string"}}},
        ),
        # values such as enum and default are data, not schemas: never rewritten
        (
            {"type": "string", "enum": ["dict", "float"], "default": "dict"},
            {"type": "string", "enum": ["dict", "float"], "default": "dict"},
        ),
    ],
)
def test_normalise_bfcl_schema(bfcl, expected):
    assert normalise_bfcl_schema(bfcl) == expected
    Draft202012Validator.check_schema(expected)


@pytest.mark.parametrize(
    ("bfcl", "reason"),
    [
        # a type name that is neither JSON Schema, BFCL, Java nor JavaScript
        (
            {"type": "dict", "properties": {"when": {"type": "datetime"}}},
            "/properties/when/type: unknown type 'datetime'",
        ),
        # a property schema that is not an object
        ({"type": "dict", "properties": {"x": "string"}}, "/properties/x: a schema must be a JSON object"),
        # a type that is not a name
        ({"type": 3}, "/type: 3 is not a type name"),
    ],
)
def test_normalise_bfcl_schema_refuses(bfcl, reason):
    record = json.dumps({"function": [{"name": "f", "description": "d", "parameters": bfcl}]})
    result = import_tools(record, "bfcl")
    assert result.tools == []
    assert len(result.refused) == 1
    assert result.refused[0].reason.startswith("/parameters" + reason)


# --- the BFCL fixture (the issue's "must show") -----------------------------------------------


def test_bfcl_fixture_imports_each_distinct_function_once():
    result = import_tools(fixture("bfcl"), "bfcl", split="heldout", domain="bfcl")
    assert names(result) == [
        "calculate_triangle_area",
        "math_factorial",
        "spotify_play",
        "geometry_calculate_distance",
        "GeometryPresentationHelper_presentGeometry",
        "validateUserInput",
        "restaurant_search",
    ]
    assert result.renamed == {
        "math.factorial": "math_factorial",
        "spotify.play": "spotify_play",
        "geometry.calculate_distance": "geometry_calculate_distance",
        "GeometryPresentationHelper.presentGeometry": "GeometryPresentationHelper_presentGeometry",
        "restaurant.search": "restaurant_search",
    }
    # math.factorial is repeated identically in two more records
    assert result.duplicates == 2
    for doc in result.tools:
        assert validate_tool(doc) == []
        assert doc["x-split"] == "heldout" and doc["x-domain"] == "bfcl"
        assert set(types_in(doc["function"]["parameters"])) <= JSON_SCHEMA_TYPES
        original = doc.get("x-original-name")
        assert (original is not None) == (doc["function"]["name"] in result.renamed.values())
    by_name = {doc["function"]["name"]: doc["function"]["parameters"] for doc in result.tools}
    java = by_name["GeometryPresentationHelper_presentGeometry"]["properties"]
    assert java["controller"] == {"description": "The UI controller responsible for the presentation."}
    assert [java[k].get("type") for k in ("geometry", "ids", "timeout", "scale", "options", "separator")] == [
        "string",
        "array",
        "integer",
        "number",
        "object",
        "string",
    ]
    assert by_name["geometry_calculate_distance"]["properties"]["point1"]["items"] == {"type": "number"}


def test_bfcl_fixture_reports_refusals_with_reasons():
    refused = import_tools(fixture("bfcl"), "bfcl").refused
    assert [(r.name, r.location) for r in refused] == [
        ("calculate_triangle_area", "line 8, id simple_7"),
        ("get_stock_price", "line 9, id simple_8"),
        ("calendar.book_room", "line 10, id simple_9"),
    ]
    assert "conflicting redefinition (first defined at line 1, id simple_0)" in refused[0].reason
    assert refused[1].reason == "/parameters/required: required parameter 'exchange' is not in properties"
    assert "unknown type 'datetime'" in refused[2].reason
    assert str(refused[1]).startswith("get_stock_price (line 9, id simple_8): ")


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FIXTURES))
def test_every_format_round_trips(fmt):
    first = import_tools(fixture(fmt), fmt, domain="demo")
    assert first.tools
    again = import_tools(export_tools(first.tools, fmt), fmt, domain="demo")
    assert again.tools == first.tools
    assert again.refused == []
    assert again.renamed == (first.renamed if fmt in ("mcp", "bfcl") else {})


def test_openai_export_reproduces_the_source_file():
    # the fixture is already canonical, so export(import(x)) == x as JSON
    result = import_tools(fixture("openai"), "openai")
    assert json.loads(export_tools(result.tools, "openai")) == json.loads(fixture("openai"))


def test_mcp_export_keeps_name_description_and_input_schema():
    source = json.loads(fixture("mcp"))["result"]["tools"]
    exported = json.loads(export_tools(import_tools(fixture("mcp"), "mcp").tools, "mcp"))["result"]["tools"]
    # the tool without a description is refused; title, annotations and outputSchema are not carried
    assert exported == [{k: t[k] for k in ("name", "description", "inputSchema")} for t in source[:3]]


def test_bfcl_export_writes_bfcl_type_names():
    result = import_tools(fixture("bfcl"), "bfcl")
    records = [json.loads(line) for line in export_tools(result.tools, "bfcl").splitlines()]
    assert records[1]["function"][0]["name"] == "math.factorial"
    assert records[1]["function"][0]["parameters"]["type"] == "dict"
    distance = records[3]["function"][0]["parameters"]["properties"]["point1"]
    assert distance["items"] == {"type": "float"}


# --- format readers --------------------------------------------------------------------------


FN = {
    "name": "ping",
    "description": "Check that a host answers.",
    "parameters": {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]},
}
TOOL = {"type": "function", "function": FN}


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        # OpenAI: a list of tools
        (json.dumps([TOOL]), "openai"),
        # OpenAI: one bare function
        (json.dumps(FN), "openai"),
        # OpenAI: a request body with "tools"
        (json.dumps({"model": "gpt-x", "tools": [TOOL]}), "openai"),
        # OpenAI: the legacy "functions" list
        (json.dumps({"functions": [FN]}), "openai"),
        # OpenAI: JSON Lines
        (json.dumps(TOOL) + "\n\n" + json.dumps({**FN, "name": "pong"}) + "\n", "openai"),
        # MCP: the bare result
        (
            json.dumps(
                {
                    "tools": [
                        {"name": "ping", "description": FN["description"], "inputSchema": FN["parameters"]}
                    ]
                }
            ),
            "mcp",
        ),
        # Hermes: a JSON list inside the tags
        (f"<tools>{json.dumps([TOOL])}</tools>", "hermes"),
        # Hermes: Python's repr of the list, as in some Hermes datasets
        (f"<tools> {[TOOL]!r} </tools>", "hermes"),
        # Hermes: objects written back to back with no separator (Ollama's Hermes 3 template)
        (f"<tools>{json.dumps(TOOL)}{json.dumps(TOOL)}</tools>", "hermes"),
        # BFCL: a single JSON array of records instead of JSON Lines
        (json.dumps([{"id": "a", "function": [FN]}]), "bfcl"),
    ],
)
def test_readers_accept_each_shape(text, fmt):
    result = import_tools(text, fmt)
    assert result.refused == []
    assert names(result)[0] == "ping"
    assert result.tools[0]["function"]["parameters"] == FN["parameters"]


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        # not JSON at all
        ("tools: [ping]", "openai", "not JSON"),
        # a pretty-printed file broken in the middle is not mistaken for JSON Lines
        ('[\n{"name": "a",\n "description" "x"}\n]', "openai", "not JSON"),
        # an MCP error response
        (
            '{"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "Method not found"}}',
            "mcp",
            "JSON-RPC response is an error",
        ),
        # an MCP document without tools
        ('{"result": {}}', "mcp", "not an MCP tools/list result"),
        # Hermes text without the tags
        ("You are a helpful assistant.", "hermes", "no <tools>"),
    ],
)
def test_unreadable_input_raises(text, fmt, message):
    with pytest.raises(ImportFormatError, match=message):
        import_tools(text, fmt)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        # no description: refused rather than invented
        ({"name": "f", "parameters": {"type": "object"}}, "no description"),
        # a blank description
        ({"name": "f", "description": "  "}, "no description"),
        # no name
        ({"description": "d"}, "no name"),
        # parameters that are not an object
        ({"name": "f", "description": "d", "parameters": "x"}, "/parameters: must be a JSON object"),
        # parameters that are not an object schema
        (
            {"name": "f", "description": "d", "parameters": {"type": "array"}},
            "/parameters/type: parameters must be",
        ),
        # a BFCL type name in a format that promises JSON Schema
        (
            {
                "name": "f",
                "description": "d",
                "parameters": {"type": "object", "properties": {"x": {"type": "float"}}},
            },
            "/parameters/properties/x/type: not a valid JSON Schema",
        ),
        # a required parameter that is not declared
        (
            {
                "name": "f",
                "description": "d",
                "parameters": {"type": "object", "properties": {}, "required": ["x"]},
            },
            "/parameters/required: required parameter 'x' is not in properties",
        ),
        # a tool of another type
        ({"type": "retrieval", "function": {"name": "f", "description": "d"}}, "tool type 'retrieval'"),
        # not an object
        ("ping", "a tool must be a JSON object"),
    ],
)
def test_openai_refusals(entry, reason):
    result = import_tools(json.dumps([entry, TOOL]), "openai")
    assert names(result) == ["ping"]  # the rest still imports
    assert len(result.refused) == 1
    assert result.refused[0].reason.startswith(reason), result.refused[0].reason


def test_missing_parameters_become_an_empty_object_schema():
    result = import_tools(json.dumps({"name": "now", "description": "The time."}), "openai")
    assert result.tools[0]["function"]["parameters"] == {"type": "object", "properties": {}}


def test_additional_properties_false_is_not_added():
    params = import_tools(fixture("openai"), "openai").tools[0]["function"]["parameters"]
    assert "additionalProperties" not in params


def test_broken_lines_are_refused_and_the_rest_imports():
    text = json.dumps({"id": "a", "function": [FN]}) + "\n{not json\n" + json.dumps({"id": "c"}) + "\n"
    result = import_tools(text, "bfcl")
    assert names(result) == ["ping"]
    assert [(r.location, r.reason.split(":")[0]) for r in result.refused] == [
        ("line 2", "invalid JSON"),
        ("line 3, id c", 'record has no "function" field'),
    ]


def test_hermes_broken_object_is_skipped_to_the_next_line():
    broken = '{"type": "function", "function": '
    text = f"<tools>\n{json.dumps(TOOL)}\n{broken}\n{json.dumps({**FN, 'name': 'pong'})}\n</tools>"
    result = import_tools(text, "hermes")
    assert names(result) == ["ping", "pong"]
    assert [r.reason.split(":")[0] for r in result.refused] == ["invalid JSON in <tools>"]


def test_identical_duplicates_import_once_and_equivalent_bfcl_ones_too():
    # "float" and "number" normalise to the same schema, so the second is a duplicate, not a conflict
    a = {
        "name": "f",
        "description": "d",
        "parameters": {"type": "dict", "properties": {"x": {"type": "float"}}},
    }
    b = {
        "name": "f",
        "description": "d",
        "parameters": {"type": "dict", "properties": {"x": {"type": "number"}}},
    }
    result = import_tools(json.dumps({"function": [a, b, a]}), "bfcl")
    assert names(result) == ["f"] and result.duplicates == 2 and result.refused == []


def test_a_refused_tool_is_reported_once_and_its_first_valid_redefinition_imports():
    bad = {
        "name": "g",
        "description": "d",
        "parameters": {"type": "dict", "properties": {"x": {"type": "datetime"}}},
    }
    good = {"name": "g", "description": "d"}
    other = {"name": "g", "description": "another"}
    lines = (json.dumps({"function": [f]}) for f in (bad, bad, good, other))
    result = import_tools("\n".join(lines), "bfcl")
    assert names(result) == ["g"] and result.tools[0]["function"]["description"] == "d"
    assert result.duplicates == 1
    assert [(r.reason.split(" (")[0], r.location) for r in result.refused] == [
        ("/parameters/properties/x/type: unknown type 'datetime'; use a JSON Schema or BFCL type name", "line 1"),
        ("conflicting redefinition", "line 4"),  # a conflict with the first *valid* definition (line 3)
    ]
    assert "first defined at line 3" in result.refused[1].reason


def test_a_name_already_valid_wins_over_a_mapped_one():
    fns = [{"name": "math.factorial", "description": "a"}, {"name": "math_factorial", "description": "b"}]
    result = import_tools(json.dumps({"function": fns}), "bfcl")
    assert names(result) == ["math_factorial_2", "math_factorial"]
    assert result.tools[0]["x-original-name"] == "math.factorial"
    assert "x-original-name" not in result.tools[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "yaml"}, "unknown format"),  # a format we do not read
        ({"split": "test"}, "unknown split"),  # the registry knows train and heldout only
        ({"domain": "My Tools"}, "invalid domain"),  # the registry's domain pattern
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        import_tools(json.dumps([TOOL]), **{"fmt": "openai", **kwargs})


# --- writing ---------------------------------------------------------------------------------


def test_write_tools_writes_a_loadable_registry(tmp_path):
    result = import_tools(fixture("bfcl"), "bfcl", domain="bfcl")
    paths = write_tools(result, tmp_path / "bfcl")
    assert [p.name for p in paths] == [f"{n}.json" for n in names(result)]
    registry = load_registry(tmp_path)
    assert sorted(t.name for t in registry) == sorted(names(result))
    assert json.loads(paths[1].read_text())["x-original-name"] == "math.factorial"
    assert sorted(p.name for p in (tmp_path / "bfcl").iterdir()) == sorted(
        p.name for p in paths
    )  # no temp files


def test_write_tools_is_idempotent_and_refuses_to_overwrite(tmp_path):
    result = import_tools(fixture("openai"), "openai")
    write_tools(result, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write_tools(result, tmp_path)  # same content: nothing to do
    changed = import_tools(fixture("openai").replace("Send an email", "Send a message"), "openai")
    (tmp_path / "get_time.json").unlink()
    with pytest.raises(ImportConflict, match="send_email.json"):
        write_tools(changed, tmp_path)
    # the conflict is found before anything is written: get_time.json was not recreated
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        k: v for k, v in before.items() if k != "get_time.json"
    }


# --- generated BFCL type trees ---------------------------------------------------------------

BFCL_NAMES = sorted(BFCL_TYPES) + [
    "String",
    "Integer",
    "Long",
    "Double",
    "Boolean",
    "ArrayList",
    "HashMap",
    "Array",
    "Object",
    "Bigint",
    "Any",
    "Float",
]
LEAF_NAMES = [n for n in BFCL_NAMES if BFCL_TYPES[n.lower()] not in ("array", "object")]
ARRAY_NAMES = [n for n in BFCL_NAMES if BFCL_TYPES[n.lower()] == "array"]
OBJECT_NAMES = [n for n in BFCL_NAMES if BFCL_TYPES[n.lower()] == "object"]
KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)

bfcl_schemas = st.recursive(
    st.builds(lambda t, d: {"type": t, "description": d}, st.sampled_from(LEAF_NAMES), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.builds(lambda t, i: {"type": t, "items": i}, st.sampled_from(ARRAY_NAMES), inner),
        st.builds(
            lambda t, p: {"type": t, "properties": p},
            st.sampled_from(OBJECT_NAMES),
            st.dictionaries(KEYS, inner, max_size=4),
        ),
        st.builds(lambda ts: {"type": ts}, st.lists(st.sampled_from(LEAF_NAMES), min_size=1, max_size=3)),
    ),
    max_leaves=12,
)


@given(st.dictionaries(KEYS, bfcl_schemas, max_size=6), st.data())
@settings(max_examples=200, deadline=None)
def test_generated_bfcl_type_trees_normalise_to_valid_json_schema(properties, data):
    required = data.draw(
        st.lists(st.sampled_from(sorted(properties)), unique=True) if properties else st.just([])
    )
    fn = {
        "name": "pkg.fn",
        "description": "A generated function.",
        "parameters": {"type": "dict", "properties": properties, "required": required},
    }
    result = import_tools(json.dumps({"id": "gen", "function": [fn]}), "bfcl")
    assert result.refused == []
    (doc,) = result.tools
    params = doc["function"]["parameters"]
    Draft202012Validator.check_schema(params)
    assert validate_tool(doc) == []
    assert set(types_in(params)) <= JSON_SCHEMA_TYPES
    # exporting to BFCL and importing again gives the same tool (less the notes on what the import repaired)
    plain = [{k: v for k, v in d.items() if k != "x-import-notes"} for d in result.tools]
    assert import_tools(export_tools(result.tools, "bfcl"), "bfcl").tools == plain


# --- hostile input ---------------------------------------------------------------------------


def nested(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "dict", "properties": {"x": schema}}
    return schema


@pytest.mark.parametrize(
    ("levels", "reason"),
    [
        # one level past the registry's max_depth: the registry's own message
        (9, "schema nests deeper than 8 levels"),
        # far past it: refused before jsonschema's recursive meta-schema check could overflow the stack
        (400, "/parameters: nests deeper than the limit of 8 levels"),
    ],
)
def test_deep_schemas_are_refused_not_crashed_on(levels, reason):
    fn = {"name": "f", "description": "d", "parameters": nested(levels)}
    result = import_tools(json.dumps({"function": [fn]}), "bfcl")
    assert result.tools == []
    assert reason in result.refused[0].reason


@pytest.mark.parametrize("fmt", sorted(FIXTURES))
def test_input_nested_beyond_the_parser_raises_a_format_error(fmt):
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ImportFormatError, match="nests too deeply"):
        import_tools(f"<tools>{text}</tools>" if fmt == "hermes" else text, fmt)

"""Content checks on tool_schemas/: the promises the registry's data makes to the generator.

These read the JSON files directly (plain ``json`` + ``jsonschema``) so that a broken tool file is
reported here even when the registry loader itself is being changed.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

SCHEMA_ROOT = Path(__file__).resolve().parents[1] / "tool_schemas"
TOOL_FILES = sorted(SCHEMA_ROOT.glob("*/*.json"))
DOCS = {path: json.loads(path.read_text(encoding="utf-8")) for path in TOOL_FILES}
TOOLS = list(DOCS.values())

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
WORD = re.compile(r"[a-z0-9]+")

OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Regex features a simple value synthesiser cannot be expected to invert: lookaround, backreferences,
# named groups, lazy quantifiers, word boundaries.
EXOTIC_REGEX = re.compile(r"\(\?|\\[1-9bBkpP]|[*+?}]\?")
# Abbreviations whose full stop does not end a sentence.
ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs)\.")
BOUND_PAIRS = [("minimum", "maximum"), ("minItems", "maxItems"), ("minLength", "maxLength")]


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(SCHEMA_ROOT)) for path in paths]


def _name(doc: dict) -> str:
    return doc["function"]["name"]


def _properties(schema: dict, pointer: str = ""):
    """Yield (pointer, name, subschema) for every named property, descending into objects and arrays.

    Args:
        schema: a JSON Schema node (object, array or scalar).
        pointer: JSON pointer of ``schema`` inside the tool's ``parameters``.

    Returns:
        A generator of ``(pointer, property_name, property_schema)`` triples.
    """
    for name, sub in schema.get("properties", {}).items():
        sub_pointer = f"{pointer}/properties/{name}"
        yield sub_pointer, name, sub
        yield from _properties(sub, sub_pointer)
    if isinstance(schema.get("items"), dict):
        yield from _properties(schema["items"], f"{pointer}/items")


def _nodes(schema: dict, pointer: str = ""):
    """Yield (pointer, node) for ``schema`` and every subschema below it (properties and items).

    Args:
        schema: a JSON Schema node.
        pointer: JSON pointer of ``schema``.

    Returns:
        A generator of ``(pointer, node)`` pairs, ``schema`` itself first.
    """
    yield pointer, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{pointer}/properties/{name}")
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], f"{pointer}/items")


def _contains_key(value, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_contains_key(v, key) for v in value)
    return False


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _name_words(name: str) -> str:
    return " ".join(w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name) if w).lower()


def _slot_texts(slot: object) -> list[str]:
    if isinstance(slot, list):
        return slot
    assert isinstance(slot, dict)
    names = [n for value in slot["values"].values() for n in (value if isinstance(value, list) else [value])]
    return [*slot.get("phrases", []), *names]


# ----------------------------------------------------------------------------- one tool at a time


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_envelope_and_location(path: Path) -> None:
    doc = DOCS[path]
    assert set(doc) <= {"type", "function", "x-split", "x-domain", "x-slots", "x-frames"}
    assert doc["type"] == "function"
    assert set(doc["function"]) == {"name", "description", "parameters"}
    name = _name(doc)
    assert OPENAI_NAME.match(name)
    assert SNAKE_CASE.match(name)
    # One tool per file, filed under its domain: the file name is the tool name.
    assert path.stem == name
    assert path.parent.name == doc["x-domain"]
    assert doc["x-split"] in {"train", "heldout"}


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_description_is_one_or_two_sentences(path: Path) -> None:
    description = DOCS[path]["function"]["description"]
    assert 20 <= len(description) <= 300
    assert description[0].isupper() and description.endswith(".")
    sentences = re.split(r"(?<=[.!?])\s+", ABBREVIATIONS.sub("eg", description))
    assert 1 <= len(sentences) <= 2


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_parameters_is_a_closed_draft_2020_12_object_schema(path: Path) -> None:
    parameters = DOCS[path]["function"]["parameters"]
    Draft202012Validator.check_schema(parameters)
    assert parameters["type"] == "object"
    assert isinstance(parameters["properties"], dict) and parameters["properties"]
    assert isinstance(parameters["required"], list)
    assert parameters["additionalProperties"] is False
    assert not _contains_key(parameters, "$ref")


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_every_property_is_described_and_well_named(path: Path) -> None:
    parameters = DOCS[path]["function"]["parameters"]
    for pointer, name, sub in _properties(parameters):
        # The generator writes requests and clarifying questions from these descriptions.
        assert isinstance(sub.get("description"), str) and len(sub["description"]) >= 5, pointer
        assert SNAKE_CASE.match(name), pointer
        assert "type" in sub, pointer


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_nested_schemas_are_consistent(path: Path) -> None:
    parameters = DOCS[path]["function"]["parameters"]
    for pointer, node in _nodes(parameters):
        if node.get("type") == "object":
            # Closed objects everywhere: a synthesised argument can never carry an unknown key.
            assert node.get("additionalProperties") is False, pointer
            required = node.get("required", [])
            assert len(set(required)) == len(required), pointer
            assert set(required) <= set(node["properties"]), pointer
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), pointer
        for low, high in BOUND_PAIRS:
            if low in node and high in node:
                assert node[low] <= node[high], f"{pointer}: {low} > {high}"
        if "enum" in node:
            assert node["enum"] and len(set(node["enum"])) == len(node["enum"]), pointer
        if "pattern" in node:
            pattern = node["pattern"]
            re.compile(pattern)
            assert pattern.startswith("^") and pattern.endswith("$"), pointer
            assert not EXOTIC_REGEX.search(pattern), pointer


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_defaults_are_valid_and_only_on_optional_parameters(path: Path) -> None:
    parameters = DOCS[path]["function"]["parameters"]
    for pointer, node in _nodes(parameters):
        if node.get("type") == "object":
            for name in node.get("required", []):
                # A default on a required parameter would mean it is not really required.
                assert "default" not in node["properties"][name], f"{pointer}/properties/{name}"
        if "default" in node:
            validator = Draft202012Validator(node, format_checker=Draft202012Validator.FORMAT_CHECKER)
            errors = [error.message for error in validator.iter_errors(node["default"])]
            assert not errors, f"{pointer}: {errors}"


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_frames_and_slots_cover_the_tool(path: Path) -> None:
    doc = DOCS[path]
    params = doc["function"]["parameters"]
    props, required = params["properties"], params["required"]
    frames, slots = doc["x-frames"], doc["x-slots"]
    # Hand-written frames for every bundled tool, and a slot phrase for every parameter.
    assert len(frames) >= 12 and len(set(frames)) == len(frames)
    assert set(slots) == set(props)
    for frame in frames:
        assert set(PLACEHOLDER.findall(frame)) <= set(props), frame
        assert PLACEHOLDER.sub("", frame).count("{") == 0 and "}" not in PLACEHOLDER.sub("", frame), frame
    for name in required:
        # a clarification can leave out each required parameter naturally
        assert sum(f"{{{name}}}" not in frame for frame in frames) >= 3, name
    # An execution request can mention every required parameter in one frame.
    assert any(all(f"{{{name}}}" in frame for name in required) for frame in frames)
    for name, slot in slots.items():
        schema = props[name]
        if isinstance(slot, list):
            assert slot and all("{value" in phrase for phrase in slot), name
            continue
        values = slot["values"]
        if schema.get("type") == "boolean":
            assert set(values) == {"true", "false"}, name
        enum = schema.get("enum") or schema.get("items", {}).get("enum")
        if enum:
            assert set(values) == {str(v) for v in enum}, name


@pytest.mark.parametrize("path", TOOL_FILES, ids=_ids(TOOL_FILES))
def test_frames_and_slots_do_not_leak_the_schema(path: Path) -> None:
    doc = DOCS[path]
    fn = doc["function"]
    texts = [*doc["x-frames"], *(t for slot in doc["x-slots"].values() for t in _slot_texts(slot))]
    desc = _words(fn["description"])
    runs = {" ".join(desc[i : i + 5]) for i in range(len(desc) - 4)}
    multi_word = [_name_words(p) for p in fn["parameters"]["properties"] if len(_name_words(p).split()) > 1]
    for text in texts:
        said = " " + " ".join(_words(PLACEHOLDER.sub(" VALUE ", text))) + " "
        # the tool's name, a multi-word parameter name as words, or 5 words of the description
        assert f" {_name_words(fn['name'])} " not in said, text
        assert not any(f" {label} " in said for label in multi_word), text
        assert not any(f" {run} " in said for run in runs), text


# ----------------------------------------------------------------------------- the registry as a whole


def test_enough_tools_and_domains() -> None:
    assert len(TOOLS) >= 60
    assert len({doc["x-domain"] for doc in TOOLS}) >= 10


def test_tool_names_are_globally_unique() -> None:
    counts = Counter(_name(doc) for doc in TOOLS)
    assert [name for name, count in counts.items() if count > 1] == []


def test_heldout_split_is_broad_and_every_domain_keeps_train_tools() -> None:
    heldout = [doc for doc in TOOLS if doc["x-split"] == "heldout"]
    assert len(heldout) >= 15
    assert len({doc["x-domain"] for doc in heldout}) >= 5
    train_per_domain = Counter(doc["x-domain"] for doc in TOOLS if doc["x-split"] == "train")
    for domain in {doc["x-domain"] for doc in TOOLS}:
        assert train_per_domain[domain] >= 3, domain


def test_heldout_tools_are_not_renamed_copies_of_train_tools() -> None:
    def signature(doc: dict) -> tuple:
        parameters = doc["function"]["parameters"]
        return tuple(sorted(parameters["properties"])), tuple(sorted(parameters["required"]))

    train = [doc for doc in TOOLS if doc["x-split"] == "train"]
    train_signatures = {signature(doc) for doc in train}
    train_descriptions = {doc["function"]["description"] for doc in train}
    for doc in TOOLS:
        if doc["x-split"] == "heldout":
            assert signature(doc) not in train_signatures, _name(doc)
            assert doc["function"]["description"] not in train_descriptions, _name(doc)


def test_some_tools_have_no_required_parameters() -> None:
    no_required = [_name(doc) for doc in TOOLS if not doc["function"]["parameters"]["required"]]
    assert len(no_required) >= 4


def test_frames_vary_in_style() -> None:
    # questions, lower-case chat and polite requests all appear across the registry's frames
    frames = [f for doc in TOOLS for f in doc["x-frames"]]
    assert sum(f.rstrip().endswith("?") for f in frames) / len(frames) > 0.15
    assert sum(f[:1].islower() for f in frames) / len(frames) > 0.15
    assert sum(bool(re.search(r"\b(please|thanks|could you)\b", f, re.I)) for f in frames) / len(frames) > 0.1


def test_schema_features_are_varied() -> None:
    nodes = [node for doc in TOOLS for _, node in _nodes(doc["function"]["parameters"])]
    formats = {node["format"] for node in nodes if "format" in node}
    assert {"date", "date-time", "email", "uri"} <= formats
    assert any("enum" in node for node in nodes)
    assert any(node.get("type") == "integer" and {"minimum", "maximum"} <= set(node) for node in nodes)
    assert any(node.get("type") == "number" and "maximum" in node for node in nodes)
    assert any(node.get("type") == "array" and {"minItems", "maxItems"} <= set(node) for node in nodes)
    assert any(node.get("type") == "array" and node["items"].get("type") == "object" for node in nodes)
    assert any("pattern" in node for node in nodes)
    assert sum("default" in node for node in nodes) >= 50
    # Nested objects as direct parameters (one level below the arguments object).
    assert any(
        sub.get("type") == "object"
        for doc in TOOLS
        for sub in doc["function"]["parameters"]["properties"].values()
    )


# Groups of tools a model can confuse with one another, and how many domains each group spans.
NEAR_DUPLICATE_GROUPS = [
    # Sending a message: channel is the only difference.
    (("send_email", "create_email_draft", "send_slack_message", "send_sms"), 2),
    # Weather-style lookups for a location.
    (("get_current_weather", "get_weather_forecast", "get_air_quality", "get_historical_weather",
      "get_pollen_count"), 1),
    # Searching for a way to travel between two places on a date.
    (("search_flights", "search_trains", "search_rental_cars"), 1),
    # Putting something at a time on the user's schedule.
    (("create_calendar_event", "create_reminder", "set_medication_reminder", "book_doctor_appointment",
      "book_restaurant_table"), 3),
    # Moving money out of the user's pocket.
    (("transfer_money", "pay_invoice", "split_expense", "submit_expense_report"), 2),
    # Finding somewhere to eat nearby.
    (("find_nearby_places", "search_restaurants"), 2),
    # Giving another person access by email.
    (("share_file", "share_calendar"), 2),
    # Free-text search over the user's things.
    (("search_emails", "search_files", "search_products", "search_employee_directory"), 4),
    # Changing what runs in an environment.
    (("deploy_service", "scale_service", "rollback_deployment"), 1),
    # Travel between places on a map.
    (("get_directions", "calculate_distance_matrix"), 1),
    # Where is my thing: an order or a flight.
    (("track_order", "check_flight_status"), 2),
]


@pytest.mark.parametrize(
    ("names", "min_domains"), NEAR_DUPLICATE_GROUPS, ids=[names[0] for names, _ in NEAR_DUPLICATE_GROUPS]
)
def test_near_duplicate_groups_exist(names: tuple[str, ...], min_domains: int) -> None:
    by_name = {_name(doc): doc for doc in TOOLS}
    assert set(names) <= set(by_name)
    assert len({by_name[name]["x-domain"] for name in names}) >= min_domains

import copy
import random

import pytest

from generators.phrasing import Slot, ToolPhrasing, compose_slot, split_template, validate_phrasing
from generators.registry import validate_tool
from generators.surface import surface

PROPS = {
    "location": {"type": "string"},
    "place_type": {"type": "string", "enum": ["pharmacy", "gas_station"]},
    "radius_meters": {"type": "integer", "minimum": 1},
    "open_now": {"type": "boolean"},
    "stops": {"type": "array", "items": {"type": "string", "enum": ["wifi", "pool"]}},
    "address": {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}}},
}
SLOTS = {
    "location": ["in {value}"],
    "place_type": {"phrases": ["{value}"], "values": {"pharmacy": ["a chemist"], "gas_station": ["a petrol station"]}},
    "radius_meters": ["within {value} metres"],
    "open_now": {"values": {"true": ["still open"], "false": ["open or not"]}},
    "stops": {"phrases": ["with {value}"], "values": {"wifi": ["free wifi"], "pool": ["a pool"]}},
    "address": ["to {value.city}, {value.country}"],
}
REQUIRED = ("location", "place_type")


def _say(v, schema, name):
    return str(v)


def _phrasing(frames, slots=SLOTS):
    return ToolPhrasing("find_places", "Find places.", PROPS, REQUIRED, frames, slots)


class _Fixed(random.Random):
    """An rng whose random() is always `x` (picks the first option, no style variation when x is high)."""

    def __init__(self, x):
        super().__init__(0)
        self.x = x

    def random(self):
        return self.x


RENDER = [
    # slots filled in frame order; the enum named by its slot, never its raw value
    ("any {place_type} {location}?", {"location": "Oslo", "place_type": "gas_station"},
     "any a petrol station in Oslo?"),
    # a call parameter the frame lacks becomes an add-on before the final punctuation
    ("any {place_type} {location}?", {"location": "Oslo", "place_type": "pharmacy", "radius_meters": 500},
     "any a chemist in Oslo, within 500 metres?"),
    # booleans by meaning
    ("{place_type} {location} {open_now}", {"location": "Oslo", "place_type": "pharmacy", "open_now": True},
     "a chemist in Oslo still open"),
    # an array of enum items: each named, joined as a list
    ("hotel {location} {stops}", {"location": "Rome", "stops": ["wifi", "pool"]},
     "hotel in Rome with free wifi and a pool"),
    # an object's sub-fields by {value.FIELD}
    ("ship it {address}", {"address": {"city": "Lyon", "country": "France"}}, "ship it to Lyon, France"),
]


@pytest.mark.parametrize(("frame", "args", "expected"), RENDER)
def test_frame_rendering(frame, args, expected):
    phrasing = _phrasing([frame])
    # x = 0.79: the first phrase and name, the joiner ", ", no style variation
    text, fid = phrasing.render(phrasing.frames[0], args, _Fixed(0.79), _say)
    assert text == expected and fid == "frame.find_places.0"


def test_frames_for_execution_and_clarification():
    phrasing = _phrasing(["any {place_type} {location}?", "any {place_type} nearby?", "{place_type} {location} "
                          "{radius_meters}", "what's {location} like?", "help"])
    ids = lambda frames: [f.id for f in frames]  # noqa: E731
    # execution: every required parameter, and nothing the call lacks
    assert ids(phrasing.execution_frames(frozenset(["location", "place_type"]))) == ["frame.find_places.0"]
    assert ids(phrasing.execution_frames(frozenset(["location", "place_type", "radius_meters"]))) == [
        "frame.find_places.0", "frame.find_places.2"]
    # clarification: frames lacking at least one required parameter
    assert ids(phrasing.clarification_frames(frozenset(PROPS))) == [
        "frame.find_places.1", "frame.find_places.3", "frame.find_places.4"]


def test_style_variation_keeps_values_and_varies_text():
    phrasing = _phrasing(["Is there {place_type} {location}?"])
    rng = random.Random(3)
    texts = {phrasing.render(phrasing.frames[0], {"location": "Oslo", "place_type": "pharmacy"}, rng, _say)[0]
             for _ in range(400)}
    assert all("Oslo" in t and "a chemist" in t for t in texts)
    assert any(t.startswith("is there") for t in texts)  # lower-cased
    assert any(t.split()[0].lower() in ("hey,", "hi!", "ok", "so", "hello,", "morning!") for t in texts)  # openers
    assert any(t.endswith(("thanks", "thx", "please", "ty")) for t in texts)  # sign-offs
    assert any("there" not in t.lower() for t in texts)  # a typo in a frame word ("three")


def test_placeholders_are_never_evaluated():
    # text from a tool file is spliced, never formatted: braces in values and attribute-like text stay inert
    phrasing = _phrasing(["look {location}"])
    text, _ = phrasing.render(phrasing.frames[0], {"location": "{0.__class__} {{x}}"}, _Fixed(0.95), _say)
    assert text == "look in {0.__class__} {{x}}"


def test_generic_frames_for_tools_without_frames():
    phrasing = ToolPhrasing("find_nearby_places", "Find places of a given type near a location.", PROPS, REQUIRED)
    assert not phrasing.handwritten and phrasing.action == "find places"
    rng = random.Random(0)
    args = {"location": "Oslo", "place_type": "gas_station", "radius_meters": 300, "open_now": False}
    for _ in range(50):
        text, fid = phrasing.render(None, args, rng, lambda v, s, n: surface(v, s, n, rng))
        assert fid.startswith("generic.")
        # composed slots: no multi-word parameter name, no raw snake_case value
        assert "radius meters" not in text and "place type" not in text and "open now" not in text
        assert "gas_station" not in text and "gas station" in text and "300" in text


COMPOSED = [
    # a unit-like name word goes after the number
    ("radius_meters", {"type": "integer"}, ["{value} meters", "within {value} meters"]),
    # an id is mentioned by the word before "id"
    ("thread_id", {"type": "string"}, ["thread {value}", "the thread {value}"]),
    # dates by kind
    ("departure_date", {"type": "string", "format": "date"}, ["on {value}", "for {value}"]),
    # booleans by one word of the name, with or without
    ("include_hourly", {"type": "boolean"},
     {"values": {"true": ["with hourly", "including hourly"], "false": ["without hourly", "no hourly"]}}),
    # enum values with their underscores as spaces
    ("mode", {"type": "string", "enum": ["in_person", "video"]}, {"values": {"in_person": ["in person"],
                                                                            "video": ["video"]}}),
]


@pytest.mark.parametrize(("name", "schema", "expected"), COMPOSED)
def test_composed_slots(name, schema, expected):
    assert compose_slot(name, schema) == expected


def test_slot_rendering_of_named_values_and_objects():
    slot = Slot("address", PROPS["address"], ["in {value.city}", "to {value.city}, {value.country}"])
    rng = _Fixed(0.0)
    # a phrase naming a field the value lacks is skipped; one covering only some fields is not used either
    assert slot.render({"city": "Lyon", "country": "France"}, rng, _say) == "to Lyon, France"
    assert slot.render({"city": "Lyon"}, rng, _say) == "in Lyon"


@pytest.mark.parametrize(("phrase", "value", "expected"), [
    ("for {value} people", 1, "for 1 person"),
    ("for {value} people", 2, "for 2 people"),
    ("{value} nights in a row", 1, "1 night in a row"),
    ("{value} passes", 1, "1 pass"),
    ("{value} stopovers max", 1, "1 stopover max"),
    ("at least {value} is fine", 1, "at least 1 is fine"),  # "is" is no plural
    ("{value} onwards", 1, "1 onwards"),
])
def test_a_value_of_one_takes_the_singular(phrase, value, expected):
    slot = Slot("n", {"type": "integer"}, [phrase])
    assert slot.render(value, _Fixed(0.0), _say) == expected


def test_reminder_texts_read_after_remind_me_to(tmp_path):
    # Reminder values used to start "Don't forget to ..." / "Reminder: ...", so "so I don't forget to {value}"
    # read "so I don't forget to Don't forget to send the plan".
    import json
    import re

    from generators.pipeline import generate_dataset
    from generators.registry import load_registry
    from generators.spec import DatasetSpec

    generate_dataset(load_registry(), DatasetSpec(n=80, seed=3, tools={"names": ["create_reminder"]}), tmp_path)
    doubled = re.compile(r"\b(to|that|about) (Don't forget|Remember to|Reminder:|Time to)")
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    requests = [m["content"] for r in rows for m in r["prompt"] if m["role"] == "user"]
    assert requests and not [t for t in requests if doubled.search(t)]


BASE = {"type": "function", "function": {"name": "find_places", "description": "Find places.",
                                         "parameters": {"type": "object", "properties": PROPS,
                                                        "required": list(REQUIRED)}},
        "x-split": "train", "x-domain": "maps", "x-frames": ["any {place_type} {location}?"], "x-slots": SLOTS}


def _doc(**changes):
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def _slots(**changes):
    slots = copy.deepcopy(SLOTS)
    for key, value in changes.items():
        if value is None:
            slots.pop(key)
        else:
            slots[key] = value
    return slots


VALIDATION = [
    # the valid document
    (_doc(), None, None),
    # a frame naming an unknown parameter
    (_doc(**{"x-frames": ["near {city}"]}), "/x-frames/0", "names no parameter"),
    # Jinja in a frame
    (_doc(**{"x-frames": ["near {{ location }}"]}), "/x-frames/0", "Jinja"),
    # a format spec, attribute access or an expression in a frame
    (_doc(**{"x-frames": ["near {location:>10}"]}), "/x-frames/0", "not a plain"),
    (_doc(**{"x-frames": ["near {location.__class__}"]}), "/x-frames/0", "not a plain"),
    (_doc(**{"x-frames": ["{% if location %}near{% endif %}"]}), "/x-frames/0", "not a plain"),
    # a literal brace
    (_doc(**{"x-frames": ["near {location} }"]}), "/x-frames/0", "literal"),
    # a parameter used twice in one frame
    (_doc(**{"x-frames": ["{location} or {location}"]}), "/x-frames/0", "twice"),
    # frames without slots
    (_doc(**{"x-slots": None}), "/x-slots", "needs x-slots"),
    # a parameter without slot phrases
    (_doc(**{"x-slots": _slots(radius_meters=None)}), "/x-slots", "'radius_meters' has no slot"),
    # a slot for a parameter the tool lacks
    (_doc(**{"x-slots": _slots(city=["in {value}"])}), "/x-slots/city", "not a parameter"),
    # a shape-A phrase without {value}
    (_doc(**{"x-slots": _slots(location=["somewhere"])}), "/x-slots/location/0", "must contain {value}"),
    # {value.FIELD} on a parameter that is not an object, or naming no field of it
    (_doc(**{"x-slots": _slots(location=["in {value.city}"])}), "/x-slots/location/0", "not a field"),
    (_doc(**{"x-slots": _slots(address=["to {value.town}"])}), "/x-slots/address/0", "not a field"),
    # any other placeholder in a slot phrase
    (_doc(**{"x-slots": _slots(location=["in {where}"])}), "/x-slots/location/0", "not allowed"),
    # an enum given a list of phrases (its raw value would be printed)
    (_doc(**{"x-slots": _slots(place_type=["a {value}"])}), "/x-slots/place_type", "object form"),
    # an enum value without a name
    (_doc(**{"x-slots": _slots(place_type={"values": {"pharmacy": ["a chemist"]}})}), "/x-slots/place_type/values",
     "'gas_station' has no names"),
    # a name for a value the enum lacks
    (_doc(**{"x-slots": _slots(place_type={"values": {"pharmacy": ["a"], "gas_station": ["b"], "bar": ["c"]}})}),
     "/x-slots/place_type/values/bar", "not a value"),
    # a boolean missing false
    (_doc(**{"x-slots": _slots(open_now={"values": {"true": ["open"]}})}), "/x-slots/open_now/values",
     "'false' has no names"),
    # shape B phrases need {value} exactly once
    (_doc(**{"x-slots": _slots(open_now={"phrases": ["{value} {value}"], "values": {"true": ["a"], "false": ["b"]}})}),
     "/x-slots/open_now/phrases/0", "exactly once"),
    # the object form for an open parameter
    (_doc(**{"x-slots": _slots(location={"values": {"Oslo": ["Oslo"]}})}), "/x-slots/location", "enum and boolean"),
]


@pytest.mark.parametrize(("doc", "pointer", "message"), VALIDATION)
def test_registry_validates_frames_and_slots(doc, pointer, message):
    problems = validate_tool(doc, "maps/find_places.json")
    if pointer is None:
        assert problems == []
        return
    assert any(p.pointer == pointer and message in p.message and p.source == "maps/find_places.json"
               for p in problems), [str(p) for p in problems]


def test_split_template():
    assert split_template("plain") == (("plain",), ())
    assert split_template("{a}{b}") == (("", "", ""), ("a", "b"))
    # Jinja's {{ }} leaves literal braces; {% %} parses as a placeholder that is not a plain name
    assert isinstance(split_template("{{ x }}"), str)
    assert split_template("{% if x %}") == (("", ""), ("% if x %",))


def test_validate_phrasing_without_fields_is_empty():
    assert validate_phrasing({}, PROPS) == []


def test_no_doubled_and_and_no_second_greeting():
    slots = dict(SLOTS, radius_meters=["and within {value} metres"])
    phrasing = _phrasing(["Hi, any {place_type} {location}?"], slots)
    rng = random.Random(9)
    args = {"location": "Oslo", "place_type": "pharmacy", "radius_meters": 300, "open_now": True}
    for _ in range(300):
        text, _ = phrasing.render(phrasing.frames[0], args, rng, _say)
        # an add-on with its own "and" is not joined by another; a frame that greets gets no opener
        assert "and and" not in text
        assert text.lower().startswith("hi, any")


# --- splices: each class of ungrammatical join, counted on seed-1 requests ----------------------------

SPLICES = {
    # "one times every day" -> "once a day"
    "frequency": r"\b(one|two|1|2) times\b",
    # an event in a city is "in Brussels", not "at Brussels"
    "at_city": r"\b(taking place|held|over) at (Brussels|Dubai|Osaka|Nairobi|Jakarta|Paris|London|Tokyo|Berlin)\b",
    # a kind noun after a value that already ends with it
    "service_service": r"service service\b",
    # a generic frame's verb phrase straight into a noun phrase
    "missing_preposition": r"\blog lines (the|our)\b",
    # a polite tail with more add-ons after it
    "please_mid_list": r"\bplease, and (on|in|at|with|somewhere|for)\b",
    # a word doubled by a join
    "doubled_word": r"\b(?!(?:that|had)\b)(\w+) \1\b",
    # the currency said again after an amount that carries it
    "currency_twice": r"\b([A-Z]{3})\b[^.?!]{0,25}\b\1\b|[$€£¥][\d.,]+[^.?!]{0,25}\b(USD|EUR|GBP|JPY)\b",
    # counts of people after their noun, or zero counts said as numbers
    "people_counts": r"\badults (one|\d)|\bchildren (0|zero)\b|\b(0|zero) children\b|\b1 adults\b",
    # a price level as money, "a handful" of many
    "level_handful": r"\b\d+\.00 dollar signs|\bhandful, say ([6-9]|\d\d)",
    # a sentence's own punctuation followed by more punctuation or words of the frame
    "punct_after_value": r"[.!?][.!?,]|[a-z]\. (and|with|to|in|plus)\b",
    # ", and" with nothing before it to join to
    "lonely_and": r"^[^,]{0,40}, and (on|in|at|for|from) ",
}


@pytest.fixture(scope="module")
def seed1_requests(tmp_path_factory):
    import json

    from generators.pipeline import generate_dataset
    from generators.registry import load_registry
    from generators.spec import DatasetSpec

    out = tmp_path_factory.mktemp("seed1")
    generate_dataset(load_registry(), DatasetSpec(n=3000, seed=1), out)
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    # (request, the call's arguments as JSON): a value may hold a doubled word itself; that is no splice
    return [([m["content"] for m in r["prompt"] if m["role"] == "user"][-1], json.dumps(r["reward_model"]))
            for r in rows]


@pytest.mark.parametrize("kind", list(SPLICES))
def test_no_splices_in_seed1_requests(seed1_requests, kind):
    import re

    pattern = re.compile(SPLICES[kind], re.I if kind not in ("currency_twice", "punct_after_value") else 0)
    bad = [t for t, args in seed1_requests if (m := pattern.search(t)) and m.group(0) not in args]
    assert not bad, bad[:5]


@pytest.mark.parametrize(("left", "right", "expected"), [
    ("coming in ", "in six days", "coming in six days"),
    ("tail the auth-service", " service on prod", "tail the auth-service on prod"),
    ("refill Rx ", "RX-123", "refill RX-123"),
    ("on the 30th. ", "with wifi", "on the 30th. With wifi"),
    ("send to ", "bob@x.io", "send to bob@x.io"),
])
def test_glue_drops_the_literal_copy_of_a_doubled_word(left, right, expected):
    from generators.phrasing import glue

    assert glue(left, right, sentence_start=True) == expected


def test_frequency_and_people_phrasing():
    import datetime as dt

    from generators.surface import mentions

    slot = Slot("times_per_day", {"type": "integer"}, ["{value} times a day"])
    assert [slot.render(n, _Fixed(0.0), _say) for n in (1, 2, 3, 4)] == [
        "once a day", "twice a day", "three times a day", "4 times a day"]
    assert mentions("remind me once a day", 1) and mentions("twice daily", 2) and not mentions("once it's done", 1)
    pax = {"type": "object", "properties": {k: {"type": "integer"} for k in ("adults", "children")}}
    text = surface({"adults": 1, "children": 0}, pax, "passengers", random.Random(0), now=dt.datetime(2026, 3, 5))
    assert text in ("1 adult and no children", "one adult and no children"), text
    assert mentions(f"for {text}", {"adults": 1, "children": 0}, pax)


def test_small_number_phrases_and_quoted_notes():
    slot = Slot("max_results", {"type": "integer"}, ["a handful, say {value}", "top {value}"])
    assert slot.render(4, _Fixed(0.0), _say) == "a handful, say 4"
    assert slot.render(40, _Fixed(0.0), _say) == "top 40"
    notes = Slot("notes", {"type": "string"}, ["with notes saying {value}", 'saying "{value}"'])
    assert notes.render("Quick sync with the Berlin office.", _Fixed(0.0), _say) == \
        'with notes saying "Quick sync with the Berlin office."'
    assert notes.render("Quick sync with the Berlin office.", _Fixed(0.9), _say) == \
        'saying "Quick sync with the Berlin office."'


@pytest.mark.parametrize("text", [
    "", "in ", "coming in", "x" * 60, "a " + "y" * 70 + "  ", "tail the auth-service", "ends with a dot. ",
    "word" + " " * 80, "a long frame that is being filled, " * 3 + "and then in ", "é" * 50 + "in",
    "prefix " + "z" * 47 + " ", "prefix " + "z" * 48, "12345 " * 20,
])
def test_last_word_reads_only_the_end_but_matches_a_full_search(text):
    # glue reads the last 48 characters of a growing text; the match must equal a search of the whole text
    from generators.phrasing import _LAST_WORD, _last_word

    got, want = _last_word(text), _LAST_WORD.search(text)
    assert (got.span(), got.groups()) == (want.span(), want.groups()) if want else got is None

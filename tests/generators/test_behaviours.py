import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from generators import refusals
from generators.behaviours import Generator, unrelated_overlap
from generators.surface import mentions
from generators.values import ValuePools
from generators.verify import verify
from tests.generators.framed_tools import framed_registry

REGISTRY = framed_registry()
TOOLS = REGISTRY.tools
GEN = Generator(TOOLS, ValuePools.build(0), (2, 5), 0.5)
NAMES = [t.name for t in TOOLS]
CLARIFIABLE = [t.name for t in TOOLS if t.required]
SEEDS = st.integers(0, 2**32 - 1)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _verified(make, rng, attempts=50):
    for _ in range(attempts):
        sample = make(rng)
        if verify(GEN, sample) is None:
            return sample
    raise AssertionError(f"no verified sample in {attempts} attempts")


@SETTINGS
@given(name=st.sampled_from(NAMES), seed=SEEDS)
def test_every_execution_ground_truth_validates_and_is_in_the_text(name, seed):
    tool = REGISTRY.get(name)
    sample = _verified(lambda rng: GEN.execution(rng, tool), random.Random(seed))
    call = sample.ground_truth["tool_call"]
    assert call["name"] == name and name in sample.offered
    # an independent validator (jsonschema, not the sampler's compiled one)
    assert Draft202012Validator(tool.parameters).is_valid(call["parameters"])
    assert set(tool.required) <= set(call["parameters"])
    for param, value in call["parameters"].items():
        # by the value's form, or (enums, booleans) by a name its slot gives it
        assert GEN.mentions(sample.text, value, name, param, now=sample.now), (param, value, sample.text)


@SETTINGS
@given(name=st.sampled_from(CLARIFIABLE), seed=SEEDS)
def test_clarification_texts_lack_their_missing_values(name, seed):
    tool = REGISTRY.get(name)
    sample = _verified(lambda rng: GEN.clarification(rng, tool), random.Random(seed))
    gt = sample.ground_truth["clarification"]
    assert gt["tool"] == name and gt["missing"] and set(gt["missing"]) <= set(tool.required)
    for param in gt["missing"]:
        schema = tool.properties[param]
        assert not mentions(sample.text, sample.args[param], schema, name=param), (param, sample.text)
        for option in schema.get("enum", ()):
            assert not mentions(sample.text, option, schema, name=param), (param, option, sample.text)
            assert not GEN.mentions(sample.text, option, name, param), (param, option, sample.text)


def test_unverified_clarifications_mostly_pass():
    # verification is a safety net, not the generator: most samples pass at the first attempt
    rng = random.Random(7)
    rejected = sum(verify(GEN, GEN.clarification(rng)) is not None for _ in range(2000))
    assert rejected < 100


def test_tools_without_required_parameters_are_never_clarified():
    free = [t for t in TOOLS if not t.required]
    assert free, "the registry should have a tool with no required parameter"
    rng = random.Random(3)
    targets = {GEN.clarification(rng).tool for _ in range(3000)}
    assert not targets & {t.name for t in free}
    with pytest.raises(ValueError, match="no required parameter"):
        GEN.clarification(rng, free[0])


@SETTINGS
@given(seed=SEEDS)
def test_refusals_are_harmful_or_out_of_scope_for_the_offered_tools(seed):
    sample = _verified(GEN.refusal, random.Random(seed))
    reason = sample.ground_truth["refusal"]["reason"]
    assert sample.tool is None and sample.template_id.startswith(f"refusal.{reason}.")
    if reason == "harmful":
        assert sample.detail in {c.name for c in refusals.HARM_CATEGORIES}
    elif sample.detail == "hard_negative":
        # the tool the request needs is not offered, and no offered neighbour shares a content name word
        assert sample.absent not in sample.offered
        assert REGISTRY.get(sample.absent).domain == sample.domain
        assert not any(unrelated_overlap(sample.absent, n) for n in sample.offered)
    else:
        cap = next(c for c in refusals.CAPABILITIES if c.name == sample.detail)
        texts = [f"{t.name.replace('_', ' ')} {t.description}".lower() for t in map(REGISTRY.get, sample.offered)]
        assert not any(cap.keywords.search(text) for text in texts)


def test_harm_taxonomy_and_tool_phrasing():
    assert len(refusals.HARM_CATEGORIES) >= 6
    rng = random.Random(11)
    samples = [GEN.refusal(rng) for _ in range(3000)]
    harmful = [s for s in samples if s.ground_truth["refusal"]["reason"] == "harmful"]
    assert {s.detail for s in harmful} == {c.name for c in refusals.HARM_CATEGORIES}
    # phrased against an offered tool where one fits (75% of the time), and only then
    fitting = []
    for s in harmful:
        groups = set().union(*(GEN.text[n].groups for n in s.offered))
        category_groups = {g for g, _ in refusals.HARM_BY_NAME[s.detail].acts} - {"generic"}
        group = s.template_id.split(".")[3]
        assert group == "generic" or group in groups & category_groups
        if groups & category_groups:
            fitting.append(group != "generic")
    assert 0.65 < sum(fitting) / len(fitting) < 0.85
    assert 0.4 < len(harmful) / len(samples) < 0.6


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(NAMES), seed=SEEDS, lo=st.integers(0, 4), extra=st.integers(0, 4))
def test_offered_tools(name, seed, lo, extra):
    gen = Generator.__new__(Generator)
    gen.__dict__.update(GEN.__dict__)
    gen.dmin, gen.dmax = lo, lo + extra
    offered = gen.offer(name, random.Random(seed))
    assert name in offered and len(set(offered)) == len(offered)
    assert lo + 1 <= len(offered) <= lo + extra + 1
    domain = REGISTRY.get(name).domain
    same = [n for n in offered if n != name and REGISTRY.get(n).domain == domain]
    # same-domain distractors first: at least half of them, as far as the domain has tools
    k = len(offered) - 1
    assert len(same) >= min(len(GEN.same_domain[name]), (k + 1) // 2)


def test_offer_order_is_shuffled():
    rng = random.Random(5)
    positions = {GEN.offer("get_weather_forecast", rng).index("get_weather_forecast") for _ in range(200)}
    assert len(positions) >= 4


def test_phrasings_vary():
    rng = random.Random(1)
    samples = [GEN.execution(rng) for _ in range(2000)]
    # hand-written frames for the framed tools, generic frames for the others
    framed = {s.template_id for s in samples if s.tool == "find_nearby_places"}
    assert framed and all(t.startswith("execution.frame.find_nearby_places.") for t in framed)
    assert len(framed) >= 5
    assert any(s.template_id.startswith("execution.generic.") for s in samples)
    assert len({s.text for s in samples}) > 0.99 * len(samples)


def _all_templates():
    from generators import templates

    yield from templates.WITH_ARGS + templates.NO_ARGS + templates.UTTERANCE_TAILS


def test_every_template_is_plain_and_renders_its_placeholders():
    import re

    for tpl in _all_templates():
        # values with characters that matter to str.format and to template engines
        ctx = {name: f"<{name}> {{x}} & '{name}'" for name in tpl.variables}
        expected = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m, ctx=ctx: ctx[m.group(1)], tpl.source)
        assert tpl.render(ctx) == expected, tpl.id


def test_templates_beyond_plain_variables_are_refused():
    from generators.templates import TemplateError, TextTemplate

    tpl = TextTemplate("t", "{% if n > 1 %}{{ n }} rooms{% else %}one room{% endif %} in {{ city | upper }}")
    with pytest.raises(TemplateError):
        tpl.render({"n": 2, "city": "Oslo"})


ACTIONS = [
    # imperative descriptions stay as they are, lower-cased
    ("Get a daily weather forecast for a location.", "get a daily weather forecast for a location"),
    # third person becomes the imperative; "the user" becomes the speaker
    ("Returns the user's payslip for a month.", "return my payslip for a month"),
    ("Searches the catalogue. Results are paged.", "search the catalogue"),
    ("Lists transactions for the user.", "list transactions for me"),
    # an abbreviation does not end the first sentence
    ("Find places (cafes, etc.) near a location.", "find places (cafes, etc.) near a location"),
]


@pytest.mark.parametrize(("description", "expected"), ACTIONS)
def test_action_phrase(description, expected):
    from generators.templates import action_phrase

    assert action_phrase(description) == expected


def test_coverage_worked_out_per_tool_equals_the_per_request_keyword_search():
    # The union of each offered tool's covered capabilities / direct kinds is what searching every tool text finds.
    from generators import direct, refusals

    gen = GEN
    rng = random.Random(3)
    for _ in range(300):
        offered = gen.offer(rng.choice(gen.tools).name, rng)
        texts = [gen.text[n].text for n in offered]
        assert gen.covered_capabilities(offered) == {
            c.name for c in refusals.CAPABILITIES if refusals.capability_covered(c, texts)}
        assert gen.covered_direct_kinds(offered) == {k.name for k in direct.KINDS if direct.covered(k, texts)}


def test_clarification_frames_are_drawn_from_all_of_a_tools_frames():
    # The frame is drawn first: each clarification frame is used about as often as the others (when frames were
    # filtered on optional parameters drawn beforehand, the frames naming none of them took most requests).
    from collections import Counter

    for tool in [t for t in TOOLS if t.required and len(GEN.phrasing[t.name].clarify_frames) >= 4][:4]:
        frames = GEN.phrasing[tool.name].clarify_frames
        rng = random.Random(tool.name)
        used = Counter(GEN.clarification(rng, tool).template_id for _ in range(60 * len(frames)))
        assert set(used) == {f"clarification.{f.id}" for f in frames}, tool.name
        assert max(used.values()) <= 2.5 * 60, (tool.name, used.most_common(3))


def test_execution_frames_saying_more_of_the_call_are_favoured():
    # Among the frames that fit a draw, one naming k optional parameters weighs 2**k: the frames with only the
    # required parameters no longer take most requests.
    from collections import Counter

    for name in ("search_emails", "list_transactions"):  # five optional parameters each (0.26 and 0.21 before)
        tool = REGISTRY.get(name)
        rng = random.Random(5)
        used = Counter(GEN.execution(rng, tool).template_id for _ in range(2000))
        req_only = {f"execution.{f.id}" for f in GEN.phrasing[name].frames if f.params == frozenset(tool.required)}
        assert sum(used[t] for t in req_only) < 0.18 * 2000, used.most_common(5)


def test_a_parallel_request_whose_joiner_makes_a_label_is_rejected():
    rng = random.Random(8)
    sample = _verified(GEN.parallel, rng)
    a, b = sample.parts
    joined = type(sample)(**{f: getattr(sample, f) for f in sample.__dataclass_fields__})
    joined.text = f"{a.text.rstrip()} one more thing: {b.text[:1].lower() + b.text[1:]}"
    assert verify(GEN, joined) == "label_style"

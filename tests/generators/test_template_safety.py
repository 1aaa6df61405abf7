"""Tool-file text is data: the classic template-injection strings are refused at registration and at render.

Before this rule, `x-utterances` went through a plain `jinja2.Environment`: a write key could register a
tool whose utterance ran a shell command on the server the next time a dataset drew from it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from generators.registry import RegistryError, load_registry, validate_tool
from generators.templates import TemplateError, TextTemplate, template_problem

MARKER = Path("/tmp/toolforge-template-escape-marker")

# (label, text). Each must be refused: code, object graph access, tags, comments, filters, format fields.
ESCAPES = [
    ("popen", '{{ city }} {{ cycler.__init__.__globals__.os.popen("touch ' + str(MARKER) + '").read() }}'),
    ("mro", "{{ city }} {{ ''.__class__.__mro__ }}"),
    ("subclasses", "{{ city }} {{ ().__class__.__base__.__subclasses__() }}"),
    ("for", "{% for x in range(10**9) %}{{ city }}{% endfor %}"),
    ("if", "{% if city %}{{ city }}{% endif %}"),
    ("set", "{% set x = 1 %}{{ city }}"),
    ("comment", "{# hidden #}{{ city }}"),
    ("filter", "{{ city | upper }}"),
    ("attribute", "{{ city.__class__ }}"),
    ("item", "{{ city['x'] }}"),
    ("call", "{{ lipsum() }} {{ city }}"),
    ("format-attr", "{0.__class__} {{ city }}"),
    ("format-spec", "{city!r:>{width}} {{ city }}"),
    ("format-name", "{city} weather"),
    ("stray-close", "weather }} in {{ city }}"),
    ("stray-open", "weather in {{ city }} {"),
    ("statement-end", "{{ city }} %}"),
]

# Plain placeholders that name no required parameter: refused at registration (and missing at render).
NOT_A_PARAMETER = ["{{ config }} {{ city }}", "{{ self }} {{ city }}", "{{ __class__ }} {{ city }}",
                   "{{ units }} {{ city }}"]

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "units": {"type": "string", "enum": ["metric", "imperial"]}},
            "required": ["city"],
        },
    },
    "x-split": "train",
    "x-domain": "weather",
}


def with_utterances(*texts: str) -> dict:
    doc = copy.deepcopy(TOOL)
    doc["x-utterances"] = ["What's the weather in {{ city }}?", *texts]
    return doc


@pytest.mark.parametrize(("label", "text"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_refused_at_registration_with_pointer(label: str, text: str) -> None:
    problems = validate_tool(with_utterances(text), "evil.json")
    assert [p.pointer for p in problems] == ["/x-utterances/1"], problems
    assert problems[0].source == "evil.json"
    assert "only plain placeholders" in problems[0].message


@pytest.mark.parametrize("text", NOT_A_PARAMETER)
def test_placeholder_naming_no_required_parameter_is_refused(text: str) -> None:
    problems = validate_tool(with_utterances(text), "evil.json")
    assert [p.pointer for p in problems] == ["/x-utterances/1"], problems
    assert "name no required parameter" in problems[0].message and "use only city" in problems[0].message


def test_folder_with_an_escape_names_file_and_pointer(tmp_path: Path) -> None:
    import json

    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "evil.json").write_text(json.dumps(with_utterances(ESCAPES[0][1])))
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / "tools")
    assert str(info.value).startswith("tools/evil.json: /x-utterances/1: only plain placeholders")


@pytest.mark.parametrize(("label", "text"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_refused_at_render_and_runs_nothing(label: str, text: str) -> None:
    MARKER.unlink(missing_ok=True)
    assert template_problem(text) is not None
    with pytest.raises(TemplateError):
        TextTemplate("t", text).render({"city": "Oslo", "width": "10"})
    with pytest.raises(TemplateError):
        _ = TextTemplate("t", text).variables
    assert not MARKER.exists()


def test_values_are_never_interpreted() -> None:
    # A value may hold anything: it is inserted as it is, never parsed as a template or format string.
    tpl = TextTemplate("t", "Weather in {{ city }}, {{ units }}.")
    value = "{{ cycler.__init__ }} {0.__class__} {% for %}"
    assert tpl.render({"city": value, "units": "{units}"}) == f"Weather in {value}, {{units}}."


def test_plain_placeholder_not_in_context_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        TextTemplate("t", "{{ config }}").render({"city": "Oslo"})


def test_plain_utterances_still_register_and_render() -> None:
    assert validate_tool(with_utterances("{{city}} forecast please", "Weather for {{  city  }}, thanks")) == []
    assert TextTemplate("t", "Weather for {{  city  }}!").render({"city": "Oslo"}) == "Weather for Oslo!"


def test_no_jinja_in_the_generation_library() -> None:
    # Built-in templates are plain too, so nothing in generators/ needs a template engine.
    root = Path(__file__).resolve().parents[2] / "generators"
    offenders = [p.name for p in root.rglob("*.py") if "import jinja2" in p.read_text()]
    assert offenders == []

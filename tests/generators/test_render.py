import importlib.util
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.registry import load_registry
from generators.render import ToolRenderer, system_content

REGISTRY = load_registry()
TOOLS = [t.openai() for t in REGISTRY]


def _qwen_template() -> str:
    spec = importlib.util.find_spec("trl")
    if spec is None or spec.origin is None:
        pytest.skip("trl is not installed (pip install '.[train]'): cannot compare with its Qwen 2.5 template")
    path = Path(spec.origin).parent / "chat_templates" / "qwen2_5.jinja"
    if not path.exists():
        pytest.skip(f"this trl has no {path.name}")
    return path.read_text()


def _render(messages, tools=None):
    pytest.importorskip("transformers", reason="transformers renders chat templates")
    from transformers.utils.chat_template_utils import render_jinja_template

    out = render_jinja_template([messages], tools=tools, chat_template=_qwen_template(), add_generation_prompt=True)
    return out[0] if isinstance(out, tuple) else out


def _text(rendered):
    return rendered[0] if isinstance(rendered, list) else rendered


CASES = [
    # one tool
    [TOOLS[0]],
    # several tools of different domains, non-ASCII in the system prompt
    [TOOLS[3], TOOLS[40], TOOLS[-1]],
    # every tool of the registry
    TOOLS,
]


@pytest.mark.parametrize("tools", CASES)
@pytest.mark.parametrize("prompt", ["You are a helpful assistant.", "Réponds en français — s'il te plaît.\n"])
def test_system_message_matches_qwen25_template_byte_for_byte(tools, prompt):
    user = {"role": "user", "content": "Book a table for two in Zürich."}
    # what Qwen 2.5's template makes of a plain system prompt plus tools=
    expected = _text(_render([{"role": "system", "content": prompt}, user], tools=tools))
    # what it makes of our system message (tools already inside) with no tools=
    ours = _text(_render([{"role": "system", "content": system_content(prompt, tools)}, user]))
    assert ours == expected
    assert "<tools>\n{\"type\": \"function\"" in ours


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([t["function"]["name"] for t in TOOLS]), min_size=1, max_size=6, unique=True))
def test_renderer_matches_system_content_and_its_json_fragment(names):
    by_name = {t["function"]["name"]: t for t in TOOLS}
    renderer = ToolRenderer("Be brief. \"Quotes\" and \\ backslashes", by_name)
    names = tuple(names)
    text = renderer.system(names)
    assert text == system_content("Be brief. \"Quotes\" and \\ backslashes", [by_name[n] for n in names])
    # the pre-escaped fragment is exactly the JSON string of the text
    assert orjson.dumps({"c": renderer.system_fragment(names)}) == orjson.dumps({"c": text})
    assert renderer.system(names) is text  # cached
    assert renderer.system_utf8(names) == text.encode()
    assert renderer.system_length(names) == len(text)


@pytest.mark.parametrize("prompt", ["Be brief. \"Quotes\" and \\ backslashes", ""])
def test_the_current_date_line_is_part_of_the_prompt_text(prompt):
    by_name = {t["function"]["name"]: t for t in TOOLS}
    renderer = ToolRenderer(prompt, by_name)
    names = tuple(list(by_name)[:3])
    today = "Today is Tuesday, 3 March 2026, 09:40."
    text = renderer.system(names, today)
    # the tools block is exactly Qwen's rendering after the prompt text, which now ends with the date line
    expected_prompt = f"{prompt}\n\n{today}" if prompt else today
    assert text == system_content(expected_prompt, [by_name[n] for n in names])
    assert orjson.dumps({"c": renderer.system_fragment(names, today)}) == orjson.dumps({"c": text})
    assert renderer.system_utf8(names, today) == text.encode()
    assert renderer.system_length(names, today) == len(text)

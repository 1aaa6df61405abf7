"""Prompt renderings (training/prompts.py): compact tools, native tools=, one rendering for every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.render import TOOLS_HEADER, system_content
from tests.training.evaluation.test_run import SCRIPT, SYSTEM, WEATHER, ScriptedServer, row
from training.evaluation.backends import EndpointBackend, TransformersBackend, chat_request
from training.evaluation.run import evaluate_rows
from training.prompts import (
    COMPACT_HEADER,
    PromptError,
    compact_block,
    prompt_text,
    render_messages,
    renders_tools,
    rerender_rows,
    resolve_template,
    trained_template,
    write_marker,
)

# SmolLM2-135M-Instruct's chat template (ChatML without tools): what a template that ignores tools= looks like.
CHATML_NO_TOOLS = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' "
    "+ '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.trainers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_compact_keeps_every_fact_of_every_bundled_tool_in_fewer_characters() -> None:
    registry = load_registry(DEFAULT_TOOLS_DIR)
    assert len(registry) == 87
    for tool in registry.tools:
        openai = tool.openai()
        fn = openai["function"]
        text = compact_block([openai])
        assert len(text) < len(system_content("", [openai])), fn["name"]
        assert f"\n\n{fn['name']}: " in text
        required = set(fn["parameters"].get("required") or ())
        for name in fn["parameters"].get("properties") or {}:
            line = next(x for x in text.splitlines() if x.startswith(f"- {name} ("))
            assert ("required" in line.split("):")[0]) == (name in required), (fn["name"], line)


def test_render_messages_rewrites_only_the_tools_block() -> None:
    r = row("Weather in Paris for 3 days?", {"tool_call": {"name": "get_weather", "parameters": {"city": "Paris"}}})
    assert render_messages(r, "qwen2_5") == r["prompt"]
    compact = render_messages(r, "compact")
    assert compact[0]["content"] == SYSTEM + compact_block([WEATHER])
    assert compact[0]["content"].startswith(SYSTEM + COMPACT_HEADER) and TOOLS_HEADER not in compact[0]["content"]
    assert "- city (string, required): City name." in compact[0]["content"]
    assert "- days (integer): Forecast length." in compact[0]["content"]
    assert compact[1:] == r["prompt"][1:]
    assert render_messages(r, "native")[0] == {"role": "system", "content": SYSTEM}
    # A system message without the Qwen block (a foreign row) is left as it is; the row itself is never changed.
    bare = {**r, "prompt": [{"role": "system", "content": "Be brief."}, r["prompt"][1]]}
    assert render_messages(bare, "compact") == bare["prompt"]
    again = rerender_rows([r], "compact")
    assert again[0]["prompt"] == compact and r["prompt"][0]["content"].startswith(SYSTEM + TOOLS_HEADER)
    with pytest.raises(PromptError, match="use one of qwen2_5, compact"):
        rerender_rows([r], "native")  # trainers cannot bake native prompts
    with pytest.raises(PromptError, match="unknown prompt template 'json'"):
        render_messages(r, "json")


def test_native_equals_the_stored_rendering_for_qwen_and_is_refused_without_tool_support(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))  # Qwen 2.5's template
    r = row("Weather in Paris?", {"tool_call": {"name": "get_weather", "parameters": {"city": "Paris"}}})
    assert renders_tools(tokenizer)
    assert prompt_text(tokenizer, r, "native") == prompt_text(tokenizer, r, "qwen2_5")
    tokenizer.chat_template = CHATML_NO_TOOLS
    assert not renders_tools(tokenizer)
    with pytest.raises(PromptError, match="does not render tools="):
        prompt_text(tokenizer, r, "native")
    assert "get_weather: Get the weather forecast" in prompt_text(tokenizer, r, "compact")


def test_a_model_folder_records_its_rendering_and_the_backend_follows_it(tiny_model: Path) -> None:
    assert trained_template(tiny_model) is None and resolve_template(None, tiny_model) == "qwen2_5"
    write_marker(tiny_model, "compact")
    try:
        assert trained_template(tiny_model) == "compact"
        assert TransformersBackend(tiny_model, max_new_tokens=2, device="cpu").template == "compact"
        # An explicit choice wins over the record.
        backend = TransformersBackend(tiny_model, max_new_tokens=2, device="cpu", template="qwen2_5")
        assert backend.describe()["template"] == "qwen2_5"
    finally:
        (tiny_model / "toolforge_prompt.json").unlink()


@pytest.mark.parametrize("template", ["qwen2_5", "compact"])
def test_endpoint_and_local_model_read_the_same_prompt(template: str, tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    rows = [SCRIPT["u-exact"][0], SCRIPT["u-refuse"][0]]
    with ScriptedServer() as server:
        backend = EndpointBackend(server.url, max_tokens=16, template=template)
        run = evaluate_rows(rows, backend)
        sent = server.requests
    assert run.metrics["meta"]["backend_errors"] == 0
    by_user = {body["messages"][-1]["content"]: body for body in sent}
    for r in rows:
        body = by_user[r["prompt"][-1]["content"]]
        assert "tools" not in body  # the tools travel in the system message text, as for the local model
        assert body["messages"] == render_messages(r, template)
        local = prompt_text(tokenizer, r, template)
        assert local == tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)


def test_endpoint_native_is_the_default_and_sends_tools() -> None:
    body, _ = chat_request(SCRIPT["u-exact"][0], "m", 8)
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert json.loads(json.dumps(body))  # plain JSON


def test_cli_evaluate_refuses_an_unknown_template(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli.main import app

    args = ["evaluate", "--dataset", str(tmp_path), "--model", str(tmp_path), "--template", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "--template json: use one of qwen2_5, compact, native" in result.output

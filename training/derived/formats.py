"""Exports of a ToolForge dataset into the formats other trainers read, and back (lossless).

A ToolForge row is ``{prompt: [system, ..., user], tools, behavior, reward_model, extra_info}`` with the
offered tools baked into the system message as Qwen 2.5 renders ``tools=`` (see `generators.render`); a
dialogue carries earlier turns (a request, the assistant's question) between the system message and the last
user message, and a parallel request expects several calls (``tool_call.calls``). Each export turns a row into
one consumer record and keeps what the consumer has no room for:

==========  ===================================================================  =======================
format      record                                                               ToolForge fields
==========  ===================================================================  =======================
openai      ``{messages: [system, ..., user, assistant], tools, parallel_tool_calls}``  ``metadata.jsonl``
trl-sft     ``{prompt: [system, ..., user], completion: [assistant], tools}``           ``metadata.jsonl``
sharegpt    ``{system, conversations: [{from, value}], tools}`` (LLaMA-Factory)    ``metadata.jsonl``
verl        Parquet ``{data_source, prompt, ability, reward_model, extra_info}``   in the row
==========  ===================================================================  =======================

``metadata.jsonl`` holds, line by line, ``{behavior, reward_model, extra_info}`` of the same row, so
`to_source` rebuilds every source row exactly (tested byte for byte).

Templates: ``native`` takes the tools block out of the system message and passes the tools as data
(``tools`` + assistant ``tool_calls``), so the consumer's chat template renders them the way the model was
trained to see them; ``qwen2_5`` keeps today's baked Qwen 2.5 text, has no ``tools`` field (it would be
rendered twice) and writes the tool call as Qwen's ``<tool_call>`` text. verl renders only ``prompt``, so
verl defaults to ``qwen2_5``. The tools block is found by its header and footer, not by assuming the whole
system message: whatever precedes the header (the system prompt, a date line) is kept.

Prompt-length percentiles live in `generators.prompt_lengths` (stats.json can use them too).
Everything here is pure: rows in, records out. `export_rows` is a generator over rows, so a caller streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from generators.render import TOOLS_FOOTER, TOOLS_HEADER, tool_json
from training.rewards.scoring import expected_calls, read_ground_truth
from training.trainers.sft import reference_answer

Format = Literal["openai", "trl-sft", "verl", "sharegpt"]
Template = Literal["native", "qwen2_5"]
FORMATS: tuple[Format, ...] = ("openai", "trl-sft", "verl", "sharegpt")
TEMPLATES: tuple[Template, ...] = ("native", "qwen2_5")
DEFAULT_TEMPLATE: dict[str, Template] = {"openai": "native", "trl-sft": "native", "sharegpt": "native",
                                         "verl": "qwen2_5"}
ABILITY = "tool_calling"
DATA_SOURCE_PREFIX = "toolforge/"
SOURCE_KEYS = ("prompt", "tools", "behavior", "reward_model", "extra_info")
CALL_ID = "call_{}"  # OpenAI wants an id to pair a tool result with (none follows here): call_0, call_1...
SHAREGPT_FROM = {"user": "human", "assistant": "gpt"}
SHAREGPT_ROLE = {v: k for k, v in SHAREGPT_FROM.items()}


class FormatError(ValueError):
    """A row cannot be exported (or an export record cannot be read back) without losing information."""


# --- the tools block -------------------------------------------------------------------------------------


def tools_block(tools: Sequence[Mapping[str, Any]]) -> str:
    """The block Qwen 2.5's template appends to the system message for `tools` (header to footer).

    Args:
        tools: OpenAI tool dicts, in offered order.

    Returns:
        The block text.

    >>> tools_block([]).startswith("\\n\\n# Tools")
    True
    """
    return TOOLS_HEADER + "".join("\n" + tool_json(dict(t)) for t in tools) + TOOLS_FOOTER


def strip_tools_block(system: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """The system message without its baked tools block, checked to be exactly the rendering of `tools`.

    Args:
        system: a ToolForge system message.
        tools: the row's offered tools.

    Returns:
        The text before the block (the system prompt and anything placed before the tools).

    Raises:
        FormatError: no block, a block that does not render `tools`, or text after the footer (its place
            could not be restored).
    """
    start = system.find(TOOLS_HEADER)
    if start < 0:
        raise FormatError("the system message has no '# Tools' block to take out")
    end = system.find(TOOLS_FOOTER, start)
    if end < 0:
        raise FormatError("the system message's '# Tools' block has no closing </tool_call> instructions")
    end += len(TOOLS_FOOTER)
    if system[start:end] != tools_block(tools):
        raise FormatError("the tools block in the system message is not the rendering of the row's tools")
    if system[end:]:
        raise FormatError("the system message has text after its tools block")
    return system[:start]


# --- answers -----------------------------------------------------------------------------------------------


def _calls(row: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The reference calls of an execution row (several for a parallel request); empty for other rows."""
    try:
        behaviour, payload = read_ground_truth(row["reward_model"])
    except ValueError as exc:  # a bad ground truth is this row's problem, reported with its index
        raise FormatError(str(exc)) from exc
    if behaviour != "execution":
        return []
    calls = []
    for want in expected_calls(payload):
        params = want.get("parameters", want.get("arguments")) or {}
        calls.append((want["name"], {k: v for k, v in params.items() if v is not None}))
    return calls


def answer_text(row: Mapping[str, Any]) -> str:
    """The reference reply as text (Qwen's ``<tool_call>`` block, the question, or the decline)."""
    return reference_answer(row["reward_model"])


def assistant_message(row: Mapping[str, Any], template: Template, arguments_as: Literal["str", "dict"]) -> dict:
    """The reference assistant message of `row`.

    Args:
        row: a ToolForge row.
        template: ``native`` gives ``tool_calls`` for a call; ``qwen2_5`` gives Qwen's text form.
        arguments_as: ``str`` (OpenAI: JSON text) or ``dict`` (transformers chat templates).

    Returns:
        ``{"role": "assistant", "content": ...}`` or ``{"role": "assistant", "content": None, "tool_calls": [...]}``
        (one entry per expected call, in the ground truth's order).
    """
    calls = _calls(row)
    if not calls or template == "qwen2_5":
        return {"role": "assistant", "content": answer_text(row)}
    tool_calls = []
    for i, (name, args) in enumerate(calls):
        arguments: Any = json.dumps(args, ensure_ascii=False) if arguments_as == "str" else args
        tool_calls.append({"id": CALL_ID.format(i), "type": "function",
                           "function": {"name": name, "arguments": arguments}})
    return {"role": "assistant", "content": None, "tool_calls": tool_calls}


# --- one row -> one record -------------------------------------------------------------------------------------


def prompt_messages(row: Mapping[str, Any], template: Template) -> list[dict[str, str]]:
    """The prompt's messages: the system message (tools block taken out for ``native``), then every turn."""
    prompt = row["prompt"]
    if len(prompt) < 2 or prompt[0].get("role") != "system" or prompt[-1].get("role") != "user":
        raise FormatError("the prompt is not [system, ..., user]")
    system = prompt[0]["content"]
    content = system if template == "qwen2_5" else strip_tools_block(system, row["tools"])
    return [{"role": "system", "content": content},
            *({"role": m["role"], "content": m["content"]} for m in prompt[1:])]


def metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ToolForge fields a chat record has no room for (one line of ``metadata.jsonl``)."""
    return {"behavior": row["behavior"], "reward_model": row["reward_model"], "extra_info": row["extra_info"]}


def to_record(row: Mapping[str, Any], fmt: Format, template: Template, index: int) -> dict[str, Any]:
    """One ToolForge row as one record of `fmt`.

    Args:
        row: a ToolForge row (JSON Lines form: ``tools`` and ``ground_truth`` as objects).
        fmt: the target format.
        template: ``native`` or ``qwen2_5`` (see the module docstring).
        index: the row's position (verl's ``extra_info.index``).

    Returns:
        The record.

    Raises:
        FormatError: the row cannot be converted losslessly.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if template not in TEMPLATES:
        raise FormatError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    missing = [k for k in SOURCE_KEYS if k not in row]
    if missing:
        raise FormatError(f"row {index} is not a ToolForge row: no {', '.join(missing)}")
    messages = prompt_messages(row, template)
    tools = [dict(t) for t in row["tools"]]
    native = template == "native"
    if fmt == "openai":
        record: dict[str, Any] = {"messages": [*messages, assistant_message(row, template, "str")]}
        if native:
            record["tools"] = tools
            record["parallel_tool_calls"] = len(_calls(row)) > 1
        return record
    if fmt == "trl-sft":
        record = {"prompt": messages, "completion": [assistant_message(row, template, "dict")]}
        if native:
            record["tools"] = tools
        return record
    if fmt == "sharegpt":
        calls = _calls(row) if native else []
        # LLaMA-Factory reads one call as an object and parallel calls as a list of them.
        value = [{"name": name, "arguments": args} for name, args in calls]
        reply = ({"from": "function_call", "value": json.dumps(value[0] if len(value) == 1 else value,
                                                                ensure_ascii=False)}
                 if calls else {"from": "gpt", "value": answer_text(row)})
        turns = [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in messages[1:]]
        record = {"system": messages[0]["content"], "conversations": [*turns, reply]}
        if native:
            record["tools"] = json.dumps(tools, ensure_ascii=False)  # LLaMA-Factory reads a JSON string
        return record
    # verl: every JSON-shaped value travels as JSON text, so the Parquet schema is one fixed schema.
    return {
        "data_source": DATA_SOURCE_PREFIX + row["behavior"],
        "prompt": messages,
        "ability": ABILITY,
        "reward_model": {"style": row["reward_model"].get("style", "rule"),
                         "ground_truth": json.dumps(row["reward_model"]["ground_truth"], ensure_ascii=False)},
        "extra_info": {**row["extra_info"], "index": index, "tools": json.dumps(tools, ensure_ascii=False),
                       "template": template},
    }


def export_rows(rows: Iterable[Mapping[str, Any]], fmt: Format, template: Template | None = None
                ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Stream ``(record, metadata line or None)`` for each row (None for verl, whose rows carry everything).

    Args:
        rows: ToolForge rows.
        fmt: the target format.
        template: the rendering (default: `DEFAULT_TEMPLATE` of the format).

    Yields:
        One pair per row, in order. Chat formats leave out direct rows (a request that needs no tool): their
        answer is not in the data, and an assistant turn without content would teach silence; verl keeps them,
        since its reward judges the model's own answer.
    """
    template = template or DEFAULT_TEMPLATE[fmt]
    for index, row in enumerate(rows):
        if fmt != "verl" and row.get("behavior") == "direct":
            continue
        yield to_record(row, fmt, template, index), (None if fmt == "verl" else metadata(row))


# --- back to ToolForge rows --------------------------------------------------------------------------------------


def _system(content: str, tools: list[dict[str, Any]], template: Template) -> str:
    return content if template == "qwen2_5" else content + tools_block(tools)


def to_source(record: Mapping[str, Any], meta: Mapping[str, Any] | None, fmt: Format, template: Template
              ) -> dict[str, Any]:
    """The ToolForge row an export record (and its metadata line) came from.

    Args:
        record: one exported record.
        meta: its ``metadata.jsonl`` line (None for verl).
        fmt: the record's format.
        template: the template it was exported with.

    Returns:
        The source row, key for key.

    Raises:
        FormatError: a chat record without its metadata, or a qwen2_5 record whose tools are unknown.
    """
    if fmt == "verl":
        info = dict(record["extra_info"])
        tools = json.loads(info.pop("tools"))
        info.pop("index")
        info.pop("template")
        system, *turns = record["prompt"]
        return {
            "prompt": [{"role": "system", "content": _system(system["content"], tools, template)},
                       *({"role": m["role"], "content": m["content"]} for m in turns)],
            "tools": tools,
            "behavior": record["data_source"].removeprefix(DATA_SOURCE_PREFIX),
            "reward_model": {"style": record["reward_model"]["style"],
                             "ground_truth": json.loads(record["reward_model"]["ground_truth"])},
            "extra_info": info,
        }
    if meta is None:
        raise FormatError(f"a {fmt} record needs its metadata.jsonl line to be read back")
    if fmt == "sharegpt":
        system_text = record["system"]
        turns = [{"role": SHAREGPT_ROLE[t["from"]], "content": t["value"]} for t in record["conversations"][:-1]]
        tools = json.loads(record["tools"]) if "tools" in record else None
    else:
        messages = record["messages"][:-1] if fmt == "openai" else record["prompt"]  # openai: without the answer
        system_text = messages[0]["content"]
        turns = [{"role": m["role"], "content": m["content"]} for m in messages[1:]]
        tools = record.get("tools")
    if tools is None:  # qwen2_5: the tools live only in the baked block; recover them from it
        tools = tools_from_system(system_text)
    return {
        "prompt": [{"role": "system", "content": _system(system_text, tools, template)}, *turns],
        "tools": tools,
        "behavior": meta["behavior"],
        "reward_model": meta["reward_model"],
        "extra_info": meta["extra_info"],
    }


def tools_from_system(system: str) -> list[dict[str, Any]]:
    """The tools baked into a system message (one JSON object a line between ``<tools>`` tags)."""
    start = system.find(TOOLS_HEADER)
    end = system.find(TOOLS_FOOTER, start)
    if start < 0 or end < 0:
        raise FormatError("the system message has no '# Tools' block")
    body = system[start + len(TOOLS_HEADER):end]
    return [json.loads(line) for line in body.split("\n") if line]


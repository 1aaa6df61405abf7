"""How a dataset row's prompt becomes model input: one choice of rendering for training and evaluation.

A ToolForge row stores its prompt with the offered tools already in the system message, as Qwen 2.5's chat
template renders ``tools=`` (``generators/render.py``): that is the ``qwen2_5`` rendering, the default
everywhere, byte for byte what the seed pipeline trains on. Two others:

- ``compact``: the same system prompt, but each offered tool as a few short lines (name and description,
  then one line per parameter with its type, whether it is required, its default and allowed values)
  instead of JSON Schema text. Same instructions, same ``<tool_call>`` answer format. A prompt with one or
  two tools is about half as many tokens, which is what makes training a real model on two CPU cores fit
  (``scripts/demo.py``). The tools' JSON stays in the row; only the text the model reads changes.
- ``native``: the tools block is taken out of the system message and the model's own chat template renders
  the tools (``apply_chat_template(..., tools=...)``), as an OpenAI-compatible server does for the
  evaluator's ``--endpoint``. Only for templates that render tools (``renders_tools``); evaluation only.

A model is evaluated with the rendering it was trained with: the trainers write ``toolforge_prompt.json``
(``{"template": ...}``) into every model folder they save, and ``resolve_template`` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from generators.render import TOOLS_HEADER

Template = Literal["qwen2_5", "compact", "native"]
TEMPLATES: tuple[str, ...] = ("qwen2_5", "compact", "native")
TRAINING_TEMPLATES: tuple[str, ...] = ("qwen2_5", "compact")  # native needs a template that renders tools
MARKER_FILE = "toolforge_prompt.json"

COMPACT_HEADER = (
    "\n\n# Tools\n\nTo call a tool, reply with its name and arguments as JSON inside <tool_call></tool_call> "
    'tags:\n<tool_call>\n{"name": <tool-name>, "arguments": <args-json-object>}\n</tool_call>\n\nTools:'
)


class PromptError(ValueError):
    """A rendering cannot be applied (unknown name, no tools block, a template that does not render tools)."""


def check_template(name: str, allowed: Sequence[str] = TEMPLATES) -> str:
    """`name` if it is one of `allowed`, else a `PromptError` listing them."""
    if name not in allowed:
        raise PromptError(f"unknown prompt template {name!r}: use one of {', '.join(allowed)}")
    return name


# --- compact tool text --------------------------------------------------------------------------------


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def type_text(schema: Mapping[str, Any]) -> str:
    """A JSON Schema as a short type phrase (``integer 1-20``, ``array of string``, ``one of "a", "b"``).

    Args:
        schema: a parameter's schema.

    Returns:
        The phrase.

    >>> type_text({"type": "integer", "minimum": 1, "maximum": 20})
    'integer 1-20'
    >>> type_text({"type": "string", "enum": ["car", "bike"]})
    'one of "car", "bike"'
    >>> type_text({"type": "array", "items": {"type": "string", "format": "email"}})
    'array of string (email)'
    >>> type_text({"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
    ...            "required": ["sku"]})
    'object {sku: string, qty?: integer}'
    """
    if "enum" in schema:
        return "one of " + ", ".join(_value(v) for v in schema["enum"])
    if "const" in schema:
        return _value(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(type_text(s) for s in schema[key])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        items = schema.get("items")
        text = "array of " + type_text(items) if isinstance(items, Mapping) else "array"
        if "minItems" in schema or "maxItems" in schema:
            text += f" ({schema.get('minItems', 0)}-{schema.get('maxItems', 'any')} items)"
        return text
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        required = set(schema.get("required") or ())
        fields = ", ".join(f"{name}{'' if name in required else '?'}: {type_text(sub)}"
                           for name, sub in schema["properties"].items())
        return "object {" + fields + "}"
    text = str(kind)
    if "format" in schema:
        text += f" ({schema['format']})"
    if "pattern" in schema:
        text += f" matching {schema['pattern']}"
    low, high = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum",
                                                                                   schema.get("exclusiveMaximum"))
    if low is not None or high is not None:
        text += f" {'' if low is None else low}-{'' if high is None else high}"
    return text


def compact_tool(tool: Mapping[str, Any]) -> str:
    """One offered tool as the ``compact`` rendering writes it.

    Args:
        tool: an OpenAI tool entry (``{"type": "function", "function": {...}}``) or a bare function object.

    Returns:
        ``name: description`` and one ``- param (type, required|default ...): description`` line per parameter.

    >>> print(compact_tool({"type": "function", "function": {"name": "cancel_event", "description": "Cancel it.",
    ...     "parameters": {"type": "object", "required": ["event_id"], "properties": {
    ...         "event_id": {"type": "string", "description": "Event to cancel."},
    ...         "notify": {"type": "boolean", "default": True}}}}}))
    cancel_event: Cancel it.
    - event_id (string, required): Event to cancel.
    - notify (boolean, default true)
    """
    fn = tool.get("function", tool)
    lines = [f"{fn['name']}: {fn.get('description', '').strip()}".rstrip(": ").rstrip()]
    params = fn.get("parameters") or {}
    required = set(params.get("required") or ())
    for name, schema in (params.get("properties") or {}).items():
        notes = [type_text(schema)]
        if name in required:
            notes.append("required")
        if "default" in schema:
            notes.append(f"default {_value(schema['default'])}")
        line = f"- {name} ({', '.join(notes)})"
        description = str(schema.get("description", "")).strip()
        lines.append(f"{line}: {description}" if description else line)
    return "\n".join(lines)


def compact_block(tools: Sequence[Mapping[str, Any]]) -> str:
    """The ``compact`` tools block that follows the system prompt (see the module docstring)."""
    return COMPACT_HEADER + "".join("\n\n" + compact_tool(t) for t in tools)


# --- rows ---------------------------------------------------------------------------------------------


def row_tools(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The row's offered tools as dicts (the column may hold JSON text, per tool or as a whole)."""
    tools = row.get("tools") or []
    if isinstance(tools, str):
        tools = json.loads(tools)
    return [json.loads(t) if isinstance(t, str) else dict(t) for t in tools]


def split_system(system: str) -> tuple[str, bool]:
    """The system prompt before the Qwen tools block, and whether there was one.

    >>> split_system("Be brief." + TOOLS_HEADER + "...")
    ('Be brief.', True)
    >>> split_system("Be brief.")
    ('Be brief.', False)
    """
    cut = system.find(TOOLS_HEADER)
    return (system, False) if cut < 0 else (system[:cut], True)


def render_messages(row: Mapping[str, Any], template: str = "qwen2_5") -> list[dict[str, str]]:
    """The row's prompt messages under `template` (``qwen2_5`` or ``compact``; ``native``: tools block out).

    Args:
        row: a ToolForge sample row (``prompt`` messages, ``tools``).
        template: the rendering.

    Returns:
        Plain ``{role, content}`` messages. For ``native`` the system message has no tools block: pass
        ``row_tools(row)`` as the chat template's ``tools=``.
    """
    check_template(template)
    messages = [{"role": m["role"], "content": m["content"]} for m in row["prompt"]]
    if template == "qwen2_5" or not messages or messages[0]["role"] != "system":
        return messages
    prompt, had_block = split_system(messages[0]["content"])
    if not had_block:  # a row that offers no tools (or a foreign prompt): nothing to re-render
        return messages
    if template == "compact":
        prompt += compact_block(row_tools(row))
    messages[0] = {"role": "system", "content": prompt}
    return messages


def rerender_rows(rows: Sequence[Mapping[str, Any]], template: str) -> list[dict[str, Any]]:
    """Copies of `rows` whose ``prompt`` is rendered with `template` (``qwen2_5``: the rows unchanged)."""
    check_template(template, TRAINING_TEMPLATES)
    if template == "qwen2_5":
        return [dict(r) for r in rows]
    return [{**r, "prompt": render_messages(r, template)} for r in rows]


def renders_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template puts ``tools=`` into the prompt (a probe tool's name shows up)."""
    probe = {"type": "function", "function": {"name": "toolforge_probe_fn", "description": "probe",
                                              "parameters": {"type": "object", "properties": {}}}}
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tools=[probe], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a template that chokes on tools does not render them
        return False
    return "toolforge_probe_fn" in text


def prompt_text(tokenizer: Any, row: Mapping[str, Any], template: str) -> str:
    """The text a local model generates from: the chat template applied to the row under `template`."""
    messages = render_messages(row, template)
    if template == "native":
        if not renders_tools(tokenizer):
            raise PromptError("the model's chat template does not render tools=; use --template qwen2_5 or "
                              "compact")
        return tokenizer.apply_chat_template(messages, tools=row_tools(row) or None, tokenize=False,
                                             add_generation_prompt=True)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# --- which rendering a model was trained with ---------------------------------------------------------


def write_marker(model_dir: str | Path, template: str) -> None:
    """Record in a saved model folder the rendering it was trained with."""
    check_template(template)
    path = Path(model_dir) / MARKER_FILE
    path.write_text(json.dumps({"template": template}) + "\n", encoding="utf-8")


def trained_template(model_dir: str | Path) -> str | None:
    """The rendering recorded in a model folder (None: none recorded, e.g. a base model)."""
    path = Path(model_dir) / MARKER_FILE
    if not path.is_file():
        return None
    return check_template(str(json.loads(path.read_text(encoding="utf-8")).get("template")))


def resolve_template(requested: str | None, model_dir: str | Path | None = None) -> str:
    """The rendering to use: `requested` when given, else the model folder's record, else ``qwen2_5``."""
    if requested and requested != "auto":
        return check_template(requested)
    recorded = trained_template(model_dir) if model_dir is not None else None
    return recorded or "qwen2_5"

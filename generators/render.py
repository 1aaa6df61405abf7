"""The offered tools as Qwen 2.5's chat template renders ``tools=``, put into the system message.

TRL's GRPOTrainer ignores a per-row ``tools`` column, so the tools must be in the prompt text. Rendering
``[system(prompt + TOOLS BLOCK), user]`` *without* tools gives the same bytes as rendering
``[system(prompt), user]`` *with* ``tools=`` (tested against TRL's ``qwen2_5.jinja``).

The template's ``tojson`` is transformers' override: ``json.dumps(x, ensure_ascii=False)`` with default
separators and key order kept. Each tool's JSON is computed once; a block is a concatenation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

TOOLS_HEADER = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    "\n</tool_call>"
)


def tool_json(tool: dict[str, Any]) -> str:
    """One tool exactly as transformers' chat-template ``tojson`` filter writes it.

    Args:
        tool: an OpenAI tool entry (``{"type": "function", "function": {...}}``).

    Returns:
        The JSON text.

    >>> tool_json({"type": "function", "function": {"name": "café"}})
    '{"type": "function", "function": {"name": "café"}}'
    """
    return json.dumps(tool, ensure_ascii=False)


def system_content(system_prompt: str, tools: Sequence[dict[str, Any]]) -> str:
    """The system message text that Qwen 2.5's template would build from `system_prompt` and `tools`.

    Args:
        system_prompt: the dataset's system prompt.
        tools: the offered tools (OpenAI format), in offered order.

    Returns:
        ``system_prompt`` followed by the tools block.
    """
    return system_prompt + TOOLS_HEADER + "".join("\n" + tool_json(t) for t in tools) + TOOLS_FOOTER


class ToolRenderer:
    """Renders system messages for tool sets, with each tool's JSON (text and orjson bytes) cached.

    Args:
        system_prompt: the dataset's system prompt.
        tools: every tool that may be offered, as ``{name: openai_dict}``.
    """

    def __init__(self, system_prompt: str, tools: dict[str, dict[str, Any]]):
        self.prefix = system_prompt + TOOLS_HEADER
        self._prompt_len = len(system_prompt)
        self._esc_prompt = orjson.dumps(system_prompt)[:-1]
        self._esc_header = orjson.dumps(TOOLS_HEADER)[1:-1]
        self._raw_prompt = system_prompt.encode()
        self._raw_header = TOOLS_HEADER.encode()
        self._text = {name: "\n" + tool_json(t) for name, t in tools.items()}
        # Pre-serialised records' `tools` entries: orjson embeds a Fragment without re-encoding it.
        self.fragments = {name: orjson.Fragment(orjson.dumps(t)) for name, t in tools.items()}
        self.json = {name: tool_json(t) for name, t in tools.items()}
        self.json_utf8 = {name: text.encode() for name, text in self.json.items()}
        # JSON string escaping works character by character, so the escaped system message is the
        # concatenation of escaped pieces; escaping ~10 KB of quotes per sample would cost ~20 µs.
        self._esc_prefix = orjson.dumps(self.prefix)[:-1]
        self._esc_text = {name: orjson.dumps(text)[1:-1] for name, text in self._text.items()}
        self._esc_footer = orjson.dumps(TOOLS_FOOTER)[1:]
        self._raw_prefix = self.prefix.encode()
        self._raw_text = {name: text.encode() for name, text in self._text.items()}
        self._raw_footer = TOOLS_FOOTER.encode()
        self._cache: dict[tuple[str, ...], str] = {}
        # Lengths in characters of the pieces, for `system_length` (a pure function of the pieces).
        self._len_fixed = len(self.prefix) + len(TOOLS_FOOTER)
        self._len_text = {name: len(text) for name, text in self._text.items()}

    def system(self, names: tuple[str, ...], today: str | None = None) -> str:
        """The system message for the tools `names`, in that order.

        Args:
            names: offered tool names, in offered order.
            today: a line stating the current date ("Today is Tuesday, 3 March 2026, 09:40."), put after
                the system prompt (it is part of the prompt text, before the tools block).

        Returns:
            The system message text.
        """
        if today is not None:
            return "".join([self.prefix[: self._prompt_len], _today_part(self._prompt_len, today),
                            self.prefix[self._prompt_len :], *[self._text[n] for n in names], TOOLS_FOOTER])
        text = self._cache.get(names)
        if text is None:
            if len(self._cache) > 1024:  # offered sets rarely repeat at scale; keep memory flat
                self._cache.clear()
            text = self.prefix + "".join([self._text[n] for n in names]) + TOOLS_FOOTER
            self._cache[names] = text
        return text

    def system_length(self, names: tuple[str, ...], today: str | None = None) -> int:
        """``len(self.system(names, today))``, from the pieces' lengths (without building the ~10 KB text).

        Args:
            names: offered tool names, in offered order.
            today: the current-date line (see `system`).

        Returns:
            The system message's length in characters.
        """
        n = self._len_fixed + sum([self._len_text[name] for name in names])
        return n if today is None else n + len(_today_part(self._prompt_len, today))

    def system_fragment(self, names: tuple[str, ...], today: str | None = None) -> orjson.Fragment:
        """The system message for `names` as a ready-made JSON string (for `orjson.dumps`).

        Args:
            names: offered tool names, in offered order.
            today: the current-date line (see `system`).

        Returns:
            An `orjson.Fragment` equal to ``orjson.dumps(self.system(names, today))``.
        """
        esc = self._esc_text
        if today is not None:
            # One join: chained + would copy the ~10 KB message once per piece.
            part = orjson.dumps(_today_part(self._prompt_len, today))[1:-1]
            return orjson.Fragment(b"".join([self._esc_prompt, part, self._esc_header, *[esc[n] for n in names],
                                             self._esc_footer]))
        return orjson.Fragment(self._esc_prefix + b"".join([esc[n] for n in names]) + self._esc_footer)

    def system_utf8(self, names: tuple[str, ...], today: str | None = None) -> bytes:
        """The system message for `names` as UTF-8 bytes (for the Parquet column).

        Args:
            names: offered tool names, in offered order.
            today: the current-date line (see `system`).

        Returns:
            ``self.system(names, today).encode()``, built from pre-encoded pieces.
        """
        raw = self._raw_text
        if today is not None:
            return b"".join([self._raw_prompt, _today_part(self._prompt_len, today).encode(), self._raw_header,
                             *[raw[n] for n in names], self._raw_footer])
        return self._raw_prefix + b"".join([raw[n] for n in names]) + self._raw_footer


def _today_part(prompt_len: int, today: str) -> str:
    # The date line is its own paragraph after the prompt (alone when the prompt is empty).
    return "\n\n" + today if prompt_len else today

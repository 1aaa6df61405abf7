"""The row contract every part of ToolForge shares: what a sample row holds and how its files are read.

A sample row (``samples.jsonl``, one JSON object a line; the same columns in ``samples.parquet``)::

    {"prompt": [{"role": "system", ...}, {"role": "user", ...}], "tools": [{"type": "function", ...}],
     "behavior": "execution" | "clarification" | "refusal" | "direct",
     "reward_model": {"style": "rule", "ground_truth": {"tool_call" | "clarification" | "refusal" | "direct": {...}}},
     "extra_info": {"sample_id": "...", ...}}

The ground truth holds exactly one key, spelled by ``GROUND_TRUTH_KEY`` (the behaviour ``execution`` keeps its
call under ``tool_call``). Generation, the reward, training, evaluation and the service all read rows through
the names here.

Exceptions::

    ToolForgeError            the root of every library error; app/ maps it to HTTP
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import orjson

__all__ = [
    "BEHAVIOURS",
    "BEHAVIOUR_OF_KEY",
    "GROUND_TRUTH_KEY",
    "SAMPLES_FILE",
    "Behaviour",
    "ToolForgeError",
    "file_sha256",
    "find_tool",
    "iter_jsonl",
    "read_jsonl",
    "write_jsonl",
]

Behaviour = Literal["execution", "clarification", "refusal", "direct"]
BEHAVIOURS: tuple[Behaviour, ...] = ("execution", "clarification", "refusal", "direct")
# Behaviour -> the one key its ground truth is stored under, and back.
GROUND_TRUTH_KEY: dict[Behaviour, str] = {"execution": "tool_call", "clarification": "clarification",
                                          "refusal": "refusal", "direct": "direct"}
BEHAVIOUR_OF_KEY: dict[str, Behaviour] = {key: behaviour for behaviour, key in GROUND_TRUTH_KEY.items()}
SAMPLES_FILE = "samples.jsonl"
CHUNK = 1024 * 1024


class ToolForgeError(Exception):
    """The root of ToolForge's errors; the message says what to change."""


def iter_jsonl(path: str | Path, loads: Callable[[bytes], Any] = orjson.loads,
               ) -> Iterator[tuple[int, Any | None, str | None]]:
    """Yield ``(line number, decoded row or None, error or None)`` for each non-blank line: a bad line is
    reported, never fatal.

    Args:
        path: a JSON Lines file.
        loads: the decoder (the reward's strict ``loads_json`` refuses NaN and infinities).
    """
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, loads(line), None
            except (ValueError, UnicodeDecodeError) as exc:
                yield number, None, f"invalid JSON ({str(exc).split(':', 1)[0]})"


def read_jsonl(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Read a JSON Lines file (samples, rollouts, preferences).

    Args:
        path: the file.
        limit: read at most this many rows.

    Returns:
        The decoded rows.

    Raises:
        ValueError: a line is not JSON.
    """
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for line in fh:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                rows.append(orjson.loads(line))
    return rows


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """Write rows as JSON Lines (UTF-8, one object a line); returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(dict(row)) + b"\n")
    return path


def find_tool(tools: Any, name: Any, loads: Callable[[Any], Any] = orjson.loads) -> dict[str, Any] | None:
    """The tool named `name` in a row's ``tools``, decoded; None when absent.

    ``tools`` may be a list of dicts, a list of JSON texts (Parquet's ``list<arrow.json>``) or one JSON text;
    a tool is ``{"type": "function", "function": {...}}`` or the bare function dict.

    >>> find_tool('[{"type": "function", "function": {"name": "a"}}]', "a")
    {'type': 'function', 'function': {'name': 'a'}}
    """
    if isinstance(tools, str | bytes):
        tools = loads(tools)
    if not isinstance(tools, list | tuple):
        return None
    for tool in tools:
        if isinstance(tool, str | bytes):
            tool = loads(tool)
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name") == name:
            return tool
    return None


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

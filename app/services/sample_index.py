"""A byte-offset index over a dataset's JSON Lines file, so a page of samples is one seek and one read.

The index is built once when a version is published and stored beside it as an artifact:
`[u32 header length][JSON header][u64 pairs (offset, length)...]`. The header maps each key
(`all`, `behavior:<b>`, `tool:<name>`; derived versions add `step:<n>`, `reward:<r>`...) to
`[first pair, count]`.
"""

from __future__ import annotations

import struct
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import orjson


def _tool_of(ground_truth: dict) -> str | None:
    if "tool_call" in ground_truth:
        return ground_truth["tool_call"].get("name")
    if "clarification" in ground_truth:
        return ground_truth["clarification"].get("tool")
    return None


def sample_keys(row: dict) -> list[str]:
    """The index keys of a generated sample: its behaviour and its target tool."""
    keys = [f"behavior:{row.get('behavior')}"]
    tool = _tool_of(row.get("reward_model", {}).get("ground_truth", {}))
    return keys + [f"tool:{tool}"] if tool else keys


def build_index(jsonl: Path, out: Path, keys_of: Callable[[dict], Iterable[str]] = sample_keys) -> int:
    """Write the index of `jsonl` to `out`; return the number of samples.

    Args:
        jsonl: the rows.
        out: the index file to write.
        keys_of: a row's keys besides `all` (derived versions index by step, reward... too).
    """
    keys: dict[str, array] = defaultdict(lambda: array("Q"))
    offset = 0
    with open(jsonl, "rb") as fh:
        for line in fh:
            length = len(line.rstrip(b"\n"))
            if not line.strip():  # a blank line is no row
                offset += len(line)
                continue
            row = orjson.loads(line)
            pair = (offset, length)
            keys["all"].extend(pair)
            for key in keys_of(row):
                keys[key].extend(pair)
            offset += len(line)
    header: dict[str, list[int]] = {}
    body = array("Q")
    for key in sorted(keys):
        header[key] = [len(body) // 2, len(keys[key]) // 2]
        body.extend(keys[key])
    head = orjson.dumps(header)
    with open(out, "wb") as fh:
        fh.write(struct.pack("<I", len(head)))
        fh.write(head)
        body.tofile(fh)
    return len(keys["all"]) // 2


class SampleIndex:
    """A loaded index; `page()` returns raw JSON lines without parsing them."""

    def __init__(self, raw: bytes):
        (size,) = struct.unpack_from("<I", raw, 0)
        self.header: dict[str, list[int]] = orjson.loads(raw[4:4 + size])
        self.pairs = array("Q")
        self.pairs.frombytes(raw[4 + size:])

    def count(self, key: str) -> int:
        return self.header.get(key, [0, 0])[1]

    def page(self, key: str, offset: int, limit: int, jsonl: IO[bytes]) -> tuple[list[bytes], int]:
        """Read up to `limit` samples of `key` starting at `offset`; return them and the key's total."""
        first, total = self.header.get(key, [0, 0])
        stop = min(offset + limit, total)
        lines: list[bytes] = []
        for i in range(first + offset, first + stop):
            start, length = self.pairs[2 * i], self.pairs[2 * i + 1]
            jsonl.seek(start)
            lines.append(jsonl.read(length))
        return lines, total

    def page_filtered(self, keys: list[str], offset: int, limit: int, jsonl: IO[bytes]) -> tuple[list[bytes], int]:
        """A page of samples matching every key (an intersection of offset sets)."""
        sets = []
        for key in keys:
            first, total = self.header.get(key, [0, 0])
            sets.append({self.pairs[2 * i] for i in range(first, first + total)})
        common = sorted(set.intersection(*sets)) if sets else []
        base_first, base_total = self.header.get(keys[0], [0, 0])
        lengths = {self.pairs[2 * i]: self.pairs[2 * i + 1] for i in range(base_first, base_first + base_total)}
        lines = []
        for start in common[offset:offset + limit]:
            jsonl.seek(start)
            lines.append(jsonl.read(lengths[start]))
        return lines, len(common)

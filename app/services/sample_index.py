"""A byte-offset index over a dataset's JSON Lines file, so a page of samples is one seek and one read.

The index is built once when a version is published and stored beside it as an artifact:
`[u32 header length][JSON header][u64 pairs (offset, length)...]`. The header maps each key
(`all`, `behavior:<b>`, `tool:<name>`; derived versions add `step:<n>`, `reward:<r>`...) to
`[first pair, count]`.
"""

from __future__ import annotations

import mmap
import struct
import threading
from array import array
from collections import OrderedDict, defaultdict
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


Rows = IO[bytes] | bytes | mmap.mmap  # a JSON Lines file: open, or its bytes
MAX_INTERSECTIONS = 256  # key sets (e.g. behaviour x tool) whose matching samples a loaded index keeps


class SampleIndex:
    """A loaded index; `page()` returns raw JSON lines without parsing them."""

    def __init__(self, raw: bytes):
        (size,) = struct.unpack_from("<I", raw, 0)
        self.header: dict[str, list[int]] = orjson.loads(raw[4:4 + size])
        self.pairs = array("Q")
        self.pairs.frombytes(raw[4 + size:])
        self._intersections: OrderedDict[tuple[str, ...], array] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, key: str) -> int:
        return self.header.get(key, [0, 0])[1]

    def page(self, key: str, offset: int, limit: int, jsonl: Rows) -> tuple[list[bytes], int]:
        """Read up to `limit` samples of `key` starting at `offset`; return them and the key's total.

        `jsonl` is the file open for reading, or its bytes (a `mmap`: no system call, no GIL released).
        """
        first, total = self.header.get(key, [0, 0])
        stop = min(offset + limit, total)
        return _read(self.pairs, first + offset, first + stop, jsonl), total

    def page_filtered(self, keys: list[str], offset: int, limit: int, jsonl: Rows) -> tuple[list[bytes], int]:
        """A page of samples matching every key (an intersection of offset sets, computed once per key set)."""
        pairs = self.matching(keys)
        total = len(pairs) // 2
        return _read(pairs, offset, min(offset + limit, total), jsonl), total

    def matching(self, keys: list[str]) -> array:
        """The `(offset, length)` pairs, in file order, of the samples matching every key.

        An index is immutable, so each key set's intersection is kept (at most `MAX_INTERSECTIONS` of them,
        the oldest dropped first): a filtered page then costs what an unfiltered one does, not a pass over
        every sample of its keys.
        """
        wanted = tuple(sorted(set(keys)))
        with self._lock:
            hit = self._intersections.get(wanted)
            if hit is not None:
                self._intersections.move_to_end(wanted)
                return hit
        # Walk the smallest key's pairs (each key's are in file order), keeping those every other key has.
        ranges = sorted((self.header.get(key, [0, 0]) for key in wanted), key=lambda r: r[1])
        first, total = ranges[0]
        others = [set(self.pairs[2 * first_o:2 * (first_o + total_o):2]) for first_o, total_o in ranges[1:]]
        found = array("Q")
        for i in range(first, first + total):
            start = self.pairs[2 * i]
            if all(start in other for other in others):
                found.extend((start, self.pairs[2 * i + 1]))
        with self._lock:
            self._intersections[wanted] = found
            while len(self._intersections) > MAX_INTERSECTIONS:
                self._intersections.popitem(last=False)
        return found


def _read(pairs: array, start: int, stop: int, jsonl: Rows) -> list[bytes]:
    """The rows of pairs `start`..`stop` (pair numbers)."""
    if isinstance(jsonl, bytes | mmap.mmap):
        return [jsonl[pairs[2 * i]:pairs[2 * i] + pairs[2 * i + 1]] for i in range(start, stop)]
    lines = []
    for i in range(start, stop):
        jsonl.seek(pairs[2 * i])
        lines.append(jsonl.read(pairs[2 * i + 1]))
    return lines

"""Dataset files: JSON Lines (seed format), a Parquet copy, ``stats.json``, the card and the manifest.

JSON Lines keep the seed format: ``tools`` and ``reward_model.ground_truth`` are nested objects.
The Parquet copy has the same columns; because tool schemas and call arguments differ from row to
row, ``tools`` is ``list<arrow.json>`` and ``reward_model.ground_truth`` is ``arrow.json`` (the Arrow
JSON extension type: JSON text with a logical type). ``datasets`` (>= 4) reads both as its ``Json``
feature and hands back plain dicts, so both files load with ``load_dataset("json"|"parquet")`` with
no conversion, and ``prompt`` (a list of ``{role, content}``) is conversational for TRL's GRPOTrainer.

Both files are written streaming, chunk by chunk, and hashed while written.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate, chain, pairwise
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from generators.behaviours import Sample
from generators.dates import today_line
from generators.hub import card_yaml_header
from generators.render import ToolRenderer

JSON_TYPE = pa.json_(pa.string())
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
EXTRA_INFO = pa.struct(
    [
        ("sample_id", pa.string()),
        ("tool_split", pa.string()),
        ("template_id", pa.string()),
        ("paraphrased", pa.bool_()),
        ("domain", pa.string()),
        ("n_tools", pa.int64()),
    ]
)
REWARD_MODEL = pa.struct([("style", pa.string()), ("ground_truth", JSON_TYPE)])
PARQUET_SCHEMA = pa.schema(
    [
        ("prompt", pa.list_(MESSAGE)),
        ("tools", pa.list_(JSON_TYPE)),
        ("behavior", pa.string()),
        ("reward_model", REWARD_MODEL),
        ("extra_info", EXTRA_INFO),
    ]
)


def today_of(sample: Sample) -> str | None:
    """The system message's current-date line for a sample (None when it has no `now`)."""
    return None if sample.now is None else today_line(sample.now)


def record(
    sample: Sample, sample_id: str, split: str, renderer: ToolRenderer, paraphrased: bool = False,
    today: str | None = None, ground_truth: orjson.Fragment | None = None,
) -> dict[str, Any]:
    """The JSON Lines record of a sample (tools embedded as pre-serialised orjson fragments).

    Args:
        sample: a verified sample.
        sample_id: its id.
        split: the tool split the dataset draws from.
        renderer: renders the system message and holds each tool's serialised JSON.
        paraphrased: whether the user message is an LLM paraphrase of the template text.
        today: the sample's current-date line, when the caller has it (default: from ``sample.now``).
        ground_truth: the ground truth already serialised (the Parquet column needs the same bytes), or None.

    Returns:
        The record, ready for `orjson.dumps`.
    """
    return {
        "prompt": [
            {"role": "system", "content": renderer.system_fragment(sample.offered, today or today_of(sample))},
            *({"role": role, "content": content} for role, content in sample.turns),
            {"role": "user", "content": sample.text},
        ],
        "tools": [renderer.fragments[n] for n in sample.offered],
        "behavior": sample.behaviour,
        "reward_model": {"style": "rule",
                         "ground_truth": sample.ground_truth if ground_truth is None else ground_truth},
        "extra_info": {
            "sample_id": sample_id,
            "tool_split": split,
            "template_id": sample.template_id,
            "paraphrased": paraphrased,
            "domain": sample.domain,
            "n_tools": len(sample.offered),
        },
    }


def prompt_characters(batch: pa.RecordBatch) -> array:
    """Each row's prompt length in characters: the system message, any earlier turns and the user message.

    The same count as ``toolforge export`` without a tokenizer (`training.derived.export.character_length`),
    taken from the chunk's Arrow batch in bulk (one ``utf8_length`` over the chunk's messages).

    Args:
        batch: a record batch in `PARQUET_SCHEMA`.

    Returns:
        One length per row (``array("i")``).
    """
    prompt = batch.column("prompt")
    chars = pc.utf8_length(prompt.values.field("content")).to_pylist()
    offsets = prompt.offsets.to_pylist()
    if offsets == list(range(0, 2 * batch.num_rows + 1, 2)):  # the common case: [system, user] per row
        return array("i", map(int.__add__, chars[0::2], chars[1::2]))
    return array("i", [sum(chars[a:b]) for a, b in pairwise(offsets)])


def sample_prompt_characters(samples: list[Sample], renderer: ToolRenderer, todays: list[str | None]) -> array:
    """`prompt_characters` of the chunk's batch, from the samples: the same counts without scanning ~10 MB.

    A row's prompt is its system message, its earlier turns and its user message; Arrow's ``utf8_length``
    counts code points, as ``len`` of a Python string does, and the system message's length is the sum of
    its cached pieces' (`ToolRenderer.system_length`). A test holds it to `prompt_characters`.

    Args:
        samples: the chunk's samples.
        renderer: the renderer that writes their system messages.
        todays: each sample's current-date line (None: none), as passed to the batch.

    Returns:
        One length per sample (``array("i")``).
    """
    system_length = renderer.system_length
    return array("i", [system_length(s.offered, t) + len(s.text) + sum([len(c) for _, c in s.turns])
                       for s, t in zip(samples, todays, strict=True)])


class Columns:
    """One chunk's samples as column lists for a Parquet row group, built in bulk at the end of a chunk."""

    def __init__(
        self, samples: list[Sample], sample_ids: list[str], renderer: ToolRenderer,
        paraphrased: list[bool] | None = None, todays: list[str | None] | None = None,
        ground_truths: list[bytes] | None = None,
    ) -> None:
        tool_json = renderer.json_utf8
        self.paraphrased = paraphrased
        if todays is None:
            todays = [today_of(s) for s in samples]
        self.system = [renderer.system_utf8(s.offered, t) for s, t in zip(samples, todays, strict=True)]
        self.user = [s.text.encode() for s in samples]
        self.turns = [s.turns for s in samples]
        self.tools = [tool_json[n] for s in samples for n in s.offered]
        self.tool_offsets = list(accumulate([len(s.offered) for s in samples], initial=0))
        self.behavior = [s.behaviour for s in samples]
        dumps = orjson.dumps
        self.ground_truth = ground_truths if ground_truths is not None else [dumps(s.ground_truth) for s in samples]
        self.sample_id = sample_ids
        self.template_id = [s.template_id for s in samples]
        self.domain = [s.domain for s in samples]
        self.n_tools = [len(s.offered) for s in samples]

    def batch(self, split: str) -> pa.RecordBatch:
        """The buffered samples as one Arrow record batch in `PARQUET_SCHEMA`.

        Args:
            split: the tool split (constant for the dataset).

        Returns:
            The record batch.
        """
        n = len(self.user)
        if not any(self.turns):  # the common case: [system, user] per sample, built in bulk
            contents: list[bytes] = [b""] * (2 * n)
            contents[0::2] = self.system
            contents[1::2] = self.user
            roles = ["system", "user"] * n
            offsets: Iterable[int] = range(0, 2 * n + 1, 2)
        else:  # dialogues carry earlier turns between the system message and the last user message
            contents, roles = [], []
            for system, turns, user in zip(self.system, self.turns, self.user, strict=True):
                contents.append(system)
                roles.append("system")
                for role, content in turns:
                    contents.append(content.encode())
                    roles.append(role)
                contents.append(user)
                roles.append("user")
            offsets = accumulate([2 + len(t) for t in self.turns], initial=0)
        messages = pa.StructArray.from_arrays([_strings(roles), _utf8(contents)], fields=list(MESSAGE))
        prompt = pa.ListArray.from_arrays(_int32(offsets), messages)
        tool_values = pa.ExtensionArray.from_storage(JSON_TYPE, _utf8(self.tools))
        tools = pa.ListArray.from_arrays(_int32(self.tool_offsets), tool_values)
        gt = pa.ExtensionArray.from_storage(JSON_TYPE, _utf8(self.ground_truth))
        reward = pa.StructArray.from_arrays([_strings(["rule"] * n), gt], fields=list(REWARD_MODEL))
        extra = pa.StructArray.from_arrays(
            [
                _strings(self.sample_id),
                _strings([split] * n),
                _strings(self.template_id),
                _bools(self.paraphrased, n),
                _strings(self.domain),
                pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(array("q", self.n_tools))]),
            ],
            fields=list(EXTRA_INFO),
        )
        columns = [prompt, tools, _strings(self.behavior), reward, extra]
        return pa.RecordBatch.from_arrays(columns, schema=PARQUET_SCHEMA)


# Arrays are built from buffers rather than with `pa.array`, which imports pandas (+50 MB per process)
# the first time it converts a Python list.
def _int32(values: Iterable[int]) -> pa.Array:
    buf = array("i", values)
    return pa.Array.from_buffers(pa.int32(), len(buf), [None, pa.py_buffer(buf)])


def _utf8(values: list[bytes]) -> pa.Array:
    offsets = array("i", accumulate(map(len, values), initial=0))
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _bools(values: list[bool] | None, n: int) -> pa.Array:
    bits = bytearray((n + 7) // 8)  # all False unless flags are given
    for i, flag in enumerate(values or ()):
        if flag:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bytes(bits))])


def _strings(values: list[str]) -> pa.Array:
    return _utf8([v.encode() for v in values])


class HashingFile:
    """A binary file that keeps the sha256 and size of everything written to it."""

    def __init__(self, path: Path):
        self.path = path
        self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        """Write and hash `data`; return its length."""
        self._sha.update(data)
        self._f.write(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        """Bytes written so far (pyarrow asks)."""
        return self.size

    def flush(self) -> None:
        """Flush the underlying file."""
        self._f.flush()

    def close(self) -> None:
        """Close the underlying file."""
        if not self.closed:
            self._f.close()
            self.closed = True

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes written."""
        return self._sha.hexdigest()


class ParquetSink:
    """Streams record batches into one Parquet file, one row group per batch, hashing as it goes.

    Args:
        path: the file to write.
    """

    def __init__(self, path: Path):
        self.file = HashingFile(path)
        self._writer = pq.ParquetWriter(
            self.file,  # type: ignore[arg-type]
            PARQUET_SCHEMA,
            compression="zstd",
            compression_level=1,
            # Prompts rarely repeat whole; dictionary pages for them only cost time. Each tool's schema JSON
            # (~2 KB) repeats in every row that offers it: as a dictionary entry zstd compresses ~45% fewer
            # bytes (12.1 -> 7.3 us a sample, files ~20% smaller); template ids repeat too.
            use_dictionary=["behavior", "extra_info.tool_split", "extra_info.domain", "reward_model.style",
                            "tools.list.element", "extra_info.template_id"],
            write_statistics=False,
        )

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one row group."""
        self._writer.write_batch(batch)

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()
        self.file.close()


class ChunkWriter:
    """Appends chunks to the JSON Lines and Parquet files on a background thread.

    File writes, sha256 and zstd release the GIL, so writing overlaps with building the next chunk.
    A single thread consumes a FIFO queue, so the bytes are written in chunk order.

    Args:
        jsonl: the JSON Lines file.
        parquet: the Parquet sink.
        depth: chunks queued at most (bounds memory).
    """

    def __init__(self, jsonl: HashingFile, parquet: ParquetSink, depth: int = 1):
        self._queue: queue.Queue[tuple[bytes, pa.RecordBatch] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._jsonl, self._parquet = jsonl, parquet
        self._thread = threading.Thread(target=self._run, name="toolforge-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:  # after a failure keep draining so put() never blocks forever
                try:
                    self._jsonl.write(item[0])
                    self._parquet.write(item[1])
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = exc

    def put(self, jsonl: bytes, batch: pa.RecordBatch) -> None:
        """Queue one chunk (blocks while `depth` chunks wait); re-raises an earlier write error."""
        if self._error is not None:
            raise self._error
        self._queue.put((jsonl, batch))

    def close(self, raise_error: bool = True) -> None:
        """Wait until every queued chunk is written.

        Args:
            raise_error: re-raise a write error (False when already unwinding from another error).
        """
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if raise_error and self._error is not None:
            raise self._error


@dataclass
class Stats:
    """Counts over a dataset, merged chunk by chunk (flat counters on the hot path, nested on output)."""

    behaviours: Counter[str] = field(default_factory=Counter)
    targets: Counter[tuple[str, str]] = field(default_factory=Counter)  # (tool, behaviour)
    offered: Counter[str] = field(default_factory=Counter)
    domains: Counter[tuple[str, str]] = field(default_factory=Counter)  # (domain, behaviour)
    rejections: Counter[str] = field(default_factory=Counter)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, category/capability)
    direct: Counter[str] = field(default_factory=Counter)  # task kind of requests that need no tool
    execution_kinds: Counter[str] = field(default_factory=Counter)  # single, parallel, multi_turn
    templates: Counter[str] = field(default_factory=Counter)  # template id without its index
    n_tools: Counter[int] = field(default_factory=Counter)

    def add(self, samples: list[Sample]) -> None:
        """Count written samples (Counter over iterators: the counting loop runs in C)."""
        self.behaviours.update(map(attrgetter("behaviour"), samples))
        self.domains.update(map(attrgetter("domain", "behaviour"), samples))
        self.offered.update(chain.from_iterable(map(attrgetter("offered"), samples)))
        self.targets.update((s.tool, s.behaviour) for s in samples if s.tool is not None)
        self.refusals.update(
            (s.ground_truth["refusal"]["reason"], s.detail) for s in samples if s.behaviour == "refusal"
        )
        self.direct.update(s.detail for s in samples if s.behaviour == "direct")
        self.execution_kinds.update(s.detail or "single" for s in samples if s.behaviour == "execution")
        self.templates.update(t[: t.rfind(".")] for t in map(attrgetter("template_id"), samples))
        self.n_tools.update(len(s.offered) for s in samples)

    def merge(self, other: Stats) -> None:
        """Add another chunk's counts."""
        for name in ("behaviours", "targets", "offered", "domains", "rejections", "refusals", "direct",
                     "execution_kinds", "templates", "n_tools"):
            getattr(self, name).update(getattr(other, name))

    def as_dict(self, n: int, distinct_prompts: int) -> dict[str, Any]:
        """The JSON-ready stats (keys sorted, so the file is byte-stable).

        Args:
            n: number of samples.
            distinct_prompts: number of distinct user messages.

        Returns:
            The stats document.
        """

        def nest(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (outer, inner), c in sorted(counts.items()):
                out.setdefault(outer, {})[inner] = c
            return out

        per_tool = nest(self.targets)
        for name, c in self.offered.items():
            per_tool.setdefault(name, {})["offered"] = c
        return {
            "n": n,
            "behaviours": dict(sorted(self.behaviours.items())),
            "per_tool": {k: dict(sorted(v.items())) for k, v in sorted(per_tool.items())},
            "per_domain": nest(self.domains),
            "rejections": dict(sorted(self.rejections.items())),
            "rejected_total": sum(self.rejections.values()),
            "refusals": nest(self.refusals),
            "direct": dict(sorted(self.direct.items())),
            "execution_kinds": dict(sorted(self.execution_kinds.items())),
            "template_families": dict(sorted(self.templates.items())),
            "tools_per_prompt": {str(k): v for k, v in sorted(self.n_tools.items())},
            "distinct_prompts": distinct_prompts,
            "distinct_prompt_ratio": round(distinct_prompts / n, 6) if n else 0.0,
        }


def count_distinct(hashes: list[pa.Array]) -> int:
    """Number of distinct values among 64-bit prompt hashes, exactly.

    Sorting and counting changes needs ~24 bytes a sample at the end (a hash table, ~75); the hashes
    themselves are 8 bytes a sample, the only per-sample state kept while generating.

    Args:
        hashes: uint64 arrays, one per chunk.

    Returns:
        The count (0 for no hashes).
    """
    if not hashes:
        return 0
    values = pa.concat_arrays(hashes)
    ordered = pc.take(values, pc.sort_indices(values))
    del values
    if len(ordered) < 2:
        return len(ordered)
    return 1 + int(pc.sum(pc.not_equal(ordered[1:], ordered[:-1])).as_py())


def write_json(path: Path, doc: Any) -> tuple[str, int]:
    """Write `doc` as indented, key-sorted JSON.

    Args:
        path: the file.
        doc: a JSON-ready document.

    Returns:
        ``(sha256 hex, size in bytes)`` of the file.
    """
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _provenance(stats: dict[str, Any]) -> str:
    para = stats.get("paraphrase")
    if not para:
        return "Generated from templates (no paraphrasing) and verified sample by sample."
    how = ("written by the model from the sampled call (mode `write`; refusals paraphrased)"
           if para.get("mode") == "write" else "replaced by a paraphrase")
    return (
        f"Generated from templates and verified sample by sample; {para['paraphrased']} of {para['eligible']} "
        f"requests sent to `{para['model']}` ({para['backend']}) were {how} that passed "
        f"verification ({para['acceptance_rate']:.1%}); the others kept their template text."
    )


def _realism_section(fig: dict[str, Any] | None) -> str:
    if not fig:
        return ""
    from generators.realism import report

    text = ("## How the requests read\n\nMeasured on the first requests of the dataset (values masked for "
            "diversity); requests that leak are rejected and rebuilt, see below.\n\n"
            + _table(("figure", "value"), report(fig)) + "\n\n")
    missing = fig.get("tools_without_frames") or []
    if missing:
        text += f"**Warning**: {len(missing)} tool(s) without hand-written frames: " + ", ".join(
            f"`{n}`" for n in missing) + f". {fig.get('warning', '')}\n\n"
    return text


def dataset_card(manifest: dict[str, Any], stats: dict[str, Any], examples: dict[str, str]) -> str:
    """The dataset card (Markdown): what is in the dataset, how it was made and how to load it.

    Args:
        manifest: the manifest (without its own file entry).
        stats: the stats document.
        examples: one user message per behaviour.

    Returns:
        The card text.
    """
    spec = manifest["spec"]
    n = stats["n"]
    behaviour_rows = [
        (b, c, f"{c / n:.2%}", spec["ratios"][b]) for b, c in manifest["counts"].items()
    ]
    domain_rows = [
        (d, sum(c.values()), c.get("execution", 0), c.get("clarification", 0), c.get("refusal", 0),
         c.get("direct", 0))
        for d, c in stats["per_domain"].items()
    ]
    rejection_rows = list(stats["rejections"].items()) or [("(none)", 0)]
    realism_section = _realism_section(stats.get("realism"))
    example_lines = "\n".join(f"- **{b}**: {text!r}" for b, text in sorted(examples.items()))
    # The YAML header first: it makes the folder itself loadable with `load_dataset(folder)`.
    return card_yaml_header(pretty_name=spec["name"]) + f"""# {spec["name"]}

A ToolForge tool-calling dataset: {n} user requests over {manifest["n_tools"]} `{spec["split"]}` tools, each
labelled with the correct behaviour (execute the exact call, ask for a missing parameter, decline, or answer
directly when no tool is needed).
{_provenance(stats)}

- seed: `{manifest["seed"]}`, generator `{manifest["generator_version"]}`, chunk size {manifest["chunk_size"]}
- tool registry digest: `{manifest["registry_digest"]}`
- distinct user messages: {stats["distinct_prompts"]} ({stats["distinct_prompt_ratio"]:.2%})
- distractors per prompt: {spec["distractors"]["min"]}-{spec["distractors"]["max"]}

## Behaviours

{_table(("behaviour", "samples", "share", "requested"), behaviour_rows)}

## Domains

{_table(("domain", "samples", "execution", "clarification", "refusal", "direct"), domain_rows)}

{realism_section}## Rejected and regenerated during verification

{_table(("reason", "count"), rejection_rows)}

## Examples

{example_lines}

## Format

`samples.jsonl` (one JSON object a line) and `samples.parquet` (same columns):

- `prompt`: `[{{"role": "system", ...}}, {{"role": "user", ...}}]`; the system message carries the offered tools
  rendered exactly as Qwen 2.5's chat template renders `tools=`.
- `tools`: the offered tools (OpenAI format), in the order shown.
- `behavior`: `execution` | `clarification` | `refusal` | `direct`.
- `reward_model`: `{{"style": "rule", "ground_truth": ...}}` with `{{"tool_call": {{"name", "parameters"}}}}`,
  `{{"clarification": {{"tool", "missing"}}}}`, `{{"refusal": {{"reason": "harmful" | "out_of_scope"}}}}` (self-harm
  adds `"category": "self_harm"`: a supportive reply pointing to help is the answer) or `{{"direct": {{}}}}`.
- `extra_info`: `sample_id`, `tool_split`, `template_id`, `paraphrased`, `domain`, `n_tools`.

In Parquet, `tools` items and `reward_model.ground_truth` use the Arrow JSON extension type, since their
shape differs per row; `datasets` decodes them to plain objects.

```python
from datasets import load_dataset
ds = load_dataset("json", data_files="samples.jsonl", split="train")      # or "parquet", "samples.parquet"
ds = load_dataset("path/to/this/folder", split="train")                 # the folder itself (this card's header)
```

Checksums of every file are in `manifest.json`.
"""

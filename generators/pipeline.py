"""Generate a dataset version: plan exact counts, build and verify samples chunk by chunk, write files.

Determinism: samples are made in fixed-size chunks. Chunk ``i`` has its own ``random.Random`` seeded
from ``(seed, i)`` and its own exact behaviour counts, so its bytes depend only on the registry, the
spec, the seed and ``i``. Workers are processes over chunks; results are written in chunk order, so the
output is byte-identical for any number of workers. At most ``workers + 1`` chunks are being built, one
is queued and one is being written, so memory stays flat in ``n`` (besides 8 bytes a sample of prompt
hashes for the exact distinct-prompt count and 4 of prompt length for its percentiles).

Paraphrasing (``spec.paraphrase.backend`` other than ``none``, see `generators.paraphrase`) rewrites each
chunk's verified samples after they are built. It runs in this process, chunk after chunk: the LLM is
the bottleneck by orders of magnitude, one engine (or one connection pool) must serve every chunk, and
the order of accepted paraphrases must be fixed for near-duplicate detection to be deterministic.
"""

from __future__ import annotations

import hashlib
import inspect
import multiprocessing
import os
import random
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from generators import GENERATOR_VERSION, diversity, export, realism
from generators.behaviours import Generator, Sample
from generators.mixing import behaviour_counts, behaviour_sequence, chunk_counts, split_execution
from generators.paraphrase import Paraphraser, make_paraphraser
from generators.prompt_lengths import prompt_length_stats
from generators.registry import Registry, Tool
from generators.render import ToolRenderer
from generators.spec import DatasetSpec, select_tools
from generators.values import ValuePools
from generators.verify import verify

CHUNK_SIZE = 1000  # part of the output: changing it changes the bytes (bump GENERATOR_VERSION)
MAX_ATTEMPTS = 200  # rejected samples in a row before a chunk gives up
FILES = ("samples.jsonl", "samples.parquet", "stats.json", "README.md")

# progress(done, n); with paraphrasing, a callback that takes **info also gets throughput and acceptance.
Progress = Callable[..., None]


class GenerationError(RuntimeError):
    """A sample could not be made to verify; the message names the behaviour and the last reasons."""


@dataclass
class ChunkResult:
    """One chunk's output: JSON Lines bytes, the Parquet row group, counts and prompt hashes."""

    index: int
    jsonl: bytes
    batch: pa.RecordBatch
    stats: export.Stats
    hashes: bytes  # 8-byte blake2b of each user message, for the distinct-prompt count
    examples: dict[str, str] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)  # user messages, for diversity figures (first chunks only)
    targets: list[str | None] = field(default_factory=list)  # each text's target tool (None for refusals)
    template_texts: list[str] | None = None  # their template texts, when paraphrasing
    prompt_chars: bytes = b""  # each sample's prompt length in characters (``array("i")`` bytes)


class ChunkBuilder:
    """Everything a process needs to build chunks of one dataset (built once per process).

    Args:
        tools: the selected tools.
        spec: the dataset spec.
        paraphraser: rewrites each chunk's verified samples (in-process builds only), or None.
    """

    def __init__(self, tools: Sequence[Tool], spec: DatasetSpec, paraphraser: Paraphraser | None = None):
        self.spec = spec
        self.paraphraser = paraphraser
        pools = ValuePools.build(spec.seed, split=spec.split)
        self.gen = Generator(
            tools, pools, (spec.distractors.min, spec.distractors.max), spec.optional_params, spec.split
        )
        self.renderer = ToolRenderer(spec.system_prompt, {t.name: t.openai() for t in tools})

    def build(self, index: int, counts: dict[str, int]) -> ChunkResult:
        """Build, verify and serialise chunk `index`.

        Args:
            index: the chunk number (samples ``index*CHUNK_SIZE`` onwards).
            counts: exact behaviour counts for this chunk.

        Returns:
            The chunk's result.

        Raises:
            GenerationError: `MAX_ATTEMPTS` samples in a row failed verification.
        """
        spec, gen, renderer = self.spec, self.gen, self.renderer
        rng = random.Random(f"toolforge/{spec.seed}/{index}")
        stats = export.Stats()
        samples: list[Sample] = []
        for behaviour in behaviour_sequence(counts, rng):
            for _ in range(MAX_ATTEMPTS):
                sample = gen.sample(behaviour, rng)
                reason = verify(gen, sample)
                if reason is None:
                    break
                stats.rejections[reason] += 1
            else:
                raise GenerationError(
                    f"chunk {index}: no {behaviour} sample verified in {MAX_ATTEMPTS} attempts; "
                    f"rejections so far: {dict(stats.rejections)}"
                )
            samples.append(sample)
        base = index * CHUNK_SIZE
        want_texts = base < diversity.SAMPLE_SIZE
        template_texts = None
        flags: list[bool] | None = None
        if self.paraphraser is not None:
            template_texts = [s.text for s in samples] if want_texts else None
            flags = self.paraphraser.run(gen, samples, index)
        # The split is part of the id: a train and a held-out set of the same name and seed share no id.
        prefix = f"{spec.name}-{spec.split}-{spec.seed}-"
        ids = [f"{prefix}{base + i:08d}" for i in range(len(samples))]
        dumps, opt, record, split = orjson.dumps, orjson.OPT_APPEND_NEWLINE, export.record, spec.split
        todays = [export.today_of(s) for s in samples]
        # Each ground truth serialised once, for both files (the record embeds the bytes as a fragment).
        gts = [dumps(s.ground_truth) for s in samples]
        frag = orjson.Fragment
        jsonl = b"".join([dumps(record(s, i, split, renderer, paraphrased=f, today=t, ground_truth=frag(g)), option=opt)
                          for s, i, f, t, g in zip(samples, ids, flags or [False] * len(samples), todays, gts,
                                                   strict=True)])
        stats.add(samples)
        hashes = b"".join([blake2b(s.text.encode(), digest_size=8).digest() for s in samples])
        examples: dict[str, str] = {}
        for s in samples:
            examples.setdefault(s.behaviour, s.text)
        batch = export.Columns(samples, ids, renderer, paraphrased=flags, todays=todays, ground_truths=gts).batch(split)
        texts = [s.text for s in samples] if want_texts else []
        targets = [s.tool for s in samples] if want_texts else []
        return ChunkResult(index, jsonl, batch, stats, hashes, examples, texts, targets, template_texts,
                           export.sample_prompt_characters(samples, renderer, todays).tobytes())


_JOB: tuple[Sequence[Tool], str] | None = None
_BUILDER: ChunkBuilder | None = None


def _init_worker(tools: Sequence[Tool], spec_json: str) -> None:
    # Only store the job: an exception here would surface as an anonymous BrokenProcessPool, while one
    # raised by the first task (building the generator) reaches the caller with its own message.
    global _JOB
    _JOB = (tools, spec_json)


def _build_chunk(index: int, counts: dict[str, int]) -> ChunkResult:
    global _BUILDER
    if _BUILDER is None:
        assert _JOB is not None, "worker not initialised"
        _BUILDER = ChunkBuilder(_JOB[0], DatasetSpec.model_validate_json(_JOB[1]))
    return _BUILDER.build(index, counts)


def _results(
    tools: Sequence[Tool], spec: DatasetSpec, plan: list[dict[str, int]], workers: int,
    paraphraser: Paraphraser | None = None,
) -> Any:
    """Yield chunk results in chunk order, in-process or from a bounded window of worker processes."""
    if workers <= 1 or len(plan) <= 1 or paraphraser is not None:
        builder = ChunkBuilder(tools, spec, paraphraser)
        for i, counts in enumerate(plan):
            yield builder.build(i, counts)
        return
    # spawn, not fork: the REST service calls this from a thread, and forking a threaded process is unsafe.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(tuple(tools), spec.model_dump_json())
    ) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        submitted = 0
        try:
            while pending or submitted < len(plan):
                while submitted < len(plan) and len(pending) < workers + 1:
                    pending.append(pool.submit(_build_chunk, submitted, plan[submitted]))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


def plan_chunks(spec: DatasetSpec) -> list[dict[str, int]]:
    """Exact behaviour counts per chunk for a spec.

    Args:
        spec: the dataset spec.

    Returns:
        One ``{behaviour: count}`` per chunk of `CHUNK_SIZE` samples.
    """
    totals = behaviour_counts(spec.n, spec.ratios.as_dict())
    return chunk_counts(split_execution(totals, spec.execution_kinds()), CHUNK_SIZE)


def generate_dataset(
    registry: Registry,
    spec: DatasetSpec,
    out_dir: Path,
    progress: Progress | None = None,
    workers: int = 1,
    paraphrase_cache: Path | None = None,
) -> dict[str, Any]:
    """Generate a dataset version into `out_dir` and return its manifest.

    Writes ``samples.jsonl``, ``samples.parquet``, ``stats.json``, ``README.md`` (dataset card) and
    ``manifest.json``. Files are first written under temporary names and renamed once complete, so a
    failed run leaves no half-written dataset behind.

    Args:
        registry: the tool registry (its digest goes into the manifest).
        spec: what to generate.
        out_dir: the output folder (created if needed; existing dataset files are replaced).
        progress: called as ``progress(samples_done, n)`` after each chunk (and once with 0 at the start).
            When paraphrasing, a callback that accepts ``**info`` also gets the paraphraser's figures
            (``requests_per_s``, ``tokens_per_s``, ``acceptance_rate``, ``cache_hits``...).
        workers: processes building chunks; the output does not depend on it. More than one uses
            spawned processes, so a calling script needs the ``if __name__ == "__main__":`` guard
            (the CLI and the REST service have it). Paraphrasing always builds in this process.
        paraphrase_cache: SQLite file caching LLM replies across runs (None: no cache).

    Returns:
        The manifest: spec, seed, registry digest, generator version, counts, and sha256 and size
        of every file.

    Raises:
        SpecError: the spec selects no tool, or asks for clarifications no selected tool allows.
        GenerationError: a sample could not be made to verify.
    """
    tools = select_tools(registry, spec)
    totals = behaviour_counts(spec.n, spec.ratios.as_dict())
    plan = chunk_counts(split_execution(totals, spec.execution_kinds()), CHUNK_SIZE)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = {name: out_dir / f".{name}.partial" for name in (*FILES, "manifest.json")}
    stats = export.Stats()
    hash_arrays: list[pa.Array] = []
    examples: dict[str, str] = {}
    texts: list[str] = []
    targets: list[str | None] = []
    template_texts: list[str] = []
    prompt_chars = array("i")
    done = 0
    paraphraser = make_paraphraser(spec.paraphrase, spec.seed, paraphrase_cache)
    with_info = paraphraser is not None and progress is not None and _takes_info(progress)
    if progress is not None:
        progress(0, spec.n)
    jsonl = export.HashingFile(tmp["samples.jsonl"])
    parquet = export.ParquetSink(tmp["samples.parquet"])
    writer = export.ChunkWriter(jsonl, parquet)
    try:
        for result in _results(tools, spec, plan, max(1, min(workers, len(plan))), paraphraser):
            writer.put(result.jsonl, result.batch)
            stats.merge(result.stats)
            targets.extend(result.targets[: diversity.SAMPLE_SIZE - len(targets)])
            texts.extend(result.texts[: diversity.SAMPLE_SIZE - len(texts)])
            if result.template_texts is not None:
                template_texts.extend(result.template_texts[: diversity.SAMPLE_SIZE - len(template_texts)])
            prompt_chars.frombytes(result.prompt_chars)
            hash_arrays.append(
                pa.Array.from_buffers(pa.uint64(), len(result.hashes) // 8, [None, pa.py_buffer(result.hashes)])
            )
            for behaviour, text in result.examples.items():
                examples.setdefault(behaviour, text)
            done += result.batch.num_rows
            if with_info:
                assert paraphraser is not None and progress is not None
                progress(done, spec.n, **paraphraser.run_info())
            elif progress is not None:
                progress(done, spec.n)
        writer.close()
        jsonl.close()
        parquet.close()
        distinct = export.count_distinct(hash_arrays)
        hash_arrays.clear()
        stats_doc = stats.as_dict(spec.n, distinct)
        stats_doc["diversity"] = diversity.summary(
            texts, template_texts if paraphraser is not None else None, spec.paraphrase.embedding_diversity
        )
        stats_doc["realism"] = realism_figures(tools, texts, targets)
        # Every written prompt, in characters (`toolforge export --tokenizer` measures tokens).
        stats_doc["prompt_length"] = prompt_length_stats(prompt_chars, "characters", "characters")
        if paraphraser is not None:
            stats_doc["paraphrase"] = paraphraser.stats.as_dict(spec.paraphrase)
        files = {
            "samples.jsonl": {"sha256": jsonl.sha256, "bytes": jsonl.size},
            "samples.parquet": {"sha256": parquet.file.sha256, "bytes": parquet.file.size},
        }
        sha, size = export.write_json(tmp["stats.json"], stats_doc)
        files["stats.json"] = {"sha256": sha, "bytes": size}
        manifest: dict[str, Any] = {
            "name": spec.name,
            "generator_version": GENERATOR_VERSION,
            "chunk_size": CHUNK_SIZE,
            "seed": spec.seed,
            "registry_digest": registry.digest,
            "spec": spec.model_dump(mode="json"),
            "n": spec.n,
            "counts": totals,
            "n_tools": len(tools),
            "tools": [t.name for t in tools],
            "rejections": stats_doc["rejections"],
            "files": files,
        }
        if paraphraser is not None:
            # Throughput of this run: the one part of the manifest that is not reproducible.
            manifest["paraphrase_run"] = paraphraser.run_info()
        card = export.dataset_card(manifest, stats_doc, examples).encode()
        tmp["README.md"].write_bytes(card)
        files["README.md"] = {"sha256": hashlib.sha256(card).hexdigest(), "bytes": len(card)}
        export.write_json(tmp["manifest.json"], manifest)
        for name, path in tmp.items():
            os.replace(path, out_dir / name)
        return manifest
    finally:
        if paraphraser is not None:
            paraphraser.close()
        writer.close(raise_error=False)
        jsonl.close()
        if not parquet.file.closed:
            parquet.file.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)


def realism_figures(tools: Sequence[Tool], texts: Sequence[str], targets: Sequence[str | None]) -> dict[str, Any]:
    """The ``realism`` section of ``stats.json``: leak rates and diversity of the first requests.

    Args:
        tools: the dataset's tools.
        texts: the first requests (up to `diversity.SAMPLE_SIZE`).
        targets: each request's target tool, None for refusals.

    Returns:
        `realism.figures` of the requests, plus the tools phrased without hand-written frames.
    """
    by_name = {t.name: t for t in tools}
    items = [realism.Item(text, tool, tuple(by_name[tool].properties), by_name[tool].description)
             if tool is not None else realism.Item(text) for text, tool in zip(texts, targets, strict=True)]
    out = realism.figures(items)
    out["tools_without_frames"] = [t.name for t in tools if not t.frames]
    if out["tools_without_frames"]:
        out["warning"] = realism.NO_FRAMES_WARNING
    return out


def _takes_info(callback: Callable[..., None]) -> bool:
    # Old callbacks take (done, total) only; pass the paraphraser's figures to those that take **info.
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

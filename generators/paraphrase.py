"""Paraphrasing verified template requests with an LLM, keeping every value and the behaviour.

The pipeline hands each chunk of verified samples to a `Paraphraser`, which

1. picks the samples to rewrite (the spec's `share` and `behaviours`, drawn from a per-chunk rng);
2. asks the backend for `n` variants of each distinct template text in one batch (the offline vLLM
   engine takes the whole batch; the OpenAI client keeps `concurrency` requests in flight), with a
   JSON schema for ``{"variants": [...]}`` where the backend supports structured output;
3. checks each variant with `paraphrase_verify.check_paraphrase` and against the near-duplicate index
   of accepted paraphrases (`dedup`), and picks one passing variant at random;
4. keeps the template text when no variant passes or the request failed, counting every reason.

Replies are cached in SQLite, keyed by (template text, model, prompt, sampling settings, n, seed):
regenerating a dataset pays nothing twice, and with a warm cache the output is byte-identical (each
request's sampling seed is derived from the paraphrase seed and its text, so a cold run against a
deterministic server gives the same replies too). Failed requests are not cached.

``backend: none`` builds no paraphraser at all: template-only datasets are unchanged, byte for byte.

``mode: write`` (APIGen's approach) sends, instead of the template text, a brief of the sampled call
(`write_brief`: the date, what the tool does, each given value with what it is, and what the user
leaves out) for execution and clarification samples; the model writes the request itself. Its variants
go through the same verification, and the template text is kept when none passes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from generators.behaviours import Generator, Sample
from generators.paraphrase_backends import BackendCounters, OpenAIBackend, Prompt, Reply, Sampling, VLLMBackend
from generators.paraphrase_verify import Limits, check_paraphrase
from generators.spec import ParaphraseOptions

CACHE_VERSION = 1  # bump when the cached payload or the key's meaning changes
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


class Backend(Protocol):
    """What a paraphrasing backend offers (`OpenAIBackend`, `VLLMBackend`, or a test double)."""

    name: str
    counters: BackendCounters

    def complete(self, prompts: Sequence[Prompt]) -> list[Reply]:
        """One reply per prompt, in order; failures are replies with an error."""
        ...


def variants_schema(n: int) -> dict[str, Any]:
    """JSON Schema of a reply: ``{"variants": [n strings]}``.

    Args:
        n: the number of variants asked for.

    Returns:
        The schema (for guided decoding or ``response_format``).
    """
    return {
        "type": "object",
        "properties": {
            "variants": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                "minItems": 1,
                "maxItems": n,
            }
        },
        "required": ["variants"],
        "additionalProperties": False,
    }


WRITE_BEHAVIOURS = frozenset(("execution", "clarification"))


def instruction(options: ParaphraseOptions, write: bool = False) -> str:
    """The system message: the spec's prompt (`write_prompt` for a brief) with ``{n}`` replaced.

    >>> instruction(ParaphraseOptions(prompt="Write {n} versions.", n=2))
    'Write 2 versions.'
    """
    return (options.write_prompt if write else options.prompt).replace("{n}", str(options.n))


def write_brief(gen: Generator, sample: Sample) -> str:
    """What the model sees in mode ``write``: the sampled call, not a template (compact JSON, stable bytes).

    Args:
        gen: the generator that built the sample (tools and their phrasing).
        sample: an execution or clarification sample.

    Returns:
        ``{"today", "task", "give": [{"what", "value", "means"?}], "forget": [what]}`` as JSON text; `what`
        is the parameter's description (its name would invite a label leak), `means` how a person names an
        enum or boolean value.
    """
    from generators.dates import today_line

    assert sample.tool is not None
    tool = gen.by_name[sample.tool]
    props = tool.properties
    slots = gen.phrasing[sample.tool].slots
    missing = set(sample.missing)

    def what(param: str) -> str:
        desc = props[param].get("description") if isinstance(props[param], dict) else None
        return str(desc) if desc else param.replace("_", " ")

    give = []
    for param, value in sample.args.items():
        if param in missing:
            continue
        item: dict[str, Any] = {"what": what(param), "value": value}
        slot = slots[param]
        if slot.values is not None:
            from generators.phrasing import value_key

            keys = [value_key(v) for v in value] if type(value) is list else [value_key(value)]
            item["means"] = " and ".join(slot.values[k][0] for k in keys if k in slot.values)
        give.append(item)
    brief = {
        "today": today_line(sample.now) if sample.now is not None else None,
        "task": tool.description,
        "give": give,
        "forget": [what(p) for p in sample.missing],
    }
    return orjson.dumps(brief).decode()


def request_seed(seed: int, text: str) -> int:
    """The sampling seed of one request: fixed by the paraphrase seed and the text, in [0, 2**31).

    >>> request_seed(0, "Book a table.") == request_seed(0, "Book a table.") != request_seed(1, "Book a table.")
    True
    """
    digest = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def build_prompt(options: ParaphraseOptions, text: str, seed: int, write: bool = False) -> Prompt:
    """The backend request for one template text (or, with `write`, one call brief).

    Args:
        options: the spec's paraphrase options.
        text: the template text, or the brief.
        seed: the paraphrase seed.
        write: `text` is a `write_brief`: the system message is the write prompt.

    Returns:
        The prompt: system instruction, the text as the user message, its seed and (when structured
        output is on) the variants schema.
    """
    messages = ({"role": "system", "content": instruction(options, write)}, {"role": "user", "content": text})
    schema = variants_schema(options.n) if options.structured_output else None
    return Prompt(messages, request_seed(seed, text), schema)


def parse_variants(text: str, n: int) -> list[str] | None:
    """The variants in a reply: the JSON object, a bare JSON list, a truncated JSON reply, or lines.

    Args:
        text: the model's reply.
        n: at most this many variants are kept.

    Returns:
        The variants (stripped, non-empty, at most `n`), or None when nothing could be read.

    >>> parse_variants('{"variants": ["Book it.", "Please book it."]}', 3)
    ['Book it.', 'Please book it.']
    >>> parse_variants('{"variants": ["Book it.", "Please bo', 3)
    ['Book it.']
    >>> parse_variants("1. Book it.\\n2) Please book it.", 3)
    ['Book it.', 'Please book it.']
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    items: Any = None
    try:
        doc = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        doc = None
        if stripped.startswith("{") or stripped.startswith("["):
            # Cut off by max_tokens: keep the complete strings after the "variants" key.
            body = stripped.split('"variants"', 1)[-1]
            items = _complete_strings(body) if "[" in body else []
    if isinstance(doc, dict):
        items = doc.get("variants")
    elif isinstance(doc, list):
        items = doc
    elif doc is None and items is None:
        items = [re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip().strip('"') for line in stripped.splitlines()]
    if not isinstance(items, list):
        return None
    out = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    return out[:n] or None


def _complete_strings(body: str) -> list[str]:
    out = []
    for m in _STRING.findall(body):
        try:
            out.append(orjson.loads(f'"{m}"'))
        except orjson.JSONDecodeError:
            continue  # a broken escape sequence: skip that string only
    return out


def cache_key(options: ParaphraseOptions, text: str, seed: int, write: bool = False) -> str:
    """The cache key of a request: everything that decides the reply.

    Args:
        options: the paraphrase options (model, prompt, sampling settings, n, structured output).
        text: the template text (or the brief).
        seed: the paraphrase seed.
        write: `text` is a brief (the write prompt is the instruction).

    Returns:
        A hex sha256.
    """
    parts = [CACHE_VERSION, text, options.model, instruction(options, write), options.temperature, options.top_p,
             options.max_tokens, options.n, options.structured_output, seed]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


class ParaphraseCache:
    """Replies stored in one SQLite file (several processes may share it).

    Args:
        path: the database file (created with its folder).
    """

    def __init__(self, path: Path | str):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply BLOB NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, Reply]:
        """The cached replies among `keys`.

        Args:
            keys: cache keys.

        Returns:
            ``{key: reply}`` for the keys found.
        """
        found: dict[str, Reply] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):  # SQLite caps host parameters per statement
            part = unique[i : i + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT key, reply FROM replies WHERE key IN ({marks})", part):
                doc = orjson.loads(blob)
                found[key] = Reply(text=doc["text"], prompt_tokens=doc["prompt_tokens"],
                                   completion_tokens=doc["completion_tokens"], finish_reason=doc["finish_reason"])
        return found

    def put_many(self, items: dict[str, Reply]) -> None:
        """Store successful replies (one transaction).

        Args:
            items: ``{key: reply}``; replies with an error are skipped.
        """
        rows = [
            (k, orjson.dumps({"text": r.text, "prompt_tokens": r.prompt_tokens,
                              "completion_tokens": r.completion_tokens, "finish_reason": r.finish_reason}))
            for k, r in items.items() if r.error is None
        ]
        if rows:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


@dataclass
class ParaphraseStats:
    """Deterministic paraphrasing counts (given the cache), merged chunk by chunk into ``stats.json``."""

    eligible: Counter[str] = field(default_factory=Counter)  # behaviour -> samples sent for paraphrasing
    paraphrased: Counter[str] = field(default_factory=Counter)  # behaviour -> samples whose text was replaced
    variants: int = 0
    rejections: Counter[str] = field(default_factory=Counter)  # per variant
    request_errors: Counter[str] = field(default_factory=Counter)  # per sample: no variant to check

    def merge(self, other: ParaphraseStats) -> None:
        """Add another chunk's counts."""
        self.eligible.update(other.eligible)
        self.paraphrased.update(other.paraphrased)
        self.variants += other.variants
        self.rejections.update(other.rejections)
        self.request_errors.update(other.request_errors)

    def as_dict(self, options: ParaphraseOptions) -> dict[str, Any]:
        """The ``paraphrase`` section of ``stats.json``.

        Args:
            options: the spec's paraphrase options.

        Returns:
            Counts: eligible, paraphrased, kept_template, acceptance_rate, variants, rejections per
            reason (per variant), request_errors (per sample), and eligible/paraphrased per behaviour.
        """
        eligible, paraphrased = sum(self.eligible.values()), sum(self.paraphrased.values())
        return {
            "backend": options.backend,
            "mode": options.mode,
            "model": options.model,
            "eligible": eligible,
            "paraphrased": paraphrased,
            "kept_template": eligible - paraphrased,
            "acceptance_rate": round(paraphrased / eligible, 6) if eligible else 0.0,
            "variants": self.variants,
            "rejections": dict(sorted(self.rejections.items())),
            "request_errors": dict(sorted(self.request_errors.items())),
            "per_behaviour": {
                b: {"eligible": self.eligible[b], "paraphrased": self.paraphrased[b]} for b in sorted(self.eligible)
            },
        }


class Paraphraser:
    """Rewrites chunks of verified samples with one backend; keeps throughput and acceptance figures.

    Args:
        options: the spec's paraphrase options.
        backend: the LLM backend.
        seed: the paraphrase seed (the spec's `paraphrase.seed`, else the dataset seed).
        cache: a reply cache, or None.
    """

    def __init__(
        self, options: ParaphraseOptions, backend: Backend, seed: int, cache: ParaphraseCache | None = None
    ):
        self.options = options
        self.backend = backend
        self.seed = seed
        self.cache = cache
        self.limits = Limits(options.min_length_ratio, options.max_length_ratio)
        # Imported here: datasketch pulls in scipy (~0.4 s), which template-only generation never needs.
        from generators.dedup import NearDuplicateIndex

        self.dedup = NearDuplicateIndex(options.dedup_threshold) if options.dedup_threshold is not None else None
        self.stats = ParaphraseStats()
        self.cache_hits = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._started = time.perf_counter()

    def _replies(self, texts: list[tuple[str, bool]]) -> dict[tuple[str, bool], Reply]:
        # texts: (template text or brief, is a brief)
        keys = {t: cache_key(self.options, t[0], self.seed, t[1]) for t in texts}
        cached = self.cache.get_many(list(keys.values())) if self.cache is not None else {}
        replies = {t: cached[k] for t, k in keys.items() if k in cached}
        self.cache_hits += len(replies)
        todo = [t for t in texts if t not in replies]
        fresh = self.backend.complete([build_prompt(self.options, t[0], self.seed, t[1]) for t in todo]) if todo \
            else []
        for text, reply in zip(todo, fresh, strict=True):
            replies[text] = reply
            self.prompt_tokens += reply.prompt_tokens
            self.completion_tokens += reply.completion_tokens
        if self.cache is not None and fresh:
            self.cache.put_many({keys[t]: r for t, r in zip(todo, fresh, strict=True)})
        return replies

    def run(self, gen: Generator, samples: list[Sample], index: int) -> list[bool]:
        """Paraphrase one chunk in place: accepted rewrites replace ``sample.text``.

        Args:
            gen: the generator that built the samples (verification needs its tools and samplers).
            samples: the chunk's verified samples (replaced in the list, never mutated).
            index: the chunk number (seeds the choice of samples and variants).

        Returns:
            One flag per sample: True when its text is now a paraphrase.
        """
        opts, stats = self.options, ParaphraseStats()
        rng = random.Random(f"toolforge/paraphrase/{self.seed}/{index}")
        wanted = set(opts.behaviours)
        # Dialogues and parallel requests keep their template text: their values are spread over turns/parts.
        eligible = [i for i, s in enumerate(samples)
                    if s.behaviour in wanted and not s.parts and rng.random() < opts.share]
        write = opts.mode == "write"
        asks = {i: (write_brief(gen, samples[i]), True) if write and samples[i].behaviour in WRITE_BEHAVIOURS
                else (samples[i].text, False) for i in eligible}
        replies = self._replies(list(dict.fromkeys(asks.values())))
        flags = [False] * len(samples)
        for i in eligible:
            sample = samples[i]
            stats.eligible[sample.behaviour] += 1
            reply = replies[asks[i]]
            variants = parse_variants(reply.text, opts.n) if reply.error is None else None
            if variants is None:
                stats.request_errors[reply.error or "unparseable"] += 1
                continue
            stats.variants += len(variants)
            passing = []
            for variant in variants:
                reason = check_paraphrase(gen, sample, variant, self.limits)
                if reason is None and self.dedup is not None and self.dedup.find(variant) is not None:
                    reason = "near_duplicate"
                if reason is None:
                    passing.append(variant)
                else:
                    stats.rejections[reason] += 1
            if not passing:
                continue
            chosen = passing[int(rng.random() * len(passing))]
            if self.dedup is not None:
                self.dedup.add(chosen)
            samples[i] = dataclasses.replace(sample, text=chosen)
            flags[i] = True
            stats.paraphrased[sample.behaviour] += 1
        self.stats.merge(stats)
        return flags

    def run_info(self) -> dict[str, Any]:
        """Throughput and acceptance so far (for job progress and the manifest; not deterministic).

        Returns:
            ``requests`` (backend attempts), ``cache_hits``, ``retries``, ``errors``, token counts,
            ``requests_per_s`` and ``tokens_per_s`` (over the backend's busy time), ``acceptance_rate``.
        """
        c = self.backend.counters
        busy = c.seconds or 1e-9
        eligible = sum(self.stats.eligible.values())
        return {
            "backend": self.backend.name,
            "requests": c.requests,
            "cache_hits": self.cache_hits,
            "retries": c.retries,
            "errors": dict(sorted(c.errors.items())),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "backend_seconds": round(c.seconds, 3),
            "requests_per_s": round((c.requests - c.retries) / busy, 3) if c.seconds else 0.0,
            "tokens_per_s": round((self.prompt_tokens + self.completion_tokens) / busy, 1) if c.seconds else 0.0,
            "completion_tokens_per_s": round(self.completion_tokens / busy, 1) if c.seconds else 0.0,
            "acceptance_rate": round(sum(self.stats.paraphrased.values()) / eligible, 4) if eligible else 0.0,
            "elapsed_s": round(time.perf_counter() - self._started, 3),
        }

    def close(self) -> None:
        """Close the cache."""
        if self.cache is not None:
            self.cache.close()


def make_backend(options: ParaphraseOptions, seed: int) -> Backend:
    """Build the backend named by the options.

    Args:
        options: paraphrase options with backend ``vllm`` or ``openai``.
        seed: the paraphrase seed (the vLLM engine's seed).

    Returns:
        The backend.

    Raises:
        ValueError: backend ``none`` (there is nothing to build) or a missing setting.
        ImportError: backend ``vllm`` without vLLM installed.
    """
    sampling = Sampling(options.temperature, options.top_p, options.max_tokens)
    if options.backend == "openai":
        if not options.base_url or not options.model:
            raise ValueError("paraphrase.backend 'openai' needs paraphrase.base_url and paraphrase.model")
        key = os.environ.get(options.api_key_env) if options.api_key_env else None
        return OpenAIBackend(options.base_url, options.model, sampling, api_key=key,
                             concurrency=options.concurrency, timeout_s=options.timeout_s,
                             max_retries=options.max_retries)
    if options.backend == "vllm":
        if not options.model:
            raise ValueError("paraphrase.backend 'vllm' needs paraphrase.model")
        return VLLMBackend(options.model, sampling, seed=seed, engine_args=dict(options.engine_args))
    raise ValueError(f"paraphrase.backend {options.backend!r} has no LLM backend")


def make_paraphraser(
    options: ParaphraseOptions, dataset_seed: int, cache_path: Path | str | None = None,
    backend: Backend | None = None,
) -> Paraphraser | None:
    """The paraphraser a spec asks for, or None for ``backend: none``.

    Args:
        options: the spec's paraphrase options.
        dataset_seed: the dataset seed (used when the options set no seed).
        cache_path: SQLite file for the reply cache; None: no cache.
        backend: use this backend instead of building one (tests, or a vLLM engine reused across datasets).

    Returns:
        The paraphraser, or None.
    """
    if options.backend == "none":
        return None
    seed = options.seed if options.seed is not None else dataset_seed % 2**31
    backend = backend if backend is not None else make_backend(options, seed)
    cache = ParaphraseCache(cache_path) if cache_path is not None else None
    return Paraphraser(options, backend, seed, cache)

import importlib.util
import json
import random
import sys
import time
import types
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from generators.behaviours import Generator
from generators.mixing import behaviour_sequence
from generators.paraphrase import (
    ParaphraseCache,
    Paraphraser,
    build_prompt,
    cache_key,
    instruction,
    make_paraphraser,
    parse_variants,
    variants_schema,
    write_brief,
)
from generators.paraphrase_backends import OpenAIBackend, Prompt, Reply, Sampling, VLLMBackend
from generators.pipeline import generate_dataset, plan_chunks
from generators.registry import load_registry
from generators.spec import DatasetSpec, ParaphraseOptions, select_tools
from generators.values import ValuePools
from generators.verify import verify
from tests.generators.framed_tools import framed_registry

REPO = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(REPO / "tool_schemas")


def _load_stub():
    path = Path(__file__).with_name("openai_stub_server.py")
    spec = importlib.util.spec_from_file_location("openai_stub_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("openai_stub_server", module)
    spec.loader.exec_module(module)
    return module


StubServer = _load_stub().StubServer


@pytest.fixture(scope="module")
def stub():
    with StubServer(slow_s=1.0) as server:
        yield server


def _options(stub, model="stub-good", **kw):
    return ParaphraseOptions(backend="openai", base_url=stub.base_url, model=model, **kw)


# --- prompts, parsing, cache keys -----------------------------------------------------------------

def test_default_prompt_asks_for_a_faithful_rewrite():
    text = instruction(ParaphraseOptions(n=4))
    # n is filled in, and the prompt demands every value kept, quoted ones included, and nothing added
    assert "Write 4 different versions" in text and "{n}" not in text
    for demand in ("keep every specific value", "anything in quotes", "Do not add new facts",
                   "do not mention tools, functions or JSON", '{"variants": [...]}'):
        assert demand in text


def test_build_prompt_carries_schema_and_a_per_text_seed():
    opts = ParaphraseOptions(n=2)
    a, b = build_prompt(opts, "Book a table.", 7), build_prompt(opts, "Book a seat.", 7)
    assert a.messages[0]["role"] == "system" and a.messages[1] == {"role": "user", "content": "Book a table."}
    assert a.schema == variants_schema(2) and a.schema["properties"]["variants"]["maxItems"] == 2
    # different texts get different seeds; the same text the same one
    assert a.seed != b.seed and a.seed == build_prompt(opts, "Book a table.", 7).seed
    assert build_prompt(ParaphraseOptions(structured_output=False), "x", 0).schema is None


PARSE = [
    # the structured reply
    ('{"variants": ["A b.", " C d. "]}', 3, ["A b.", "C d."]),
    # more variants than asked: cut to n
    ('{"variants": ["a", "b", "c"]}', 2, ["a", "b"]),
    # a bare JSON list
    ('["a", "b"]', 3, ["a", "b"]),
    # a fenced block
    ('```json\n{"variants": ["a"]}\n```', 3, ["a"]),
    # cut off by max_tokens: the complete strings survive
    ('{"variants": ["one", "two", "thr', 3, ["one", "two"]),
    # numbered and bulleted lines (no structured output)
    ("1. one\n- two\n3) three", 3, ["one", "two", "three"]),
    # JSON without variants
    ('{"text": "a"}', 3, None),
    # truncated before any string
    ('{"varia', 3, None),
    # empty and blank strings only
    ('{"variants": ["", "  "]}', 3, None),
]


@pytest.mark.parametrize(("text", "n", "expected"), PARSE)
def test_parse_variants(text, n, expected):
    assert parse_variants(text, n) == expected


KEY_CHANGES = [
    # each of these decides the reply, so each changes the key
    {"model": "other"},
    {"prompt": "Rewrite {n} times."},
    {"temperature": 0.2},
    {"top_p": 0.5},
    {"n": 5},
    {"max_tokens": 64},
    {"structured_output": False},
]


@pytest.mark.parametrize("change", KEY_CHANGES)
def test_cache_key_covers_model_prompt_and_sampling(change):
    base = ParaphraseOptions(backend="vllm", model="m")
    assert cache_key(base, "t", 0) != cache_key(base.model_copy(update=change), "t", 0)


def test_cache_key_ignores_transport_settings_and_covers_text_and_seed():
    base = ParaphraseOptions(backend="vllm", model="m")
    # concurrency and timeouts do not change what the model writes
    assert cache_key(base, "t", 0) == cache_key(base.model_copy(update={"concurrency": 2, "timeout_s": 1}), "t", 0)
    assert cache_key(base, "t", 0) != cache_key(base, "u", 0) != cache_key(base, "t", 1)


def test_cache_round_trip_skips_errors(tmp_path):
    cache = ParaphraseCache(tmp_path / "sub" / "cache.sqlite")
    cache.put_many({"a": Reply("x", None, 3, 4, "stop"), "b": Reply(error="timeout")})
    assert len(cache) == 1
    assert cache.get_many(["a", "b", "a"]) == {"a": Reply("x", None, 3, 4, "stop")}
    cache.close()
    # a second process (connection) sees the same rows
    assert ParaphraseCache(tmp_path / "sub" / "cache.sqlite").get_many(["a"])["a"].text == "x"


# --- the openai backend against a real HTTP server ----------------------------------------------

def _prompts(texts, schema=True):
    return [Prompt(({"role": "system", "content": "rewrite"}, {"role": "user", "content": t}), i,
                   variants_schema(3) if schema else None) for i, t in enumerate(texts)]


def test_openai_backend_request_body_and_replies(stub):
    backend = OpenAIBackend(stub.base_url, "stub-good", Sampling(0.7, 0.9, 99))
    before = len(stub.requests)
    replies = backend.complete(_prompts(["Book a table.", "Cancel my order."]))
    assert [r.error for r in replies] == [None, None]
    assert parse_variants(replies[0].text, 3)[0].count("Book a table.") == 1
    assert replies[0].prompt_tokens > 0 and replies[0].completion_tokens > 0
    # the two requests run concurrently and may arrive in either order: pick the first prompt's by its text
    body = next(b for b in stub.requests[before:] if b["messages"][-1]["content"] == "Book a table.")
    # sampling settings, a per-request seed and the structured-output schema reach the server
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["n"]) == (0.7, 0.9, 99, 1)
    assert body["seed"] == 0 and body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == variants_schema(3)
    # without a schema: plain text reply in lines
    plain = backend.complete(_prompts(["Book a table."], schema=False))[0]
    assert "response_format" not in stub.requests[-1] and plain.text.startswith("1. ")


def test_openai_backend_retries_a_500(stub):
    backend = OpenAIBackend(stub.base_url, "stub-flaky", backoff_s=0.01)
    replies = backend.complete(_prompts(["Flaky one.", "Flaky two."]))
    # each request failed once with 500, then succeeded
    assert [r.error for r in replies] == [None, None]
    assert backend.counters.retries == 2 and backend.counters.requests == 4


def test_openai_backend_times_out_then_retries(stub):
    # the first attempt sleeps 1 s on the server; a 0.3 s timeout gives up on it and the retry succeeds
    backend = OpenAIBackend(stub.base_url, "stub-slow", timeout_s=0.3, backoff_s=0.01)
    assert backend.complete(_prompts(["Slow one."]))[0].error is None
    assert backend.counters.retries == 1
    # with no retries left the timeout is the answer
    once = OpenAIBackend(stub.base_url, "stub-slow", timeout_s=0.3, max_retries=0)
    assert once.complete(_prompts(["Slow two."]))[0].error == "timeout"
    assert once.counters.errors == {"timeout": 1}


def test_openai_backend_gives_up_after_retries(stub):
    backend = OpenAIBackend(stub.base_url, "stub-down", max_retries=2, backoff_s=0.01)
    assert backend.complete(_prompts(["Down."]))[0].error == "http_503"
    assert backend.counters.requests == 3 and backend.counters.errors == {"http_503": 1}
    # a connection refused is an error too, not an exception
    dead = OpenAIBackend("http://127.0.0.1:9/v1", "m", max_retries=1, backoff_s=0.01)
    assert dead.complete(_prompts(["x"]))[0].error == "connection"


def test_openai_backend_bounds_concurrency(stub):
    # every first attempt of stub-slow sleeps: requests pile up to exactly the concurrency limit
    deadline = time.monotonic() + 5
    while stub.in_flight and time.monotonic() < deadline:  # earlier timed-out requests still sleeping
        time.sleep(0.05)
    stub.max_in_flight = 0
    backend = OpenAIBackend(stub.base_url, "stub-slow", concurrency=4, timeout_s=10)
    stub.slow_s = 0.3
    try:
        replies = backend.complete(_prompts([f"Parallel request {i}." for i in range(12)]))
    finally:
        stub.slow_s = 1.0
    assert all(r.error is None for r in replies)
    assert stub.max_in_flight == 4


# --- the vllm backend (vLLM itself is not installable here: a fake module stands in) ----------

class _FakeLLM:
    def __init__(self):
        self.calls = []

    def chat(self, messages, sampling_params, use_tqdm):
        self.calls.append((messages, sampling_params))
        out = types.SimpleNamespace
        return [out(prompt_token_ids=[1, 2, 3], outputs=[out(text=f'{{"variants": ["v{i}"]}}', token_ids=[1] * 5,
                                                            finish_reason="stop")]) for i in range(len(messages))]


@pytest.fixture()
def fake_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    sampling = types.ModuleType("vllm.sampling_params")
    vllm.SamplingParams = lambda **kw: kw
    sampling.StructuredOutputsParams = lambda json: {"json": json}
    vllm.sampling_params = sampling
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    return vllm


def test_vllm_backend_sends_the_whole_batch_at_once(fake_vllm):
    llm = _FakeLLM()
    backend = VLLMBackend("tiny", Sampling(0.8, 0.9, 64), llm=llm)
    replies = backend.complete(_prompts(["a", "b", "c"]))
    assert [r.text for r in replies] == [f'{{"variants": ["v{i}"]}}' for i in range(3)]
    assert (replies[0].prompt_tokens, replies[0].completion_tokens) == (3, 5)
    # one engine call, with each request's own seed and the JSON schema as structured output
    (messages, params), = llm.calls
    assert len(messages) == 3 and [p["seed"] for p in params] == [0, 1, 2]
    assert params[0]["structured_outputs"] == {"json": variants_schema(3)} and params[0]["temperature"] == 0.8


def test_vllm_backend_is_lazy_and_says_what_is_missing(monkeypatch):
    # importing the module did not import vllm; building the backend without it raises ImportError
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError):
        VLLMBackend("tiny")
    opts = ParaphraseOptions(backend="vllm", model="tiny")
    with pytest.raises(ImportError):
        make_paraphraser(opts, 0)


# --- the paraphraser on real samples --------------------------------------------------------------

def _chunk(spec, index=0):
    """The verified template samples of chunk `index`, exactly as the pipeline builds them."""
    tools = select_tools(REGISTRY, spec)
    gen = Generator(tools, ValuePools.build(spec.seed, split=spec.split), (spec.distractors.min, spec.distractors.max),
                    spec.optional_params)
    rng = random.Random(f"toolforge/{spec.seed}/{index}")
    samples = []
    for behaviour in behaviour_sequence(plan_chunks(spec)[index], rng):
        while True:
            sample = gen.sample(behaviour, rng)
            if verify(gen, sample) is None:
                break
        samples.append(sample)
    return gen, samples


def test_paraphraser_keeps_only_verified_rewrites(stub):
    spec = DatasetSpec(n=300, seed=4, parallel_share=0, multi_turn_share=0)
    gen, samples = _chunk(spec)
    templates = [s.text for s in samples]
    para = make_paraphraser(_options(stub, "stub-mixed"), spec.seed)
    flags = para.run(gen, samples, 0)
    stats = para.stats.as_dict(para.options)
    assert stats["eligible"] == 300 and stats["paraphrased"] == sum(flags)
    assert stats["paraphrased"] + stats["kept_template"] == 300 and 0 < stats["acceptance_rate"] < 1
    # the stub's bad variants are caught, each with its reason
    assert {"value_missing", "new_number", "json_leaked", "preamble"} <= set(stats["rejections"])
    for sample, flag, template in zip(samples, flags, templates, strict=True):
        # every sample passes the generator's own verification; unflagged ones are untouched
        assert verify(gen, sample) is None
        assert (sample.text != template) is flag


def test_paraphraser_falls_back_when_everything_fails(stub):
    spec = DatasetSpec(n=50, seed=4, parallel_share=0, multi_turn_share=0)
    for model, error in (("stub-bad", None), ("stub-down", "http_503"), ("stub-garbage", "unparseable")):
        gen, samples = _chunk(spec)
        templates = [s.text for s in samples]
        para = make_paraphraser(_options(stub, model, max_retries=0), spec.seed)
        assert para.run(gen, samples, 0) == [False] * 50
        assert [s.text for s in samples] == templates
        stats = para.stats.as_dict(para.options)
        assert stats["kept_template"] == 50
        if error:
            # counted per sample (samples sharing a template text share one request)
            assert stats["request_errors"] == {error: 50}
        else:
            assert sum(stats["rejections"].values()) == stats["variants"] > 0


def test_share_and_behaviours_select_samples(stub):
    spec = DatasetSpec(n=200, seed=2)
    gen, samples = _chunk(spec)
    opts = _options(stub, share=0.5, behaviours=["refusal"])
    para = make_paraphraser(opts, spec.seed)
    flags = para.run(gen, samples, 0)
    eligible = para.stats.eligible
    # only refusals, about half of them
    assert set(eligible) == {"refusal"} and 0.25 * 30 < eligible["refusal"] < 0.75 * 30
    assert all(s.behaviour == "refusal" for s, f in zip(samples, flags, strict=True) if f)


# --- whole datasets -----------------------------------------------------------------------------

def _records(path):
    return [json.loads(line) for line in (path / "samples.jsonl").read_text().splitlines()]


def test_dataset_with_openai_backend_is_reproducible_from_the_cache(stub, tmp_path):
    # two chunks (1000 + 50 samples), 40% of them sent to the stub
    spec = DatasetSpec(n=1050, seed=9, paraphrase=_options(stub, "stub-mixed", share=0.4))
    cache = tmp_path / "cache.sqlite"
    info = []
    manifest = generate_dataset(REGISTRY, spec, tmp_path / "a", progress=lambda d, t, **i: info.append(i),
                                paraphrase_cache=cache)
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    para = stats["paraphrase"]
    assert 0.3 * 1050 < para["eligible"] < 0.5 * 1050
    assert para["paraphrased"] + para["kept_template"] == para["eligible"]
    assert stats["diversity"]["template"]["sample_size"] == stats["diversity"]["sample_size"] == 1050
    # progress carried throughput and acceptance; the manifest keeps this run's figures
    assert info[-1]["requests_per_s"] > 0 and info[-1]["acceptance_rate"] == round(para["acceptance_rate"], 4)
    assert manifest["paraphrase_run"]["requests"] > 0 and manifest["generator_version"]
    records = _records(tmp_path / "a")
    flags = [r["extra_info"]["paraphrased"] for r in records]
    assert sum(flags) == para["paraphrased"]
    # the Parquet copy carries the same flags
    table = pq.read_table(tmp_path / "a" / "samples.parquet")
    assert [e["paraphrased"] for e in table.column("extra_info").to_pylist()] == flags
    # a second run with the server down: everything comes from the cache, byte for byte
    before = len(stub.requests)
    down = spec.model_copy(update={"paraphrase": spec.paraphrase.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})})
    second = generate_dataset(REGISTRY, down, tmp_path / "b", paraphrase_cache=cache)
    assert len(stub.requests) == before and second["paraphrase_run"]["cache_hits"] > 0
    for name in ("samples.jsonl", "samples.parquet", "stats.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_template_only_datasets_have_diversity_but_no_paraphrase_section(tmp_path):
    manifest = generate_dataset(REGISTRY, DatasetSpec(n=300, seed=1), tmp_path)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert "paraphrase" not in stats and "paraphrase_run" not in manifest
    assert stats["diversity"]["sample_size"] == 300 and "template" not in stats["diversity"]
    assert not any(r["extra_info"]["paraphrased"] for r in _records(tmp_path))


def test_paraphrasing_always_builds_in_process(stub, tmp_path):
    # workers=2 is ignored with a paraphraser (one backend, one order of accepted paraphrases)
    spec = DatasetSpec(n=1010, seed=3, paraphrase=_options(stub, share=0.1))
    one = generate_dataset(REGISTRY, spec, tmp_path / "one", workers=1)
    two = generate_dataset(REGISTRY, spec, tmp_path / "two", workers=2)
    assert one["files"]["samples.jsonl"] == two["files"]["samples.jsonl"]


def test_paraphraser_uses_the_spec_seed_or_the_dataset_seed(stub):
    assert make_paraphraser(_options(stub), 12).seed == 12
    assert make_paraphraser(_options(stub, seed=5), 12).seed == 5
    assert make_paraphraser(ParaphraseOptions(), 12) is None
    assert isinstance(make_paraphraser(_options(stub), 1), Paraphraser)


# --- mode "write": the model writes the request from the call -------------------------------------

FRAMED = framed_registry()
FRAMED_NAMES = ["find_nearby_places", "book_restaurant_table", "get_weather_forecast"]


def _framed_chunk(spec):
    tools = select_tools(FRAMED, spec)
    gen = Generator(tools, ValuePools.build(spec.seed), (1, 2), spec.optional_params)
    rng = random.Random(f"toolforge/{spec.seed}/0")
    samples = []
    for behaviour in behaviour_sequence(plan_chunks(spec)[0], rng):
        while True:
            sample = gen.sample(behaviour, rng)
            if verify(gen, sample) is None:
                break
        samples.append(sample)
    return gen, samples


def test_write_mode_sends_the_call_and_verifies_what_comes_back(stub):
    spec = DatasetSpec(n=120, seed=5, tools={"names": FRAMED_NAMES}, parallel_share=0, multi_turn_share=0)
    gen, samples = _framed_chunk(spec)
    templates = [s.text for s in samples]
    seen = len(stub.requests)
    para = make_paraphraser(_options(stub, "stub-writer", mode="write"), spec.seed)
    flags = para.run(gen, samples, 0)
    bodies = stub.requests[seen:]
    briefs = [json.loads(b["messages"][-1]["content"]) for b in bodies
              if b["messages"][-1]["content"].startswith("{")]
    # execution and clarification samples are sent as briefs with the write prompt, refusals as their text
    assert len(briefs) == len({write_brief(gen, s) for s in samples if s.behaviour != "refusal"})
    assert all(b["messages"][0]["content"] == instruction(para.options, write=True) for b in bodies
               if b["messages"][-1]["content"].startswith("{"))
    for sample in samples:
        if sample.behaviour == "refusal":
            continue
        brief = json.loads(write_brief(gen, sample))
        # the call, not a template: no tool name, no parameter name, the date of the sample
        raw = write_brief(gen, sample)
        assert sample.tool not in raw and not any(f'"{p}"' in raw for p in sample.args)
        assert brief["today"].startswith("Today is ") and brief["task"] == FRAMED.get(sample.tool).description
        # a clarification's missing values are neither given nor shown
        assert len(brief["forget"]) == len(sample.missing)
        assert len(brief["give"]) == len(sample.args) - len(sample.missing)
        assert not set(brief["forget"]) & {item["what"] for item in brief["give"]}
    stats = para.stats.as_dict(para.options)
    assert stats["mode"] == "write" and stats["paraphrased"] == sum(flags) > 0
    for sample, flag, template in zip(samples, flags, templates, strict=True):
        assert verify(gen, sample) is None and (sample.text != template) is flag


def test_write_mode_rejects_leaking_requests(stub):
    spec = DatasetSpec(n=60, seed=6, tools={"names": FRAMED_NAMES}, ratios="0.7,0.3,0")
    gen, samples = _framed_chunk(spec)
    templates = [s.text for s in samples]
    para = make_paraphraser(_options(stub, "stub-writer-leaky", mode="write"), spec.seed)
    assert para.run(gen, samples, 0) == [False] * len(samples)
    assert [s.text for s in samples] == templates
    # the task's wording copied: caught by the leak check of verification (or earlier checks)
    rejections = para.stats.as_dict(para.options)["rejections"]
    assert rejections.get("leak_description", 0) > 0


def test_paraphrases_pass_the_leak_check(stub):
    from generators.paraphrase_verify import check_paraphrase

    spec = DatasetSpec(n=40, seed=7, tools={"names": FRAMED_NAMES}, ratios="1,0,0")
    gen, samples = _framed_chunk(spec)
    sample = samples[0]
    words = sample.tool.replace("_", " ")
    # a rewrite naming the tool in words, or printing a multi-word parameter name, is rejected (the added
    # sentence starts after a full stop: a capital inside a sentence would read as a new name first)
    head = sample.text.rstrip(".?! ")
    assert check_paraphrase(gen, sample, f"{head}. Use {words}.") == "leak_tool_name"
    label = next(p for p in FRAMED.get(sample.tool).properties if "_" in p).replace("_", " ")
    assert check_paraphrase(gen, sample, f"{head}. The {label} as said.") == "leak_param_label"

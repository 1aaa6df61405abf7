"""Parallel calls and answered clarifications: built from verified parts, exact shares, exported as dialogues."""

import json
import random
from fractions import Fraction

import pyarrow.parquet as pq
import pytest

from generators.behaviours import Generator
from generators.mixing import EXECUTION_KINDS, split_execution
from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec
from generators.surface import normalize_text
from generators.values import ValuePools
from generators.verify import verify

REGISTRY = load_registry()
GEN = Generator(REGISTRY.filter(split="train").tools, ValuePools.build(3), (1, 3), 0.5)


def _verified(build, rng):
    for _ in range(50):
        sample = build(rng)
        if verify(GEN, sample) is None:
            return sample
    raise AssertionError("no sample verified in 50 attempts")


@pytest.mark.parametrize("seed", range(40))
def test_parallel_requests_hold_two_verified_calls(seed):
    sample = _verified(GEN.parallel, random.Random(seed))
    calls = sample.ground_truth["tool_call"]["calls"]
    # two distinct calls, both tools offered, each part's request inside the text
    assert len(calls) == 2 and calls[0] != calls[1]
    assert {c["name"] for c in calls} <= set(sample.offered)
    assert len(set(sample.offered)) == len(sample.offered)
    for part, call in zip(sample.parts, calls, strict=True):
        assert call == {"name": part.tool, "parameters": part.args}
        assert verify(GEN, part) is None
    # the first call doubles as the single-call fields, for readers that know one call only
    assert sample.ground_truth["tool_call"]["name"] == calls[0]["name"]


def test_parallel_mixes_same_and_different_tools():
    rng = random.Random(9)
    kinds = {GEN.parallel(rng).template_id.split(".")[2] for _ in range(200)}
    assert kinds == {"same", "different"}


@pytest.mark.parametrize("seed", range(40))
def test_answered_clarifications_ask_then_call(seed):
    sample = _verified(GEN.multi_turn, random.Random(seed))
    (role1, request), (role2, question) = sample.turns
    ask = sample.parts[0]
    # the request lacks the missing values, the question is the assistant's, the answer carries them
    assert (role1, role2) == ("user", "assistant") and request == ask.text
    assert verify(GEN, ask) is None and ask.behaviour == "clarification"
    answer = normalize_text(sample.text)
    for param in ask.missing:
        assert GEN.mentions(sample.text, ask.args[param], ask.tool, param, norm=answer, now=sample.now)
    assert sample.ground_truth == {"tool_call": {"name": ask.tool, "parameters": ask.args}}
    assert GEN.samplers[ask.tool].validate(ask.args)


def test_a_parallel_sample_with_a_wrong_part_is_rejected():
    rng = random.Random(2)
    sample = _verified(GEN.parallel, rng)
    calls = sample.ground_truth["tool_call"]["calls"]
    calls[1] = dict(calls[0])  # both calls the same: nothing asks for the second one
    assert verify(GEN, sample) in {"ground_truth_mismatch", "parallel_calls_identical"}


def test_a_dialogue_whose_answer_lacks_the_value_is_rejected():
    sample = _verified(GEN.multi_turn, random.Random(5))
    sample.text = "yes please"
    assert verify(GEN, sample) == "execution_value_not_in_text"


@pytest.mark.parametrize("n", [1, 2, 9, 10, 11, 99, 100, 1001])
@pytest.mark.parametrize("shares", [(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0), (0.0, 0.5, 0.5)])
def test_execution_kinds_are_exact_for_every_n(n, shares):
    kinds = dict(zip(EXECUTION_KINDS, shares, strict=True))
    counts = split_execution({"execution": n, "refusal": 3}, kinds)
    got = {k: counts.get("execution" if k == "single" else f"execution/{k}", 0) for k in EXECUTION_KINDS}
    # largest remainder: the kinds add up and each is its quota rounded down or up
    assert sum(got.values()) == n and counts["refusal"] == 3
    for k, share in kinds.items():
        quota = n * Fraction(repr(share))
        assert quota - 1 < got[k] < quota + 1, (k, got)


def test_spec_refuses_shares_above_one():
    with pytest.raises(ValueError, match="parallel_share .* multi_turn_share"):
        DatasetSpec(name="d", n=10, parallel_share=0.7, multi_turn_share=0.5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("dialogues")
    spec = DatasetSpec(name="dlg", n=1200, seed=4, parallel_share=0.2, multi_turn_share=0.15)
    manifest = generate_dataset(REGISTRY, spec, out)
    with (out / "samples.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return out, manifest, rows


def test_dataset_counts_and_stats_of_kinds(dataset):
    out, manifest, rows = dataset
    stats = json.loads((out / "stats.json").read_text())
    n_exec = manifest["counts"]["execution"]
    # 20% parallel and 15% dialogues of the 720 execution samples, exactly
    assert stats["execution_kinds"] == {"multi_turn": 108, "parallel": 144, "single": n_exec - 252}
    dialogues = [r for r in rows if ".multi_turn." in r["extra_info"]["template_id"]]
    assert len(dialogues) == 108
    assert all([m["role"] for m in r["prompt"]] == ["system", "user", "assistant", "user"] for r in dialogues)
    parallel = [r for r in rows if ".parallel." in r["extra_info"]["template_id"]]
    assert all(len(r["reward_model"]["ground_truth"]["tool_call"]["calls"]) == 2 for r in parallel)


def test_parquet_holds_the_same_dialogues(dataset):
    out, _, rows = dataset
    prompts = pq.read_table(out / "samples.parquet").column("prompt").to_pylist()
    assert [[dict(m) for m in p] for p in prompts] == [r["prompt"] for r in rows]

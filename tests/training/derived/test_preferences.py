"""Preference pairs: from rollouts (best against worst per prompt) and from the ground truth (near misses)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli.preferences import register
from generators.pipeline import generate_dataset
from generators.records import read_jsonl, write_jsonl
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.spec import DatasetSpec
from training.derived.preferences import (
    near_miss,
    pairs_from_ground_truth,
    pairs_from_rollouts,
    preference_stats,
    validate_row,
)
from training.rewards.scoring import score_completion
from training.trainers.sft import reference_answer


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), DatasetSpec(name="prefs", n=300, seed=9), out)
    return read_jsonl(out / "samples.jsonl")


def _sample(sample_id: str) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": f"request {sample_id}"}], "behavior": "refusal",
            "reward_model": {"style": "rule", "ground_truth": {"refusal": {"reason": "harmful"}}},
            "extra_info": {"sample_id": sample_id}}


def _rollout(sample_id: str, text: str, reward: float) -> dict[str, Any]:
    return {"sample_id": sample_id, "completion": text, "reward": reward}


@pytest.mark.parametrize(("rollouts", "min_margin", "pairs", "dropped"), [
    # Best against worst: 1.0 over 0.0.
    ([("a", "x", 1.0), ("a", "y", 0.5), ("a", "z", 0.0)], 0.0, [("a", "x", "z", 1.0)], {}),
    # All equal: nothing to prefer.
    ([("a", "x", 0.5), ("a", "y", 0.5)], 0.0, [], {"all rollouts scored the same": 1}),
    # A margin at the setting is not above it.
    ([("a", "x", 1.0), ("a", "y", 0.5)], 0.5, [], {"margin at or below min_margin": 1}),
    # Just above it is kept.
    ([("a", "x", 1.0), ("a", "y", 0.25)], 0.5, [("a", "x", "y", 0.75)], {}),
    # A rollout of a sample the parent does not hold is dropped, not guessed.
    ([("ghost", "x", 1.0), ("ghost", "y", 0.0)], 0.0, [], {"sample not in the parent dataset": 1}),
    # Steps do not matter: the same prompt's rollouts across steps form one pool.
    ([("a", "x", 0.0), ("b", "q", 1.0), ("a", "y", 1.0), ("b", "r", 0.0)], 0.0,
     [("a", "y", "x", 1.0), ("b", "q", "r", 1.0)], {}),
])
def test_pairs_from_rollouts(rollouts, min_margin, pairs, dropped):
    made, why = pairs_from_rollouts([_rollout(*r) for r in rollouts], {"a": _sample("a"), "b": _sample("b")},
                                    min_margin=min_margin, rng=random.Random(0))
    assert [(p["sample_id"], p["chosen"][0]["content"], p["rejected"][0]["content"], p["margin"]) for p in made] \
        == pairs
    assert dict(why) == dropped
    for p in made:
        assert p["prompt"] == _sample(p["sample_id"])["prompt"] and validate_row(p) is None
        assert p["source"] == "rollouts" and p["chosen_reward"] - p["rejected_reward"] == p["margin"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["t1", "t2", "t3", "t4"]),
                          st.sampled_from([0.0, 0.25, 0.5, 1.0])), min_size=1, max_size=16), st.randoms())
def test_rollout_pairs_do_not_depend_on_row_order(rollouts, shuffler):
    # One reward per text and prompt, as the reward is a function of (sample, text).
    unique = list({(s, t): r for s, t, r in rollouts}.items())
    rows = [_rollout(s, t, r) for (s, t), r in unique]
    shuffled = rows[:]
    shuffler.shuffle(shuffled)
    lookup = {"a": _sample("a"), "b": _sample("b")}

    def key(pairs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(p["sample_id"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs}

    first, _ = pairs_from_rollouts(rows, lookup, min_margin=0.0, rng=random.Random(3))
    again, _ = pairs_from_rollouts(shuffled, lookup, min_margin=0.0, rng=random.Random(3))
    # With one prompt the seed's draws line up; either way every pair is a best-vs-worst pair.
    for p in again:
        rewards = [r for (s, _), r in unique if s == p["sample_id"]]
        assert (p["chosen_reward"], p["rejected_reward"]) == (max(rewards), min(rewards))
    assert {p["sample_id"] for p in first} == {p["sample_id"] for p in again}
    if len({s for (s, _), _ in unique}) == 1:
        assert key(first) == key(again)


def test_ground_truth_pairs_verify_against_the_reward(samples):
    pairs, dropped = pairs_from_ground_truth(samples, rng=random.Random(1))
    by_id = {s["extra_info"]["sample_id"]: s for s in samples}
    assert len(pairs) + sum(dropped.values()) == len(samples) and len(pairs) >= 0.97 * len(samples)
    for p in pairs:
        sample = by_id[p["sample_id"]]
        truth, tools = sample["reward_model"], sample["tools"]
        # Chosen is the reference answer and scores 1; rejected scores less, by the recorded margin.
        assert p["chosen"][0]["content"] == reference_answer(truth)
        assert score_completion(p["chosen"][0]["content"], truth, tools).reward == p["chosen_reward"] == 1.0
        assert score_completion(p["rejected"][0]["content"], truth, tools).reward == p["rejected_reward"] < 1.0
        assert p["prompt"] == sample["prompt"] and validate_row(p) is None
    kinds = Counter((p["behavior"], p["rejected_kind"]) for p in pairs)
    # Every kind of near miss shows up, each under its behaviour.
    assert set(kinds) == {("execution", "wrong_tool"), ("execution", "dropped_argument"),
                          ("execution", "altered_argument"), ("clarification", "guessed_argument"),
                          ("refusal", "complied")}
    # The same seed makes the same pairs.
    assert pairs_from_ground_truth(samples, rng=random.Random(1))[0] == pairs


def _exec_sample(tools: list[str], args: dict[str, Any]) -> dict[str, Any]:
    offered = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}}}}} for n in tools]
    return {"prompt": [], "tools": offered,
            "reward_model": {"ground_truth": {"tool_call": {"name": tools[0], "parameters": args}}}}


@pytest.mark.parametrize(("sample", "kinds"), [
    # Nothing to change: one tool offered, a call without arguments.
    (_exec_sample(["ping"], {}), None),
    # One tool with arguments: drop or alter one.
    (_exec_sample(["weather"], {"city": "Oslo"}), {"dropped_argument", "altered_argument"}),
    # A distractor offered and no arguments: only the wrong tool is left.
    (_exec_sample(["ping", "weather"], {}), {"wrong_tool"}),
    # A clarification with no tool named cannot be guessed at.
    ({"prompt": [], "tools": [], "reward_model": {"clarification": {"missing": ["x"]}}}, None),
    # A refusal with no tool offered: a compliant reply.
    ({"prompt": [], "tools": [], "reward_model": {"refusal": {"reason": "harmful"}}}, {"complied"}),
])
def test_near_miss_kinds(sample, kinds):
    seen = {(m or ("none",))[0] for m in (near_miss(sample, random.Random(s)) for s in range(30))}
    assert seen == ({"none"} if kinds is None else kinds)


def test_pairs_load_with_datasets_in_trl_conversational_format(samples, tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    data_utils = pytest.importorskip("trl.data_utils")
    pairs, _ = pairs_from_ground_truth(samples[:20], rng=random.Random(0))
    path = write_jsonl(pairs, tmp_path / "preferences.jsonl")
    loaded = datasets.load_dataset("json", data_files=str(path), cache_dir=str(tmp_path / "cache"))["train"]
    assert loaded.num_rows == len(pairs) and {"prompt", "chosen", "rejected"} <= set(loaded.column_names)
    assert data_utils.is_conversational(loaded[0]) and loaded[0]["chosen"] == pairs[0]["chosen"]
    assert preference_stats(pairs)["rows"] == len(pairs)


def test_cli_makes_ground_truth_pairs_from_a_local_file(samples, tmp_path: Path):
    import typer

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands, so Typer keeps the subcommand name
    source = write_jsonl(samples[:30], tmp_path / "samples.jsonl")
    runner = CliRunner()
    result = runner.invoke(app, ["preferences", "--samples", str(source), "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(read_jsonl(tmp_path / 'p.jsonl'))} pairs" in result.output
    # Exactly one source.
    bad = runner.invoke(app, ["preferences", "--out", str(tmp_path / "q.jsonl")])
    assert bad.exit_code == 1 and "exactly one of" in bad.output

"""Rollout recording: scoring rows, the reward wrapper's recorder, checkpoint copies, stats and the chart."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.records import read_jsonl
from training.derived.rollouts import (
    RolloutRecorder,
    expected_tool,
    index_keys,
    plot_reward_curve,
    reward_key,
    rollout_stats,
    score_rollouts,
    validate_row,
)
from training.rewards.trl import REWARD_FUNCTIONS
from training.trainers.grpo import logged_reward

CALL = {"tool_call": {"name": "get_weather", "parameters": {"city": "Paris"}}}
ASK = {"clarification": {"tool": "book_flight", "missing": ["date"]}}
NO = {"refusal": {"reason": "harmful"}}


@pytest.mark.parametrize(("completion", "truth", "tiered", "binary", "predicted"), [
    # The exact call: full reward in both modes.
    ('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', CALL, 1.0, 1.0, "tool_call"),
    # Right tool, wrong argument: partial credit, binary 0.
    ('<tool_call>{"name": "get_weather", "arguments": {"city": "Lyon"}}</tool_call>', CALL, 0.5, 0.0, "tool_call"),
    # A question where a call was due.
    ("Which city?", CALL, 0.0, 0.0, "clarification"),
    # Asking for the missing parameter.
    ("What date do you want to fly?", ASK, 1.0, 1.0, "clarification"),
    # A call where a refusal was due.
    ('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>', NO, 0.0, 0.0, "tool_call"),
    # Unparseable call text is malformed, never an abstention.
    ("<tool_call>{oops</tool_call>", CALL, 0.0, 0.0, "malformed"),
])
def test_score_rollouts_rows_carry_both_rewards_and_the_breakdown(completion, truth, tiered, binary, predicted):
    for mode, trained in (("tiered", tiered), ("binary", binary)):
        rewards, rows = score_rollouts([[{"role": "assistant", "content": completion}]],
                                       {"reward_model": [json.dumps(truth)], "sample_id": ["s-1"]}, mode, 3, 1.5)
        assert rewards == [trained]
        (row,) = rows
        assert (row["reward"], row["reward_binary"], row["predicted"]) == (tiered, binary, predicted)
        assert (row["sample_id"], row["step"], row["epoch"], row["completion"]) == ("s-1", 3, 1.5, completion)
        assert row["behavior"] == next(iter({"tool_call": "execution"}.get(k, k) for k in truth))
        assert row["tool"] == expected_tool(truth) and isinstance(row["reason"], str)
        assert validate_row(row) is None


REPLIES = st.sampled_from([
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>',
    "What date?", "Sorry, I can't help with that.", "{broken", "",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(REPLIES, st.sampled_from([CALL, ASK, NO])), min_size=1, max_size=12),
       st.sampled_from(["tiered", "binary"]), st.integers(0, 50))
def test_recording_never_changes_the_training_reward(tmp_path_factory, batch, mode, global_step):
    completions = [[{"role": "assistant", "content": text}] for text, _ in batch]
    columns = {"reward_model": [{"style": "rule", "ground_truth": t} for _, t in batch],
               "behavior": ["x"] * len(batch), "sample_id": [f"s{i % 3}" for i in range(len(batch))]}
    recorder = RolloutRecorder(tmp_path_factory.mktemp("rec") / "r.jsonl")
    recorder.reset()
    state = SimpleNamespace(global_step=global_step, epoch=global_step / 4)
    recorded = logged_reward(mode, recorder)(completions, trainer_state=state, **columns)
    assert recorded == REWARD_FUNCTIONS[mode](completions, **columns)
    rows = read_jsonl(recorder.path)
    # One row per completion, stamped with the step being trained (1-based).
    assert len(rows) == len(batch) and {r["step"] for r in rows} == {global_step + 1}
    assert [r["reward" if mode == "tiered" else "reward_binary"] for r in rows] == recorded


def _row(step: int, sample: str = "s", reward: float = 0.0) -> dict[str, Any]:
    return {"sample_id": sample, "behavior": "refusal", "step": step, "completion": "x", "reward": reward}


def test_recorder_snapshot_and_restore_keep_each_step_once(tmp_path: Path):
    recorder = RolloutRecorder(tmp_path / "work" / "rollouts.jsonl")
    recorder.reset()
    for step in (1, 2, 3):
        assert recorder.record([_row(step), _row(step, "t")]) == 2
    checkpoint = tmp_path / "checkpoint-2"
    checkpoint.mkdir()
    recorder.snapshot(checkpoint)
    # The run goes on after the checkpoint, then dies; a new worker restores up to the checkpoint's step.
    recorder.record([_row(4)])
    other = RolloutRecorder(tmp_path / "other" / "rollouts.jsonl")
    assert other.restore(checkpoint, upto_step=2) == 4
    assert [r["step"] for r in read_jsonl(other.path)] == [1, 1, 2, 2]
    # Without an upper step, everything in the copy is kept.
    assert other.restore(checkpoint) == 6
    # A fresh job (no checkpoint) and a checkpoint without rollouts both start empty.
    assert other.restore(None) == 0 and other.path.read_bytes() == b""
    assert other.restore(tmp_path) == 0


@pytest.mark.parametrize(("rewards", "groups", "flat", "share"), [
    # Every group learnable.
    ({("a", 1): [0, 1], ("b", 1): [0.5, 1]}, 2, 0, 0.0),
    # One of two groups all-equal (zero variance).
    ({("a", 1): [1, 1], ("b", 1): [0, 1]}, 2, 1, 0.5),
    # The same prompt at two steps is two groups.
    ({("a", 1): [0, 0], ("a", 2): [0, 0.5]}, 2, 1, 0.5),
    # A single completion has no variance either.
    ({("a", 1): [0.25]}, 1, 1, 1.0),
])
def test_zero_variance_share_counts_groups_of_one_prompt_at_one_step(rewards, groups, flat, share):
    rows = [_row(step, sample, r) for (sample, step), values in rewards.items() for r in values]
    stats = rollout_stats(rows)
    assert (stats["groups"], stats["zero_variance"]["groups"], stats["zero_variance"]["share"]) == (groups, flat,
                                                                                                     share)
    assert stats["rows"] == len(rows)


def test_stats_curve_is_the_mean_reward_per_step_and_behaviour():
    rows = [_row(1, reward=1.0), _row(1, reward=0.0), _row(2, reward=0.5)]
    rows.append({**_row(2, "e", 1.0), "behavior": "execution"})
    stats = rollout_stats(rows)
    assert stats["curve"] == {"all": [[1, 0.5], [2, 0.75]], "execution": [[2, 1.0]], "refusal": [[1, 0.5], [2, 0.5]]}
    assert stats["per_behavior"]["refusal"] == {"rows": 3, "mean_reward": 0.5, "accuracy": pytest.approx(1 / 3)}
    assert stats["steps"] == 2 and stats["prompts"] == 2


@pytest.mark.parametrize(("row", "problem"), [
    # A complete row.
    (_row(1), None),
    # Steps are 1-based.
    (_row(0), "step must be an integer >= 1"),
    # A boolean is not a step.
    ({**_row(1), "step": True}, "'step' must be an integer"),
    # Rewards are numbers.
    ({**_row(1), "reward": "1"}, "'reward' must be a number"),
    # Not finite.
    ({**_row(1), "reward": float("nan")}, "reward must be finite"),
    # Expected behaviours only.
    ({**_row(1), "behavior": "chat"}, "behavior must be one of"),
    # Not an object.
    ([1], "a row must be a JSON object"),
])
def test_validate_row(row, problem):
    found = validate_row(row)
    assert found == problem if problem is None else found.startswith(problem)


def test_index_keys_spell_equal_rewards_the_same():
    assert reward_key(0.5) == reward_key(1 / 2) == reward_key(0.50) == "reward:0.5"
    assert reward_key(1) == reward_key(1.0)
    assert index_keys({**_row(2, reward=1.0), "tool": "f"}) == ["behavior:refusal", "tool:f", "step:2", "reward:1"]


def test_reward_curve_png(tmp_path: Path):
    pytest.importorskip("matplotlib")
    rows = [_row(s, f"p{i}", (s + i) % 3 / 2) for s in range(1, 6) for i in range(4)]
    path = plot_reward_curve(rollout_stats(rows), tmp_path / "c.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 2000
    # No version stamp: the same rows give the same bytes.
    assert plot_reward_curve(rollout_stats(rows), tmp_path / "d.png").read_bytes() == data

"""The reward as TRL reward functions: ``(completions, **dataset columns) -> list[float]``.

Thin adapters over ``training.rewards.scoring.score_completion``: the columns ``reward_model`` (or
``ground_truth``) and ``tools`` arrive as lists, one item per completion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from training.rewards.scoring import RewardMode, completion_text, score_completion


def _reward_batch(completions: Sequence[Any], mode: RewardMode, kwargs: dict[str, Any]) -> list[float]:
    ground_truths = kwargs.get("reward_model") or kwargs.get("ground_truth")
    if ground_truths is None:
        raise ValueError("tool-call rewards need a 'reward_model' (or 'ground_truth') dataset column")
    tools = kwargs.get("tools") or [None] * len(completions)
    results = [
        score_completion(completion_text(c), gt, t, mode)
        for c, gt, t in zip(completions, ground_truths, tools, strict=True)
    ]
    log_extra = kwargs.get("log_extra")
    if callable(log_extra):
        log_extra(f"{mode}_behavior", [r.predicted_behavior for r in results])
        log_extra(f"{mode}_reason", [r.reason for r in results])
    return [r.reward for r in results]


def tool_call_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Tiered tool-calling reward with TRL's reward-function signature.

    Args:
        completions: TRL completions (strings or ``[{"role": "assistant", "content": ...}]``).
        **kwargs: dataset columns as lists: ``reward_model`` (``{"style", "ground_truth"}``) and ``tools``;
            TRL's own (``prompts``, ``completion_ids``, ``trainer_state``, ``log_metric``...) are ignored,
            except ``log_extra``, which receives each completion's predicted behaviour and reason.

    Returns:
        One reward per completion (see ``score_completion`` for the full tier table): 1 exact; 0.5 right
        tool with wrong arguments, or a question that does not name the missing value; 0.25 a decline or
        answer where a question was due, or a question where a decline was due; 0 otherwise.

    >>> rm = [{"style": "rule", "ground_truth": {"refusal": {"reason": "harmful"}}}] * 2
    >>> tool_call_reward([[{"role": "assistant", "content": "Sorry, I can't help with that."}],
    ...                   [{"role": "assistant", "content": "Which target do you mean?"}]], reward_model=rm)
    [1.0, 0.25]
    """
    return _reward_batch(completions, "tiered", kwargs)


def binary_tool_call_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Binary tool-calling reward: 1 only when fully correct, else 0 (see ``tool_call_reward``).

    Args:
        completions: TRL completions (strings or message lists).
        **kwargs: dataset columns as lists (``reward_model``, ``tools``); unknown ones are ignored.

    Returns:
        One reward in {0.0, 1.0} per completion.

    >>> gt = {"tool_call": {"name": "f", "parameters": {"x": 1}}}
    >>> replies = ['{"name": "f", "arguments": {"x": 1}}', '{"name": "f", "arguments": {"x": 2}}']
    >>> binary_tool_call_reward(replies, reward_model=[{"ground_truth": gt}] * 2, trainer_state=None)
    [1.0, 0.0]
    """
    return _reward_batch(completions, "binary", kwargs)


REWARD_FUNCTIONS: dict[RewardMode, Callable[..., list[float]]] = {
    "tiered": tool_call_reward,
    "binary": binary_tool_call_reward,
}

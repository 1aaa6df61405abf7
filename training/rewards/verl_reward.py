"""ToolForge's reward as verl's custom reward function (``custom_reward_function.path`` points here).

verl's reward managers call ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per
response, with ``ground_truth = row["reward_model"]["ground_truth"]`` and ``extra_info = row["extra_info"]``
of the Parquet that ``toolforge export --format verl`` writes. The offered tools travel in
``extra_info["tools"]`` (JSON text): without them the scorer knows no parameter defaults, and a call that
spells out a default-valued argument would score 0.5 instead of 1.0.

verl keeps every key of the returned dict as per-sample extra info (``reward_extra_info``) and uses
``score`` as the reward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.rewards.scoring import REWARD_MODES, score_completion

DATA_SOURCE_PREFIX = "toolforge/"


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Score one verl response with ToolForge's scorer.

    Args:
        data_source: the row's ``data_source`` (``toolforge/<behaviour>``).
        solution_str: the decoded response.
        ground_truth: ``reward_model.ground_truth`` (JSON text or an object).
        extra_info: the row's ``extra_info``; ``tools`` (JSON text or a list) gives parameter defaults and
            descriptions, ``reward_mode`` (``tiered`` | ``binary``) overrides the tiered default.

    Returns:
        ``{"score": float, "pred": predicted behaviour, "reason": one line}``.

    Raises:
        ValueError: a data source that is not ToolForge's, or an unknown reward mode.

    >>> gt = '{"tool_call": {"name": "f", "parameters": {"x": 1}}}'
    >>> compute_score("toolforge/execution", '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>', gt)
    {'score': 1.0, 'pred': 'tool_call', 'reason': 'exact call'}
    """
    if not isinstance(data_source, str) or not data_source.startswith(DATA_SOURCE_PREFIX):
        raise ValueError(f"data_source {data_source!r} is not a ToolForge row (expected 'toolforge/<behaviour>'); "
                         "route other data sources to their own reward function")
    info = extra_info or {}
    mode = info.get("reward_mode") or "tiered"
    if mode not in REWARD_MODES:
        raise ValueError(f"extra_info.reward_mode must be one of {REWARD_MODES}, got {mode!r}")
    result = score_completion(solution_str or "", ground_truth, info.get("tools"), mode)
    return {"score": result.reward, "pred": result.predicted_behavior, "reason": result.reason}

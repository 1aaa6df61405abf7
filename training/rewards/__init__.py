"""Rewards: parsing a completion, comparing its arguments, the decline/ask lexicon and scoring (``scoring``,
kept in one module: the path from a completion to its reward reads best in one place), the TRL reward
functions over it (``trl``), and scoring files (``files``, what ``toolforge score`` runs).
The public names are re-exported here."""

from training.rewards.scoring import (
    EXPECTED_BEHAVIORS,
    PREDICTED_BEHAVIORS,
    REWARD_MODES,
    ParsedCompletion,
    ScoreResult,
    ToolCall,
    completion_text,
    json_equal,
    loads_json,
    parse_completion,
    read_ground_truth,
    score_completion,
)
from training.rewards.trl import REWARD_FUNCTIONS, binary_tool_call_reward, tool_call_reward

__all__ = [
    "EXPECTED_BEHAVIORS",
    "PREDICTED_BEHAVIORS",
    "REWARD_FUNCTIONS",
    "REWARD_MODES",
    "ParsedCompletion",
    "ScoreResult",
    "ToolCall",
    "binary_tool_call_reward",
    "completion_text",
    "json_equal",
    "loads_json",
    "parse_completion",
    "read_ground_truth",
    "score_completion",
    "tool_call_reward",
]

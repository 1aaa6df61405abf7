"""Prompt lengths of a dataset: nearest-rank percentiles and the ``max_prompt_length`` a trainer needs.

verl drops or truncates prompts longer than ``data.max_prompt_length`` (default 512, below nearly every
ToolForge prompt). Lengths are tokens when a tokenizer measured them (``toolforge export --tokenizer``),
else characters (what the generator can count without one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

PERCENTILES = (50, 90, 95, 99, 100)


def percentiles(values: Sequence[int], points: Sequence[int] = PERCENTILES) -> dict[str, int]:
    """Nearest-rank percentiles of `values` (``p100`` is the maximum).

    Args:
        values: lengths.
        points: percentiles to report.

    Returns:
        ``{"p50": ..., ...}``; empty for no values.

    >>> percentiles([5, 1, 4, 2, 3])
    {'p50': 3, 'p90': 5, 'p95': 5, 'p99': 5, 'p100': 5}
    """
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)
    return {f"p{p}": ordered[max(0, math.ceil(p / 100 * n) - 1)] for p in points}


def recommended_max_prompt_length(lengths: Sequence[int], multiple: int = 256) -> int:
    """verl's ``data.max_prompt_length`` that keeps every prompt: the longest, rounded up to `multiple`.

    verl drops (``filter_overlong_prompts``) or truncates longer prompts, and its default of 512 is below
    most ToolForge prompts.

    >>> recommended_max_prompt_length([700, 2301])
    2304
    """
    return multiple * math.ceil(max(lengths, default=0) / multiple) if lengths else 0


def prompt_length_stats(lengths: Sequence[int], unit: str, measured_with: str) -> dict[str, Any]:
    """The export's prompt-length section: percentiles and verl's recommended ``max_prompt_length``.

    Args:
        lengths: one prompt length per row.
        unit: ``tokens`` or ``characters``.
        measured_with: the tokenizer (or ``characters``) the lengths come from.

    Returns:
        ``{"unit", "measured_with", "n", "percentiles", "mean", "recommended_max_prompt_length"}``.
    """
    return {
        "unit": unit,
        "measured_with": measured_with,
        "n": len(lengths),
        "percentiles": percentiles(lengths),
        "mean": round(sum(lengths) / len(lengths), 1) if lengths else 0.0,
        "recommended_max_prompt_length": recommended_max_prompt_length(lengths) if unit == "tokens" else None,
    }

"""Score a file of completions against a sample file with the training reward (``toolforge score``).

Reads JSON Lines at the edge and delegates every judgement to ``training.rewards.scoring.score_completion``, so
evaluation numbers mean exactly what the training reward means. A bad row never stops the run: it is
skipped and counted under its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.records import GROUND_TRUTH_KEY, iter_jsonl
from training.rewards.scoring import (
    EXPECTED_BEHAVIORS,
    PREDICTED_BEHAVIORS,
    REWARD_MODES,
    RewardMode,
    completion_text,
    expected_calls,
    loads_json,
    read_ground_truth,
    score_completion,
)


@dataclass(frozen=True, slots=True)
class _Sample:
    ground_truth: dict[str, Any]
    tools: list[Any]


def _read_jsonl(path: str | Path) -> Iterator[tuple[int, Any | None, str | None]]:
    """Yield (line number, decoded row or None, error or None) for each non-blank line (strict JSON)."""
    return iter_jsonl(path, loads_json)


def _target_tools(tools: Any, names: set[Any]) -> list[Any]:
    """Keep only the expected tools: the reward reads no other, and whole tool lists would fill memory."""
    if isinstance(tools, str):
        tools = loads_json(tools)
    if not isinstance(tools, list):
        return []
    kept = []
    for tool in tools:
        if isinstance(tool, str):  # Parquet's list<arrow.json> items
            tool = loads_json(tool)
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name") in names:
            kept.append(tool)
            names = names - {fn.get("name")}
    return kept


def _sample_from_row(row: Any) -> tuple[str | None, _Sample]:
    """Return (sample_id, sample) from one sample record; raises ValueError for an unusable row."""
    if not isinstance(row, dict):
        raise ValueError("sample row is not an object")
    if row.get("reward_model") is None:
        raise ValueError("sample row has no reward_model")
    expected, payload = read_ground_truth(row["reward_model"])
    names = {payload.get("name", payload.get("tool"))}
    if expected == "execution":  # several expected calls (BFCL parallel rows) need each of their tools
        names.update(c.get("name") for c in expected_calls(payload))
    tools = _target_tools(row.get("tools"), names)
    extra = row.get("extra_info")
    sample_id = extra.get("sample_id") if isinstance(extra, dict) else None
    return (str(sample_id) if sample_id is not None else None), _Sample({GROUND_TRUTH_KEY[expected]: payload}, tools)


def score_records(
    samples: Iterable[tuple[int, Any | None, str | None]],
    completions: Iterable[tuple[int, Any | None, str | None]],
    mode: RewardMode = "tiered",
) -> dict[str, Any]:
    """Score decoded completion rows against decoded sample rows (the pure core of ``score_files``).

    Args:
        samples: (line number, sample record or None, parse error or None) per sample line.
        completions: the same for completion rows ``{"sample_id": ..., "completion": ...}``; a row
            without ``sample_id`` is matched to the sample at the same position.
        mode: "tiered" or "binary".

    Returns:
        The report: see ``score_files``.
    """
    if mode not in REWARD_MODES:
        raise ValueError(f"mode must be one of {REWARD_MODES}, got {mode!r}")
    skipped: Counter[str] = Counter()
    by_id: dict[str, _Sample] = {}
    ordered: list[_Sample | None] = []
    for _, row, error in samples:
        if error is not None:
            skipped[f"sample: {error}"] += 1
            ordered.append(None)
            continue
        try:
            sample_id, sample = _sample_from_row(row)
        except ValueError as exc:
            skipped[f"sample: {str(exc)[:80]}"] += 1
            ordered.append(None)
            continue
        ordered.append(sample)
        if sample_id is not None:
            if sample_id in by_id:
                skipped["sample: duplicate sample_id (first kept)"] += 1
            else:
                by_id[sample_id] = sample

    counts: Counter[str] = Counter()
    reward_sums: dict[str, float] = dict.fromkeys(EXPECTED_BEHAVIORS, 0.0)
    correct: Counter[str] = Counter()
    confusion = {e: dict.fromkeys(PREDICTED_BEHAVIORS, 0) for e in EXPECTED_BEHAVIORS}
    seen: set[int] = set()
    for position, (_, row, error) in enumerate(completions):
        if error is not None:
            skipped[f"completion: {error}"] += 1
            continue
        if not isinstance(row, dict) or "completion" not in row:
            skipped["completion: row has no 'completion'"] += 1
            continue
        sample_id = row.get("sample_id")
        if sample_id is None:
            target = ordered[position] if position < len(ordered) else None
            reason = "no usable sample at this position"
        else:
            target = by_id.get(str(sample_id))
            reason = "unknown sample_id"
        if target is None:
            skipped[f"completion: {reason}"] += 1
            continue
        seen.add(id(target))
        try:
            text = completion_text(row["completion"])
        except (TypeError, ValueError) as exc:  # a row shaped unlike any completion
            skipped[f"completion: unreadable completion ({type(exc).__name__})"] += 1
            continue
        result = score_completion(text, target.ground_truth, target.tools, mode)
        expected = result.expected_behavior
        counts[expected] += 1
        reward_sums[expected] += result.reward
        correct[expected] += result.reward == 1.0
        confusion[expected][result.predicted_behavior] += 1

    scored = sum(counts.values())
    per_behavior = {
        e: {
            "count": counts[e],
            "mean_reward": reward_sums[e] / counts[e] if counts[e] else None,
            "accuracy": correct[e] / counts[e] if counts[e] else None,
        }
        for e in EXPECTED_BEHAVIORS
    }
    return {
        "mode": mode,
        "scored": scored,
        "mean_reward": sum(reward_sums.values()) / scored if scored else None,
        "accuracy": sum(correct.values()) / scored if scored else None,
        "per_behavior": per_behavior,
        "confusion": confusion,
        "samples_without_completion": sum(1 for s in ordered if s is not None and id(s) not in seen),
        "skipped": dict(sorted(skipped.items())),
        "skipped_total": sum(skipped.values()),
    }


def score_files(samples_path: str | Path, completions_path: str | Path, mode: RewardMode = "tiered") -> dict:
    """Score a completions file against a samples file with the training reward.

    Args:
        samples_path: ToolForge samples, JSON Lines (``reward_model``, ``tools``, ``extra_info.sample_id``).
        completions_path: JSON Lines of ``{"sample_id": ..., "completion": "text"}`` (the completion may
            also be a chat message list); rows without ``sample_id`` match samples by position.
        mode: "tiered" (default) or "binary".

    Returns:
        ``{"mode", "scored", "mean_reward", "accuracy" (share with reward 1.0), "per_behavior":
        {behaviour: {"count", "mean_reward", "accuracy"}}, "confusion": {expected: {predicted: n}},
        "samples_without_completion", "skipped": {reason: n}, "skipped_total"}``; means are None when
        nothing was scored.
    """
    return score_records(_read_jsonl(samples_path), _read_jsonl(completions_path), mode)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_report(report: dict) -> str:
    """Render a ``score_files`` report as a plain-text table.

    Args:
        report: the dict ``score_files`` returns.

    Returns:
        Summary line, per-behaviour table, confusion matrix (expected rows x predicted columns) and the
        skipped-row reasons.

    >>> empty = score_records([], [])
    >>> print(format_report(empty).splitlines()[0])
    mode tiered  scored 0  mean reward -  accuracy -
    """
    lines = [
        f"mode {report['mode']}  scored {report['scored']}  mean reward {_fmt(report['mean_reward'])}"
        f"  accuracy {_fmt(report['accuracy'])}",
        "",
        f"{'expected':<14}{'count':>8}{'mean reward':>13}{'accuracy':>10}",
    ]
    for behavior, row in report["per_behavior"].items():
        lines.append(f"{behavior:<14}{row['count']:>8}{_fmt(row['mean_reward']):>13}{_fmt(row['accuracy']):>10}")
    lines += ["", "confusion (rows: expected, columns: predicted)"]
    lines.append(f"{'':<14}" + "".join(f"{p:>15}" for p in PREDICTED_BEHAVIORS))
    for expected, row in report["confusion"].items():
        lines.append(f"{expected:<14}" + "".join(f"{row.get(p, 0):>15}" for p in PREDICTED_BEHAVIORS))
    if report.get("samples_without_completion"):
        lines += ["", f"samples without a completion: {report['samples_without_completion']}"]
    lines += ["", f"skipped rows: {report['skipped_total']}"]
    lines += [f"  {count:>7}  {reason}" for reason, count in report["skipped"].items()]
    return "\n".join(lines)

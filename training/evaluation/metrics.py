"""Evaluation metrics: pure functions over scored samples (no I/O, no torch).

Every judgement of a single completion comes from the training reward (``training.rewards.scoring``); this
module only counts. Definitions (each rate is ``None`` when its denominator is empty):

- ``mean_reward`` / ``mean_reward_binary``: mean of the tiered (1 / 0.5 / 0.25 / 0) and binary rewards.
- ``accuracy``: share of samples answered fully correctly (binary reward 1).
- ``tool_name_accuracy``: execution samples only; the completion called exactly the expected tool(s)
  (the multiset of called names equals the expected one; one call for ToolForge samples).
- ``arg_exact_match``: among execution samples with the right tool name(s), the share whose arguments
  are also right (so ``accuracy`` on execution = ``tool_name_accuracy * arg_exact_match``).
- ``arg_precision`` / ``arg_recall`` / ``arg_f1``: micro-averaged over execution samples, counting
  ``(argument, value)`` pairs: a predicted pair is a true positive when the expected call has that
  argument with an equal value (JSON equality, as the reward compares); arguments of a call to another
  tool are false positives; an extra argument left at its schema default is ignored (the reward
  forgives it too).
- ``malformed_rate``: share of completions whose tool-call text does not parse.
- ``hallucinated_tool_rate``: share of completions calling at least one tool that was not offered.
- ``wrong_call_rate``: clarification and refusal samples only; share that made any tool call.

Slices (``domain``, ``n_tools``, ``schema_depth``, ``param_count`` of the target tool) report
count, accuracy and mean reward, to see e.g. whether more offered tools hurt.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from training.rewards.scoring import EXPECTED_BEHAVIORS, PREDICTED_BEHAVIORS, json_equal

NO_CALL_BEHAVIORS = ("clarification", "refusal")
_MISSING = object()


@dataclass(slots=True)
class SampleResult:
    """One scored completion with what the metrics need (built by ``training.evaluation.run.score_row``)."""

    sample_id: str
    expected: str
    predicted: str
    reward: float
    reward_binary: float
    reason: str
    called: tuple[str, ...] = ()
    expected_calls: tuple[str, ...] = ()
    offered: tuple[str, ...] = ()
    arg_tp: int = 0
    arg_fp: int = 0
    arg_fn: int = 0
    domain: str | None = None
    n_tools: int | None = None
    schema_depth: int | None = None
    param_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        """Fully correct: binary reward 1."""
        return self.reward_binary == 1.0

    @property
    def name_correct(self) -> bool:
        """Called exactly the expected tool names (execution samples; False otherwise)."""
        return bool(self.expected_calls) and sorted(self.called) == sorted(self.expected_calls)

    @property
    def hallucinated(self) -> bool:
        """Called at least one tool that was not offered."""
        offered = set(self.offered)
        return any(name not in offered for name in self.called)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


def _at_default(props: Mapping[str, Any], key: str, value: Any) -> bool:
    schema = props.get(key)
    default = schema.get("default", _MISSING) if isinstance(schema, dict) else _MISSING
    return default is not _MISSING and json_equal(value, default)


def argument_counts(
    got: Mapping[str, Any] | None, want: Mapping[str, Any], props: Mapping[str, Any] | None = None
) -> tuple[int, int, int]:
    """Count (true positive, false positive, false negative) argument pairs of one call.

    Args:
        got: the arguments of the predicted call to the expected tool (None when it was not called).
        want: the expected arguments.
        props: the tool's ``parameters.properties`` (for defaults); may be None.

    Returns:
        ``(tp, fp, fn)``. Null values mean "not given" on both sides, as in the reward.

    >>> argument_counts({"city": "Paris", "days": 3}, {"city": "Paris", "days": 5})
    (1, 1, 1)
    """
    props = props or {}
    want = {k: v for k, v in want.items() if v is not None}
    got = {k: v for k, v in (got or {}).items() if v is not None}
    tp = fp = fn = 0
    for key, value in got.items():
        if key in want and json_equal(value, want[key]):
            tp += 1
        elif not (key not in want and _at_default(props, key, value)):
            fp += 1
    for key, value in want.items():
        # An expected argument left out is fine when it equals the default (the reward forgives it).
        if key in got:
            fn += not json_equal(got[key], value)
        else:
            fn += not _at_default(props, key, value)
    return tp, fp, fn


def schema_complexity(tool: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """Nesting depth and top-level parameter count of a tool's parameter schema.

    Depth counts object and array levels: flat scalar parameters are depth 1, a parameter that is an
    object (or an array of scalars) adds one level, an array of objects two.

    Args:
        tool: an OpenAI tool dict (or its ``function``), or None.

    Returns:
        ``(depth, param_count)``, or ``(None, None)`` without a tool.

    >>> rows = {"type": "array", "items": {"type": "object", "properties": {}}}
    >>> schema_complexity({"function": {"parameters": {"type": "object", "properties": {
    ...     "a": {"type": "string"}, "b": rows}}}})
    (3, 2)
    """
    if not tool:
        return None, None
    fn = tool.get("function", tool)
    params = fn.get("parameters") if isinstance(fn, Mapping) else None
    if not isinstance(params, Mapping):
        return 1, 0
    props = params.get("properties")
    return _depth(params), len(props) if isinstance(props, Mapping) else 0


def _depth(schema: Any, level: int = 0) -> int:
    if level > 64 or not isinstance(schema, Mapping):
        return level
    children: list[Any] = []
    props = schema.get("properties")
    if isinstance(props, Mapping):
        children.extend(props.values())
    items = schema.get("items")
    if isinstance(items, Mapping):
        children.append(items)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(schema.get(key), list):
            children.extend(schema[key])
    nested = [c for c in children if isinstance(c, Mapping) and _is_container(c)]
    return max((_depth(c, level + 1) for c in nested), default=level + 1)


def _is_container(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return bool({"object", "array"} & set(kinds)) or "properties" in schema or "items" in schema


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def rates(results: Sequence[SampleResult]) -> dict[str, Any]:
    """Every metric over a group of samples (see the module docstring for definitions).

    Args:
        results: scored samples.

    Returns:
        ``{"count", "mean_reward", "mean_reward_binary", "accuracy", "tool_name_accuracy",
        "arg_exact_match", "arg_precision", "arg_recall", "arg_f1", "malformed_rate",
        "hallucinated_tool_rate", "wrong_call_rate"}``.
    """
    n = len(results)
    execution = [r for r in results if r.expected == "execution"]
    named = [r for r in execution if r.name_correct]
    no_call = [r for r in results if r.expected in NO_CALL_BEHAVIORS]
    tp = sum(r.arg_tp for r in execution)
    fp = sum(r.arg_fp for r in execution)
    fn = sum(r.arg_fn for r in execution)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    if precision is None or recall is None:
        f1 = None if tp + fp + fn == 0 else 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "count": n,
        "mean_reward": _ratio(sum(r.reward for r in results), n),
        "mean_reward_binary": _ratio(sum(r.reward_binary for r in results), n),
        "accuracy": _ratio(sum(r.correct for r in results), n),
        "tool_name_accuracy": _ratio(len(named), len(execution)),
        "arg_exact_match": _ratio(sum(r.correct for r in named), len(named)),
        "arg_precision": precision,
        "arg_recall": recall,
        "arg_f1": f1,
        "malformed_rate": _ratio(sum(r.predicted == "malformed" for r in results), n),
        "hallucinated_tool_rate": _ratio(sum(r.hallucinated for r in results), n),
        "wrong_call_rate": _ratio(sum(bool(r.called) for r in no_call), len(no_call)),
    }


def confusion(results: Iterable[SampleResult]) -> dict[str, dict[str, int]]:
    """Expected × predicted behaviour counts.

    Args:
        results: scored samples.

    Returns:
        ``{expected: {predicted: count}}`` over every expected and predicted behaviour (zeros kept).
    """
    table = {e: dict.fromkeys(PREDICTED_BEHAVIORS, 0) for e in EXPECTED_BEHAVIORS}
    for r in results:
        table.setdefault(r.expected, dict.fromkeys(PREDICTED_BEHAVIORS, 0))[r.predicted] += 1
    return table


def _param_bucket(count: int | None) -> str:
    if count is None:
        return "none"
    if count <= 2:
        return "0-2"
    if count <= 4:
        return "3-4"
    return "5-6" if count <= 6 else "7+"


SLICES: dict[str, Callable[[SampleResult], Any]] = {
    "domain": lambda r: r.domain or "unknown",
    "n_tools": lambda r: r.n_tools if r.n_tools is not None else "unknown",
    "schema_depth": lambda r: r.schema_depth if r.schema_depth is not None else "none",
    "param_count": lambda r: _param_bucket(r.param_count),
}


def slices(results: Sequence[SampleResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """Accuracy and mean reward per value of each slice key (domain, offered tools, schema complexity).

    Args:
        results: scored samples.

    Returns:
        ``{slice: {value: {"count", "accuracy", "mean_reward"}}}``, values sorted (numbers numerically).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, key in SLICES.items():
        groups: dict[Any, list[SampleResult]] = defaultdict(list)
        for r in results:
            groups[key(r)].append(r)
        # Numbers first, numerically; then labels alphabetically.
        ordered = sorted(groups, key=lambda v: (isinstance(v, str), 0 if isinstance(v, str) else v, str(v)))
        out[name] = {
            str(v): {
                "count": len(groups[v]),
                "accuracy": _ratio(sum(r.correct for r in groups[v]), len(groups[v])),
                "mean_reward": _ratio(sum(r.reward for r in groups[v]), len(groups[v])),
            }
            for v in ordered
        }
    return out


def summarize(results: Sequence[SampleResult]) -> dict[str, Any]:
    """All metrics of one evaluation: overall, per expected behaviour, confusion matrix and slices.

    Args:
        results: scored samples.

    Returns:
        ``{"n", "overall": rates, "per_behavior": {behaviour: rates}, "confusion", "slices",
        "reasons": {expected: {reason: count}} (the 10 most common each)}``.
    """
    per_behavior = {b: rates([r for r in results if r.expected == b]) for b in EXPECTED_BEHAVIORS}
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        reasons[r.expected][r.reason] += 1
    return {
        "n": len(results),
        "overall": rates(results),
        "per_behavior": per_behavior,
        "confusion": confusion(results),
        "slices": slices(results),
        "reasons": {b: dict(c.most_common(10)) for b, c in sorted(reasons.items())},
    }


def compare(base: Mapping[str, Any], tuned: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's comparison: held-out accuracy before and after, and the relative reward increase.

    Args:
        base: ``summarize`` output of the base model.
        tuned: ``summarize`` output of the fine-tuned model.

    Returns:
        ``{"base_accuracy", "tuned_accuracy", "accuracy_delta", "base_reward", "tuned_reward",
        "relative_reward_increase"}``; the relative increase is ``(tuned - base) / base`` of the mean
        tiered reward (None when the base reward is 0).

    >>> compare({"overall": {"accuracy": 0.65, "mean_reward": 0.7}},
    ...         {"overall": {"accuracy": 0.86, "mean_reward": 0.91}})["relative_reward_increase"]
    0.3
    """
    b, t = base["overall"], tuned["overall"]

    def delta(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else round(y - x, 12)

    rel = None
    if b.get("mean_reward") and t.get("mean_reward") is not None:
        rel = round((t["mean_reward"] - b["mean_reward"]) / b["mean_reward"], 12)
    return {
        "base_accuracy": b.get("accuracy"),
        "tuned_accuracy": t.get("accuracy"),
        "accuracy_delta": delta(b.get("accuracy"), t.get("accuracy")),
        "base_reward": b.get("mean_reward"),
        "tuned_reward": t.get("mean_reward"),
        "relative_reward_increase": rel,
    }

"""Verification of every sample before it is written; a failure names its reason.

- execution: the arguments validate against the tool's schema and every value is in the text (an enum
  or boolean by one of the names its slot gives it);
- clarification: each missing parameter is required, and neither its candidate value nor (for an
  enum, const or boolean) any value it could take, nor any name of one, appears in the text;
- execution and clarification: the request leaks nothing of the answer (`generators.realism.LeakCheck`:
  the tool's name, a multi-word parameter name, 5 words of the description, "x set to v" / "label: v");
- refusal: harmful requests come from a known harm category; out-of-scope requests ask for a
  capability that no offered tool's name or description matches, or (hard negatives) for a registry tool
  that is not offered, beside neighbours that share no content word of its name.

The pipeline counts each reason and regenerates the sample, so exact behaviour counts still hold.
"""

from __future__ import annotations

import inspect
from typing import Any

from generators import direct, refusals, surface
from generators.behaviours import Generator, Sample, slot_mentioned, unrelated_overlap
from generators.realism import label_style
from generators.surface import normalize_text

_MENTIONS_PARAMS = frozenset(inspect.signature(surface.mentions).parameters)
HARM_NAMES = frozenset(refusals.HARM_BY_NAME)
CAPABILITY_BY_NAME = refusals.CAPABILITY_BY_NAME


def _possible_values(schema: dict[str, Any]) -> tuple[Any, ...]:
    # Every value a closed parameter could take; an open one (free text, numbers) has none listed.
    if "const" in schema:
        return (schema["const"],)
    if "enum" in schema:
        return tuple(schema["enum"])
    if schema.get("type") == "boolean":
        return (True, False)
    return ()


def verify(gen: Generator, sample: Sample) -> str | None:
    """Check one sample.

    Args:
        gen: the generator that built it (tools, samplers).
        sample: the sample.

    Returns:
        None when the sample is valid, else a short rejection reason (a stats key).
    """
    text = sample.text
    if not text.strip() or "{{" in text or "}}" in text:
        return "empty_or_unrendered_text"
    if sample.behaviour == "execution":
        return _execution(gen, sample)
    if sample.behaviour == "clarification":
        return _clarification(gen, sample)
    if sample.behaviour == "refusal":
        return _refusal(gen, sample)
    if sample.behaviour == "direct":
        kind = direct.KIND_BY_NAME.get(sample.detail)
        if kind is None:
            return "direct_unknown_kind"
        if kind.name in gen.covered_direct_kinds(sample.offered):
            return "direct_covered_by_offered_tool"
        return None
    return "unknown_behaviour"


def _execution(gen: Generator, sample: Sample) -> str | None:
    if sample.detail == "parallel":
        return _parallel(gen, sample)
    if sample.detail == "multi_turn":
        return _multi_turn(gen, sample)
    name = sample.tool
    if name is None or name not in sample.offered:
        return "target_not_offered"
    call = sample.ground_truth["tool_call"]
    if call["name"] != name or call["parameters"] is not sample.args:
        return "ground_truth_mismatch"
    if not gen.samplers[name].validated(sample.args):
        return "execution_schema_invalid"
    leak = gen.leaks[name].reason(sample.text)
    if leak is not None:
        return leak
    norm = normalize_text(sample.text)
    text, now = sample.text, sample.now
    slots = gen.phrasing[name].slots
    for param, value in sample.args.items():
        if not slot_mentioned(text, norm, value, slots[param], now):
            return "execution_value_not_in_text"
    return None


def _parallel(gen: Generator, sample: Sample) -> str | None:
    # Each part is a verified single-call request inside the text, its tool offered, the calls distinct.
    calls = sample.ground_truth["tool_call"].get("calls")
    if not isinstance(calls, list) or len(calls) < 2 or len(calls) != len(sample.parts):
        return "ground_truth_mismatch"
    for part, call in zip(sample.parts, calls, strict=True):
        if part.tool not in sample.offered:
            return "target_not_offered"
        if call != {"name": part.tool, "parameters": part.args}:
            return "ground_truth_mismatch"
        reason = _execution(gen, part)
        if reason is not None:
            return reason
        if part.text.rstrip() not in sample.text and part.text[:1].lower() + part.text[1:].rstrip() not in sample.text:
            return "parallel_part_not_in_text"
    if any(a == b for i, a in enumerate(calls) for b in calls[i + 1 :]):
        return "parallel_calls_identical"
    # The parts passed the leak checks; the words joining them must not make a "label: value" either.
    if label_style(sample.text):
        return "label_style"
    return None


def _multi_turn(gen: Generator, sample: Sample) -> str | None:
    # The first turn provably lacks the missing values and carries the others; the answer carries the missing.
    if len(sample.parts) != 1 or len(sample.turns) != 2:
        return "ground_truth_mismatch"
    ask = sample.parts[0]
    name = ask.tool or ""
    if sample.turns[0] != ("user", ask.text) or sample.turns[1][0] != "assistant":
        return "dialogue_mismatch"
    if sample.ground_truth["tool_call"] != {"name": name, "parameters": ask.args} or sample.tool != name:
        return "ground_truth_mismatch"
    reason = _clarification(gen, ask)
    if reason is not None:
        return reason
    if not gen.samplers[name].validated(ask.args):
        return "execution_schema_invalid"
    leak = gen.leaks[name].reason(sample.text)
    if leak is not None:
        return leak
    now = sample.now
    first, answer = normalize_text(ask.text), normalize_text(sample.text)
    for param, value in ask.args.items():
        said, norm = (sample.text, answer) if param in ask.missing else (ask.text, first)
        if not gen.mentions(said, value, name, param, norm=norm, now=now):
            return "execution_value_not_in_text"
    return None


def _clarification(gen: Generator, sample: Sample) -> str | None:
    name = sample.tool
    if name is None or name not in sample.offered:
        return "target_not_offered"
    tool = gen.by_name[name]
    if not sample.missing or not set(sample.missing) <= set(tool.required):
        return "clarification_missing_not_required"
    if sample.ground_truth["clarification"] != {"tool": name, "missing": list(sample.missing)}:
        return "ground_truth_mismatch"
    leak = gen.leaks[name].reason(sample.text)
    if leak is not None:
        return leak
    props = tool.properties
    norm = normalize_text(sample.text)
    text, now = sample.text, sample.now
    for param in sample.missing:
        schema = props[param]
        if _raw_mentions(gen, text, sample.args[param], name, param, norm, now):
            return "clarification_value_in_text"
        if any(_raw_mentions(gen, text, o, name, param, norm, now) for o in _possible_values(schema)):
            return "clarification_option_in_text"
        if gen.any_value_named(norm, name, param):
            return "clarification_option_in_text"
    return None


def _raw_mentions(gen: Generator, text: str, value: Any, tool: str, param: str, norm: str, now: Any) -> bool:
    # The value as the schema spells it, whatever the slot calls it ("gas_station", "gas station").
    schema = gen.by_name[tool].properties[param]
    if now is not None and "now" in _MENTIONS_PARAMS:
        return surface.mentions(text, value, schema, name=param, norm=norm, now=now)  # type: ignore[call-arg]
    return surface.mentions(text, value, schema, name=param, norm=norm)


def _refusal(gen: Generator, sample: Sample) -> str | None:
    reason = sample.ground_truth["refusal"]["reason"]
    if reason == "harmful":
        return None if sample.detail in HARM_NAMES else "harmful_unknown_category"
    if reason == "out_of_scope" and sample.detail == "hard_negative":
        if sample.absent is None or sample.absent in sample.offered:
            return "hard_negative_target_offered"
        if any(unrelated_overlap(sample.absent, n) for n in sample.offered):
            return "hard_negative_neighbour_may_do_it"
        return None
    if reason == "out_of_scope":
        cap = CAPABILITY_BY_NAME.get(sample.detail)
        if cap is None:
            return "out_of_scope_unknown_capability"
        if cap.name in gen.covered_capabilities(sample.offered):
            return "out_of_scope_covered_by_offered_tool"
        return None
    return "refusal_unknown_reason"

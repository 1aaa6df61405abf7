"""Verification of every sample before it is written; a failure names its reason.

- execution: the arguments validate against the tool's schema and every value is in the text;
- clarification: each missing parameter is required, and neither its candidate value nor (for an
  enum, const or boolean) any value it could take appears in the text;
- refusal: harmful requests come from a known harm category; out-of-scope requests ask for a
  capability that no offered tool's name or description matches, or (hard negatives) for a registry tool
  that is not offered, beside neighbours that share no content word of its name.

The pipeline counts each reason and regenerates the sample, so exact behaviour counts still hold.
"""

from __future__ import annotations

from typing import Any

from generators import direct, refusals
from generators.behaviours import Generator, Sample, unrelated_overlap
from generators.surface import mentions, normalize_text

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
        if direct.covered(kind, (gen.text[n].text for n in sample.offered)):
            return "direct_covered_by_offered_tool"
        return None
    return "unknown_behaviour"


def _execution(gen: Generator, sample: Sample) -> str | None:
    name = sample.tool
    if name is None or name not in sample.offered:
        return "target_not_offered"
    call = sample.ground_truth["tool_call"]
    if call["name"] != name or call["parameters"] is not sample.args:
        return "ground_truth_mismatch"
    if not gen.samplers[name].validate(sample.args):
        return "execution_schema_invalid"
    props = gen.by_name[name].properties
    norm = normalize_text(sample.text)
    for param, value in sample.args.items():
        if not mentions(sample.text, value, props[param], name=param, norm=norm):
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
    props = tool.properties
    norm = normalize_text(sample.text)
    for param in sample.missing:
        schema = props[param]
        if mentions(sample.text, sample.args[param], schema, name=param, norm=norm):
            return "clarification_value_in_text"
        if any(mentions(sample.text, o, schema, name=param, norm=norm) for o in _possible_values(schema)):
            return "clarification_option_in_text"
    return None


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
        if refusals.capability_covered(cap, (gen.text[n].text for n in sample.offered)):
            return "out_of_scope_covered_by_offered_tool"
        return None
    return "refusal_unknown_reason"

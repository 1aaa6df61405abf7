"""Read external tool-calling benchmarks into ToolForge sample rows, so one scorer judges them all.

Mapping onto the three behaviours:

- BFCL record with a ``possible_answer`` entry -> execution; ground truth: every allowed value of every
  expected call (``bfcl_ground_truth``; the raw answer is also kept in ``extra_info.bfcl_possible_answer``).
- BFCL ``irrelevance`` / ``live_irrelevance`` -> refusal, ``{"refusal": {"reason": "out_of_scope"}}``.
- BFCL multi-turn, ``live_relevance`` or no answer -> skipped, reason counted.
- When2Call ``correct_answer: tool_call`` -> execution; ground truth: the call in ``answers.tool_call``.
- When2Call ``request_for_info`` -> clarification, ``{"tool": target_tool, "missing": [held_out_param]}``.
- When2Call ``cannot_answer`` -> refusal, ``{"refusal": {"reason": "out_of_scope"}}``.
- When2Call ``direct`` -> skipped, reason counted (ToolForge has no "answer without tools" behaviour).

BFCL types (``dict``, ``float``, ``tuple``...) become JSON Schema with the importer's
``normalise_bfcl_schema``; tool names are kept as written (``math.factorial``), since the model is
scored on them. The system message is ToolForge's default prompt (or the record's own system message)
with the tools rendered as Qwen 2.5 renders them, exactly as in generated datasets.

BFCL scoring: BFCL lists several allowed values per argument (``""`` = may be omitted). The ground truth
keeps them all, and the shared reward judges by them: a completion is correct when its calls can be
paired one-to-one with the expected calls (any order), each with the same name, no argument outside the
expected ones (unless at its declared default), every argument one of its allowed values (strings
compared as BFCL does: case-insensitive, ignoring spaces and ``,./-_*^``; numbers by value; lists
element-wise; nested dicts key by key), and every missing argument optional. So ``toolforge score``, the
TRL reward and ``toolforge evaluate`` give one number. Irrelevance rows keep the ToolForge rule (decline,
no call), which is stricter than BFCL's "no call"; ``wrong_call_rate`` on them is BFCL's irrelevance
error rate.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from generators.importers import normalise_bfcl_schema
from generators.render import system_content
from generators.spec import DEFAULT_SYSTEM_PROMPT
from training.rewards.scoring import OPTIONAL, ToolCall, arguments_match, loads_json, value_matches

__all__ = ["OPTIONAL", "arguments_match", "value_matches"]  # re-exported from training.rewards.scoring

_CATEGORY = re.compile(r"_[\d-]+$")


# --- BFCL matcher ------------------------------------------------------------------------------------
# The value rules live in the shared reward (``training.rewards.value_matches`` / ``arguments_match``), so
# a BFCL row's ground truth (every allowed value, see ``bfcl_ground_truth``) is judged the same way by
# ``toolforge score``, the TRL reward and the evaluator. They are re-exported here for existing callers.


def _expected_calls(possible_answer: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    calls = []
    for entry in possible_answer:
        for name, allowed in entry.items():
            calls.append((name, allowed if isinstance(allowed, Mapping) else {}))
    return calls


def bfcl_match(calls: Sequence[ToolCall], possible_answer: Sequence[Mapping[str, Any]]) -> bool:
    """Whether parsed calls answer a BFCL ground truth (calls paired one-to-one, any order).

    Args:
        calls: the calls the shared parser found in the completion.
        possible_answer: BFCL's ``ground_truth`` list, ``[{name: {param: [allowed values]}}, ...]``.

    Returns:
        True when every call matches a distinct expected call and none is left over.

    >>> bfcl_match([ToolCall("f", {"x": 1})], [{"f": {"x": [1, 2], "y": [""]}}])
    True
    """
    expected = _expected_calls(possible_answer)
    if len(calls) != len(expected):
        return False
    # Bipartite pairing by backtracking: BFCL parallel answers are short (a handful of calls).
    used = [False] * len(expected)

    def pair(i: int) -> bool:
        if i == len(calls):
            return True
        for j, (name, allowed) in enumerate(expected):
            if not used[j] and calls[i].name == name and arguments_match(calls[i].arguments, allowed):
                used[j] = True
                if pair(i + 1):
                    return True
                used[j] = False
        return False

    return pair(0)


def bfcl_argument_counts(
    calls: Sequence[ToolCall], possible_answer: Sequence[Mapping[str, Any]]
) -> tuple[int, int, int]:
    """(true positive, false positive, false negative) argument counts against a BFCL answer.

    Each expected call is paired with the first unused call of the same name. A given argument is a true
    positive when its value is allowed, else a false positive (and, if expected, also a false negative);
    a missing argument is a false negative unless optional; arguments of unpaired calls are false positives.

    Args:
        calls: the parsed calls.
        possible_answer: BFCL's ``ground_truth`` list.

    Returns:
        ``(tp, fp, fn)``, the counts ``training.evaluation.metrics`` sums into the argument F1.

    >>> bfcl_argument_counts([ToolCall("f", {"x": 2, "z": 0})], [{"f": {"x": [1, 2], "y": [3], "o": [""]}}])
    (1, 1, 1)
    """
    used: set[int] = set()
    tp = fp = fn = 0
    for name, allowed in _expected_calls(possible_answer):
        index = next((i for i, c in enumerate(calls) if i not in used and c.name == name), None)
        args: Mapping[str, Any] = {}
        if index is not None:
            used.add(index)
            args = calls[index].arguments
        for key, values in allowed.items():
            values = values if isinstance(values, list) else [values]
            if key not in args:
                fn += OPTIONAL not in values
            elif any(value_matches(args[key], v) for v in values):
                tp += 1
            else:
                fp, fn = fp + 1, fn + 1
        fp += sum(1 for key in args if key not in allowed)
    fp += sum(len(c.arguments) for i, c in enumerate(calls) if i not in used)
    return tp, fp, fn


def expected_names(possible_answer: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The tool names a BFCL answer expects, one per call.

    Args:
        possible_answer: BFCL's ``ground_truth`` list.

    Returns:
        The names, in answer order.
    """
    return tuple(name for name, _ in _expected_calls(possible_answer))


def representative_arguments(allowed: Mapping[str, Any]) -> dict[str, Any]:
    """One concrete argument dict from a BFCL answer: each parameter's first non-optional value.

    Args:
        allowed: ``{param: [allowed values]}``.

    Returns:
        The arguments; parameters whose only allowed value is ``""`` are left out.

    >>> representative_arguments({"a": ["", 3], "b": [""], "c": [{"k": ["v", ""]}]})
    {'a': 3, 'c': {'k': 'v'}}
    """
    out: dict[str, Any] = {}
    for key, values in allowed.items():
        values = values if isinstance(values, list) else [values]
        chosen = next((v for v in values if v != OPTIONAL), OPTIONAL)
        if chosen == OPTIONAL:
            continue
        if isinstance(chosen, dict) and chosen and all(isinstance(v, list) for v in chosen.values()):
            chosen = representative_arguments(chosen)
        out[key] = chosen
    return out


def _string_forms(value: Any, declared: Any) -> list[Any]:
    """Other spellings of one allowed value that BFCL accepts for Java / JavaScript parameters.

    BFCL asks for those languages' arguments as strings ("true", "5", "[1, 2]"), while its answers often
    hold the typed value; a string answer on a boolean / integer / number parameter gets its typed value.
    """
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        forms = [str(value)]
        if isinstance(value, float) and value.is_integer():
            forms.append(str(int(value)))
        return forms
    if isinstance(value, list):
        return [json.dumps(value, ensure_ascii=False)]
    if isinstance(value, str) and value != OPTIONAL:
        text = value.strip()
        if declared == "boolean" and text.lower() in ("true", "false"):
            return [text.lower() == "true"]
        if declared in ("integer", "number"):
            try:
                number = float(text) if declared == "number" or "." in text else int(text)
            except ValueError:
                return []
            return [number] if not isinstance(number, float) or number == number else []
    return []


def bfcl_ground_truth(
    possible_answer: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = (), category: str = ""
) -> dict[str, Any]:
    """The ToolForge ground truth of a BFCL answer, keeping every allowed value of every call.

    Shape: ``{"tool_call": {"name", "parameters", "allowed", ["calls"]}}``: ``name`` / ``parameters`` are
    the first call with one concrete value per argument (``representative_arguments``, for readers that
    want one call to show or train on); ``allowed`` is ``{argument: [every allowed value]}`` (``""`` among
    them: may be left out), which the shared reward judges by; with more than one expected call,
    ``calls`` lists each as ``{"name", "parameters", "allowed"}`` and the reward pairs them in any order.
    For Java / JavaScript categories each value's string spelling is allowed too (``"true"`` for true).

    Args:
        possible_answer: BFCL's ``ground_truth`` list (``[{name: {argument: [allowed values]}}]``).
        tools: the offered OpenAI tools (their declared types give the Java / JavaScript spellings).
        category: the BFCL category (``java``, ``javascript``, ``simple``...).

    Returns:
        The ground truth dict.

    >>> bfcl_ground_truth([{"f": {"x": [1, 2], "u": ["", "cm"]}}])
    {'tool_call': {'name': 'f', 'parameters': {'x': 1, 'u': 'cm'}, 'allowed': {'x': [1, 2], 'u': ['', 'cm']}}}
    """
    lenient = "java" in category  # java, javascript, simple_java, simple_javascript...
    types: dict[str, dict[str, Any]] = {}
    for tool in tools:
        fn = tool.get("function", tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        types[fn.get("name")] = {k: v.get("type") for k, v in props.items() if isinstance(v, dict)}
    calls = []
    for name, allowed in _expected_calls(possible_answer):
        values_by_arg: dict[str, list[Any]] = {}
        for key, values in allowed.items():
            values = list(values) if isinstance(values, list) else [values]
            if lenient:
                declared = types.get(name, {}).get(key)
                for value in list(values):
                    values.extend(f for f in _string_forms(value, declared) if f not in values)
            values_by_arg[key] = values
        calls.append({"name": name, "parameters": representative_arguments(allowed), "allowed": values_by_arg})
    first = dict(calls[0])
    if len(calls) > 1:
        first["calls"] = calls
    return {"tool_call": first}


# --- rows ----------------------------------------------------------------------------------------------


def _read_records(path: str | Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line, record, error) per non-blank line of JSON Lines; a whole-file JSON list also works."""
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            for i, record in enumerate(loads_json(stripped), start=1):
                yield i, record, None
            return
        except ValueError:
            pass  # not one JSON document: fall back to JSON Lines
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, loads_json(line), None
            except ValueError as exc:
                yield number, None, f"invalid JSON ({str(exc).split(':', 1)[0]})"


def openai_tool(fn: Any) -> dict[str, Any]:
    """A BFCL / When2Call function (dict or JSON text) as an OpenAI tool with JSON Schema parameters.

    Args:
        fn: ``{"name", "description", "parameters"}`` (BFCL types allowed); a function-level
            ``required`` list (When2Call's training files) is moved into ``parameters``.

    Returns:
        ``{"type": "function", "function": {...}}``.

    Raises:
        ValueError: the function has no name or its schema cannot be normalised.
    """
    if isinstance(fn, str):
        fn = loads_json(fn)
    if isinstance(fn, dict) and fn.get("type") == "function" and isinstance(fn.get("function"), dict):
        fn = fn["function"]
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ValueError("a tool has no name")
    params = dict(fn.get("parameters") or {"type": "object", "properties": {}})
    if isinstance(fn.get("required"), list) and "required" not in params:
        params["required"] = fn["required"]
    try:
        params = normalise_bfcl_schema(params)
    except Exception as exc:  # the importer's own error type is private; keep its message as the reason
        raise ValueError(f"tool {fn['name']}: {exc}") from exc
    function = {"name": fn["name"], "description": str(fn.get("description") or ""), "parameters": params}
    return {"type": "function", "function": function}


def make_row(
    sample_id: str,
    messages: Sequence[Mapping[str, Any]],
    tools: list[dict[str, Any]],
    behavior: str,
    ground_truth: dict[str, Any],
    domain: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ToolForge sample row for an external record (tools rendered into the system message).

    Args:
        sample_id: the record's id.
        messages: the conversation; a leading system message replaces ToolForge's default prompt.
        tools: OpenAI tools.
        behavior: execution, clarification or refusal.
        ground_truth: the ToolForge ground truth.
        domain: a label for the domain slice (``bfcl:simple``, ``when2call:BFCL v2 Live Simple``).
        extra: more ``extra_info`` fields.

    Returns:
        The row: ``prompt``, ``tools``, ``behavior``, ``reward_model``, ``extra_info``.
    """
    system = DEFAULT_SYSTEM_PROMPT
    rest = [{"role": m["role"], "content": m["content"]} for m in messages]
    if rest and rest[0]["role"] == "system":
        system = rest.pop(0)["content"]
    prompt = [{"role": "system", "content": system_content(system, tools) if tools else system}, *rest]
    return {
        "prompt": prompt,
        "tools": tools,
        "behavior": behavior,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {
            "sample_id": sample_id,
            "tool_split": "external",
            "domain": domain,
            "n_tools": len(tools),
            **(extra or {}),
        },
    }


def bfcl_category(record_id: str) -> str:
    """BFCL's category from a record id: ``live_simple_179-104-0`` -> ``live_simple``.

    >>> bfcl_category("parallel_multiple_2"), bfcl_category("irrelevance_12")
    ('parallel_multiple', 'irrelevance')
    """
    return _CATEGORY.sub("", record_id)


Rows = list[dict[str, Any]]


def read_bfcl(questions: str | Path, answers: str | Path | None = None) -> tuple[Rows, Counter[str]]:
    """Read BFCL questions (and their ``possible_answer`` file) into ToolForge rows.

    Args:
        questions: BFCL JSON Lines with ``id``, ``question`` (turns of messages) and ``function``.
        answers: JSON Lines with ``id`` and ``ground_truth`` (``[{name: {param: [allowed]}}]``).

    Returns:
        (rows, skipped reasons with counts). Irrelevance records need no answer.
    """
    skipped: Counter[str] = Counter()
    truth: dict[str, Any] = {}
    if answers is not None:
        for _, record, error in _read_records(answers):
            if error or not isinstance(record, dict) or "id" not in record:
                skipped[f"answer: {error or 'record without id'}"] += 1
                continue
            truth[str(record["id"])] = record.get("ground_truth")
    rows = []
    for _, record, error in _read_records(questions):
        if error or not isinstance(record, dict) or not isinstance(record.get("id"), str):
            skipped[f"question: {error or 'record without id'}"] += 1
            continue
        row, reason = _bfcl_row(record, truth.get(record["id"]))
        if row is None:
            skipped[reason] += 1
        else:
            rows.append(row)
    return rows, skipped


def _bfcl_row(record: dict[str, Any], answer: Any) -> tuple[dict[str, Any] | None, str]:
    record_id = record["id"]
    category = bfcl_category(record_id)
    turns = record.get("question")
    if not isinstance(turns, list) or not turns:
        return None, "question: no question"
    if len(turns) > 1:
        return None, "multi-turn record (not supported)"
    messages = turns[0] if isinstance(turns[0], list) else turns
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        return None, "question: messages need role and content"
    functions = record.get("function") or []
    try:
        tools = [openai_tool(fn) for fn in (functions if isinstance(functions, list) else [functions])]
    except ValueError as exc:
        return None, f"unusable tool ({str(exc)[:60]})"
    if "irrelevance" in category:
        gt = {"refusal": {"reason": "out_of_scope"}}
        return make_row(record_id, messages, tools, "refusal", gt, f"bfcl:{category}"), ""
    if "relevance" in category:
        return None, "live_relevance record (any call counts; not supported)"
    if not isinstance(answer, list) or not answer or not all(isinstance(a, dict) for a in answer):
        return None, "no possible_answer"
    gt = bfcl_ground_truth(answer, tools, category)
    extra = {"bfcl_possible_answer": answer}
    return make_row(record_id, messages, tools, "execution", gt, f"bfcl:{category}", extra), ""


def read_when2call(path: str | Path) -> tuple[Rows, Counter[str]]:
    """Read When2Call records into ToolForge rows.

    Args:
        path: JSON Lines with ``uuid``, ``question``, ``tools`` (JSON texts or dicts), ``correct_answer``
            (``tool_call`` / ``request_for_info`` / ``cannot_answer`` / ``direct``), ``answers``,
            ``target_tool`` and ``held_out_param``.

    Returns:
        (rows, skipped reasons with counts).
    """
    rows: Rows = []
    skipped: Counter[str] = Counter()
    for number, record, error in _read_records(path):
        if error or not isinstance(record, dict):
            skipped[error or "record is not an object"] += 1
            continue
        row, reason = _when2call_row(record, number)
        if row is None:
            skipped[reason] += 1
        else:
            rows.append(row)
    return rows, skipped


def _when2call_row(record: dict[str, Any], number: int) -> tuple[dict[str, Any] | None, str]:
    sample_id = str(record.get("uuid") or f"when2call-{number}")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return None, "no question"
    try:
        tools = [openai_tool(t) for t in record.get("tools") or []]
    except ValueError as exc:
        return None, f"unusable tool ({str(exc)[:60]})"
    answer = record.get("correct_answer")
    target = record.get("target_tool")
    target_name = _tool_name(target)
    if answer == "tool_call":
        try:
            call = loads_json((record.get("answers") or {}).get("tool_call") or "")
        except ValueError:
            return None, "tool_call answer is not JSON"
        if isinstance(call, list) and len(call) == 1:
            call = call[0]
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None, "tool_call answer is not one call"
        args = call.get("arguments", call.get("parameters")) or {}
        args = loads_json(args) if isinstance(args, str) else args
        gt: dict[str, Any] = {"tool_call": {"name": call["name"], "parameters": args}}
        behavior = "execution"
    elif answer == "request_for_info":
        held_out = record.get("held_out_param")
        missing = [held_out] if isinstance(held_out, str) and held_out else []
        gt = {"clarification": {"tool": target_name or "", "missing": missing}}
        behavior = "clarification"
    elif answer == "cannot_answer":
        gt, behavior = {"refusal": {"reason": "out_of_scope"}}, "refusal"
    elif answer == "direct":
        return None, "direct answer expected (no ToolForge behaviour)"
    else:
        return None, f"unknown correct_answer {str(answer)[:30]!r}"
    domain = f"when2call:{record.get('source') or 'unknown'}"
    messages = [{"role": "user", "content": question}]
    return make_row(sample_id, messages, tools, behavior, gt, domain), ""


def _tool_name(target: Any) -> str | None:
    if isinstance(target, str):
        try:
            target = loads_json(target)
        except ValueError:
            return target  # already a bare name
    if isinstance(target, dict):
        fn = target.get("function", target)
        return fn.get("name") if isinstance(fn, dict) else None
    return None


def read_benchmark(
    fmt: str, path: str | Path, answers: str | Path | None = None
) -> tuple[Rows, Counter[str]]:
    """Read an external benchmark file by format name.

    Args:
        fmt: ``bfcl`` or ``when2call``.
        path: the benchmark file.
        answers: BFCL's possible-answer file (BFCL only).

    Returns:
        (rows, skipped reasons with counts).

    Raises:
        ValueError: unknown format.
    """
    if fmt == "bfcl":
        return read_bfcl(path, answers)
    if fmt == "when2call":
        return read_when2call(path)
    raise ValueError(f"unknown benchmark format {fmt!r}; use bfcl or when2call")


def offered_names(tools: Iterable[Any]) -> tuple[str, ...]:
    """Names of offered tools (OpenAI dicts or their JSON text).

    Args:
        tools: the row's ``tools``.

    Returns:
        The names, in order.
    """
    names = []
    for tool in tools or ():
        if isinstance(tool, str):
            tool = loads_json(tool)
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return tuple(names)

"""Preference pairs for DPO, from GRPO rollouts or from the ground truth alone.

Two sources, one row format (TRL's conversational preference format, also loadable by ``datasets``)::

    {"prompt": [{"role": "system", ...}, {"role": "user", ...}],
     "chosen": [{"role": "assistant", "content": "..."}], "rejected": [{"role": "assistant", "content": "..."}],
     "sample_id": "...", "behavior": "execution", "tool": "get_weather", "source": "rollouts" | "ground_truth",
     "rejected_kind": "...", "chosen_reward": 1.0, "rejected_reward": 0.5, "margin": 0.5}

- From rollouts: per prompt, chosen = a completion with the highest reward, rejected = one with the lowest,
  kept only when the margin exceeds ``min_margin`` (ties broken by the seeded ``random.Random``).
- From the ground truth (no model needed): chosen = the reference answer (``training.trainers.sft.reference_answer``),
  rejected = a near miss made from the sample: the wrong tool, a dropped or altered argument (execution),
  a call with a guessed value where a clarification was due, a call where a refusal was due. Every pair
  is verified with the reward itself (chosen must score 1, rejected less); a pair that does not verify
  is dropped and its reason counted.

Pure functions (no torch, no typer); the ``toolforge preferences`` command is ``app/cli/preferences.py``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from training.derived.rollouts import expected_tool
from training.rewards.scoring import EXPECTED_BEHAVIORS, loads_json, read_ground_truth, score_completion
from training.trainers.sft import reference_answer

PREFERENCES_FILE = "preferences.jsonl"
COMPLIANT_REPLY = "Sure, here is how to do that."


def _tools(sample: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = sample.get("tools") or []
    if isinstance(tools, str | bytes):
        tools = loads_json(tools)
    return [t.get("function", t) for t in tools if isinstance(t, dict)]


def _messages(sample: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in sample["prompt"]]


def _call_text(name: str, arguments: Mapping[str, Any]) -> str:
    """A Qwen 2.5 tool-call block, written as ``reference_answer`` writes one."""
    return reference_answer({"tool_call": {"name": name, "parameters": dict(arguments)}})


def pair_row(sample: Mapping[str, Any], chosen: str, rejected: str, *, source: str, rejected_kind: str,
             chosen_reward: float, rejected_reward: float) -> dict[str, Any]:
    """One preference row for `sample` (see the module docstring for the format).

    Args:
        sample: the ToolForge sample (``prompt``, ``reward_model``, ``behavior``, ``extra_info``).
        chosen: the preferred reply.
        rejected: the dispreferred reply.
        source: ``rollouts`` or ``ground_truth``.
        rejected_kind: what kind of mistake `rejected` is.
        chosen_reward: the tiered reward of `chosen`.
        rejected_reward: the tiered reward of `rejected`.

    Returns:
        The row.
    """
    behaviour, _ = read_ground_truth(sample["reward_model"])
    return {
        "prompt": _messages(sample),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "sample_id": (sample.get("extra_info") or {}).get("sample_id", ""),
        "behavior": behaviour,
        "tool": expected_tool(sample["reward_model"]),
        "source": source,
        "rejected_kind": rejected_kind,
        "chosen_reward": chosen_reward,
        "rejected_reward": rejected_reward,
        "margin": round(chosen_reward - rejected_reward, 6),
    }


# --- from rollouts -------------------------------------------------------------------------------------


def pairs_from_rollouts(rollouts: Iterable[Mapping[str, Any]], samples: Mapping[str, Mapping[str, Any]], *,
                        min_margin: float, rng: random.Random) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Best-against-worst pairs per prompt from GRPO rollouts.

    Args:
        rollouts: rollout rows (``sample_id``, ``completion``, ``reward``; see ``training.derived.rollouts``).
        samples: the parent dataset's samples by ``extra_info.sample_id`` (for the prompts).
        min_margin: keep a prompt's pair only when best - worst reward is greater than this.
        rng: breaks ties between equally rewarded completions.

    Returns:
        The pairs (in order of first appearance of each prompt) and the counts of dropped prompts by reason.

    >>> sample = {"prompt": [{"role": "user", "content": "hurt someone"}], "behavior": "refusal",
    ...           "reward_model": {"ground_truth": {"refusal": {"reason": "harmful"}}},
    ...           "extra_info": {"sample_id": "a"}}
    >>> rows = [{"sample_id": "a", "completion": t, "reward": r} for t, r in (("No.", 1.0), ("Which?", 0.25))]
    >>> pairs, dropped = pairs_from_rollouts(rows, {"a": sample}, min_margin=0.5, rng=random.Random(0))
    >>> pairs[0]["chosen"][0]["content"], pairs[0]["rejected"][0]["content"], pairs[0]["margin"]
    ('No.', 'Which?', 0.75)
    """
    by_prompt: dict[str, dict[str, float]] = defaultdict(dict)  # sample_id -> {completion: reward}
    for row in rollouts:
        by_prompt[row["sample_id"]][row["completion"]] = float(row["reward"])
    pairs: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for sample_id, replies in by_prompt.items():
        sample = samples.get(sample_id)
        if sample is None:
            dropped["sample not in the parent dataset"] += 1
            continue
        best, worst = max(replies.values()), min(replies.values())
        if best - worst <= min_margin:
            dropped["margin at or below min_margin" if best > worst else "all rollouts scored the same"] += 1
            continue
        # Sorted before choosing: the pick depends on the seed only, not on the order rows arrived in.
        chosen = rng.choice(sorted(t for t, r in replies.items() if r == best))
        rejected = rng.choice(sorted(t for t, r in replies.items() if r == worst))
        pairs.append(pair_row(sample, chosen, rejected, source="rollouts", rejected_kind="lowest_reward_rollout",
                              chosen_reward=best, rejected_reward=worst))
    return pairs, dropped


# --- from the ground truth -----------------------------------------------------------------------------


def _placeholder(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A plausible value for a parameter the user never gave (what a model that guesses would send)."""
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "integer":
        return rng.randint(1, 9)
    if kind == "number":
        return float(rng.randint(1, 99))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_placeholder(schema.get("items") or {}, rng)]
    if kind == "object":
        return {}
    fmt = schema.get("format")
    return {"date": "2025-01-01", "date-time": "2025-01-01T09:00:00Z", "email": "someone@example.com",
            "uri": "https://example.com"}.get(fmt, rng.choice(["unknown", "default", "my usual one"]))


def _altered(value: Any, schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A different value of the same type: the call looks right but does something else."""
    others = [v for v in schema.get("enum") or [] if v != value]
    if others:
        return rng.choice(others)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.randint(1, 5)
    if isinstance(value, float):
        return value * 2 + 1
    if isinstance(value, str):
        return f"{value} {rng.choice(['North', 'II', 'old', 'backup'])}" if value else "unknown"
    if isinstance(value, list):
        return value[:-1] if value else [_placeholder(schema.get("items") or {}, rng)]
    if isinstance(value, dict):
        return {} if value else {"note": "unknown"}
    return "unknown"


def near_miss(sample: Mapping[str, Any], rng: random.Random) -> tuple[str, str] | None:
    """A reply that is almost right for `sample`, and the kind of mistake it makes.

    Args:
        sample: a ToolForge sample (``reward_model``, ``tools``).
        rng: picks the mistake and the values.

    Returns:
        ``(kind, text)``: ``wrong_tool``, ``dropped_argument`` or ``altered_argument`` for execution;
        ``guessed_argument`` (a call with a made-up value for a missing parameter) for clarification;
        ``complied`` (a call, or a compliant reply when no tool is offered) for refusal. None when the
        sample offers nothing to make one from.
    """
    behaviour, payload = read_ground_truth(sample["reward_model"])
    tools = _tools(sample)
    schemas = {t.get("name"): t for t in tools}
    if behaviour == "execution":
        name = payload["name"]
        args = {k: v for k, v in (payload.get("parameters") or payload.get("arguments") or {}).items()
                if v is not None}
        props = (schemas.get(name, {}).get("parameters") or {}).get("properties") or {}
        options = [n for n in sorted(schemas) if isinstance(n, str) and n != name]
        kinds = (["wrong_tool"] if options else []) + (["dropped_argument", "altered_argument"] if args else [])
        if not kinds:
            return None
        kind = rng.choice(kinds)
        if kind == "wrong_tool":
            return kind, _call_text(rng.choice(options), args)
        key = rng.choice(sorted(args))
        changed = dict(args)
        if kind == "dropped_argument":
            del changed[key]
        else:
            changed[key] = _altered(args[key], props.get(key) or {}, rng)
        return kind, _call_text(name, changed)
    if behaviour == "clarification":
        name = payload.get("tool")
        if not isinstance(name, str):
            return None
        props = (schemas.get(name, {}).get("parameters") or {}).get("properties") or {}
        missing = [m for m in payload.get("missing") or [] if isinstance(m, str)]
        return "guessed_argument", _call_text(name, {m: _placeholder(props.get(m) or {}, rng) for m in missing})
    if not tools:
        return "complied", COMPLIANT_REPLY
    tool = rng.choice(tools)
    params = tool.get("parameters") or {}
    props = params.get("properties") or {}
    args = {r: _placeholder(props.get(r) or {}, rng) for r in params.get("required") or [] if isinstance(r, str)}
    return "complied", _call_text(tool["name"], args)


def pairs_from_ground_truth(samples: Iterable[Mapping[str, Any]], *, rng: random.Random,
                            min_margin: float = 0.0) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Reference answer against a near miss, for every sample; no model involved.

    Args:
        samples: ToolForge samples.
        rng: picks each near miss.
        min_margin: keep a pair only when chosen - rejected reward is greater than this.

    Returns:
        The verified pairs and the counts of dropped samples by reason.
    """
    pairs: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for sample in samples:
        truth, tools = sample["reward_model"], sample.get("tools")
        chosen = reference_answer(truth)
        if chosen is None:  # a direct request: its answer is not in the data
            dropped["no reference answer (direct request)"] += 1
            continue
        chosen_reward = score_completion(chosen, truth, tools).reward
        if chosen_reward != 1.0:
            dropped["reference answer does not score 1"] += 1
            continue
        # A few tries: dropping an optional argument that sits at its default, say, is not a mistake.
        found = None
        for _ in range(3):
            miss = near_miss(sample, rng)
            if miss is None:
                break
            kind, rejected = miss
            rejected_reward = score_completion(rejected, truth, tools).reward
            if chosen_reward - rejected_reward > min_margin:
                found = (kind, rejected, rejected_reward)
                break
        if found is None:
            dropped["no near miss can be made" if miss is None else f"{kind} scored too close to the reference"] += 1
            continue
        kind, rejected, rejected_reward = found
        pairs.append(pair_row(sample, chosen, rejected, source="ground_truth", rejected_kind=kind,
                              chosen_reward=chosen_reward, rejected_reward=rejected_reward))
    return pairs, dropped


# --- validation and summaries (also run by the service) ------------------------------------------------


def _assistant_turn(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
            and value[0].get("role") == "assistant" and isinstance(value[0].get("content"), str))


def validate_row(row: Any) -> str | None:
    """Why a preference row is unusable for DPO, or None when it is fine.

    >>> validate_row({"prompt": [{"role": "user", "content": "hi"}], "behavior": "refusal",
    ...               "chosen": [{"role": "assistant", "content": "I can't help with that."}],
    ...               "rejected": [{"role": "assistant", "content": "Sure."}]})
    >>> validate_row({"prompt": "hi", "chosen": [], "rejected": []})
    "'prompt' must be a non-empty list of messages"
    """
    if not isinstance(row, dict):
        return "a row must be a JSON object"
    prompt = row.get("prompt")
    if not (isinstance(prompt, list) and prompt and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in prompt)):
        return "'prompt' must be a non-empty list of messages"
    for key in ("chosen", "rejected"):
        if not _assistant_turn(row.get(key)):
            return f"{key!r} must be one assistant message ([{{'role': 'assistant', 'content': ...}}])"
    if row.get("behavior") not in EXPECTED_BEHAVIORS:
        return f"behavior must be one of {', '.join(EXPECTED_BEHAVIORS)}"
    return None


def index_keys(row: Mapping[str, Any]) -> list[str]:
    """The sample-index keys of a preference row: behaviour, tool, source, kind of rejected reply.

    >>> index_keys({"behavior": "refusal", "source": "ground_truth", "rejected_kind": "complied"})
    ['behavior:refusal', 'source:ground_truth', 'rejected_kind:complied']
    """
    keys = [f"behavior:{row.get('behavior')}"]
    keys += [f"{k}:{row[k]}" for k in ("tool", "source", "rejected_kind") if row.get(k)]
    return keys


def preference_stats(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts per behaviour, source and kind of rejected reply, and the mean margin.

    >>> preference_stats([{"behavior": "refusal", "source": "ground_truth", "rejected_kind": "complied",
    ...                    "margin": 1.0}])["per_behavior"]
    {'refusal': 1}
    """
    n, margins = 0, []
    behaviours: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for row in rows:
        n += 1
        behaviours[row["behavior"]] += 1
        sources[str(row.get("source", "?"))] += 1
        kinds[str(row.get("rejected_kind", "?"))] += 1
        if isinstance(row.get("margin"), int | float):
            margins.append(float(row["margin"]))
    return {"rows": n, "per_behavior": dict(sorted(behaviours.items())), "sources": dict(sorted(sources.items())),
            "rejected_kinds": dict(sorted(kinds.items())),
            "mean_margin": round(sum(margins) / len(margins), 6) if margins else None}


def render_card(stats: Mapping[str, Any], *, version_id: str, name: str, parent_id: str,
                meta: Mapping[str, Any]) -> str:
    """The Markdown card of a preferences version.

    Args:
        stats: ``preference_stats`` output.
        version_id: the version's id.
        name: its name.
        parent_id: the version the pairs were made from (rollouts or samples).
        meta: how they were made (source, min_margin, seed, dropped counts).

    Returns:
        The card text.
    """
    made = ", ".join(f"{k} `{v}`" for k, v in sorted(meta.items()) if isinstance(v, str | int | float))
    out = [f"# {name} (preferences)", "",
           f"Version `{version_id}`: {stats['rows']} preference pairs made from `{parent_id}`, in TRL's "
           "conversational preference format (`prompt`, `chosen`, `rejected`); load with "
           "`datasets.load_dataset(\"json\", data_files=\"preferences.jsonl\")`.", ""]
    if made:
        out += [f"Made with: {made}.", ""]
    out += ["| behaviour | pairs |", "|---|---|"] + [f"| {b} | {c} |" for b, c in stats["per_behavior"].items()]
    out += ["", "Rejected replies: " + ", ".join(f"{k} {c}" for k, c in stats["rejected_kinds"].items()) + ".",
            "", f"Mean margin (chosen - rejected tiered reward): {stats['mean_margin']}.", ""]
    dropped = meta.get("dropped")
    if isinstance(dropped, dict) and dropped:
        out += ["Dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()) + ".", ""]
    return "\n".join(out)



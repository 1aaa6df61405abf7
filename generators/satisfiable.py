"""Can the generator make samples for a tool? Checked when a tool is registered, and again before a dataset.

A schema can be valid JSON Schema and still admit no value the generator can build (`minimum` above
`maximum`, `allOf` of a string and an integer, `not: {}`, a `pattern` that contradicts `minLength`).
Registered anyway, such a tool would fail every dataset that draws from it. `generation_problems`
builds a generator for the tool alone and asks for verified execution, clarification and refusal
samples; `drop_ungeneratable` leaves such tools out of a dataset (and says which) instead of failing it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from functools import cache

from generators.registry import Registry, Tool

ATTEMPTS = 20


@cache
def _pools():  # type: ignore[no-untyped-def]
    from generators.values import ValuePools

    return ValuePools.build(0, size=16)


def generation_problems(tool: Tool, attempts: int = ATTEMPTS) -> list[str]:
    """Why the generator cannot make verified samples of `tool` (empty: it can).

    Args:
        tool: a validated tool.
        attempts: tries per behaviour before giving up.

    Returns:
        One message per failing behaviour (or one for arguments that cannot be generated at all).
    """
    from generators.behaviours import Generator
    from generators.verify import verify

    try:
        gen = Generator([tool], _pools(), (0, 0), 0.5)
    except Exception as exc:  # noqa: BLE001 - whatever the schema does to the generator is the tool's problem
        return [f"no valid arguments can be generated: {exc}"]
    rng = random.Random(f"toolforge/registration/{tool.name}")
    problems = []
    for behaviour in ("execution", *(("clarification",) if tool.required else ()), "refusal"):
        reasons: Counter[str] = Counter()
        for _ in range(attempts):
            try:
                reason = verify(gen, gen.sample(behaviour, rng))
            except Exception as exc:  # noqa: BLE001 - as above
                reason = f"{type(exc).__name__}: {exc}"
            if reason is None:
                break
            reasons[reason] += 1
        else:
            why = "; ".join(f"{r} ({n}x)" for r, n in reasons.most_common(3))
            problems.append(f"no {behaviour} sample verified in {attempts} attempts: {why}")
    return problems


def drop_ungeneratable(registry: Registry, names: Sequence[str] = ()) -> tuple[Registry, dict[str, str]]:
    """The registry without tools whose arguments cannot be generated, and why each was left out.

    Only argument generation is tried here (cheap: one compiled sampler per tool); `generation_problems`
    is the full check made at registration.

    Args:
        registry: the dataset's registry.
        names: tools a spec names explicitly (reported like the others; the caller decides).

    Returns:
        `(registry, {tool: reason})`.
    """
    from generators.values import ToolSampler

    skipped: dict[str, str] = {}
    for tool in registry:
        try:
            ToolSampler(tool.parameters, _pools(), tool.name)
        except Exception as exc:  # noqa: BLE001 - reported, never fatal for the other tools
            skipped[tool.name] = str(exc)[:500]
    if not skipped:
        return registry, {}
    return Registry([t for t in registry if t.name not in skipped]), skipped

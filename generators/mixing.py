"""Exact behaviour counts: for the whole dataset (largest remainder) and for each fixed-size chunk.

Chunks are the unit of determinism: chunk ``i`` always covers samples ``[i*size, (i+1)*size)`` and
always gets the same behaviour counts, whatever the number of workers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction

from generators.records import BEHAVIOURS

# Opt-in behaviours appear in the counts only when asked for, so a seed spec's counts keep their three keys.
OPT_IN = frozenset(("direct",))


def _exact(ratio: float) -> Fraction:
    # Through repr: 0.6 becomes 3/5 rather than the binary float just below it, so n=1000 gives 600.
    return Fraction(repr(float(ratio)))


def behaviour_counts(n: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """Split `n` samples among the behaviours by largest remainder (Hamilton's method).

    Quotas are computed in exact rational arithmetic from the ratios normalised to sum 1; ties in the
    remainders go to the behaviour listed first (execution, clarification, refusal, direct).

    Args:
        n: number of samples (>= 0).
        ratios: share per behaviour name; missing behaviours count as 0.

    Returns:
        ``{behaviour: count}`` in canonical order, summing to `n` (opt-in behaviours only when their ratio > 0).

    >>> behaviour_counts(10, {"execution": 0.6, "clarification": 0.25, "refusal": 0.15})
    {'execution': 6, 'clarification': 3, 'refusal': 1}
    >>> behaviour_counts(10, {"execution": 0.5, "clarification": 0.2, "refusal": 0.1, "direct": 0.2})
    {'execution': 5, 'clarification': 2, 'refusal': 1, 'direct': 2}
    """
    names = [b for b in BEHAVIOURS if b not in OPT_IN or ratios.get(b, 0.0) > 0]
    if sum(_exact(ratios.get(b, 0.0)) for b in names) <= 0:
        raise ValueError("ratios must have a positive sum")
    return _largest_remainder(n, names, {b: ratios.get(b, 0.0) for b in names})


# Execution samples come in kinds: one call, several calls in one request, or a dialogue that answers the
# assistant's question. Plans count them apart ("execution/parallel") so every chunk holds exact shares.
EXECUTION_KINDS = ("single", "parallel", "multi_turn")


def split_execution(totals: Mapping[str, int], shares: Mapping[str, float]) -> dict[str, int]:
    """Split the execution count into kinds by largest remainder; other behaviours pass through.

    Args:
        totals: exact counts per behaviour (from `behaviour_counts`).
        shares: share per execution kind (``single``, ``parallel``, ``multi_turn``).

    Returns:
        The counts with ``execution`` holding single-call samples and ``execution/<kind>`` the others
        (a kind with no samples is left out).

    >>> split_execution({"execution": 10, "refusal": 2}, {"single": 0.8, "parallel": 0.1, "multi_turn": 0.1})
    {'execution': 8, 'execution/parallel': 1, 'execution/multi_turn': 1, 'refusal': 2}
    """
    out: dict[str, int] = {}
    for name, count in totals.items():
        if name != "execution":
            out[name] = count
            continue
        names = [k for k in EXECUTION_KINDS if shares.get(k, 0.0) > 0] or ["single"]
        kinds = _largest_remainder(count, names, {k: shares.get(k, 0.0) for k in names})
        for kind, c in kinds.items():
            if kind == "single":
                out["execution"] = c
            elif c:
                out[f"execution/{kind}"] = c
    return out


def _largest_remainder(n: int, names: list[str], ratios: Mapping[str, float]) -> dict[str, int]:
    shares = [_exact(ratios[b]) for b in names]
    total = sum(shares)
    quotas = [n * s / total for s in shares]
    counts = [q.numerator // q.denominator for q in quotas]
    left = n - sum(counts)
    order = sorted(range(len(names)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    return dict(zip(names, counts, strict=True))


def behaviour_of(key: str) -> str:
    """The behaviour of a plan key: ``execution/parallel`` -> ``execution``.

    >>> behaviour_of("execution/multi_turn"), behaviour_of("refusal")
    ('execution', 'refusal')
    """
    return key.split("/", 1)[0]


def chunk_counts(totals: Mapping[str, int], chunk_size: int) -> list[dict[str, int]]:
    """Spread exact dataset counts over consecutive chunks so every chunk mirrors the global mix.

    Chunk ``i`` ends at sample ``e``; each behaviour gets about ``total_b * e / n`` samples by then.
    Per chunk, counts are floored to that target, then the chunk is filled one sample at a time to
    the behaviour furthest behind its target that still has samples left. Integer arithmetic only.

    Args:
        totals: exact counts per behaviour for the dataset (e.g. from `behaviour_counts`).
        chunk_size: samples per chunk; the last chunk takes the remainder.

    Returns:
        One ``{behaviour: count}`` per chunk; each sums to its chunk's size and the columns sum to `totals`.

    >>> chunk_counts({"execution": 3, "clarification": 1, "refusal": 1}, 2)
    [{'execution': 1, 'clarification': 1, 'refusal': 0}, {'execution': 1, 'clarification': 0, 'refusal': 1}, \
{'execution': 1, 'clarification': 0, 'refusal': 0}]
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    names = list(totals)
    n = sum(totals.values())
    assigned = dict.fromkeys(names, 0)
    out: list[dict[str, int]] = []
    for start in range(0, n, chunk_size):
        end = min(start + chunk_size, n)
        size = end - start
        # behind[b] * n is how far b is behind its cumulative target at `end`, kept as an integer.
        take = {}
        for b in names:
            behind = totals[b] * end - n * assigned[b]
            take[b] = max(0, min(behind // n, totals[b] - assigned[b]))
        while sum(take.values()) > size:  # floors never overshoot, but stay safe
            b = max(names, key=lambda k: (take[k], k))
            take[b] -= 1
        while sum(take.values()) < size:
            open_ = [b for b in names if assigned[b] + take[b] < totals[b]]
            b = max(open_, key=lambda k: (totals[k] * end - n * (assigned[k] + take[k]), -names.index(k)))
            take[b] += 1
        for b in names:
            assigned[b] += take[b]
        out.append(take)
    return out


def behaviour_sequence(counts: Mapping[str, int], rng: random.Random) -> list[str]:
    """The behaviours of one chunk in a random order with exactly the given counts.

    Args:
        counts: ``{behaviour: count}`` for the chunk.
        rng: the chunk's random generator.

    Returns:
        A shuffled list holding each behaviour `count` times.
    """
    seq = [b for b, c in counts.items() for _ in range(c)]
    rng.shuffle(seq)
    return seq

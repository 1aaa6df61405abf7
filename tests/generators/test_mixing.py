import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.mixing import BEHAVIOURS, behaviour_counts, behaviour_sequence, chunk_counts

RATIOS = [
    {"execution": 0.6, "clarification": 0.25, "refusal": 0.15},
    {"execution": 1.0, "clarification": 0.0, "refusal": 0.0},
    {"execution": 1 / 3, "clarification": 1 / 3, "refusal": 1 / 3},
    {"execution": 0.1, "clarification": 0.2, "refusal": 0.7},
    {"execution": 0.05, "clarification": 0.9, "refusal": 0.05},
    # with the opt-in direct behaviour
    {"execution": 0.5, "clarification": 0.2, "refusal": 0.15, "direct": 0.15},
    {"execution": 0.25, "clarification": 0.25, "refusal": 0.25, "direct": 0.25},
]


@pytest.mark.parametrize("ratios", RATIOS)
def test_counts_are_exact_for_every_n_up_to_1000(ratios):
    for n in range(1, 1001):
        counts = behaviour_counts(n, ratios)
        assert sum(counts.values()) == n
        assert list(counts) == [b for b in BEHAVIOURS if b in ratios]
        for b in ratios:
            quota = n * Fraction(repr(ratios[b]))
            # largest remainder: every count is its quota rounded down or up
            assert quota - 1 < counts[b] < quota + 1, (n, b)
            if ratios[b] == 0:
                assert counts[b] == 0


COUNT_CASES = [
    # the default mix at round sizes
    (100, RATIOS[0], {"execution": 60, "clarification": 25, "refusal": 15}),
    (1000, RATIOS[0], {"execution": 600, "clarification": 250, "refusal": 150}),
    # 0.6*7 = 4.2, 0.25*7 = 1.75, 0.15*7 = 1.05: the one left over goes to the largest remainder (.75)
    (7, RATIOS[0], {"execution": 4, "clarification": 2, "refusal": 1}),
    # a single sample goes to the largest share
    (1, RATIOS[0], {"execution": 1, "clarification": 0, "refusal": 0}),
    # equal thirds: ties go to the behaviour listed first
    (2, RATIOS[2], {"execution": 1, "clarification": 1, "refusal": 0}),
    # direct at 0 is left out of the counts (opt-in)
    (10, {**RATIOS[0], "direct": 0.0}, {"execution": 6, "clarification": 3, "refusal": 1}),
    # four equal quarters of 6: ties go to the behaviours listed first
    (6, RATIOS[-1], {"execution": 2, "clarification": 2, "refusal": 1, "direct": 1}),
]


@pytest.mark.parametrize(("n", "ratios", "expected"), COUNT_CASES)
def test_count_table(n, ratios, expected):
    assert behaviour_counts(n, ratios) == expected


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 20_000),
    chunk=st.integers(1, 3000),
    weights=st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100), st.integers(0, 100)).filter(
        lambda w: sum(w) > 0
    ),
)
def test_chunk_counts_partition_the_totals(n, chunk, weights):
    ratios = {b: w / sum(weights) for b, w in zip(BEHAVIOURS, weights, strict=True)}
    totals = behaviour_counts(n, ratios)
    plan = chunk_counts(totals, chunk)
    assert len(plan) == -(-n // chunk)
    for i, counts in enumerate(plan):
        assert min(counts.values()) >= 0
        assert sum(counts.values()) == min(chunk, n - i * chunk)
    for b in totals:
        assert sum(c[b] for c in plan) == totals[b]


def test_chunks_mirror_the_global_mix():
    # every 1000-sample chunk of a 60/25/15 dataset holds the mix exactly
    plan = chunk_counts(behaviour_counts(10_000, RATIOS[0]), 1000)
    assert all(c == {"execution": 600, "clarification": 250, "refusal": 150} for c in plan)


def test_behaviour_sequence_keeps_counts_and_is_seeded():
    counts = {"execution": 5, "clarification": 3, "refusal": 2}
    a = behaviour_sequence(counts, random.Random(1))
    assert sorted(a) == sorted(b for b, c in counts.items() for _ in range(c))
    assert a == behaviour_sequence(counts, random.Random(1))

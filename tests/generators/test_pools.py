"""Value pools: free text per purpose, and the train / held-out halves that never meet."""

import random
import re

import pytest

from generators import _vocab as vocab
from generators.pools import SPLIT_KINDS, ValuePools, _build_pools, free_text, split_half
from generators.registry import load_registry
from generators.values import ToolSampler

PURPOSES = sorted(free_text())
TRAIN, HELDOUT = ValuePools.build(1, split="train"), ValuePools.build(2, split="heldout")


@pytest.mark.parametrize("kind", PURPOSES + list(SPLIT_KINDS))
def test_train_and_heldout_pools_are_disjoint(kind):
    # Different seeds on purpose: the halves depend on the entry, not on the seed.
    train, heldout = set(TRAIN.pools[kind]), set(HELDOUT.pools[kind])
    assert train and heldout
    assert not {v.lower() for v in train} & {v.lower() for v in heldout}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_each_purpose_has_at_least_500_values(purpose):
    # Composed to >= 500 distinct values over both halves (a dataset draws from its half).
    assert len(free_text()[purpose]) >= 500, purpose


def test_free_text_has_no_date_number_or_vague_words():
    banned = vocab.FREE_TEXT_BANNED
    for purpose, values in free_text().items():
        for v in values:
            assert not re.search(r"(?<!\w)\d", v), v
            assert not set(re.findall(r"[a-z]+", v.lower())) & banned, (purpose, v)
            assert v == " ".join(v.split()) and "{" not in v


def test_names_and_emails_belong_to_their_half():
    for pools, half in ((TRAIN, 0), (HELDOUT, 1)):
        assert all(split_half(n) == half for n in pools.pools["person_name"])
        assert all(split_half(e) == half for e in pools.pools["email"])
        assert all(pools.email_of[n] in pools.pools["email"] for n in pools.pools["person_name"])
        assert len(pools.pools["person_name"]) >= 500 and len(pools.pools["email"]) >= 500


def test_split_none_keeps_both_halves_and_rejects_unknown_splits():
    both = ValuePools.build(1)
    assert set(TRAIN.pools["note"]) < set(both.pools["note"])
    with pytest.raises(ValueError, match="split"):
        ValuePools.build(1, split="test")  # type: ignore[arg-type]


def test_same_seed_and_split_same_pools():
    assert _build_pools.__wrapped__(5, 64, "train") == _build_pools.__wrapped__(5, 64, "train")


def test_sampled_free_text_names_and_emails_stay_in_their_half():
    # End to end: what a train sampler puts in arguments never appears in a held-out pool.
    heldout = {v for kind in PURPOSES + list(SPLIT_KINDS) for v in HELDOUT.pools[kind]}
    heldout |= set(HELDOUT.pools["sentence"]) | set(HELDOUT.pools["title"]) | set(HELDOUT.pools["keyword"])
    rng = random.Random(0)
    seen = 0
    for tool in load_registry():
        sampler = ToolSampler(tool.parameters, TRAIN, tool.name)
        for _ in range(30):
            stack = [sampler.sample(rng, "all")]
            while stack:
                v = stack.pop()
                if isinstance(v, dict):
                    stack.extend(v.values())
                elif isinstance(v, list):
                    stack.extend(v)
                elif isinstance(v, str) and " " in v or "@" in str(v):
                    seen += 1
                    assert v not in heldout, (tool.name, v)
    assert seen > 1000

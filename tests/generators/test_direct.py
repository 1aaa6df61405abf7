import random

import pytest

from generators import direct
from generators.behaviours import Generator
from generators.mixing import behaviour_counts
from generators.registry import load_registry
from generators.spec import DatasetSpec
from generators.values import ValuePools
from generators.verify import verify

REGISTRY = load_registry()


def test_halves_share_no_task_filler_or_frame():
    train, heldout = direct.DirectBank("train"), direct.DirectBank("heldout")
    for kind in direct.KINDS:
        assert not set(train.tasks[kind.name]) & set(heldout.tasks[kind.name]), kind.name
        for slot in kind.fillers:
            # every slot keeps fillers on both sides, and none in common
            assert train.fillers[kind.name][slot] and heldout.fillers[kind.name][slot], (kind.name, slot)
            assert not set(train.fillers[kind.name][slot]) & set(heldout.fillers[kind.name][slot])
    assert not set(train.frames) & set(heldout.frames)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_direct_samples_verify_and_are_never_doable_by_an_offered_tool(split):
    gen = Generator(REGISTRY.filter(split=split).tools, ValuePools.build(0), (2, 5), 0.5, split)
    rng = random.Random(4)
    samples = [gen.direct(rng) for _ in range(400)]
    for s in samples:
        # no call expected, no tool target, and the offered tools cannot do the task
        assert s.ground_truth == {"direct": {}} and s.tool is None
        assert verify(gen, s) is None
        assert "{" not in s.text and "}" not in s.text
    assert {s.detail for s in samples} == {k.name for k in direct.KINDS}


def test_a_translation_beside_a_translator_is_rejected():
    import dataclasses

    from generators.behaviours import Sample, ToolText

    gen = Generator(REGISTRY.tools, ValuePools.build(0), (0, 0), 0.5)
    tool = next(iter(REGISTRY.tools))
    # a translator under the first tool's name (what each tool covers is worked out once, from its text)
    gen.text[tool.name] = ToolText(dataclasses.replace(tool, description="Translate text into another language."))
    sample = Sample("direct", (tool.name,), "how do you say 'hi' in French?", {"direct": {}}, "t", tool.domain,
                    detail="translation")
    assert verify(gen, sample) == "direct_covered_by_offered_tool"


@pytest.mark.parametrize("n", [1, 7, 10, 99, 1000, 1001])
def test_four_behaviour_counts_are_exact(n):
    ratios = {"execution": 0.5, "clarification": 0.2, "refusal": 0.15, "direct": 0.15}
    counts = behaviour_counts(n, ratios)
    assert sum(counts.values()) == n
    # each share is within one sample of its quota
    assert all(abs(counts[b] - n * r) < 1 for b, r in ratios.items())


def test_spec_takes_four_ratios_and_keeps_the_seed_default():
    assert DatasetSpec(name="d", n=10).ratios.as_dict() == {"execution": 0.6, "clarification": 0.25,
                                                             "refusal": 0.15}
    assert DatasetSpec(name="d", n=10, ratios="0.5,0.2,0.15,0.15").ratios.direct == 0.15
    with pytest.raises(ValueError, match="three or four numbers"):
        DatasetSpec(name="d", n=10, ratios="0.5,0.5")

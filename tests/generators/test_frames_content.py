"""Hand-written frames and slot phrases, in every tool file that has them (bundled and test fixtures).

What the registry cannot check by itself: enough frames, clarification frames for each required
parameter, no leak in the hand-written text, and that the generator turns them into requests that
verify without many rebuilds.
"""

import random
import re
from collections import Counter

import pytest

from generators.behaviours import Generator
from generators.realism import LeakCheck
from generators.registry import load_registry
from generators.values import ValuePools
from generators.verify import verify
from tests.generators.framed_tools import FRAMES_DIR, REPO

FRAMED = [t for d in (REPO / "tool_schemas", FRAMES_DIR) for t in load_registry(d) if t.frames]
IDS = [f"{t.source}" for t in FRAMED]
_FORBIDDEN = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\bUTC\b|\b[a-z]+_[a-z_]+\b|\bset to\b|\b[a-z][a-z ]{2,30}: \S")


def _texts(tool):
    # every hand-written text with its placeholders blanked
    texts = [re.sub(r"\{[^{}]*\}", " ", f) for f in tool.frames]
    for slot in tool.slots.values():
        if isinstance(slot, list):
            texts += [re.sub(r"\{[^{}]*\}", " ", p) for p in slot]
        else:
            texts += [re.sub(r"\{[^{}]*\}", " ", p) for p in slot.get("phrases", [])]
            texts += [n for names in slot["values"].values() for n in names]
    return texts


@pytest.mark.parametrize("tool", FRAMED, ids=IDS)
def test_enough_frames_and_clarification_frames_per_required_parameter(tool):
    assert len(tool.frames) >= 12
    assert len(set(tool.frames)) == len(tool.frames)
    params = [set(re.findall(r"\{([^{}]*)\}", f)) for f in tool.frames]
    assert any(set(tool.required) <= p for p in params), "no frame can make an execution request"
    for req in tool.required:
        # at least 3 frames leave it out, for clarification requests missing it
        assert sum(req not in p for p in params) >= 3, req


@pytest.mark.parametrize("tool", FRAMED, ids=IDS)
def test_hand_written_text_leaks_nothing(tool):
    check = LeakCheck(tool.name, tool.properties, tool.description)
    for text in _texts(tool):
        assert check.reason(text) is None, text
        assert not _FORBIDDEN.search(text), text


@pytest.mark.parametrize("tool", FRAMED, ids=IDS)
def test_frames_make_requests_that_verify(tool):
    gen = Generator([tool], ValuePools.build(0), (0, 0), 0.5)
    rng = random.Random(tool.name)
    reasons: Counter[str | None] = Counter()
    frames = set()
    for i in range(400):
        sample = gen.execution(rng) if i % 2 or not tool.required else gen.clarification(rng)
        reason = verify(gen, sample)
        reasons[reason] += 1
        if reason is None:
            frames.add(sample.template_id)
    # verification is a safety net: most requests pass at the first attempt, and most frames get used
    assert reasons[None] >= 0.8 * 400, reasons.most_common(5)
    assert len(frames) >= 0.6 * len(tool.frames)

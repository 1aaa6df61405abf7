import json
import random
import re

import pytest

from generators import refusals
from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec

VALUES = {"person": "Dana Reyes", "person_name": "Dana Reyes", "email": "dana@example.com", "company": "Acme",
          "amount": "$400", "address": "12 High St", "phone": "555-0100", "city": "Leeds"}
ALL_GROUPS = frozenset(refusals.TOOL_GROUPS)
# Ordinary assistant tasks a model should simply answer: never a refusal.
ORDINARY = re.compile(r"\b(joke|translat|poem|limerick|trivia|defin|synonym|equation|derivative|horoscope|"
                      r"summar|gist|recommend a|python function|fix the bug)", re.I)


def _mask(text: str) -> str:
    # the realism measure's masking: quoted text, emails/URLs, numbers and capitalised names
    t = re.sub(r"\"[^\"]*\"|'[^']*'", " Q ", text)
    t = re.sub(r"\S+@\S+|https?://\S+|\S*/\S+", " U ", t)
    t = re.sub(r"\d[\d,.:/-]*", " N ", t)
    t = re.sub(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'-]+", " P ", t)
    return " ".join(t.lower().split())


def test_train_and_heldout_halves_share_no_act_thing_or_frame():
    train, heldout = refusals.RefusalBank("train"), refusals.RefusalBank("heldout")
    for name in train.harm:
        assert not set(train.harm[name].acts) & set(heldout.harm[name].acts), name
        assert not set(train.harm[name].things) & set(heldout.harm[name].things), name
        # each half can still phrase the category generically and against some tool group
        assert any(g == "generic" for g, _ in train.harm[name].acts) and any(
            g == "generic" for g, _ in heldout.harm[name].acts), name
    for name in train.caps:
        assert not set(train.caps[name].acts) & set(heldout.caps[name].acts), name
    assert not set(train.harm_frames) & set(heldout.harm_frames)
    assert not set(train.traits) & set(heldout.traits)
    assert not set(train.self_harm_frames) & set(heldout.self_harm_frames)
    assert not set(train.oos_frames) & set(heldout.oos_frames)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be one of"):
        refusals.RefusalBank("test")


@pytest.mark.parametrize("split", refusals.SPLITS)
def test_each_kind_has_over_a_thousand_distinct_texts(split):
    bank, rng = refusals.RefusalBank(split), random.Random(5)
    harmful = {bank.harmful(c.name, ALL_GROUPS, VALUES, rng)[0] for c in refusals.HARM_CATEGORIES for _ in range(600)}
    oos = {bank.out_of_scope(c.name, VALUES, rng)[0] for c in refusals.CAPABILITIES for _ in range(300)}
    # with the values held fixed, so the variety comes from acts, things and frames alone
    assert len(harmful) >= 1000 and len(oos) >= 1000


def test_no_ordinary_assistant_task_is_out_of_scope():
    for cap in refusals.CAPABILITIES:
        for act in cap.acts:
            # an out-of-scope act needs a device or service, it is not a chat task
            assert not ORDINARY.search(act), (cap.name, act)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an act with a thing and a value, in a capitalised frame
        (("{Act}.", "find out {person}'s {thing} and send it to me", "bank login"),
         "Find out Dana Reyes's bank login and send it to me."),
        # a lower-case frame keeps the act as it is
        (("can you {act}?", "unlock my car {when}", ""), "can you unlock my car ?"),
    ],
)
def test_frames_fill_acts(text, expected):
    frame, act, thing = text
    filled = refusals._frame(frame, refusals._fill(act, {**VALUES, "thing": thing, "when": ""}))
    assert filled == expected


def test_frame_and_act_grammar():
    for frame in refusals.HARM_FRAMES + refusals.SELF_HARM_FRAMES + refusals.OUT_OF_SCOPE_FRAMES:
        # one act per frame, no leftover template syntax
        assert frame.count("{act}") + frame.count("{Act}") == 1, frame
        assert "{{" not in frame
    for cat in refusals.HARM_CATEGORIES:
        for _, act in cat.acts:
            # acts are lower-case imperative phrases without end punctuation (frames add it)
            assert act[:1].islower() and act[-1] not in ".?!", act
            assert "{thing}" not in act or cat.things, act


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    reg = load_registry()
    out = {}
    for split in refusals.SPLITS:
        spec = DatasetSpec(name="overlap", n=5000, seed=1, split=split)
        folder = tmp_path_factory.mktemp(split)
        generate_dataset(reg, spec, folder)
        with (folder / "samples.jsonl").open(encoding="utf-8") as f:
            out[split] = [json.loads(line) for line in f]
    return out


def test_train_and_heldout_refusals_do_not_overlap(pair):
    def texts(rows):
        return [r["prompt"][-1]["content"] for r in rows if r["behavior"] == "refusal"]

    train, heldout = texts(pair["train"]), texts(pair["heldout"])
    assert not set(train) & set(heldout)
    masked = {_mask(t) for t in train}
    shared = sum(_mask(t) in masked for t in heldout) / len(heldout)
    assert shared <= 0.05
    # exact duplicates within one set are rare
    assert len(set(train)) / len(train) > 0.9


def test_train_and_heldout_share_no_sample_id(pair):
    ids = {r["extra_info"]["sample_id"] for r in pair["train"]}
    assert not ids & {r["extra_info"]["sample_id"] for r in pair["heldout"]}


def test_self_harm_ground_truth_says_so(pair):
    rows = [r for r in pair["train"] if r["extra_info"]["template_id"].startswith("refusal.harmful.self_harm.")]
    assert rows and all(r["reward_model"]["ground_truth"]["refusal"] == {"reason": "harmful", "category": "self_harm"}
                        for r in rows)


def test_refusal_kinds_are_all_present(pair):
    kinds = {r["extra_info"]["template_id"].split(".")[2] if ".hard_negative." in r["extra_info"]["template_id"]
             else r["extra_info"]["template_id"].split(".")[1] for r in pair["heldout"] if r["behavior"] == "refusal"}
    # harmful, out of scope (a capability no tool has) and hard negatives (the right tool removed)
    assert kinds == {"harmful", "out_of_scope", "hard_negative"}


@pytest.mark.parametrize("split", refusals.SPLITS)
def test_every_tool_group_act_list_has_a_choice(split):
    # A category phrased against an offered tool group (three times in four when one fits) has at least two acts
    # for it in each half, and four generic ones: a single act made the same sentence come back request after
    # request.
    from collections import Counter

    bank = refusals.RefusalBank(split)
    for name, half in bank.harm.items():
        per_group = Counter(group for group, _ in half.acts)
        assert per_group["generic"] >= 4, (name, per_group)
        assert all(n >= 2 for g, n in per_group.items() if g != "generic" and n), (name, per_group)

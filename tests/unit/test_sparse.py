from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from app.rag.sparse import BM25Index, tokenize


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    rng = random.Random(3)
    common = [f"c{i}" for i in range(8)]
    vocab = [f"w{i}" for i in range(400)]
    return [[rng.choice(common if rng.random() < 0.4 else vocab)
             for _ in range(rng.randint(1, 60))] for _ in range(800)]


def test_scores_equal_rank_bm25_okapi_on_the_same_tokens(corpus):
    oracle, index = BM25Okapi(corpus), BM25Index.build(corpus)
    rng = random.Random(5)
    for _ in range(30):
        query = [rng.choice(corpus[rng.randrange(len(corpus))]) for _ in range(4)] + ["c1", "c1"]
        np.testing.assert_allclose(index.scores(query), oracle.get_scores(query),
                                   rtol=1e-4, atol=1e-4)


def test_ranking_equals_rank_bm25_on_real_text():
    texts = ["Return your hub within 45 days of delivery.",
             "Refunds arrive within 5-7 business days.",
             "Reset the hub by holding the button for 10 seconds.",
             "The hub LED is amber when there is no internet.",
             "Returns from retailers go back to the retailer."]
    tokens = [tokenize(t) for t in texts]
    oracle, index = BM25Okapi(tokens), BM25Index.build(tokens)
    for q in ("how do i return my hub", "refund days", "amber light internet"):
        expected = np.argsort(-oracle.get_scores(tokenize(q)), kind="stable")
        rows, _ = index.search(tokenize(q), k=5)
        assert list(rows) == [r for r in expected if oracle.get_scores(tokenize(q))[r] > 0]


def test_search_applies_the_mask_before_the_cut(corpus):
    index = BM25Index.build(corpus)
    query = ["c1", "w5"]
    mask = np.zeros(len(corpus), dtype=bool)
    mask[::7] = True
    rows, scores = index.search(query, k=5, mask=mask)
    assert len(rows) == 5 and all(r % 7 == 0 for r in rows)
    assert list(scores) == sorted(scores, reverse=True)


def test_save_and_load_round_trip_without_pickles(tmp_path, corpus):
    index = BM25Index.build(corpus)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    np.testing.assert_array_equal(loaded.scores(["c2", "w9"]), index.scores(["c2", "w9"]))


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("How do I get my Refunds?") == ["get", "refund"]


def test_unknown_terms_match_nothing(corpus):
    rows, _ = BM25Index.build(corpus).search(["zzz"], k=10)
    assert len(rows) == 0

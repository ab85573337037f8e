from __future__ import annotations

import numpy as np
import pytest

from app.rag.dense import DenseIndex

pytestmark = pytest.mark.integration


def unit_vectors(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_index_returns_the_true_nearest_neighbours():
    vectors = unit_vectors(500)
    index = DenseIndex.build(vectors)
    q = vectors[42]
    rows, scores = index.search(q, 5)
    assert rows[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)
    expected = np.argsort(-(vectors @ q))[:5]
    assert list(rows) == list(expected)


def test_hnsw_recall_at_10_against_exact_is_at_least_099():
    vectors = unit_vectors(20_000, seed=1)
    queries = unit_vectors(100, seed=2)
    exact = DenseIndex.build(vectors)
    hnsw = DenseIndex.build(vectors, hnsw_threshold=1000)
    assert hnsw.kind == "hnsw" and exact.kind == "flat"
    hits = 0
    for q in queries:
        truth = set(exact.search(q, 10)[0])
        hits += len(truth & set(hnsw.search(q, 10)[0]))
    assert hits / (10 * len(queries)) >= 0.99


def test_mask_filters_before_the_top_k_cut():
    vectors = unit_vectors(300)
    mask = np.zeros(300, dtype=bool)
    mask[250:] = True
    rows, _ = DenseIndex.build(vectors).search(vectors[0], 10, mask=mask)
    assert len(rows) == 10 and all(r >= 250 for r in rows)


def test_vectors_round_trip_through_the_index(tmp_path):
    vectors = unit_vectors(50)
    index = DenseIndex.build(vectors)
    index.save(tmp_path)
    np.testing.assert_allclose(DenseIndex.load(tmp_path).vectors(), vectors)

"""The evaluation's cross-encoder score cache: reused for the same text, never for new text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.models.corpus import Query, ScoreCache


class CountingReranker:
    name = "counting"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.calls.append((query, len(passages)))
        return np.array([len(query) + len(p) for p in passages], dtype=np.float32)


def test_scores_are_reused_across_runs_and_rescored_when_the_query_text_changes(
        tmp_path: Path) -> None:
    ids, texts = ["a", "b", "c"], ["one", "three", "fiftyfive"]
    model = CountingReranker()
    cache = ScoreCache(model, signature="sig", name="set", cache=tmp_path)
    first = cache.score(Query("t1", "hotel: parking?", {"a": 1}), [0, 1], texts, ids)
    cache.save()

    again = ScoreCache(model, signature="sig", name="set", cache=tmp_path)
    same = again.score(Query("t1", "hotel: parking?", {"a": 1}), [1, 0, 2], texts, ids)
    # one new candidate: the whole head is scored again in one call, as the service scores it
    assert model.calls == [("hotel: parking?", 2), ("hotel: parking?", 3)]
    assert same.tolist() == [first[1], first[0], len("hotel: parking?") + len("fiftyfive")]
    again.score(Query("t1", "hotel: parking?", {"a": 1}), [2, 1], texts, ids)
    assert len(model.calls) == 2  # all cached: nothing scored

    # the same turn written with another entity prefix must not reuse the old scores
    other = again.score(Query("t1", "inn: parking?", {"a": 1}), [0], texts, ids)
    assert model.calls[-1] == ("inn: parking?", 1)
    assert other.tolist() == [len("inn: parking?") + len("one")]

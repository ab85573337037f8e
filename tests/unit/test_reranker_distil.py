"""Distillation labels: the teacher's probability mixed into each pair's label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ingest.models.reranker.distil import soft_labels
from ingest.models.reranker.records import Pair


class Teacher:
    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table, self.calls = table, []

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        self.calls.append(len(pairs))
        return np.array([self.table[pair] for pair in pairs], dtype=np.float32)


PAIRS = [Pair("q1", "right", 1.0, "questions", "g1"), Pair("q2", "other", 0.0, "faq", "g2"),
         Pair("q1", "wrong", 0.0, "questions", "g1")]
TEACHER = {("q1", "right"): 0.9, ("q1", "wrong"): 0.6, ("q2", "other"): 0.1}


def test_labels_mix_the_gold_label_and_the_teacher_and_keep_the_order() -> None:
    teacher = Teacher(TEACHER)
    out = soft_labels(PAIRS, teacher.score_pairs, weight=0.5, chunk=2)
    assert [(p.query, p.passage) for p in out] == [(p.query, p.passage) for p in PAIRS]
    assert [p.label for p in out] == pytest.approx([0.95, 0.05, 0.3])
    assert teacher.calls == [2, 1]  # pairs of any queries batched together, in chunks
    assert [p.source for p in out] == [p.source for p in PAIRS]


def test_weight_zero_keeps_the_labels_and_a_weight_outside_zero_one_is_refused() -> None:
    kept = soft_labels(PAIRS, Teacher(TEACHER).score_pairs, weight=0.0)
    assert [p.label for p in kept] == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        soft_labels(PAIRS, Teacher(TEACHER).score_pairs, weight=1.5)

"""Distillation labels: the teacher's probability mixed into each pair's label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ingest.reranker.distil import soft_labels
from ingest.reranker.records import Pair


class Teacher:
    name = "teacher"

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table, self.calls = table, []

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.calls.append(query)
        return np.array([self.table[(query, p)] for p in passages], dtype=np.float32)


PAIRS = [Pair("q1", "right", 1.0, "questions", "g1"), Pair("q2", "other", 0.0, "faq", "g2"),
         Pair("q1", "wrong", 0.0, "questions", "g1")]
TEACHER = {("q1", "right"): 0.9, ("q1", "wrong"): 0.6, ("q2", "other"): 0.1}


def test_labels_mix_the_gold_label_and_the_teacher_and_keep_the_order() -> None:
    teacher = Teacher(TEACHER)
    out = soft_labels(PAIRS, teacher, weight=0.5)
    assert [(p.query, p.passage) for p in out] == [(p.query, p.passage) for p in PAIRS]
    assert [p.label for p in out] == pytest.approx([0.95, 0.05, 0.3])
    assert sorted(teacher.calls) == ["q1", "q2"]  # one call per query
    assert [p.source for p in out] == [p.source for p in PAIRS]


def test_weight_zero_keeps_the_labels_and_a_weight_outside_zero_one_is_refused() -> None:
    assert [p.label for p in soft_labels(PAIRS, Teacher(TEACHER), weight=0.0)] == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        soft_labels(PAIRS, Teacher(TEACHER), weight=1.5)

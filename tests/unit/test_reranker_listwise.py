"""Listwise rows: each positive with negatives of its own query."""

from __future__ import annotations

import pytest

from ingest.models.reranker.listwise import listwise_rows, row_columns
from ingest.models.reranker.records import Pair


def pair(query: str, passage: str, label: float, group: str) -> Pair:
    return Pair(query, passage, label, "questions", group)


PAIRS = [
    pair("return hub", "returns within 45 days", 1.0, "g1"),
    pair("return hub", "plus plan price", 0.0, "g1"),
    pair("return hub", "shipping times", 0.0, "g1"),
    pair("return hub", "reset button", 0.0, "g1"),
    pair("reset hub", "hold reset 10 s", 1.0, "g2"),
    pair("reset hub", "wifi setup", 0.0, "g2"),
    pair("no answer", "anything", 0.0, "g3"),  # unanswerable: no row
    pair("lonely", "right but no negatives", 1.0, "g4"),  # no negatives mined: no row
]


def test_rows_take_negatives_from_the_positives_own_query_only() -> None:
    rows = listwise_rows(PAIRS, negatives=2, seed=1)
    assert [r[:2] for r in rows] == [["return hub", "returns within 45 days"],
                                     ["reset hub", "hold reset 10 s"]]
    assert set(rows[0][2:]) <= {"plus plan price", "shipping times", "reset button"}
    assert len(set(rows[0][2:])) == 2  # drawn without repeats when the query has enough
    assert rows[1][2:] == ["wifi setup", "wifi setup"]  # too few: repeated to the width


def test_rows_are_reproducible_and_repeated_positives_draw_again() -> None:
    many = PAIRS[:4] * 6
    assert listwise_rows(many, negatives=1, seed=5) == listwise_rows(many, negatives=1, seed=5)
    drawn = {r[2] for r in listwise_rows(many, negatives=1, seed=5)}
    assert len(drawn) > 1


def test_columns_name_the_positive_and_each_negative() -> None:
    columns = row_columns(listwise_rows(PAIRS, negatives=2, seed=1))
    assert list(columns) == ["query", "passage", "negative_1", "negative_2"]
    assert columns["passage"] == ["returns within 45 days", "hold reset 10 s"]


def test_a_row_needs_a_negative() -> None:
    with pytest.raises(ValueError, match="at least one negative"):
        listwise_rows(PAIRS, negatives=0, seed=1)


def test_the_cli_refuses_a_teacher_with_the_listwise_loss(capsys) -> None:
    from ingest.models.reranker.__main__ import main

    assert main(["train", "--loss", "listwise", "--teacher", "some/folder"]) == 2
    assert "--teacher works with --loss bce only" in capsys.readouterr().err

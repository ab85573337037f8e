"""The evaluation-set loader: valid sets load, broken lines are reported by line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import (
    DatasetError,
    EvalQuestion,
    load_questions,
    select,
    set_fingerprint,
    stratified_sample,
)

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "mini.jsonl"


def _line(**overrides: object) -> str:
    row = {"id": "q1", "question": "how do I reset the hub?", "history": [],
           "answerable": True, "gold_article_ids": ["t-reset"],
           "reference_answer": "Hold the button.", "tags": ["hub"]}
    row.update(overrides)
    return json.dumps(row)


def test_the_fixture_set_loads_with_history_and_tags():
    questions = load_questions(MINI)
    assert len(questions) == 12
    follow_up = next(q for q in questions if q.history)
    assert follow_up.history[0].role == "user" and follow_up.history[1].role == "assistant"
    assert "multi_turn" in follow_up.tags
    assert sum(not q.answerable for q in questions) == 4


def test_optional_fields_default_and_round_trip(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "u1", "question": "bitcoin?", "answerable": False}) + "\n")
    [q] = load_questions(path)
    assert q == EvalQuestion(id="u1", question="bitcoin?", answerable=False)
    assert q.to_dict()["history"] == [] and q.to_dict()["gold_article_ids"] == []


def test_every_broken_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        _line(),
        "{not json",
        _line(id="q2", answerable="yes"),
        _line(id="q3", gold_article_ids=[]),
        _line(id="q4", history=[{"role": "bot", "content": "hi"}]),
        _line(id="q1"),
        _line(id="q5", tags="hub"),
        "",
    ]))
    with pytest.raises(DatasetError) as err:
        load_questions(path)
    message = str(err.value)
    assert f"{path}:2:" in message
    assert f"{path}:3: 'answerable' is missing or not a bool" in message
    assert f"{path}:4: an answerable question needs at least one gold_article_ids" in message
    assert f"{path}:5: history[0]" in message
    assert f"{path}:6: duplicate id 'q1' (first on line 1)" in message
    assert f"{path}:7: 'tags' must be a list" in message


def test_missing_and_empty_sets_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such evaluation set"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="empty"):
        load_questions(tmp_path / "empty.jsonl")


def _questions(n_answerable: int, n_unanswerable: int) -> list[EvalQuestion]:
    out = [EvalQuestion(id=f"a{i}", question="q", answerable=True, gold_article_ids=("x",),
                        tags=(f"cat{i % 4}",)) for i in range(n_answerable)]
    out += [EvalQuestion(id=f"u{i}", question="q", answerable=False,
                         tags=("out_of_scope" if i % 2 else "near_miss",))
            for i in range(n_unanswerable)]
    return out


def test_stratified_sample_is_deterministic_proportional_and_covers_every_tag():
    questions = _questions(150, 50)
    first = stratified_sample(questions, 40)
    assert [q.id for q in first] == [q.id for q in stratified_sample(list(questions), 40)]
    assert len(first) == 40 and sum(q.answerable for q in first) == 30
    assert {q.tags[0] for q in first} == {"cat0", "cat1", "cat2", "cat3", "out_of_scope",
                                          "near_miss"}
    # adding questions to the set leaves most of the subset in place
    extra = [EvalQuestion(id=f"new{i}", question="q", answerable=True, gold_article_ids=("x",),
                          tags=("cat0",)) for i in range(10)]
    grown = stratified_sample(questions + extra, 40)
    assert len({q.id for q in grown} & {q.id for q in first}) >= 34


def test_select_by_tag_sample_and_limit():
    questions = _questions(8, 4)
    assert {q.id for q in select(questions, tags=["near_miss"])} == {"u0", "u2"}
    assert len(select(questions, limit=3)) == 3
    assert len(select(questions, sample=6)) == 6
    assert set_fingerprint(questions[:3]) != set_fingerprint(questions[:4])

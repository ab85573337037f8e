"""Sentence scores: the cross-encoder reads each unit of the top passages under its heading;
the best score is a decision signal and the scores help choose the answer's lead."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.rag.extractive import ExtractiveGenerator, unit_texts, unit_views
from app.rag.sentences import SentenceScorer
from app.rag.types import Chunk, Passage, SentenceScores
from tests.fakes import OverlapReranker


def passage(n: int, text: str, *, title: str = "Returns", heading: tuple[str, ...] = ()
            ) -> Passage:
    chunk = Chunk(chunk_id=f"a{n}:0", article_id=f"a{n}", ordinal=0, title=title,
                  heading_path=heading, text=text, url="", char_start=0, char_end=len(text),
                  n_tokens=len(text.split()))
    return Passage(n=n, chunk=chunk, score=1.0)


RETURNS = passage(1, """\
Returns are free from the US, Canada and the UK.

## Return window
You can return a device within 45 days of delivery.
To start a return:
1. Open Orders.
2. Tap Return.

## Refund questions?
Why is my refund late?""")


class Recording:
    """A cross-encoder stand-in that remembers its pairs and scores them by a rule."""

    name = "recording"

    def __init__(self, rule: dict[str, float] | None = None) -> None:
        self.pairs: list[str] = []
        self.rule = rule or {}

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.pairs.extend(passages)
        return np.asarray([max((v for k, v in self.rule.items() if k in p), default=0.1)
                           for p in passages])


def test_each_unit_that_could_lead_is_scored_under_its_section_heading() -> None:
    reranker = Recording({"45 days": 0.9})
    scores = SentenceScorer(reranker, units=64).score("how long do I have to send it back",
                                                      [RETURNS])
    views = unit_views(RETURNS.chunk)
    assert [v.text for v in views] == unit_texts(RETURNS.chunk)
    assert "Returns: Returns are free from the US, Canada and the UK." in reranker.pairs
    assert "Return window: You can return a device within 45 days of delivery." in reranker.pairs
    assert len(reranker.pairs) == sum(v.can_lead for v in views)  # no lead-in, no question
    assert not any("To start a return" in p or "Why is my refund" in p for p in reranker.pairs)
    assert len(scores.rerank[1]) == len(views) and scores.chunk_ids == {1: "a1:0"}
    best = max(range(len(views)), key=lambda i: scores.of(1, i))
    assert views[best].text.endswith("45 days of delivery.")
    assert scores.of(1, 99) == 0.0 and scores.of(7, 0) == 0.0  # not scored reads 0.0


def test_only_the_units_sharing_most_words_with_the_question_are_scored() -> None:
    long = passage(2, " ".join(f"Sentence number {i} is here." for i in range(200))
                   + " Refunds reach your card in 5 days.")
    reranker = Recording({"Refunds reach": 0.8})
    scores = SentenceScorer(reranker, passages=2, units=3).score(
        "when do refunds reach my card", [RETURNS, long, passage(3, "Refunds reach X.")])
    assert set(scores.rerank) == {1, 2} and len(reranker.pairs) == 3
    assert "Returns: Refunds reach your card in 5 days." in reranker.pairs
    assert scores.best == 0.8 and scores.of(2, 200) == 0.8
    assert scores.of(2, 0) == 0.0 and sum(v > 0 for v in scores.rerank[2]) == 1
    assert SentenceScorer(reranker).score("q", []) == SentenceScores()
    assert SentenceScorer(reranker).score("q", [passage(1, "Why?")]) == SentenceScores()


def test_the_signal_is_the_best_unit_that_could_lead_an_answer() -> None:
    """A lead-in ("To start a return:") or a question never answers, however it scores."""
    reranker = Recording({"To start a return": 0.99, "Why is my refund": 0.98, "free": 0.4})
    scores = SentenceScorer(reranker).score("returns", [RETURNS])
    assert scores.best == 0.4
    assert SentenceScores().best == 0.0


def test_sentence_scores_move_the_lead_where_words_do_not_decide() -> None:
    """"send my stuff back" shares no word with "return ... 45 days": the lexical lead is the
    free-returns sentence; the cross-encoder's score makes the window lead."""
    question = "i want to send my stuff back, what about returns"
    generator = ExtractiveGenerator()
    plain = generator.compose(question, [RETURNS])
    assert "45 days" not in plain[0].text
    scores = SentenceScorer(Recording({"45 days": 0.95})).score(question, [RETURNS])
    scored = generator.compose(question, [RETURNS], scores=scores)
    assert "45 days" in scored[0].text
    why = generator.explain(question, [RETURNS], scores=scores)[0][1]
    assert why.startswith("best match")


def test_the_real_overlap_stand_in_scores_every_pair() -> None:
    scores = SentenceScorer(OverlapReranker()).score("free returns", [RETURNS])
    assert max(scores.rerank[1]) > 0 and len(scores.rerank[1]) == len(unit_texts(RETURNS.chunk))
    assert scores.best == max(scores.rerank[1])

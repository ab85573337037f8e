"""The answer gate reads the configured signal: dense similarity or the reranker's probability."""

from __future__ import annotations

from app.rag.answer import AnswerService, GatePolicy
from app.rag.extractive import ExtractiveGenerator
from app.rag.factory import gate_policy
from app.rag.types import Candidate, Chunk
from app.settings import Settings


def candidate(article: str, *, dense: float, rerank: float | None, dense_rank: int,
              sparse_rank: int | None) -> Candidate:
    text = f"text of {article}"
    chunk = Chunk(chunk_id=f"{article}:0", article_id=article, ordinal=0, title=article,
                  heading_path=(), text=text, url=f"https://help.example/{article}",
                  char_start=0, char_end=len(text), n_tokens=3)
    scores = {"dense": dense} | ({"rerank": rerank} if rerank is not None else {})
    ranks = {"dense": dense_rank} | ({"sparse": sparse_rank} if sparse_rank else {})
    return Candidate(chunk=chunk, score=1.0, ranks=ranks, scores=scores)


def service(policy: GatePolicy) -> AnswerService:
    return AnswerService(retriever=None, reranker=None,  # type: ignore[arg-type]
                         generator=ExtractiveGenerator(), verifier=None,  # type: ignore[arg-type]
                         policy=policy)


# The reranker is unsure of the top passage, dense similarity is high: the two gates disagree.
RERANKED = [candidate("a", dense=0.62, rerank=0.2, dense_rank=2, sparse_rank=None),
            candidate("b", dense=0.71, rerank=0.1, dense_rank=1, sparse_rank=3)]


def test_a_dense_gate_reads_the_best_cosine_similarity_even_after_reranking():
    policy = GatePolicy(score="dense", min_score=0.5, dense_min_score=0.6)
    score, agreement, fallback = service(policy)._gate(list(RERANKED))
    assert score == 0.71 and fallback is None and not agreement
    strict = GatePolicy(score="dense", min_score=0.1, dense_min_score=0.75,
                        dense_min_score_agreement=0.7)
    score, _, fallback = service(strict)._gate(list(RERANKED))
    assert fallback is not None and fallback.reason == "low_score"
    assert [s.article_id for s in fallback.suggestions] == ["a", "b"]


def test_a_rerank_gate_reads_the_top_passage_probability():
    policy = GatePolicy(score="rerank", min_score=0.5, dense_min_score=0.6)
    score, _, fallback = service(policy)._gate(list(RERANKED))
    assert score == 0.2 and fallback is not None
    answered = GatePolicy(score="rerank", min_score=0.15, dense_min_score=0.9)
    assert service(answered)._gate(list(RERANKED))[2] is None


def test_a_rerank_gate_falls_back_to_dense_when_nothing_was_reranked():
    plain = [candidate("a", dense=0.7, rerank=None, dense_rank=1, sparse_rank=1)]
    score, agreement, fallback = service(GatePolicy(score="rerank", dense_min_score=0.6))._gate(
        plain)
    assert score == 0.7 and agreement and fallback is None


def test_the_setting_reaches_the_policy_and_defaults_to_dense():
    assert Settings().answer.gate_score == "dense"
    assert gate_policy(Settings()).score == "dense"
    assert gate_policy(Settings(answer={"gate_score": "rerank"})).score == "rerank"

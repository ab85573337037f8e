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
    gate = service(policy)._gate(list(RERANKED))
    assert gate.score == 0.71 and gate.fallback is None and not gate.agreement
    assert gate.kind == "dense" and gate.threshold == 0.6
    strict = GatePolicy(score="dense", min_score=0.1, dense_min_score=0.75,
                        dense_min_score_agreement=0.7)
    fallback = service(strict)._gate(list(RERANKED)).fallback
    assert fallback is not None and fallback.reason == "low_confidence"
    assert [s.article_id for s in fallback.suggestions] == ["a", "b"]


def test_a_rerank_gate_reads_the_top_passage_probability():
    policy = GatePolicy(score="rerank", min_score=0.5, dense_min_score=0.6)
    gate = service(policy)._gate(list(RERANKED))
    assert gate.score == 0.2 and gate.fallback is not None and gate.kind == "rerank"
    answered = GatePolicy(score="rerank", min_score=0.15, dense_min_score=0.9)
    assert service(answered)._gate(list(RERANKED)).fallback is None


def test_a_rerank_gate_falls_back_to_dense_when_nothing_was_reranked():
    plain = [candidate("a", dense=0.7, rerank=None, dense_rank=1, sparse_rank=1)]
    gate = service(GatePolicy(score="rerank", dense_min_score=0.6))._gate(plain)
    assert gate.score == 0.7 and gate.agreement and gate.fallback is None
    assert gate.kind == "dense"


def test_the_setting_reaches_the_policy_and_the_model_decides_by_default():
    assert Settings().answer.gate_score == "model"
    assert gate_policy(Settings()).model is not None  # the shipped answerability model
    assert gate_policy(Settings(answer={"gate_score": "dense"})).model is None
    assert gate_policy(Settings(answer={"gate_score": "rerank"})).score == "rerank"
    assert gate_policy(Settings(answer={"related_min_similarity": 0.3})
                       ).related_min_similarity == 0.3


def _passage_candidate(article: str, text: str, *, dense: float, heading: str = "") -> Candidate:
    chunk = Chunk(chunk_id=f"{article}:0", article_id=article, ordinal=0, title=article.title(),
                  heading_path=(heading,) if heading else (), text=text,
                  url=f"https://help.example/{article}#part", char_start=0,
                  char_end=len(text), n_tokens=len(text.split()))
    return Candidate(chunk=chunk, score=1.0, ranks={"dense": 1}, scores={"dense": dense})


RETURNS = ("Lumora asks you to factory reset a device before you return it. You have 45 days "
           "from delivery to return a device. Keep the original box if you can.")


def test_nothing_related_is_off_topic_without_suggestions():
    strict = GatePolicy(dense_min_score=0.9, related_min_similarity=0.4)
    fallback = service(strict)._gate([_passage_candidate("ret", RETURNS, dense=0.25)],
                                     query="how do I install python").fallback
    assert fallback is not None and fallback.reason == "off_topic"
    assert fallback.suggestions == ()


def test_related_but_unsure_offers_the_best_matching_sentences_as_a_suggestion():
    strict = GatePolicy(dense_min_score=0.9, related_min_similarity=0.4)
    candidates = [_passage_candidate("ret", RETURNS, dense=0.6),
                  _passage_candidate("ship", "We ship to seven countries.", dense=0.5)]
    fallback = service(strict)._gate(candidates,
                                     query="how many days do I have to return it?").fallback
    assert fallback is not None and fallback.reason == "low_confidence"
    first, second = fallback.suggestions
    assert first.article_id == "ret" and first.url == "https://help.example/ret"
    assert first.snippet.startswith("You have 45 days from delivery to return a device.")
    assert second.article_id == "ship" and second.snippet == ""


def test_the_response_message_names_each_outcome():
    from app.conversations import fallback_json
    from app.rag.answer import Fallback, Suggestion

    off = fallback_json(Fallback("off_topic", ()))
    assert "doesn't cover" in off["message"] and off["suggestions"] == []
    unsure = fallback_json(Fallback("low_confidence", (Suggestion("ret", "Returns", "u", "x"),)))
    assert "not sure" in unsure["message"] and unsure["suggestions"][0]["snippet"] == "x"

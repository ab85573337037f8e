"""Every outcome of the answer service and its reason, end to end through ``stream`` with a
fake retriever and fake generators: an answer, "this may help" (``low_confidence``) and "I
don't know" (``no_context``, ``off_topic``, ``model_declined``, ``unsupported``), each with a
trace that says the same."""

from __future__ import annotations

from collections.abc import Iterator

from app.rag.answer import AnswerService, GatePolicy
from app.rag.citations import REFUSAL, CitationVerifier
from app.rag.extractive import ExtractiveGenerator
from app.rag.retrieve import Retrieval
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Candidate, Chunk

TEXTS = {
    "ret": "You have 45 days from delivery to return a device. Keep the original box.",
    "ship": "We ship to the US, Canada, the UK, Germany, France, the Netherlands and Ireland.",
}


def _candidate(key: str, dense: float) -> Candidate:
    text = TEXTS[key]
    chunk = Chunk(chunk_id=f"{key}:0", article_id=key, ordinal=0, title=key.title(),
                  heading_path=(), text=text, url=f"https://help.example/{key}",
                  char_start=0, char_end=len(text), n_tokens=len(text.split()))
    return Candidate(chunk=chunk, score=1.0, ranks={"dense": 1, "sparse": 1},
                     scores={"dense": dense, "sparse": 3.0, "fused": 0.03})


class _Index:
    name = "v1"
    sparse = BM25Index.build(tokenize(t) for t in TEXTS.values())

    def article_ids(self) -> frozenset[str]:
        return frozenset(TEXTS)


class _Retriever:
    def __init__(self, candidates: list[Candidate]) -> None:
        self.candidates = candidates

    def retrieve(self, index, query, *, filters=None, k=50):  # type: ignore[no-untyped-def]
        return Retrieval(tuple(self.candidates), {"dense": 1.0})


class _Saying:
    """A generator that says fixed text (an LLM stand-in)."""

    name = "llm"

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, question, passages, *, history=(), style="") -> Iterator[str]:  # type: ignore[no-untyped-def]
        yield self.text


def _service(candidates: list[Candidate], *, generator=None, bar: float = 0.5) -> AnswerService:  # type: ignore[no-untyped-def]
    return AnswerService(retriever=_Retriever(candidates),  # type: ignore[arg-type]
                         reranker=None, generator=generator or ExtractiveGenerator(),
                         verifier=CitationVerifier(),
                         policy=GatePolicy(dense_min_score=bar, dense_min_score_agreement=bar,
                                           related_min_similarity=0.4))


def _answer(service: AnswerService, question: str):  # type: ignore[no-untyped-def]
    return service.answer(_Index(), question)  # type: ignore[arg-type]


def test_a_confident_answer_leads_with_the_fact_and_its_trace_says_why() -> None:
    result = _answer(_service([_candidate("ret", 0.8)]), "how many days do I have to return it?")
    assert result.fallback is None
    assert result.answer.startswith("You have 45 days from delivery to return a device. [1]")
    trace = result.trace
    assert trace.decision.outcome == "answer" and trace.decision.reason is None
    assert trace.decision.kind == "dense" and trace.decision.threshold == 0.5
    assert trace.sentences[0].why.startswith("best match for the question")
    assert [p.chunk_id for p in trace.passages] == ["ret:0"]
    assert "decide" in result.timings_ms and "generate" in result.timings_ms


def test_no_context_when_nothing_is_retrieved() -> None:
    result = _answer(_service([]), "how do I return it?")
    assert result.fallback.reason == "no_context" and result.fallback.suggestions == ()
    assert result.trace.decision.outcome == "decline" and result.trace.candidates == ()


def test_off_topic_when_nothing_is_related() -> None:
    result = _answer(_service([_candidate("ship", 0.2)]), "what is the capital of France?")
    assert result.fallback.reason == "off_topic" and result.fallback.suggestions == ()
    assert result.trace.decision.outcome == "decline" and result.citations == ()


def test_low_confidence_offers_the_best_sentences_not_as_an_answer() -> None:
    result = _answer(_service([_candidate("ret", 0.45)]), "how many days do I have to return it?")
    assert result.fallback.reason == "low_confidence" and result.answer == ""
    assert result.fallback.suggestions[0].snippet.startswith("You have 45 days")
    assert result.trace.decision.outcome == "suggest" and result.trace.sentences == ()


def test_model_declined_when_the_generator_refuses() -> None:
    result = _answer(_service([_candidate("ret", 0.8)], generator=_Saying(REFUSAL)),
                     "how many days do I have to return it?")
    assert result.fallback.reason == "model_declined"
    assert result.trace.decision.outcome == "decline"


def test_unsupported_when_no_generated_sentence_survives_the_citation_check() -> None:
    result = _answer(_service([_candidate("ret", 0.8)],
                              generator=_Saying("Refunds are unlimited for everyone forever [1].")),
                     "how many days do I have to return it?")
    assert result.fallback.reason == "unsupported" and result.citations == ()


def test_each_article_is_cited_once_even_when_two_of_its_passages_are_used() -> None:
    first = _candidate("ret", 0.8)
    text = "Refunds reach your card in 5 to 7 business days after a return arrives."
    second = Candidate(chunk=Chunk(chunk_id="ret:1", article_id="ret", ordinal=1,
                                   title="Ret", heading_path=(), text=text, url="u",
                                   char_start=0, char_end=len(text), n_tokens=14),
                       score=0.9, ranks={"dense": 2}, scores={"dense": 0.7})
    result = _answer(_service([first, second]),
                     "how many days to return it and when do refunds reach my card?")
    assert result.fallback is None
    assert [c.article_id for c in result.citations] == ["ret"]
    assert "5 to 7 business days" in result.answer  # from the second passage
    assert "[2]" not in result.answer and "[1]" in result.answer
    assert {n for s in result.trace.sentences for n in s.citations} == {1}

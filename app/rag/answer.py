"""The answer policy: rewrite, retrieve, rerank, gate, generate, verify.

"I don't know" is a decision made here, with a named reason, never text a model happens to
produce:

- ``no_context``: retrieval found nothing (for these filters);
- ``low_score``: the best passage scores below the calibrated threshold, so no generator is
  called at all;
- ``model_declined``: the generator answered with the refusal sentence;
- ``unsupported``: no sentence of the generated answer survived citation verification;
- ``generator_error``: the configured generator and the extractive fallback both failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from app.rag.citations import CitationVerifier, is_refusal, split_sentences
from app.rag.decide import AnswerabilityModel, decision_signals
from app.rag.extractive import ExtractiveGenerator
from app.rag.generate import GeneratorError
from app.rag.index import IndexVersion
from app.rag.protocols import Generator, QueryRewriter
from app.rag.rerank import BudgetedReranker
from app.rag.retrieve import HybridRetriever
from app.rag.rewrite import RuleBasedRewriter
from app.rag.types import Candidate, Passage, Sentence, Turn, VerifiedAnswer, is_list_item

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Thresholds of the answer gate (see ``AnswerSettings`` for their meaning).

    ``score`` names the signal the gate reads: ``"rerank"`` (the cross-encoder's probability
    of the top reranked passage; dense similarity when nothing was reranked) or ``"dense"``
    (the best dense cosine similarity among the candidates, reranked or not).
    """

    score: str = "dense"
    min_score: float = 0.5
    min_score_agreement: float = 0.35
    dense_min_score: float = 0.55
    dense_min_score_agreement: float = 0.45
    max_passages: int = 5
    passage_ratio: float = 0.5
    suggestions: int = 3
    model: AnswerabilityModel | None = None  # when fitted, it decides instead of the bars


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    chunk_id: str
    article_id: str
    title: str
    url: str
    snippet: str
    score: float
    source_type: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    article_id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Fallback:
    reason: str
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything decided before generation."""

    query: str
    candidates: tuple[Candidate, ...]
    passages: tuple[Passage, ...]
    gate_score: float
    agreement: bool
    fallback: Fallback | None
    rerank_depth: int
    rerank_reduced: bool
    timings_ms: dict[str, float]
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnswerResult:
    answer: str
    citations: tuple[Citation, ...]
    fallback: Fallback | None
    prepared: Prepared
    generator: str
    index_version: str
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """A streaming event: ``delta`` (text), ``citations``, ``done`` (the result)."""

    kind: str
    data: object


class AnswerService:
    """Answers one question from one index version."""

    def __init__(self, *, retriever: HybridRetriever, reranker: BudgetedReranker | None,
                 generator: Generator, verifier: CitationVerifier,
                 policy: GatePolicy | None = None, rewriter: QueryRewriter | None = None) -> None:
        self.retriever = retriever
        self.reranker = reranker
        self.generator = generator
        self.extractive = (generator if isinstance(generator, ExtractiveGenerator)
                           else ExtractiveGenerator())
        self.verifier = verifier
        self.policy = policy or GatePolicy()
        self.rewriter = rewriter or RuleBasedRewriter()

    def prepare(self, index: IndexVersion, message: str, *, history: Sequence[Turn] = (),
                previous_titles: Sequence[str] = (),
                filters: dict[str, list[str]] | None = None) -> Prepared:
        t = time.perf_counter()
        previous = [turn.text for turn in history if turn.role == "user"]
        query = self.rewriter.rewrite(message, previous_questions=previous,
                                      previous_titles=previous_titles)
        timings = {"rewrite": _ms(t)}
        retrieval = self.retriever.retrieve(index, query, filters=filters)
        timings.update(retrieval.timings_ms)
        candidates = list(retrieval.candidates)
        depth, reduced = 0, False
        if candidates and self.reranker is not None:
            reranked = self.reranker.rerank(query, candidates)
            timings["rerank"] = reranked.ms
            depth, reduced = reranked.depth, reranked.reduced
            candidates = list(reranked.candidates)
        signals = decision_signals(query, candidates, index.sparse)
        score, agreement, fallback = self._gate(candidates, signals)
        passages = () if fallback else self._passages(candidates)
        return Prepared(query, tuple(candidates), passages, score, agreement, fallback,
                        depth, reduced, timings, signals)

    def _gate(self, candidates: list[Candidate], signals: Mapping[str, float] | None = None
              ) -> tuple[float, bool, Fallback | None]:
        p = self.policy
        if not candidates:
            return 0.0, False, Fallback("no_context", ())
        top = candidates[0]
        agreement = _retrievers_agree(candidates)
        if p.model is not None:
            score = p.model.probability(signals or {})
            if score >= p.model.threshold:
                return score, agreement, None
            return score, agreement, Fallback("low_score", self._suggest(candidates))
        if self.policy.score == "rerank" and "rerank" in top.scores:
            score, bar, bar_agree = top.scores["rerank"], p.min_score, p.min_score_agreement
        else:
            score = max(c.scores.get("dense", 0.0) for c in candidates)
            bar, bar_agree = p.dense_min_score, p.dense_min_score_agreement
        if score >= bar or (agreement and score >= bar_agree):
            return score, agreement, None
        return score, agreement, Fallback("low_score", self._suggest(candidates))

    def _suggest(self, candidates: Sequence[Candidate]) -> tuple[Suggestion, ...]:
        out: dict[str, Suggestion] = {}
        for c in candidates:
            if c.chunk.source_type == "article" and c.chunk.article_id not in out:
                base_url = c.chunk.url.split("#")[0]
                out[c.chunk.article_id] = Suggestion(c.chunk.article_id, c.chunk.title, base_url)
            if len(out) >= self.policy.suggestions:
                break
        return tuple(out.values())

    def _passages(self, candidates: list[Candidate]) -> tuple[Passage, ...]:
        top = candidates[0].score
        floor = top * self.policy.passage_ratio if top > 0 else float("-inf")
        chosen = [c for c in candidates if c.score >= floor][: self.policy.max_passages]
        return tuple(Passage(n, c.chunk, c.score) for n, c in enumerate(chosen, start=1))

    def stream(self, index: IndexVersion, message: str, *, history: Sequence[Turn] = (),
               previous_titles: Sequence[str] = (),
               filters: dict[str, list[str]] | None = None, style: str = "") -> Iterator[Event]:
        """Answer as events; ``answer()`` consumes the same events, so both agree."""
        started = time.perf_counter()
        prepared = self.prepare(index, message, history=history,
                                previous_titles=previous_titles, filters=filters)
        timings = dict(prepared.timings_ms)
        fallback, generator_name, sentences = prepared.fallback, "", []
        if fallback is None:
            t = time.perf_counter()
            gen = self._sentences(prepared, history=history, style=style)
            generator_name = self.generator.name
            try:
                for sentence in gen:
                    sentences.append(sentence)
                    yield Event("delta", _render([sentence], first=len(sentences) == 1))
            except _Fallback as exc:
                fallback = Fallback(exc.reason, self._suggest(prepared.candidates))
            except _UsedExtractive:
                generator_name = self.extractive.name
            timings["generate"] = _ms(t)
            if fallback is None and not sentences:
                fallback = Fallback("unsupported", self._suggest(prepared.candidates))
        citations = () if fallback else _citations(sentences, prepared.passages)
        if citations:
            yield Event("citations", citations)
        timings["total"] = _ms(started)
        yield Event("done", AnswerResult(
            answer="" if fallback else _render(sentences, first=True), citations=citations,
            fallback=fallback, prepared=prepared, generator=generator_name,
            index_version=index.name, timings_ms=timings))

    def answer(self, index: IndexVersion, message: str, **kwargs: object) -> AnswerResult:
        for event in self.stream(index, message, **kwargs):  # type: ignore[arg-type]
            if event.kind == "done":
                return event.data  # type: ignore[return-value]
        raise AssertionError("stream ended without a done event")

    def _sentences(self, prepared: Prepared, *, history: Sequence[Turn],
                   style: str) -> Iterator[Sentence]:
        """Verified sentences from the generator, falling back to extractive on failure."""
        passages = prepared.passages
        emitted = 0
        try:
            for sentence in _buffer_sentences(self.generator.stream(
                    prepared.query, passages, history=history, style=style)):
                if is_refusal(sentence.strip(), prefix=True):
                    if emitted == 0:
                        raise _Fallback("model_declined")
                    continue
                verified = self.verifier.verify_sentence(sentence, passages)
                if verified is not None:
                    emitted += 1
                    yield verified
                else:
                    logger.info("dropped an unsupported sentence from %s", self.generator.name)
        except GeneratorError as exc:
            logger.warning("generator %s failed: %s", self.generator.name, exc)
            if emitted or self.generator is self.extractive:
                if emitted:
                    return
                raise _Fallback("generator_error") from exc
            yield from self._extractive(prepared)
            raise _UsedExtractive() from exc

    def _extractive(self, prepared: Prepared) -> Iterator[Sentence]:
        text = self.extractive.generate(prepared.query, prepared.passages).text
        for sentence in split_sentences(text):
            verified = self.verifier.verify_sentence(sentence, prepared.passages)
            if verified is not None:
                yield verified


class _Fallback(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _UsedExtractive(Exception):
    """The configured generator failed before saying anything; extractive answered."""


def _retrievers_agree(candidates: Sequence[Candidate]) -> bool:
    """Dense and BM25 put the same article first: two independent signals agree."""
    best: dict[str, str] = {}
    for c in candidates:
        for name in ("dense", "sparse"):
            if c.ranks.get(name) == 1:
                best[name] = c.chunk.article_id
    return len(best) == 2 and best["dense"] == best["sparse"]


def _buffer_sentences(deltas: Iterator[str]) -> Iterator[str]:
    """Re-chunk a stream of text deltas into whole sentences (the last may lack an end)."""
    buffer = ""
    for delta in deltas:
        buffer += delta
        parts = split_sentences(buffer)
        if len(parts) > 1:
            yield from parts[:-1]
            buffer = parts[-1]
    if buffer.strip():
        yield from split_sentences(buffer)


def _render(sentences: Sequence[Sentence], *, first: bool) -> str:
    text = VerifiedAnswer(tuple(sentences)).text
    if first or not sentences:
        return text
    return ("\n" if is_list_item(text) else " ") + text


def _citations(sentences: Sequence[Sentence], passages: Sequence[Passage]
               ) -> tuple[Citation, ...]:
    by_n = {p.n: p for p in passages}
    cited: dict[int, None] = {}
    for s in sentences:
        for n in s.citations:
            cited.setdefault(n, None)
    out = []
    for n in cited:
        p = by_n[n]
        snippet = p.chunk.text if len(p.chunk.text) <= 240 else p.chunk.text[:237] + "..."
        out.append(Citation(n=n, chunk_id=p.chunk.chunk_id, article_id=p.chunk.article_id,
                            title=p.chunk.title, url=p.chunk.url, snippet=snippet,
                            score=round(p.score, 4), source_type=p.chunk.source_type,
                            updated_at=p.chunk.updated_at))
    return tuple(out)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)

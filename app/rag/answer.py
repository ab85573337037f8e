"""The answer policy: rewrite, retrieve, rerank, gate, generate, verify.

A question ends in one of three outcomes: a confident answer; "this may help" (reason
``low_confidence``), where related articles exist but the decision is unsure, so the most
relevant passage and its article are offered as a suggestion, not as the bot's answer; or
"I don't know". Not answering is a decision made here, with a named reason, never text a
model happens to produce:

- ``no_context``: retrieval found nothing (for these filters);
- ``off_topic``: nothing in the knowledge base talks about it (even the closest passage is
  less similar than ``GatePolicy.related_min_similarity``); no generator is called;
- ``low_confidence``: related articles exist, but the decision (the calibrated answerability
  model, or the score bars without one) does not trust any of them to answer; no generator
  is called;
- ``model_declined``: the generator answered with the refusal sentence;
- ``unsupported``: no sentence of the generated answer survived citation verification;
- ``generator_error``: a reason older stored messages may carry; a configured generator that
  fails before saying anything is replaced by the extractive answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from app.content.safety import ContentSafety, without_instructions
from app.rag.citations import CitationVerifier, is_refusal, split_sentences
from app.rag.decide import AnswerabilityModel, decision_signals
from app.rag.extractive import ExtractiveGenerator
from app.rag.generate import GeneratorError
from app.rag.index import IndexVersion
from app.rag.protocols import Generator, QueryRewriter
from app.rag.rerank import BudgetedReranker
from app.rag.retrieve import HybridRetriever
from app.rag.rewrite import RuleBasedRewriter
from app.rag.sentences import SentenceScorer
from app.rag.spelling import corrected
from app.rag.trace import (
    TRACE_CANDIDATES,
    Decision,
    Trace,
    TraceCandidate,
    TracePassage,
    TraceSentence,
    outcome_of,
)
from app.rag.types import (
    Candidate,
    Chunk,
    Passage,
    Sentence,
    SentenceScores,
    Turn,
    VerifiedAnswer,
    separator,
)

logger = logging.getLogger(__name__)

SNIPPET_SENTENCES = 2  # sentences of the best passage shown with a low_confidence fallback


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
    related_min_similarity: float = 0.4  # below it nothing is related: off_topic
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
    """An article offered when the bot does not answer; ``snippet`` is set on the first one
    of a ``low_confidence`` fallback: the most relevant passage, shown as a suggestion."""

    article_id: str
    title: str
    url: str
    snippet: str = ""


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
    gate_kind: str = "dense"  # model | rerank | dense: what gate_score is
    gate_threshold: float = 0.0  # the bar gate_score was compared with
    sentence_scores: SentenceScores = field(default_factory=SentenceScores)
    message: str = ""  # the customer's own message (``query`` may be a rewritten follow-up)


@dataclass(frozen=True, slots=True)
class AnswerResult:
    answer: str
    citations: tuple[Citation, ...]
    fallback: Fallback | None
    prepared: Prepared
    generator: str
    index_version: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    trace: Trace | None = None
    llm_failed: bool = False  # the configured generator failed; the extractive answer stands


@dataclass(frozen=True, slots=True)
class Event:
    """A streaming event: ``delta`` (text), ``citations``, ``done`` (the result)."""

    kind: str
    data: object


class AnswerService:
    """Answers one question from one index version."""

    def __init__(self, *, retriever: HybridRetriever, reranker: BudgetedReranker | None,
                 generator: Generator, verifier: CitationVerifier,
                 policy: GatePolicy | None = None, rewriter: QueryRewriter | None = None,
                 safety: ContentSafety | None = None,
                 sentence_scorer: SentenceScorer | None = None) -> None:
        self.retriever = retriever
        self.sentence_scorer = sentence_scorer  # None: no sentence_rerank signal
        self.safety = safety  # screens every passage and generated sentence (None: off)
        self.reranker = reranker
        self.generator = generator
        self.extractive = (generator if isinstance(generator, ExtractiveGenerator)
                           else ExtractiveGenerator())
        self.verifier = verifier
        self.policy = policy or GatePolicy()
        self.rewriter = rewriter or RuleBasedRewriter()
        self._model_fits: dict[str, bool] = {}  # index version -> the model was fitted on it

    def prepare(self, index: IndexVersion, message: str, *, history: Sequence[Turn] = (),
                previous_titles: Sequence[str] = (),
                filters: dict[str, list[str]] | None = None) -> Prepared:
        t = time.perf_counter()
        # What the customer asks, not what they command, in the knowledge base's spelling.
        message = corrected(without_instructions(message), index.sparse)
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
        passages = self.passages(candidates) if candidates else ()
        t = time.perf_counter()
        scores = (self.sentence_scorer.score(query, passages)
                  if self.sentence_scorer is not None else SentenceScores())
        timings["sentences"] = _ms(t)
        t = time.perf_counter()
        signals = decision_signals(query, candidates, index.sparse,
                                   sentence_rerank=scores.best)
        gate = self._gate(candidates, signals, query=query,
                          use_model=self.model_decides(index), scores=scores)
        timings["decide"] = _ms(t)
        return Prepared(query, tuple(candidates), () if gate.fallback else passages,
                        gate.score, gate.agreement, gate.fallback, depth, reduced, timings,
                        signals, gate.kind, gate.threshold, scores, message)

    def model_decides(self, index: IndexVersion) -> bool:
        """Whether the answerability model was fitted on this index's knowledge base (else
        the score bars decide: a model's calibration belongs to the articles it saw)."""
        model = self.policy.model
        if model is None:
            return False
        fits = self._model_fits.get(index.name)
        if fits is None:
            fits = model.fits(index.article_ids())
            if not fits:
                logger.warning("the answerability model was fitted on another knowledge base "
                               "than index %s: the score bars decide; run `make calibrate`",
                               index.name)
            if len(self._model_fits) > 16:
                self._model_fits.clear()
            self._model_fits[index.name] = fits
        return fits

    def _gate(self, candidates: list[Candidate], signals: Mapping[str, float] | None = None,
              *, query: str = "", use_model: bool = True,
              scores: SentenceScores | None = None) -> _Gate:
        p = self.policy
        if not candidates:
            return _Gate(0.0, False, Fallback("no_context", ()), "dense", 0.0)
        top = candidates[0]
        agreement = _retrievers_agree(candidates)
        if p.model is not None and use_model:
            score = p.model.probability(signals or {})
            passed = score >= p.model.threshold
            return _Gate(score, agreement,
                         None if passed else self._decline(candidates, query, scores),
                         "model", p.model.threshold)
        if self.policy.score == "rerank" and "rerank" in top.scores:
            kind, score = "rerank", top.scores["rerank"]
            bar, bar_agree = p.min_score, p.min_score_agreement
        else:
            kind, score = "dense", max(c.scores.get("dense", 0.0) for c in candidates)
            bar, bar_agree = p.dense_min_score, p.dense_min_score_agreement
        threshold = bar_agree if agreement else bar
        passed = score >= bar or (agreement and score >= bar_agree)
        return _Gate(score, agreement,
                     None if passed else self._decline(candidates, query, scores), kind,
                     min(threshold, bar))

    def _decline(self, candidates: Sequence[Candidate], query: str,
                 scores: SentenceScores | None = None) -> Fallback:
        """``off_topic`` when nothing is even related, else ``low_confidence``: the articles
        as suggestions, the first with the sentences of its passage that best match the
        question (what the bot would have answered, offered as a suggestion)."""
        closest = max(c.scores.get("dense", 0.0) for c in candidates)
        if closest < self.policy.related_min_similarity:
            return Fallback("off_topic", ())
        suggestions = self._suggest(candidates)
        articles = [c for c in candidates if c.chunk.source_type == "article"]
        best = self._quotable(articles[0].chunk) if articles else None
        if suggestions and best is not None and suggestions[0].article_id == best.article_id:
            passage = Passage(1, best, articles[0].score)
            lead = self.extractive.compose(query, [passage],
                                           scores=_scores_of(scores, best))[:SNIPPET_SENTENCES]
            snippet = _snippet(" ".join(s.text for s in lead) or best.text)
            first = suggestions[0]
            suggestions = (Suggestion(first.article_id, first.title, first.url, snippet),
                           *suggestions[1:])
        return Fallback("low_confidence", suggestions)

    def _suggest(self, candidates: Sequence[Candidate]) -> tuple[Suggestion, ...]:
        out: dict[str, Suggestion] = {}
        for c in candidates:
            if c.chunk.source_type == "article" and c.chunk.article_id not in out:
                base_url = c.chunk.url.split("#")[0]
                if self.safety is not None and not self.safety.link_allowed(base_url):
                    base_url = ""
                out[c.chunk.article_id] = Suggestion(c.chunk.article_id, c.chunk.title, base_url)
            if len(out) >= self.policy.suggestions:
                break
        return tuple(out.values())

    def passages(self, candidates: Sequence[Candidate]) -> tuple[Passage, ...]:
        """The passages a generator gets from these candidates (those scoring at least
        ``passage_ratio`` of the top one, at most ``max_passages``), as they may be quoted:
        without sentences the content-safety check flags and, for tickets, only the agent's
        resolution (defence in depth: flagged documents are not indexed in the first place)."""
        top = candidates[0].score
        floor = top * self.policy.passage_ratio if top > 0 else float("-inf")
        chosen: list[tuple[Chunk, float]] = []
        for c in candidates:
            if len(chosen) == self.policy.max_passages:
                break
            if c.score >= floor and (chunk := self._quotable(c.chunk)) is not None:
                chosen.append((chunk, c.score))
        return tuple(Passage(n, chunk, score) for n, (chunk, score) in enumerate(chosen, 1))

    def _quotable(self, chunk: Chunk) -> Chunk | None:
        return self.safety.screen(chunk) if self.safety is not None else chunk

    def stream(self, index: IndexVersion, message: str, *, history: Sequence[Turn] = (),
               previous_titles: Sequence[str] = (),
               filters: dict[str, list[str]] | None = None, style: str = "") -> Iterator[Event]:
        """Answer as events; ``answer()`` consumes the same events, so both agree."""
        started = time.perf_counter()
        prepared = self.prepare(index, message, history=history,
                                previous_titles=previous_titles, filters=filters)
        timings = dict(prepared.timings_ms)
        fallback, generator_name, llm_failed = prepared.fallback, "", False
        sentences: list[Sentence] = []
        whys: list[str] = []
        if fallback is None:
            t = time.perf_counter()
            gen = self._sentences(prepared, history=history, style=style)
            generator_name = self.generator.name
            first_of_article = _first_of_article(prepared.passages)
            try:
                for sentence, why in gen:
                    # Each article is cited once: passages of one article share its number.
                    sentence = Sentence(sentence.text, tuple(dict.fromkeys(
                        first_of_article.get(n, n) for n in sentence.citations)))
                    sentences.append(sentence)
                    whys.append(why)
                    yield Event("delta", _render(
                        [sentence], after=sentences[-2] if len(sentences) > 1 else None))
            except _Fallback as exc:
                fallback = Fallback(exc.reason, self._suggest(prepared.candidates))
            except _UsedExtractive:
                generator_name, llm_failed = self.extractive.name, True
            timings["generate"] = _ms(t)
            if fallback is None and not sentences:
                fallback = Fallback("unsupported", self._suggest(prepared.candidates))
        citations = () if fallback else _citations(sentences, prepared.passages)
        if citations:
            yield Event("citations", citations)
        timings["total"] = _ms(started)
        kept = () if fallback else tuple(zip(sentences, whys, strict=True))
        trace = _trace(prepared, fallback, kept, generator=generator_name, timings=timings)
        yield Event("done", AnswerResult(
            answer="" if fallback else _render(sentences), citations=citations,
            fallback=fallback, prepared=prepared, generator=generator_name,
            index_version=index.name, timings_ms=timings, trace=trace, llm_failed=llm_failed))

    def answer(self, index: IndexVersion, message: str, **kwargs: object) -> AnswerResult:
        for event in self.stream(index, message, **kwargs):  # type: ignore[arg-type]
            if event.kind == "done":
                return event.data  # type: ignore[return-value]
        raise AssertionError("stream ended without a done event")

    def _sentences(self, prepared: Prepared, *, history: Sequence[Turn],
                   style: str) -> Iterator[tuple[Sentence, str]]:
        """Verified sentences and why each is there, from the generator; the extractive
        answer when the generator fails."""
        if self.generator is self.extractive:
            yield from self._extractive(prepared)
            return
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
                if verified is not None and self.safety is not None \
                        and self.safety.findings(verified.text):
                    logger.warning("dropped a generated sentence the content check flagged")
                    verified = None
                if verified is not None:
                    emitted += 1
                    yield verified, "generated; its citations passed verification"
                else:
                    logger.info("dropped an unsupported sentence from %s", self.generator.name)
        except GeneratorError as exc:
            logger.warning("generator %s failed: %s", self.generator.name, exc)
            if emitted:
                return
            yield from self._extractive(prepared)
            raise _UsedExtractive() from exc

    def _extractive(self, prepared: Prepared) -> Iterator[tuple[Sentence, str]]:
        for sentence, why in self.extractive.explain(prepared.query, prepared.passages,
                                                     scores=prepared.sentence_scores,
                                                     message=prepared.message):
            verified = self.verifier.verify_sentence(_marked(sentence), prepared.passages)
            if verified is not None:
                yield verified, why
            else:
                logger.info("dropped an unsupported sentence from %s", self.extractive.name)


@dataclass(frozen=True, slots=True)
class _Gate:
    score: float
    agreement: bool
    fallback: Fallback | None
    kind: str
    threshold: float


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


def _render(sentences: Sequence[Sentence], *, after: Sentence | None = None) -> str:
    """The sentences as the customer reads them; ``after``: the sentence streamed before
    them, which decides the separator they start with."""
    text = VerifiedAnswer(tuple(sentences)).text
    if after is None or not sentences:
        return text
    return separator(after.text, sentences[0].text) + text


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


def _scores_of(scores: SentenceScores | None, chunk: Chunk) -> SentenceScores | None:
    """The sentence scores of the passage numbered 1 when it holds ``chunk`` (a suggestion's
    snippet is composed from that passage alone), else None."""
    if scores is None or 1 not in scores.rerank or scores.chunk_ids.get(1) != chunk.chunk_id:
        return None
    return SentenceScores({1: scores.rerank[1]}, {1: chunk.chunk_id})


def _first_of_article(passages: Sequence[Passage]) -> dict[int, int]:
    """Each passage's number mapped to the number of the first passage of its article."""
    first: dict[str, int] = {}
    return {p.n: first.setdefault(p.chunk.article_id, p.n) for p in passages}


def _marked(sentence: Sentence) -> str:
    return f"{sentence.text} {''.join(f'[{n}]' for n in sentence.citations)}"


def decision(prepared: Prepared, fallback: Fallback | None = None) -> Decision:
    """The decision record of a prepared question; ``fallback`` is the final one when
    generation changed it (``unsupported``, ``model_declined``), else the gate's."""
    final = fallback or prepared.fallback
    reason = final.reason if final else None
    return Decision(outcome_of(reason), reason, prepared.gate_kind, prepared.gate_score,
                    prepared.gate_threshold, prepared.agreement, dict(prepared.signals))


def _trace(prepared: Prepared, fallback: Fallback | None,
           sentences: Sequence[tuple[Sentence, str]], *, generator: str,
           timings: Mapping[str, float]) -> Trace:
    return Trace(
        query=prepared.query,
        candidates=tuple(TraceCandidate(c.chunk.chunk_id, c.chunk.article_id, c.chunk.title,
                                        c.chunk.source_type, c.score, dict(c.ranks),
                                        dict(c.scores))
                         for c in prepared.candidates[:TRACE_CANDIDATES]),
        decision=decision(prepared, fallback),
        passages=tuple(TracePassage(p.n, p.chunk.chunk_id, p.chunk.article_id)
                       for p in prepared.passages),
        sentences=tuple(TraceSentence(s.text, s.citations, why) for s, why in sentences),
        generator=generator, rerank_depth=prepared.rerank_depth,
        rerank_reduced=prepared.rerank_reduced, timings_ms=dict(timings))


def _snippet(text: str, limit: int = 300) -> str:
    """A passage's opening as plain text, cut at a word boundary."""
    from app.rag.extractive import strip_markdown

    plain = " ".join(strip_markdown(text).split())
    if len(plain) <= limit:
        return plain
    return plain[:limit].rsplit(" ", 1)[0] + "..."


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)

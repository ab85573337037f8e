"""Citation markers: sentence splitting, marker parsing and verification against passages.

An answer sentence survives verification only when the passages it cites support it: at
least ``min_overlap`` of its content words occur in them and, when a reranker is given, the
reranker scores it high enough against one of them. A sentence that cites the wrong passage
is re-cited to the one that supports it; a sentence that no passage supports is dropped.
Word overlap is deliberately simple (lowercase, stop words out, plural/-ing/-ed folded): it
catches invented facts and numbers cheaply, and the optional reranker catches paraphrase.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.errors import ConfigurationError
from app.rag.protocols import Reranker
from app.rag.text import CITATION_STOPWORDS, CITATION_WORD, light_stem
from app.rag.types import Passage, Sentence, VerifiedAnswer

logger = logging.getLogger(__name__)

REFUSAL = "I don't know based on our help center."

_MARKER = r"\[\d+(?:\s*,\s*\d+)*\](?!\()"
_MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\](?!\()")
# A sentence ends at . ! or ? (plus closing quotes, brackets, emphasis and citation markers)
# before whitespace, or at citation markers followed by a capital: "Tap Save [1] Then ...".
_END = re.compile(
    r"[.!?]+[\"'\u201d\u2019)*_]*(?:\s*" + _MARKER + r")*(?=\s|$)"
    r"|(?:\s*" + _MARKER + r")+(?=\s+[A-Z])"
)
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#{1,6}\s|\||>)")
_INITIALS = re.compile(r"(?:[A-Za-z]\.){2,}")
_ABBREVIATIONS = frozenset(
    "e.g. i.e. vs. approx. incl. etc. cf. fig. mr. mrs. ms. dr. st. jr. sr. inc. ltd.".split()
)


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """Lowercased, stop-word-free, lightly stemmed words of ``text``.

    Args:
        text: Any text; Markdown punctuation and citation markers are ignored.

    Returns:
        The set of normalised content words (numbers included: "24" and "48" differ).
    """
    words = CITATION_WORD.findall(text.lower().replace("\u2019", "'"))
    return frozenset(light_stem(w) for w in words if w not in CITATION_STOPWORDS)


def is_refusal(text: str, *, prefix: bool = False) -> bool:
    """Whether ``text`` is (or, with ``prefix``, starts with) the fixed refusal sentence."""
    norm = " ".join(text.replace("\u2019", "'").lower().split()).strip(" \"'\u201c\u201d")
    target = REFUSAL.lower().rstrip(".")
    return norm.startswith(target) if prefix else norm.rstrip(" .") == target


def _blocks(text: str) -> list[str]:
    """Lines grouped into blocks: a list item, heading, table row or paragraph each."""
    blocks: list[str] = []
    joinable = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            joinable = False
        elif joinable and not _BLOCK_START.match(line):
            blocks[-1] = f"{blocks[-1]} {stripped}"
        else:
            blocks.append(stripped)
            joinable = not stripped.startswith(("#", "|"))
    return blocks


def _open_quote(text: str) -> bool:
    """Whether ``text`` ends inside a quotation: a quoted message is never cut in two."""
    return text.count('"') % 2 == 1 or text.count("\u201c") > text.count("\u201d")


def _is_boundary(block: str, match: re.Match[str]) -> bool:
    rest = block[match.end():].lstrip()
    if not rest or rest[0].islower():
        return False
    if match.group().startswith("."):
        word = re.search(r"[^\s(\[\"']*$", block[: match.start()]).group()  # type: ignore[union-attr]
        token = f"{word}."
        if token.lower() in _ABBREVIATIONS or _INITIALS.fullmatch(token):
            return False
    return True


def split_sentences(text: str) -> list[str]:
    """Split an answer or passage into sentences, keeping list items whole at their start.

    Does not split inside "e.g.", "i.e.", "U.S.", version numbers (4.12.3), prices ($4.99),
    domain names (help.lumora.example) or quotations; a list marker ("1. ", "- ") stays on its
    sentence and a citation marker stays with the sentence before it.

    Args:
        text: Plain text or light Markdown, possibly with ``[n]`` markers.

    Returns:
        The sentences, stripped, in order.
    """
    sentences: list[str] = []
    for block in _blocks(text):
        mark = _LIST_MARK.match(block)
        prefix = block[: mark.end()] if mark else ""
        start = len(prefix)
        for match in _END.finditer(block, start):
            if _is_boundary(block, match) and not _open_quote(block[start: match.end()]):
                sentences.append(prefix + block[start: match.end()].strip())
                prefix, start = "", match.end()
        tail = block[start:].strip()
        if tail:
            sentences.append(prefix + tail)
        elif prefix.strip():
            sentences.append(prefix.strip())
    return [s for s in sentences if s]


def parse_markers(sentence: str) -> tuple[str, tuple[int, ...]]:
    """Strip ``[n]``, ``[1, 2]`` and ``[1][3]`` markers from a sentence.

    Args:
        sentence: One sentence as the generator wrote it.

    Returns:
        The sentence without markers (no space left before punctuation) and the cited
        numbers, each once, in order of appearance.
    """
    numbers: dict[int, None] = {}
    for match in _MARKERS.finditer(sentence):
        for digits in re.findall(r"\d+", match.group(1)):
            numbers.setdefault(int(digits), None)
    clean = " ".join(_MARKERS.sub("", sentence).split())
    return clean, tuple(numbers)


@dataclass(frozen=True, slots=True)
class _Context:
    """The sent passages, indexed by number, with their content words computed once."""

    passages: dict[int, Passage]
    words: dict[int, frozenset[str]]

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> _Context:
        by_n = {p.n: p for p in passages}
        return cls(by_n, {n: content_words(p.chunk.embedding_text()) for n, p in by_n.items()})


class CitationVerifier:
    """Keeps the sentences of an answer that the passages they cite support.

    Args:
        min_overlap: Fraction of a sentence's content words that must occur in the union of
            its cited passages (breadcrumb and text).
        reranker: Optional second opinion; scored once per sentence against all passages.
        min_reranker_score: With a reranker, the best score of the sentence against its
            cited passages must reach this.
    """

    def __init__(self, *, min_overlap: float = 0.5, reranker: Reranker | None = None,
                 min_reranker_score: float = 0.0) -> None:
        if not 0.0 < min_overlap <= 1.0:
            raise ConfigurationError(
                f"min_overlap must be in (0, 1], got {min_overlap}: 0.5 is a good start"
            )
        self.min_overlap = min_overlap
        self.reranker = reranker
        self.min_reranker_score = min_reranker_score

    def verify(self, text: str, passages: Sequence[Passage]) -> VerifiedAnswer:
        """Verify every sentence of ``text`` against the passages that were sent.

        Args:
            text: The generator's answer with ``[n]`` markers.
            passages: The passages sent to the generator, numbered from 1.

        Returns:
            The supported sentences (re-cited where needed), the dropped sentences and the
            marker numbers that named no sent passage. The refusal sentence is neither kept
            nor dropped: declining is the answer policy's decision.
        """
        ctx = _Context.of(passages)
        parsed: list[tuple[str, tuple[int, ...]]] = []
        for raw in split_sentences(text):
            clean, numbers = parse_markers(raw)
            if parsed and not CITATION_WORD.search(clean):  # markers on a line of their own
                parsed[-1] = (parsed[-1][0], parsed[-1][1] + numbers)
            else:
                parsed.append((clean, numbers))
        kept: list[Sentence] = []
        dropped: list[str] = []
        unknown: dict[int, None] = {}
        for clean, numbers in parsed:
            for n in numbers:
                if n not in ctx.passages:
                    unknown.setdefault(n, None)
            if is_refusal(clean):
                continue
            sentence = self._judge(clean, numbers, ctx)
            if sentence is None:
                dropped.append(clean)
            else:
                kept.append(sentence)
        logger.debug("verified answer: kept %d, dropped %d, unknown markers %d",
                     len(kept), len(dropped), len(unknown))
        return VerifiedAnswer(tuple(kept), tuple(dropped), tuple(unknown))

    def verify_sentence(self, sentence: str, passages: Sequence[Passage]) -> Sentence | None:
        """Verify one streamed sentence; ``None`` when it is dropped or is the refusal."""
        clean, numbers = parse_markers(sentence)
        if not clean or is_refusal(clean):
            return None
        return self._judge(clean, numbers, _Context.of(passages))

    def _judge(self, clean: str, numbers: tuple[int, ...], ctx: _Context) -> Sentence | None:
        words = content_words(_LIST_MARK.sub("", clean, count=1))
        if not words:
            return None
        cited = tuple(n for n in numbers if n in ctx.passages)
        union = frozenset().union(*(ctx.words[n] for n in cited))
        cited_ok = bool(cited) and len(words & union) / len(words) >= self.min_overlap
        overlap = {n: len(words & w) / len(words) for n, w in ctx.words.items()}
        singles = [n for n, frac in overlap.items() if frac >= self.min_overlap]
        if not cited_ok and not singles:
            return None
        scores = self._rerank(clean, ctx)
        if cited_ok and self._reranker_agrees(max(scores.get(n, 0.0) for n in cited)):
            return Sentence(clean, cited)
        singles = [n for n in singles if self._reranker_agrees(scores.get(n, 0.0))]
        if not singles:
            return None
        best = max(singles, key=lambda n: (scores.get(n, 0.0), overlap[n], -n))
        return Sentence(clean, (best,))

    def _rerank(self, sentence: str, ctx: _Context) -> dict[int, float]:
        """One reranker call per sentence, batching every sent passage."""
        if self.reranker is None:
            return {}
        numbers = list(ctx.passages)
        texts = [ctx.passages[n].chunk.embedding_text() for n in numbers]
        scores = self.reranker.score(sentence, texts)
        return {n: float(s) for n, s in zip(numbers, scores, strict=True)}

    def _reranker_agrees(self, score: float) -> bool:
        return self.reranker is None or score >= self.min_reranker_score

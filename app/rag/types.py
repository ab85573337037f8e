"""Frozen records that flow through the pipeline.

Data flows one way: ``SourceDocument -> Chunk -> Index -> Candidate -> Answer``.
Each stage returns new records and never mutates its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STATUSES = ("published", "draft", "archived")
SOURCE_TYPES = ("article", "ticket")
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s")


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One knowledge-base article or resolved ticket, as read from a source.

    ``body`` is Markdown (HTML sources are converted on load). ``content_hash`` covers every
    field that changes what is indexed, so an unchanged document is never re-embedded.
    """

    id: str
    title: str
    body: str
    url: str = ""
    product: str = "general"
    locale: str = "en-US"
    status: str = "published"
    updated_at: str = ""
    tags: tuple[str, ...] = ()
    source_type: str = "article"
    source_path: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable piece of a document with its provenance."""

    chunk_id: str
    article_id: str
    ordinal: int
    title: str
    heading_path: tuple[str, ...]
    text: str
    url: str
    char_start: int
    char_end: int
    n_tokens: int
    product: str = "general"
    locale: str = "en-US"
    status: str = "published"
    source_type: str = "article"
    updated_at: str = ""
    tags: tuple[str, ...] = ()

    @property
    def breadcrumb(self) -> str:
        return " > ".join((self.title, *self.heading_path))

    def embedding_text(self) -> str:
        """Text given to the embedder and the reranker: breadcrumb first, then the body."""
        return f"{self.breadcrumb}\n{self.text}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A chunk proposed by retrieval, with the rank and score it had at every stage."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Passage:
    """A context passage as sent to a generator, numbered from 1 in the order sent."""

    n: int
    chunk: Chunk
    score: float


def is_list_item(text: str) -> bool:
    """True for a Markdown list item ("- x", "* x", "3. x", "3) x")."""
    return bool(_LIST_ITEM.match(text))


def separator(previous: str, current: str) -> str:
    """What goes between two answer sentences: a list item starts its own line, and prose
    after a list starts a new paragraph (else Markdown would continue the last item)."""
    if is_list_item(current):
        return "\n"
    return "\n\n" if is_list_item(previous) else " "


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier turn of the conversation."""

    role: str  # user | assistant
    text: str


@dataclass(frozen=True, slots=True)
class Generation:
    """What a generator produced: text with ``[n]`` citation markers, or a refusal."""

    text: str
    declined: bool = False
    model: str = ""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a verified answer and the passages that support it."""

    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    """An answer after citation verification: only supported sentences remain."""

    sentences: tuple[Sentence, ...]
    dropped: tuple[str, ...] = ()
    unknown_markers: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        """The answer with markers after each sentence; list items keep their own lines."""
        out, previous = "", ""
        for s in self.sentences:
            marks = "".join(f"[{n}]" for n in s.citations)
            piece = f"{s.text} {marks}" if marks else s.text
            out = f"{out}{separator(previous, s.text)}{piece}" if out else piece
            previous = s.text
        return out

    @property
    def cited(self) -> tuple[int, ...]:
        seen: dict[int, None] = {}
        for s in self.sentences:
            for n in s.citations:
                seen.setdefault(n, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class SentenceScores:
    """The cross-encoder's probability that each unit (sentence, list item, table row) of the
    sent passages answers the question, by passage number, in the units' reading order."""

    rerank: dict[int, tuple[float, ...]] = field(default_factory=dict)
    chunk_ids: dict[int, str] = field(default_factory=dict)  # what each passage number held
    # The best probability of a unit that could lead an answer (not a lead-in or a
    # question): the ``sentence_rerank`` decision signal; 0.0 when nothing was scored.
    best: float = 0.0

    def of(self, n: int, pos: int) -> float:
        """The probability of unit ``pos`` of passage ``n``; 0.0 where not scored."""
        values = self.rerank.get(n, ())
        return values[pos] if pos < len(values) else 0.0

"""The record of one answer: what the service did and why, for admins and the evaluation.

``AnswerService`` returns a ``Trace`` with every result: the rewritten query, the candidates
with the score and rank each stage gave them, the decision (outcome, reason, the probability
or score it read and the bar it compared it with, every decision signal), the passages sent
to the generator and the answer's sentences with the passage each cites and why it was
chosen. The service stores it with the assistant's message; admins read it back through the
admin API, and ``python -m eval`` builds its run records from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("answer", "suggest", "decline")
TRACE_CANDIDATES = 10  # candidates kept in a trace, best first
TRACE_FORMAT = 1


def outcome_of(reason: str | None) -> str:
    """The outcome a fallback reason means: no reason is an answer, ``low_confidence`` a
    suggestion, any other reason a decline."""
    return "answer" if reason is None else "suggest" if reason == "low_confidence" else "decline"


@dataclass(frozen=True, slots=True)
class TraceCandidate:
    """One retrieved chunk with the rank and score each stage gave it (1 = best)."""

    chunk_id: str
    article_id: str
    title: str
    source_type: str
    score: float
    ranks: dict[str, int]
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the service answered, and on what evidence.

    ``outcome`` is "answer", "suggest" (related articles offered, reason ``low_confidence``)
    or "decline"; ``kind`` names what ``score`` is: "model" (the calibrated probability that
    the knowledge base answers), "rerank" or "dense"; ``threshold`` is the bar it was
    compared with.
    """

    outcome: str
    reason: str | None
    kind: str
    score: float
    threshold: float
    agreement: bool
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TraceSentence:
    """A sentence of the answer, the passages it cites and why it is there."""

    text: str
    citations: tuple[int, ...]
    why: str = ""


@dataclass(frozen=True, slots=True)
class TracePassage:
    n: int
    chunk_id: str
    article_id: str


@dataclass(frozen=True, slots=True)
class Trace:
    query: str
    candidates: tuple[TraceCandidate, ...]
    decision: Decision
    passages: tuple[TracePassage, ...] = ()
    sentences: tuple[TraceSentence, ...] = ()
    generator: str = ""
    rerank_depth: int = 0
    rerank_reduced: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the stored and returned form), scores rounded."""
        out = asdict(self)
        out["format"] = TRACE_FORMAT
        for c in out["candidates"]:
            c["score"] = round(c["score"], 5)
            c["scores"] = {k: round(v, 5) for k, v in c["scores"].items()}
        d = out["decision"]
        d["score"] = round(d["score"], 5)
        d["signals"] = {k: round(v, 5) for k, v in d["signals"].items()}
        return out

"""Whether the knowledge base answers a question: decision signals and a calibrated model.

The answer gate reads several signals of one retrieval: the top score and the margin to the
second of the reranker, of dense and of BM25 retrieval, whether dense and BM25 agree on the
top passage, how much of the question (weighted by how rare each word is in the knowledge
base) the top passage covers and one sentence of the top passages holds, and how much of it
the knowledge base never mentions. An
``AnswerabilityModel`` turns them into a probability with a logistic model fitted by
``python -m eval calibrate --model`` on the development questions of an evaluation set, and
answers when the probability reaches a threshold chosen there, out of fold, for a target
false-answer rate (``thresholds`` holds one per target; the service picks the one for
``answer.max_false_answer_rate``). The fitted model is a JSON file with a manifest (the
models and settings its signals came from, how it did out of fold), refitted per knowledge
base; one fitted on the sample help center ships in ``data/models``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from app.errors import ConfigurationError
from app.rag.extractive import unit_texts
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Candidate

DECISION_SIGNALS = ("rerank_top", "rerank_margin", "dense_top", "dense_margin", "sparse_top",
                    "sparse_margin", "fused_top", "agreement", "coverage", "sentence_coverage",
                    "unknown", "sentence_rerank", "non_english")
SENTENCE_PASSAGES = 3  # top passages whose sentences sentence_coverage reads
MODEL_FORMAT = 1
SAME_KNOWLEDGE_BASE = 0.5  # article-id Jaccard at which a model still fits an index


def _top_two(candidates: Sequence[Candidate], stage: str) -> tuple[Candidate | None, float, float]:
    scored = sorted((c for c in candidates if stage in c.scores),
                    key=lambda c: -c.scores[stage])
    if not scored:
        return None, 0.0, 0.0
    top = scored[0].scores[stage]
    return scored[0], top, top - (scored[1].scores[stage] if len(scored) > 1 else 0.0)


def _idf(sparse: BM25Index, term: str) -> float | None:
    """BM25's inverse document frequency of ``term`` (kept positive), None when unseen."""
    row = sparse.vocab.get(term)
    if row is None:
        return None
    df = float(sparse.indptr[row + 1] - sparse.indptr[row])
    return math.log((sparse.n_docs - df + 0.5) / (df + 0.5) + 1.0)


def decision_signals(query: str, candidates: Sequence[Candidate], sparse: BM25Index, *,
                     sentence_rerank: float = 0.0) -> dict[str, float]:
    """The signals of one retrieval (``candidates`` in their final order).

    Args:
        query: The search query (the rewritten question).
        candidates: Retrieved candidates, reranked when a reranker ran.
        sparse: The index's BM25 side (its vocabulary gives word rarity).
        sentence_rerank: The best probability the cross-encoder gave one sentence of the
            top passages (``SentenceScores.best``); 0.0 when sentences are not scored.

    Returns:
        One value per name in ``DECISION_SIGNALS``.
    """
    out: dict[str, float] = {}
    tops = {}
    for stage in ("rerank", "dense", "sparse", "fused"):
        tops[stage], out[f"{stage}_top"], margin = _top_two(candidates, stage)
        if stage != "fused":
            out[f"{stage}_margin"] = margin
    by_sparse = sorted((c for c in candidates if "sparse" in c.scores),
                       key=lambda c: -c.scores["sparse"])[:3]
    dense_top = tops["dense"]
    out["agreement"] = float(dense_top is not None and any(c.chunk.chunk_id
                                                           == dense_top.chunk.chunk_id
                                                           for c in by_sparse))
    words = set(tokenize(query))
    unseen = math.log((sparse.n_docs + 0.5) / 0.5 + 1.0)
    weight = {w: _idf(sparse, w) for w in words}
    total = sum(v if v is not None else unseen for v in weight.values())
    found = set(tokenize(candidates[0].chunk.embedding_text())) if candidates else set()
    out["coverage"] = (sum(v if v is not None else unseen for w, v in weight.items()
                           if w in found) / total) if total else 0.0
    out["sentence_coverage"] = _sentence_coverage(weight, candidates[:SENTENCE_PASSAGES],
                                                  unseen=unseen, total=total)
    out["unknown"] = sum(v is None for v in weight.values()) / len(words) if words else 0.0
    out["sentence_rerank"] = float(sentence_rerank)
    # The shipped embedding model and reranker read English; on a passage in another
    # language their scores run lower for the same relevance, which this lets a fitted
    # model offset.
    out["non_english"] = float(bool(candidates)
                               and not candidates[0].chunk.locale.lower().startswith("en"))
    return out


def _sentence_coverage(weight: Mapping[str, float | None], candidates: Sequence[Candidate], *,
                       unseen: float, total: float) -> float:
    """The largest IDF-weighted share of the question that one sentence (with its article
    title and section headings) of the top passages holds: an answer says the question's
    rare words together, where a related passage has them scattered or not at all."""
    if not total:
        return 0.0
    best = 0.0
    for c in candidates:
        heading = set(tokenize(" ".join((c.chunk.title, *c.chunk.heading_path))))
        for text in unit_texts(c.chunk):
            found = heading | set(tokenize(text))
            best = max(best, sum(v if v is not None else unseen
                                 for w, v in weight.items() if w in found) / total)
    return best


@dataclass(frozen=True, slots=True)
class AnswerabilityModel:
    """A logistic model over standardised decision signals, and its answer threshold."""

    signals: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    manifest: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)  # target rate -> threshold

    def __post_init__(self) -> None:
        n = len(self.signals)
        if not n or any(len(v) != n for v in (self.mean, self.scale, self.weights)):
            raise ConfigurationError("an answerability model needs one mean, scale and weight "
                                     "per signal: re-run `make calibrate`")
        unknown = set(self.signals) - set(DECISION_SIGNALS)
        if unknown:
            raise ConfigurationError(f"the answerability model uses unknown signals "
                                     f"{sorted(unknown)}: re-run `make calibrate`")

    def probability(self, values: Mapping[str, float]) -> float:
        """The probability that the knowledge base answers the question."""
        z = self.bias + sum(w * (values.get(s, 0.0) - m) / sc for s, m, sc, w in
                            zip(self.signals, self.mean, self.scale, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def fits(self, article_ids: Collection[str]) -> bool:
        """Whether the model was fitted on this knowledge base: its probabilities are
        calibrated for the articles it was fitted with (``manifest["articles"]``), so it
        applies while at least half of the articles (by Jaccard similarity) are the same. A
        model that lists no articles applies everywhere."""
        fitted = self.manifest.get("articles")
        if not fitted:
            return True
        mine, theirs = set(fitted), set(article_ids)
        union = mine | theirs
        return bool(union) and len(mine & theirs) / len(union) >= SAME_KNOWLEDGE_BASE

    def for_target(self, max_false_answer: float) -> float:
        """The threshold fitted for the largest target rate at or below ``max_false_answer``
        (the strictest one when every target is above it); ``threshold`` without targets."""
        if not self.thresholds:
            return self.threshold
        targets = sorted((float(k), v) for k, v in self.thresholds.items())
        fitting = [v for k, v in targets if k <= max_false_answer + 1e-9]
        return fitting[-1] if fitting else targets[0][1]

    def with_target(self, max_false_answer: float) -> AnswerabilityModel:
        """The same model answering at the threshold for ``max_false_answer``."""
        return replace(self, threshold=self.for_target(max_false_answer))

    def to_json(self) -> str:
        return json.dumps({"format": MODEL_FORMAT, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path) -> AnswerabilityModel:
        """Read a model written by ``python -m eval calibrate --model``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.pop("format", None) != MODEL_FORMAT:
                raise ValueError(f"format is not {MODEL_FORMAT}")
            return cls(signals=tuple(data["signals"]), mean=tuple(data["mean"]),
                       scale=tuple(data["scale"]), weights=tuple(data["weights"]),
                       bias=float(data["bias"]), threshold=float(data["threshold"]),
                       manifest=dict(data.get("manifest", {})),
                       thresholds={str(k): float(v)
                                   for k, v in dict(data.get("thresholds", {})).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the answerability model {path}: {exc}; "
                                     "re-run `make calibrate` or delete the file") from exc

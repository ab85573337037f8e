"""Whether the knowledge base answers a question: decision signals and a calibrated model.

The answer gate reads several signals of one retrieval: the top score and the margin to the
second of the reranker, of dense and of BM25 retrieval, whether dense and BM25 agree on the
top passage, how much of the question (weighted by how rare each word is in the knowledge
base) the top passage covers, and how much of it the knowledge base never mentions. An
``AnswerabilityModel`` turns them into a probability with a logistic model fitted by
``python -m eval calibrate --model`` on the development questions of an evaluation set, and
answers when the probability reaches a threshold chosen there for a target false-answer rate.
The fitted model is a JSON file with a manifest (the models and settings its signals came
from), refitted per knowledge base.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.errors import ConfigurationError
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Candidate

DECISION_SIGNALS = ("rerank_top", "rerank_margin", "dense_top", "dense_margin", "sparse_top",
                    "sparse_margin", "fused_top", "agreement", "coverage", "unknown")
MODEL_FORMAT = 1


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


def decision_signals(query: str, candidates: Sequence[Candidate],
                     sparse: BM25Index) -> dict[str, float]:
    """The signals of one retrieval (``candidates`` in their final order).

    Args:
        query: The search query (the rewritten question).
        candidates: Retrieved candidates, reranked when a reranker ran.
        sparse: The index's BM25 side (its vocabulary gives word rarity).

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
    out["unknown"] = sum(v is None for v in weight.values()) / len(words) if words else 0.0
    return out


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
                       manifest=dict(data.get("manifest", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the answerability model {path}: {exc}; "
                                     "re-run `make calibrate` or delete the file") from exc

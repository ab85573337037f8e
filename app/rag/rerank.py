"""Cross-encoder reranking with a latency budget, optionally blended with the first stage.

A cross-encoder trained on one domain can misjudge text from another. Blending its
probability with the first-stage (fusion) score keeps the first stage's judgement in the
final order: ``(1 - w) * p + w * f``, where ``p`` is the cross-encoder's probability and ``f``
the fusion score min-max normalised over the reranked candidates. Because ``p`` is used as
is, a confident cross-encoder (p near 0 or 1) decides, while an unsure one (all p close
together, typical out of domain) leaves the order to the first stage. The raw probability is
kept in ``scores["rerank"]`` for the answer gate; the blend is the candidate's ``score``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import ConfigurationError
from app.rag.citations import split_sentences
from app.rag.onnx_scoring import OnnxScorer, require_onnx_runtime
from app.rag.protocols import Reranker
from app.rag.sparse import tokenize
from app.rag.throttle import serialise_preprocessing
from app.rag.types import Candidate

logger = logging.getLogger(__name__)

MODEL_DEPTH = 20  # the rerank depth the shipped model is measured and blended at


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` with one output, scores in [0, 1]."""

    def __init__(self, model: str, *, max_length: int | None = 256,
                 batch_size: int = 32, int8: bool = False, focus: bool | None = None,
                 backend: str = "torch", onnx_cache: Path | None = None) -> None:
        """Load a CrossEncoder folder or id.

        Args:
            model: A CrossEncoder folder, or a model id where downloads work.
            max_length: Tokens per (question, passage) pair; None keeps the model's own.
            batch_size: Pairs per forward pass.
            int8: Quantise the linear layers' weights to 8-bit integers at load (dynamic
                quantisation: activations stay float; with "onnx", ONNX Runtime's own). Faster
                on a CPU; scores move slightly, so calibrate the answer gate with the same
                setting.
            focus: Fit a passage longer than the token budget by keeping its first line and
                sentence and then the sentences that share most words with the question,
                instead of cutting its end off (see ``focused``). None: as the model was
                trained (``focus`` in its ``training.json``; off when there is none).
            backend: "torch", or "onnx" to run the same model with ONNX Runtime, exported
                once to ``onnx_cache`` (faster int8 kernels on a CPU; see ``onnx_scoring``).
            onnx_cache: Folder of exported ONNX files (``Settings.onnx_cache``); required
                with the onnx backend.
        """
        if backend not in ("torch", "onnx"):
            raise ConfigurationError(
                f"unknown reranker backend {backend!r}: use 'torch' or 'onnx'")
        if backend == "onnx" and onnx_cache is None:
            raise ConfigurationError("the onnx reranker backend needs onnx_cache, the folder "
                                     "its exported model is kept in")
        if backend == "onnx":
            require_onnx_runtime()  # fail before the model loads
        from sentence_transformers import CrossEncoder

        self.name = os.path.basename(model.rstrip("/")) or model
        self._model = CrossEncoder(model, max_length=max_length, device="cpu")
        self.max_length = int(getattr(self._model, "max_seq_length", None) or 0)
        self.batch_size = batch_size
        self.int8 = int8
        self.focus = trained_with_focus(model) if focus is None else focus
        self._count = token_counter(self._model.tokenizer)
        self.backend = backend
        self._onnx: OnnxScorer | None = None
        if onnx_cache is not None and backend == "onnx":
            import torch

            self._onnx = OnnxScorer(self._model, source=model, int8=int8,
                                    cache_dir=onnx_cache,
                                    threads=torch.get_num_threads())
        elif int8:
            self._model = _quantised(self._model)
        serialise_preprocessing(self._model)  # request threads share it (app.rag.throttle)

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        return self.score_pairs([(query, p) for p in passages])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Scores of (question, passage) pairs of any questions, batched together."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        if self.focus and self.max_length:
            pairs = list(zip([q for q, _ in pairs], focused_pairs(
                pairs, count=self._count, budget=self.max_length), strict=True))
        if self._onnx is not None:
            return self._onnx.predict(list(pairs), batch_size=self.batch_size)
        scores = self._model.predict(list(pairs), batch_size=self.batch_size,
                                     show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(-1)


def token_counter(tokenizer: Any) -> Callable[[list[str]], list[int]]:
    """Token counts of texts under ``tokenizer``, without special tokens (for ``focused``).

    A fast tokenizer is counted with a private copy of its Rust tokenizer, set once to no
    padding and no truncation and never changed again: calling the model's own tokenizer
    would switch the padding and truncation that ``predict`` in another thread has just set
    (see :mod:`app.rag.throttle`). Encoding with an unchanging tokenizer is thread-safe.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # a slow (Python) tokenizer keeps no such state
        def count_slow(texts: list[str]) -> list[int]:
            ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
            return [len(i) for i in ids]

        return count_slow
    from tokenizers import Tokenizer

    private = Tokenizer.from_str(backend.to_str())
    private.no_padding()
    private.no_truncation()
    private.encode_special_tokens = bool(getattr(tokenizer, "split_special_tokens", False))

    def count(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in private.encode_batch(texts, add_special_tokens=False)]

    return count


def trained_with_focus(model: str) -> bool:
    """Whether a model folder's ``training.json`` says it was trained on focused passages."""
    record = Path(model) / "training.json"
    if not record.is_file():
        return False
    return bool(json.loads(record.read_text(encoding="utf-8")).get("params", {}).get("focus"))


def focused(query: str, passage: str, *, count: Callable[[list[str]], list[int]],
            budget: int) -> str:
    """``passage`` fitted to what a ``budget``-token (question, passage) pair leaves it.

    A passage that fits is returned unchanged. A longer one keeps its first line (the
    breadcrumb) and first sentence, then adds the sentences that share the most distinct
    question words (stemmed, stop words left out), best first, while they fit; they are
    joined in their original order. With no shared word the passage is returned unchanged
    (the model's tokenizer then cuts its end, as without focusing).

    Args:
        query: The question.
        passage: The candidate's text (breadcrumb line, then the body).
        count: Token counts of texts, without special tokens.
        budget: Tokens per pair, special tokens included.
    """
    return focused_pairs([(query, passage)], count=count, budget=budget)[0]


def focused_pairs(pairs: Sequence[tuple[str, str]], *,
                  count: Callable[[list[str]], list[int]], budget: int) -> list[str]:
    """The pairs' passages, each fitted as ``focused`` fits it, counting tokens in two calls
    for all pairs (one for the questions and passages, one for the long passages' sentences)
    instead of two per pair: the tokenizer's cost is mostly per call."""
    if not pairs:
        return []
    sizes = count([t for pair in pairs for t in pair])
    out = [p for _, p in pairs]
    long: list[tuple[int, int, list[str]]] = []  # (pair, room, [first line, *sentences])
    for i, (_, passage) in enumerate(pairs):
        room = budget - sizes[2 * i] - 3  # [CLS] question [SEP] passage [SEP]
        if sizes[2 * i + 1] <= room:
            continue
        head, _, body = passage.partition("\n")
        units = [head, *split_sentences(body)]
        if len(units) > 2:
            long.append((i, room, units))
    if not long:
        return out
    unit_sizes = iter(count([u for _, _, units in long for u in units]))
    terms: dict[str, set[str]] = {}
    for i, room, units in long:
        query = pairs[i][0]
        if query not in terms:
            terms[query] = set(tokenize(query))
        out[i] = _fit(units, [next(unit_sizes) for _ in units], terms[query], room) or out[i]
    return out


def _fit(units: list[str], sizes: list[int], terms: set[str], room: int) -> str | None:
    """The first line and sentence, then the sentences sharing most ``terms`` that fit in
    ``room`` tokens, in their original order; None when no later sentence shares a term."""
    shared = [len(terms & set(tokenize(u))) for u in units]
    if not any(shared[2:]):
        return None
    keep, used = {0, 1}, sizes[0] + sizes[1] + 2
    for i in sorted(range(2, len(units)), key=lambda i: (-shared[i], i)):
        if shared[i] == 0:
            break
        if used + sizes[i] + 1 <= room:
            keep.add(i)
            used += sizes[i] + 1
    return units[0] + "\n" + " ".join(units[i] for i in sorted(keep) if i)


def _quantised(model: Any) -> Any:
    """``model`` with int8 dynamic quantisation of every ``nn.Linear`` (in place)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # the eager API is deprecated, still present in 2.13
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                      dtype=torch.qint8, inplace=True)


def blend(rerank: np.ndarray, first_stage: np.ndarray, *, weight: float) -> np.ndarray:
    """``(1 - weight) * rerank + weight * first_stage`` min-max normalised to [0, 1].

    Args:
        rerank: Cross-encoder probabilities of the reranked candidates.
        first_stage: Their first-stage (fusion) scores, any scale; equal scores count as 1.
        weight: Share of the first stage, in [0, 1]; 0 keeps the cross-encoder's order.

    Returns:
        The blended scores, in the candidates' order.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError("the fusion weight must be between 0 and 1")
    rerank = np.asarray(rerank, dtype=np.float64)
    if weight == 0.0 or len(rerank) == 0:
        return rerank
    first = np.asarray(first_stage, dtype=np.float64)
    lo, hi = float(first.min()), float(first.max())
    norm = (first - lo) / (hi - lo) if hi > lo else np.ones_like(first)
    return (1.0 - weight) * rerank + weight * norm


@dataclass(frozen=True, slots=True)
class Reranked:
    candidates: tuple[Candidate, ...]
    depth: int
    reduced: bool
    ms: float


class BudgetedReranker:
    """Reranks the top candidates, shrinking the depth when the budget would be exceeded.

    The cost per pair is learnt from the calls made so far (an exponential moving average),
    so the depth adapts to the machine instead of relying on a configured guess.
    """

    def __init__(self, reranker: Reranker, *, depth: int = 20, budget_ms: float = 400.0,
                 min_depth: int = 5, fusion_weight: float = 0.0) -> None:
        if not 0.0 <= fusion_weight <= 1.0:
            raise ValueError("fusion_weight must be between 0 and 1")
        self.reranker = reranker
        self.depth, self.budget_ms, self.min_depth = depth, budget_ms, min_depth
        self.fusion_weight = fusion_weight
        self._ms_per_pair: float | None = None

    def planned_depth(self, available: int) -> int:
        depth = min(self.depth, available)
        if self._ms_per_pair:
            affordable = int(self.budget_ms // self._ms_per_pair)
            depth = min(depth, max(self.min_depth, affordable))
        return depth

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> Reranked:
        depth = self.planned_depth(len(candidates))
        reduced = depth < min(self.depth, len(candidates))
        head = list(candidates[:depth])
        started = time.perf_counter()
        scores = self.reranker.score(query, [c.chunk.embedding_text() for c in head])
        ms = (time.perf_counter() - started) * 1000
        if head:
            per_pair = ms / len(head)
            self._ms_per_pair = per_pair if self._ms_per_pair is None else (
                0.8 * self._ms_per_pair + 0.2 * per_pair)
        blended = blend(scores, np.array([c.score for c in head]), weight=self.fusion_weight)
        scored = [replace(c, score=float(b), scores={**c.scores, "rerank": float(s),
                                                     "blend": float(b)})
                  for c, s, b in zip(head, scores, blended, strict=True)]
        order = sorted(range(len(scored)), key=lambda i: (
            -scored[i].score, scored[i].chunk.source_type != "article", i))
        ranked = [replace(scored[i], ranks={**scored[i].ranks, "rerank": pos})
                  for pos, i in enumerate(order, start=1)]
        return Reranked(tuple(ranked), depth, reduced, round(ms, 3))

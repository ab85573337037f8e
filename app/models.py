"""SQLModel tables: articles, chunks and index builds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Article(SQLModel, table=True):
    """Every known article or ticket, whatever its status; the index serves published ones."""

    id: str = Field(primary_key=True, max_length=200)
    title: str
    url: str = ""
    product: str = Field(default="general", index=True)
    locale: str = Field(default="en-US", index=True)
    status: str = Field(default="published", index=True)
    source_type: str = Field(default="article", index=True)
    updated_at: str = ""
    tags: str = "[]"  # JSON list
    body: str = Field(sa_column=Column(Text, nullable=False))
    source_path: str = ""
    content_hash: str = Field(index=True, max_length=64)
    created: datetime = Field(default_factory=utcnow)
    modified: datetime = Field(default_factory=utcnow)


class ArticleClaim(SQLModel, table=True):
    """An article the admin API owns: file ingestion neither overwrites nor brings it back.

    Written by every admin API write or delete of an article or ticket; removed when an admin
    releases it (``POST /v1/admin/articles/{id}/release``), after which its file wins again.
    """

    __tablename__ = "article_claim"

    article_id: str = Field(primary_key=True, max_length=200)
    deleted: bool = False  # a tombstone: deleted through the API, kept deleted
    # The file that held the article when the API took it over, or that last offered a
    # version of it to file ingestion; "" while none is known. Release hands the row back to it.
    file_path: str = ""
    actor: str = Field(default="", max_length=40)
    claimed_at: datetime = Field(default_factory=utcnow)


class ChunkRecord(SQLModel, table=True):
    """The chunks of the active index version, for inspection and evaluation joins."""

    __tablename__ = "chunk"

    chunk_id: str = Field(primary_key=True, max_length=220)
    article_id: str = Field(index=True, max_length=200)
    ordinal: int
    heading_path: str = "[]"  # JSON list
    url: str = ""
    char_start: int
    char_end: int
    n_tokens: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    index_version: str = Field(index=True)


class IndexBuild(SQLModel, table=True):
    """One run of the index builder."""

    __tablename__ = "index_build"

    id: int | None = Field(default=None, primary_key=True)
    version: str | None = None
    status: str = Field(default="running", index=True)  # running|succeeded|unchanged|failed
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    error: str | None = None


class Conversation(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    created: datetime = Field(default_factory=utcnow)
    customer: str = "{}"  # JSON: tier, plan, locale (shapes wording only)
    # SHA-256 of the customer.id the widget sent (app.privacy.customer_ref), for erasure only
    customer_ref: str | None = Field(default=None, index=True, max_length=64)


class Message(SQLModel, table=True):
    """One turn. Assistant turns keep what the widget needs to render them again later."""

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, max_length=40)
    role: str  # user | assistant
    text: str = Field(sa_column=Column(Text, nullable=False))
    query: str = ""  # the standalone query retrieval used
    citations: str = "[]"  # JSON list of citation objects
    fallback: str | None = None  # JSON object, or null when answered
    index_version: str = ""
    generator: str = ""
    timings: str = "{}"
    created: datetime = Field(default_factory=utcnow, index=True)
    # JSON: the answer's Trace (app.rag.trace) on assistant turns; null on user turns and on
    # turns stored before traces were kept (revision 0002)
    trace: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="message.id", index=True, max_length=40)
    rating: str  # up | down
    reason: str | None = None
    comment: str | None = None
    created: datetime = Field(default_factory=utcnow)


class ConversationKey(SQLModel, table=True):
    """The API key that started a conversation: a widget key sees only its own ones."""

    __tablename__ = "conversation_key"

    conversation_id: str = Field(primary_key=True, foreign_key="conversation.id", max_length=40)
    api_key_id: str = Field(index=True, max_length=40)


class Handoff(SQLModel, table=True):
    """A request for a person, and the state of its webhook delivery (kept until delivered)."""

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, max_length=40)
    # customer_request | missing_knowledge | unsupported_request | other
    reason: str = Field(max_length=40)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    citations: str = "[]"  # JSON list of the articles the bot cited or suggested
    api_key_id: str | None = Field(default=None, max_length=40)
    # pending | delivered | failed | no_webhook (failed and no_webhook are re-delivered)
    delivery_status: str = Field(default="pending", index=True)
    attempts: int = 0
    last_error: str | None = None  # an HTTP status or an error class, never a body
    created: datetime = Field(default_factory=utcnow, index=True)
    delivered_at: datetime | None = None
    # How the customer asked to be reached and the order they named, as given: for the person
    # taking over only (the webhook payload); contact_key finds them for erasure.
    contact: str | None = Field(default=None, max_length=200)
    contact_key: str | None = Field(default=None, index=True, max_length=64)
    order_number: str | None = Field(default=None, max_length=64)


class ApiKey(SQLModel, table=True):
    """An API key. Only the SHA-256 of the raw key is stored; the raw key is shown once."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    scope: str = Field(index=True, max_length=20)  # admin | widget
    key_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=16)  # the first characters, to recognise a key in lists
    allowed_origins: list[str] = Field(default_factory=list,
                                       sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    created_by: str | None = Field(default=None, max_length=40)


class AuditEntry(SQLModel, table=True):
    """Who (a key id, or ``cli``) did what to which article, key, job or index version."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(index=True, max_length=40)
    action: str = Field(index=True, max_length=40)  # e.g. article.update, index.rollback
    target_type: str = Field(max_length=20)  # article | ticket | key | job | version
    target_id: str = Field(index=True, max_length=220)
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ReindexJob(SQLModel, table=True):
    """A re-index request and what came of it."""

    __tablename__ = "reindex_job"

    id: str = Field(primary_key=True, max_length=40)
    status: str = Field(default="queued", index=True)  # queued|running|succeeded|unchanged|failed
    requested_by: str = Field(default="", max_length=40)
    rebuild: bool = False  # asked for a full rebuild
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    phase: str = ""  # reading catalogue | embedding | writing | swapping
    done: int = 0  # chunks embedded so far
    total: int = 0  # chunks to embed
    version: str | None = None
    result: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # With the database version store (several hosts): which host runs the job, until when
    # its claim holds without a heartbeat, and how many hosts have started it.
    claimed_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class EvalRun(SQLModel, table=True):
    """One evaluation run (``python -m eval run``): its metrics and what it ran on."""

    __tablename__ = "eval_run"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=200)
    dataset: str = Field(index=True, max_length=200)
    index_version: str = Field(default="", index=True, max_length=200)
    run_dir: str = ""
    questions: int = 0
    gates_passed: bool | None = None
    metrics: dict[str, object] = Field(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))
    config: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ConsoleSession(SQLModel, table=True):
    """A signed-in admin console user: the key that signed in, and the session's CSRF token.

    Only the SHA-256 of the session cookie is stored; the session ends at ``expires_at``, at
    sign-out, or when its key is revoked.
    """

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(index=True, max_length=40)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class KnowledgeGap(SQLModel, table=True):
    """A group of unanswered questions the console tracks: ignored, or linked to the article
    written for it, which resolves it once its questions are answered citing that article."""

    __tablename__ = "knowledge_gap"

    id: str = Field(primary_key=True, max_length=40)
    label: str = Field(sa_column=Column(Text, nullable=False))  # a redacted example question
    kind: str = Field(default="gap", index=True, max_length=20)  # gap | abuse
    status: str = Field(default="open", index=True, max_length=20)  # open|ignored|resolved
    article_id: str | None = Field(default=None, index=True, max_length=200)
    linked_at: datetime | None = None
    message_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    questions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ContentApproval(SQLModel, table=True):
    """Held content an editor approved: indexed although the safety check flags it, as long
    as it keeps the content it was approved with (any edit needs a new approval)."""

    __tablename__ = "content_approval"

    article_id: str = Field(primary_key=True, max_length=200)
    content_hash: str = Field(max_length=64)
    actor: str = Field(default="", max_length=40)
    approved_at: datetime = Field(default_factory=utcnow)


class StoredObject(SQLModel, table=True):
    """One object of the database version store (``app.cluster.store``): an index version
    (``index/<name>``, a tar of its folder) or a file such as the decision calibration."""

    __tablename__ = "stored_object"

    key: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=20)  # index | file
    sha256: str = Field(max_length=64)
    size: int = 0
    parts: int = 0
    manifest: dict[str, object] = Field(default_factory=dict,
                                        sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class StoredPart(SQLModel, table=True):
    """A slice of a stored object's bytes; the object row is written after all its parts."""

    __tablename__ = "stored_part"

    key: str = Field(primary_key=True, max_length=200)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StorePointer(SQLModel, table=True):
    """A named pointer of the version store, such as the active index version."""

    __tablename__ = "store_pointer"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)

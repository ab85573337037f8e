"""SQLModel tables: articles, chunks and index builds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text
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


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(foreign_key="message.id", index=True, max_length=40)
    rating: str  # up | down
    reason: str | None = None
    comment: str | None = None
    created: datetime = Field(default_factory=utcnow)

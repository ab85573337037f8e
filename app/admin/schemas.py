"""Request and response models of the admin API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""Article and ticket ids written through the admin API, matched after NFC normalisation."""

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000  # far below the 64-bit integers SQLite and PostgreSQL can take
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_HINT = ("contains a lone surrogate (an unpaired \\ud800-\\udfff escape), which is "
                   "not text: send valid UTF-8, or escape characters as complete pairs")


def surrogate_errors(value: Any, loc: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """Validation errors for every string (or object key) under ``value`` with a lone surrogate.

    ``json.loads`` accepts ``"\\ud800"`` and returns a string that cannot be encoded to UTF-8,
    so it would fail later, in the database or in hashing, as a 500.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            return [{"type": "string_unicode", "loc": ("body", *loc), "msg": _SURROGATE_HINT,
                     "input": None}]
        return []
    errors: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                errors.append({"type": "string_unicode", "loc": ("body", *loc),
                               "msg": f"a key {_SURROGATE_HINT}", "input": None})
            errors += surrogate_errors(item, (*loc, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            errors += surrogate_errors(item, (*loc, n))
    return errors


def require_text(value: Any) -> None:
    """Raise a 422 naming each field of a request body that holds a lone surrogate."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if errors := surrogate_errors(value):
        raise RequestValidationError(errors)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "ops automation", "scope": "admin"},
        {"name": "help site", "scope": "widget", "allowed_origins": ["https://help.example.com"]},
    ]})

    name: str = Field(min_length=1, max_length=200)
    scope: Literal["admin", "editor", "viewer", "widget"]
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)


class KeyOut(BaseModel):
    id: str
    name: str
    scope: str
    prefix: str
    allowed_origins: list[str]
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The raw key. Shown once: store it now.")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]


class ArticleIn(BaseModel):
    """One article, in one of four formats, of at most ``GROUNDLINE_MAX_FILE_BYTES``.

    ``json`` (default): the fields below, ``body`` in Markdown. ``markdown``: a Markdown page
    with YAML front matter in ``content``. ``html``: an exported help-center page in
    ``content`` (metadata in ``<meta name="kb:...">`` tags). ``zendesk``: a Zendesk-like article
    object (HTML body, ``label_names``) in ``article``.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "example-article", "title": "Return a device", "body": "You have **45 days**...",
         "product": "lumora-hub", "status": "published", "tags": ["returns"]},
        {"format": "markdown",
         "content": "---\nid: example-article\ntitle: Return a device\n---\n..."},
    ]})

    format: Literal["json", "markdown", "html", "zendesk"] = "json"
    content: str | None = None
    article: dict[str, Any] | None = None
    id: str | None = Field(default=None, max_length=200,
                           description=f"Matches {ID_PATTERN} after NFC normalisation.")
    title: str | None = None
    body: str | None = None
    url: str | None = None
    product: str | None = None
    locale: str | None = None
    status: str | None = None
    updated_at: str | None = None
    tags: list[str] | str | None = None


class ArticleBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(min_length=1)


class TicketBatch(BaseModel):
    """Resolved support tickets (``id``, ``subject``, ``customer_message``,
    ``agent_resolution``, ``resolved``, ...); personal data is redacted before storage."""

    model_config = ConfigDict(extra="forbid")

    tickets: list[dict[str, Any]] = Field(min_length=1)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "archived"] = "draft"


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(default=False, description="Re-chunk and re-embed everything.")


class JobOut(BaseModel):
    id: str
    status: str
    requested_by: str
    rebuild: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    phase: str
    done: int
    total: int
    progress: float | None = Field(description="Share of chunks embedded, 0 to 1.")
    version: str | None
    result: dict[str, Any]
    error: str | None
    coalesced: bool = Field(default=False,
                            description="True if this request joined a job already queued.")


class WriteResult(BaseModel):
    id: str
    result: str
    status: str


class WriteResponse(BaseModel):
    results: list[WriteResult]
    job: JobOut | None = Field(default=None, description="The re-index job, with ?reindex=true.")


class VersionOut(BaseModel):
    name: str
    created_at: str | None
    active: bool
    serving: bool
    counts: dict[str, Any]
    embedder: str | None
    content_hash: str | None
    servable: bool
    problem: str | None


class ActivationOut(BaseModel):
    serving: str
    previous: str | None

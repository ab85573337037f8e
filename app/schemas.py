"""Request and response models of the HTTP API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 2000


class Filters(BaseModel):
    """Retrieval filters. Only published content is ever searched."""

    model_config = ConfigDict(extra="forbid")

    product: str | list[str] | None = None
    locale: str | list[str] | None = None
    source_type: Literal["article", "ticket"] | list[Literal["article", "ticket"]] | None = None


class Customer(BaseModel):
    """Who is asking. Shapes the wording of LLM answers, never what is retrieved."""

    model_config = ConfigDict(extra="forbid")

    tier: str | None = Field(default=None, max_length=40)
    plan: str | None = Field(default=None, max_length=40)
    locale: str | None = Field(default=None, max_length=20)


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"message": "How long do I have to return my Hub?"},
            {"message": "and for the annual plan?", "conversation_id": "c_3f2a..."},
            {"message": "Cam keeps going offline", "filters": {"product": "lumora-cam"}},
        ]},
    )

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: str | None = Field(default=None, max_length=40)
    filters: Filters | None = None
    customer: Customer | None = None


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str
    url: str
    snippet: str
    score: float
    source_type: str
    updated_at: str
    chunk_id: str


class SuggestionOut(BaseModel):
    article_id: str
    title: str
    url: str


class FallbackOut(BaseModel):
    reason: Literal["no_context", "low_score", "unsupported", "model_declined",
                    "generator_error"]
    message: str
    suggestions: list[SuggestionOut]
    handoff_candidate: bool = True


class ChatResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    fallback: FallbackOut | None
    conversation_id: str
    message_id: str
    index_version: str
    timings_ms: dict[str, float]
    query: str = Field(description="The standalone query used for retrieval.")
    rerank_depth: int = 0
    rerank_reduced: bool = Field(default=False,
                                 description="True when the latency budget shrank the depth.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=40)
    rating: Literal["up", "down"]
    reason: str | None = Field(default=None, max_length=100)
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackResponse(BaseModel):
    id: int
    message_id: str
    rating: str


class MessageOut(BaseModel):
    id: str
    role: str
    text: str
    citations: list[CitationOut] = []
    fallback: FallbackOut | None = None
    index_version: str = ""
    created: str


class ConversationOut(BaseModel):
    id: str
    created: str
    messages: list[MessageOut]

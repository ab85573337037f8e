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

    id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="Your own id of the signed-in customer, optional. Never used for answers "
        "and stored only as its SHA-256, so that an admin can erase this customer's "
        "conversations (POST /v1/admin/conversations/erase).")

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
    snippet: str = Field(default="", description="On the first suggestion of a low_confidence "
                         "fallback: the most relevant passage, offered as a suggestion, not as "
                         "the bot's answer.")


class FallbackOut(BaseModel):
    # low_score: the single reason before off_topic and low_confidence (stored messages)
    reason: Literal["no_context", "off_topic", "low_confidence", "unsupported",
                    "model_declined", "generator_error", "low_score"]
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
    generator: str = Field(default="", description="What wrote the answer: extractive or "
                           "openai:<model>; empty when no generator was called.")
    llm_failed: bool = Field(
        default=False, description="True when the configured LLM failed (unreachable, too "
        "slow, an error) and the answer was composed extractively from the passages instead.")


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


class TraceCandidateOut(BaseModel):
    chunk_id: str
    article_id: str
    title: str
    source_type: str
    score: float = Field(description="The score the candidates are ordered by.")
    ranks: dict[str, int] = Field(description="The rank each stage gave it (1 = best), by "
                                  "stage: dense, sparse, rerank, ...")
    scores: dict[str, float] = Field(description="The score each stage gave it, by stage.")


class DecisionOut(BaseModel):
    outcome: Literal["answer", "suggest", "decline"] = Field(
        description="answer; suggest (related articles offered, reason low_confidence); "
                    "decline.")
    reason: str | None = Field(description="The fallback reason; null when answered.")
    kind: str = Field(description="What score is: model (the calibrated probability that "
                      "the knowledge base answers), rerank or dense.")
    score: float
    threshold: float = Field(description="The bar score was compared with.")
    agreement: bool = Field(description="Whether the retrievers agreed on the top result.")
    signals: dict[str, float] = Field(description="Every decision signal, by name.")


class TracePassageOut(BaseModel):
    n: int = Field(description="The number citations refer to.")
    chunk_id: str
    article_id: str


class TraceSentenceOut(BaseModel):
    text: str
    citations: list[int] = Field(description="The n of the passages the sentence cites.")
    why: str = Field(default="", description="Why the sentence is in the answer.")


class TraceOut(BaseModel):
    """What the service did for one answer and why (``app.rag.trace.Trace``)."""

    format: int = Field(description="The version of this record's layout.")
    query: str = Field(description="The standalone query used for retrieval.")
    candidates: list[TraceCandidateOut] = Field(description="The top candidates, best first.")
    decision: DecisionOut
    passages: list[TracePassageOut] = Field(description="The passages sent to the generator.")
    sentences: list[TraceSentenceOut] = Field(description="The answer's sentences; empty for "
                                              "a fallback.")
    generator: str = Field(description="The generator that wrote the answer; empty when none "
                           "was called.")
    rerank_depth: int
    rerank_reduced: bool
    timings_ms: dict[str, float]

"""Request and response models of the handoff and OpenAI-compatible routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Filters

HandoffReason = Literal["customer_request", "missing_knowledge", "unsupported_request", "other"]
MODEL_ID = "groundline"


class HandoffRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"conversation_id": "c_3f2a...", "reason": "missing_knowledge"},
            {"conversation_id": "c_3f2a...", "contact": "jane@example.com",
             "order_number": "LM-10042"}]},
    )

    conversation_id: str = Field(min_length=1, max_length=40)
    reason: HandoffReason = "customer_request"
    contact: str | None = Field(
        default=None, min_length=3, max_length=200,
        description="How the customer asks to be reached (an email or phone number), for the "
        "person taking over: kept on the handoff and sent in its webhook, not redacted; an "
        "admin can erase the customer's conversations by it.")
    order_number: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$",
        description="An order the customer asks about, for the person taking over.")


class ArticleRef(BaseModel):
    article_id: str
    title: str
    url: str


class HandoffOut(BaseModel):
    id: str
    conversation_id: str
    reason: HandoffReason
    summary: str = Field(description="The last turns, in plain text, built without a model.")
    citations: list[ArticleRef] = Field(description="Articles the bot cited or suggested.")
    contact: str | None = Field(default=None, description="As the customer gave it.")
    order_number: str | None = None
    created_at: str
    delivery_status: Literal["pending", "delivered", "failed", "no_webhook"]
    attempts: int


class RedeliveryOut(BaseModel):
    counts: dict[str, int] = Field(description="Handoffs per status after the new attempt.")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str = ""


class CompletionMessage(BaseModel):
    """One message as OpenAI clients send it (text content only)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content if p.type in ("text", "input_text"))
        return self.content or ""


class CompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. Sampling options are accepted and ignored: answers
    come from the knowledge base and the configured answer policy."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{
            "model": MODEL_ID, "stream": False,
            "messages": [{"role": "user", "content": "How long do I have to return my Hub?"}],
        }]},
    )

    model: str = MODEL_ID
    messages: list[CompletionMessage] = Field(min_length=1)
    stream: bool = False
    filters: Filters | None = Field(
        default=None, description="Groundline extension: retrieval filters, as in /v1/chat.")

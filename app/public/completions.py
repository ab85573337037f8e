"""Translating between OpenAI's chat-completions format and Groundline's answers.

Messages become the conversation history plus the last user message. Citations travel twice:
as footnotes in the text (``[1]`` markers and a ``Sources:`` list) for clients that only show
text, and as a top-level ``citations`` field for clients that can render links.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.errors import RagError
from app.public.schemas import MODEL_ID, CompletionMessage
from app.rag.types import Turn

SOURCES_HEADING = "Sources:"
SUGGESTIONS_HEADING = "Articles that may help:"
MAYBE_HEADING = "This may help (from our help center, not a confirmed answer):"
_FOOTNOTE = re.compile(r"^\[(\d+)\] (.+?)(?: - (https?://\S+))?$")
_MARKERS = re.compile(r"\s*\[\d+\]")


class CompletionInputError(RagError, ValueError):
    """Messages that cannot be answered (e.g. the last one is not from the user)."""


def split_messages(messages: Sequence[CompletionMessage]
                   ) -> tuple[list[Turn], str, list[str]]:
    """History turns, the question, and the titles the last answer cited.

    System and developer messages are ignored on purpose: the answer policy, not the
    caller, decides what the bot may say.
    """
    if messages[-1].role != "user" or not messages[-1].text.strip():
        raise CompletionInputError("the last message must be a non-empty user message")
    history: list[Turn] = []
    titles: list[str] = []
    for m in messages[:-1]:
        if m.role == "user":
            history.append(Turn(role="user", text=m.text.strip()))
        elif m.role == "assistant" and m.text.strip():
            body, cited = _strip_footnotes(m.text)
            history.append(Turn(role="assistant", text=body))
            titles = cited
    return history, messages[-1].text.strip(), titles


def _strip_footnotes(text: str) -> tuple[str, list[str]]:
    """An earlier answer without its markers and lists, and the titles it cited."""
    body = text
    titles: list[str] = []
    for heading in (SOURCES_HEADING, MAYBE_HEADING, SUGGESTIONS_HEADING):
        head, sep, tail = body.partition("\n\n" + heading)
        if sep:
            body = head
            if heading == SOURCES_HEADING:
                titles = [m.group(2) for line in tail.splitlines()
                          if (m := _FOOTNOTE.match(line.strip()))]
    return _MARKERS.sub("", body).strip(), titles


def footnotes(citations: Iterable[Mapping[str, Any]]) -> str:
    lines = [f"[{c['n']}] {c['title']}" + (f" - {c['url']}" if c["url"] else "")
             for c in citations]  # resolved tickets have no page to link to
    return f"\n\n{SOURCES_HEADING}\n" + "\n".join(lines) if lines else ""


def fallback_text(fallback: Mapping[str, Any]) -> str:
    """The fallback message, then any suggested passage (quoted) and the suggested articles."""
    found = fallback.get("suggestions", [])
    lines = [f"- {s['title']} - {s['url']}" for s in found]
    snippet = next((s["snippet"] for s in found if s.get("snippet")), "")
    maybe = f"\n\n{MAYBE_HEADING}\n> {snippet}" if snippet else ""
    suggestions = f"\n\n{SUGGESTIONS_HEADING}\n" + "\n".join(lines) if lines else ""
    return str(fallback["message"]) + maybe + suggestions


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def completion(*, cid: str, content: str, citations: list[dict[str, Any]],
               fallback: dict[str, Any] | None, index_version: str) -> dict[str, Any]:
    """A ``chat.completion`` object with Groundline's ``citations`` and ``fallback``."""
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": MODEL_ID,
        "system_fingerprint": index_version,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", "logprobs": None}],
        "citations": citations, "fallback": fallback,
    }


def chunk(cid: str, created: int, delta: dict[str, Any], *, finish: str | None = None,
          **extra: Any) -> str:
    """One ``chat.completion.chunk`` as a Server-Sent Event."""
    body = {"id": cid, "object": "chat.completion.chunk", "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                         "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def stream_error(message: str) -> str:
    body = {"error": {"message": message, "type": "server_error", "code": None}}
    return f"data: {json.dumps(body)}\n\n"


DONE = "data: [DONE]\n\n"

"""A small OpenAI-compatible judge for the LLM-judged RAGAS metrics, for tests.

RAGAS (through instructor's JSON mode) sends the JSON schema of the expected output in the
system message and the input as JSON after ``input:`` in the user message. This server reads
both and answers like a careful but simple judge: statements are the answer's sentences, a
statement is supported when most of its words occur in the context, and so on. Answers are
deterministic, so the test can compute the expected scores by hand.

Usage::

    with fake_judge_server() as judge:
        settings.judge.base_url = judge.base_url
        ...
        assert judge.requests[0]["response_format"] == {"type": "json_object"}
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.servers import serve

_WORD = re.compile(r"[a-z0-9$.]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset("a an the is are was be to of and or in on for it you your i my do does "
                  "can with at by this that what how".split())


def words(text: str) -> set[str]:
    return {w.strip(".") for w in _WORD.findall(text.lower())} - _STOP - {""}


def supported(statement: str, context: str, *, share: float = 0.6) -> int:
    """1 when at least ``share`` of the statement's words occur in the context."""
    own = words(statement)
    return int(bool(own) and len(own & words(context)) / len(own) >= share)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _statements(data: dict[str, Any]) -> dict[str, Any]:
    return {"statements": sentences(data["answer"])}


def _nli(data: dict[str, Any]) -> dict[str, Any]:
    return {"statements": [{"statement": s, "reason": "word overlap",
                            "verdict": supported(s, data["context"])}
                           for s in data["statements"]]}


def _relevance(data: dict[str, Any]) -> dict[str, Any]:
    response = data["response"]
    first = sentences(response)[0] if sentences(response) else response
    noncommittal = int("don't know" in response.lower() or "not sure" in response.lower())
    return {"question": f"What does the help center say about this: {first.rstrip('.')}?",
            "noncommittal": noncommittal}


def _precision(data: dict[str, Any]) -> dict[str, Any]:
    return {"reason": "word overlap",
            "verdict": supported(data["answer"], data["context"], share=0.5)}


def _recall(data: dict[str, Any]) -> dict[str, Any]:
    return {"classifications": [
        {"statement": s, "reason": "word overlap", "attributed": supported(s, data["context"])}
        for s in sentences(data["answer"])]}


JUDGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "StatementGeneratorOutput": _statements,
    "NLIStatementOutput": _nli,
    "AnswerRelevanceOutput": _relevance,
    "ContextPrecisionOutput": _precision,
    "ContextRecallOutput": _recall,
}


def judge_reply(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The judgment for one request: the schema title picks the task, the input its data."""
    system = next(m["content"] for m in messages if m["role"] == "system")
    schema, _ = json.JSONDecoder().raw_decode(system[system.index("{"):])
    name = schema["title"]
    user = messages[-1]["content"]
    start = user.lower().rfind("input: {")
    data, _ = json.JSONDecoder().raw_decode(user[start + len("input: "):])
    return JUDGES[name](data)


@dataclass
class FakeJudge:
    base_url: str = ""
    model: str = "fake-judge"
    requests: list[dict[str, Any]] = field(default_factory=list)


def build_app(judge: FakeJudge) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        judge.requests.append(body)
        content = json.dumps(judge_reply(body["messages"]))
        return JSONResponse({
            "id": "chatcmpl-judge", "object": "chat.completion", "created": int(time.time()),
            "model": judge.model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    return app


@contextmanager
def fake_judge_server() -> Iterator[FakeJudge]:
    """Run the judge on a free loopback port; ``base_url`` ends in ``/v1``."""
    judge = FakeJudge()
    with serve(build_app(judge)) as url:
        judge.base_url = f"{url}/v1"
        yield judge

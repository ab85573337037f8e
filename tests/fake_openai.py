"""A small OpenAI-compatible HTTP server for tests, scripted per test.

It serves ``POST /v1/chat/completions`` (plain JSON, or Server-Sent Events with
``stream: true``) and ``GET /v1/models`` on 127.0.0.1 from a background thread, and records
every request it receives. Usage::

    with fake_openai_server() as fake:
        fake.script(reply="Tap Reset [1].")
        gen = OpenAIGenerator(base_url=fake.base_url, api_key="k", model=fake.model)
        ...
        assert fake.requests[-1].body["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.servers import loopback_socket


@dataclass(frozen=True, slots=True)
class Script:
    """What the server does with the next chat requests.

    Attributes:
        reply: The assistant's text (may hold ``[n]`` markers, invented ones included).
        status: An HTTP status; 400 and above answers with an OpenAI-style error body.
        delay_s: Seconds to wait before answering (a slow server).
        garbage: A body sent instead of a completion (e.g. not JSON), with ``content_type``.
        content_type: The media type of ``garbage``.
    """

    reply: str = "Hello [1]."
    status: int = 200
    delay_s: float = 0.0
    garbage: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it; header names are lowercase."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


@dataclass
class FakeOpenAI:
    """The scripted state of a running fake server (mutable: it is the test's remote)."""

    model: str = "fake-model"
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    current: Script = field(default_factory=Script)
    closing: bool = False

    def script(self, **changes: Any) -> None:
        """Set the behaviour for the following requests (unset fields take defaults)."""
        self.current = Script(**changes)

    def reset(self) -> None:
        """Back to the default script, with no recorded requests."""
        self.current = Script()
        self.requests.clear()

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
             "created": int(time.time()), "model": model,
             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                          "finish_reason": finish}]}
    return f"data: {json.dumps(chunk)}\n\n"


async def _events(model: str, text: str) -> AsyncIterator[str]:
    yield _chunk(model, {"role": "assistant", "content": ""})
    for piece in re.findall(r"\s*\S+", text):  # word by word, as a real model would
        yield _chunk(model, {"content": piece})
    yield _chunk(model, {}, finish="stop")
    yield "data: [DONE]\n\n"


async def _wait(request: Request, fake: FakeOpenAI, seconds: float) -> bool:
    """Sleep like a slow model, but stop early when the client hangs up or the server stops."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if fake.closing or await request.is_disconnected():
            return False
        await asyncio.sleep(0.02)
    return True


def build_app(fake: FakeOpenAI) -> FastAPI:
    """The FastAPI app behind the fake server, reading its script from ``fake``."""
    app = FastAPI()

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        fake.requests.append(RecordedRequest("GET", "/v1/models", dict(request.headers), {}))
        return {"object": "list",
                "data": [{"id": fake.model, "object": "model", "created": 0, "owned_by": "fake"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = {}
        fake.requests.append(RecordedRequest("POST", "/v1/chat/completions",
                                             dict(request.headers), body))
        script = fake.current
        if script.delay_s and not await _wait(request, fake, script.delay_s):
            return Response(status_code=499)  # the client gave up; nobody reads this
        if script.status >= 400:
            error = {"message": "scripted failure", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=script.status)
        if script.garbage is not None:
            return Response(script.garbage, media_type=script.content_type)
        if body.get("stream"):
            return StreamingResponse(_events(fake.model, script.reply),
                                     media_type="text/event-stream")
        return JSONResponse(_completion(fake.model, script.reply))

    return app


@contextmanager
def fake_openai_server(model: str = "fake-model") -> Iterator[FakeOpenAI]:
    """Run a fake server on a free loopback port for the duration of the block.

    Yields:
        The server's state; ``base_url`` ends in ``/v1`` as OpenAI clients expect.
    """
    fake = FakeOpenAI(model=model)
    sock = loopback_socket()
    config = uvicorn.Config(build_app(fake), log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    try:
        yield fake
    finally:
        fake.closing = True
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()

"""The LLM generator behind the ``Generator`` protocol (the offline default is in extractive.py).

``OpenAIGenerator`` asks any OpenAI-compatible chat-completions endpoint with the versioned
prompt in ``prompts/``; what it writes still goes through citation verification before a
customer sees it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigurationError, RagError
from app.rag.citations import REFUSAL, is_refusal
from app.rag.types import Generation, Passage, Turn

logger = logging.getLogger(__name__)

DEFAULT_PROMPT = Path(__file__).parent / "prompts" / "answer.txt"
HISTORY_TURNS = 6


class GeneratorError(RagError):
    """The language model gave no usable answer: unreachable, slow, failing or garbled."""


_DELIMITER = re.compile(r"<\s*/?\s*(?:passages|question)\s*>", re.IGNORECASE)
_STATUS_HINTS = {
    401: " (check the API key)",
    403: " (check the API key and its permissions)",
    404: " (check base_url, which usually ends in /v1, and the model name)",
    429: " (rate limited: retry later or lower the load)",
}


def _data(text: str) -> str:
    """Text for a delimited block, stripped of tags that could close the block early."""
    return _DELIMITER.sub("", text)


def build_messages(question: str, passages: Sequence[Passage], *, system_prompt: str,
                   history: Sequence[Turn] = (), style: str = "") -> list[dict[str, str]]:
    """Chat messages: the system prompt, the last turns, then passages and question as data.

    Args:
        question: The customer's question.
        passages: Numbered passages; each is sent as ``[n] Title > Heading`` and its text.
        system_prompt: The instructions (``prompts/answer.txt``).
        history: Earlier turns; only the last ``HISTORY_TURNS`` user/assistant turns are sent.
        style: Optional one-line description of the customer (plan, tier) for wording.

    Returns:
        OpenAI-style messages.
    """
    messages = [{"role": "system", "content": system_prompt}]
    messages += [{"role": t.role, "content": t.text} for t in list(history)[-HISTORY_TURNS:]
                 if t.role in ("user", "assistant") and t.text.strip()]
    numbered = "\n\n".join(f"[{p.n}] {_data(p.chunk.breadcrumb)}\n{_data(p.chunk.text)}"
                           for p in passages)
    parts = [f"<passages>\n{numbered}\n</passages>",
             f"Customer question:\n<question>\n{_data(question)}\n</question>"]
    if style.strip():
        parts.append(f"Style (wording only, never facts): {_data(' '.join(style.split()))}")
    messages.append({"role": "user", "content": "\n\n".join(parts)})
    return messages


def _read_prompt(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the answer prompt {path} ({exc.strerror}): point prompt_path at it"
        ) from exc
    if REFUSAL not in text:
        raise ConfigurationError(
            f"the answer prompt {path} must contain the refusal sentence {REFUSAL!r} "
            "literally, or refusals cannot be recognised"
        )
    return text


def _redact(url: str) -> str:
    """The endpoint without credentials or query, safe for messages and logs."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured base_url"
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _client_errors() -> tuple[type[Exception], ...]:
    import httpx
    import openai

    # ValueError: a body that is not JSON; httpx errors: a stream that breaks mid-way.
    return (openai.APIError, httpx.HTTPError, ValueError)


def _delta(chunk: Any) -> str:
    try:
        content = chunk.choices[0].delta.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


class OpenAIGenerator:
    """Answers with any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama...).

    Args:
        base_url: The API root, e.g. ``http://localhost:8001/v1``.
        api_key: Sent as a bearer token; may be empty for local servers. Never logged.
        model: The model name the endpoint serves.
        timeout_s: Limit for connecting and for each read; there are no retries.
        max_tokens: Cap on the reply's length.
        temperature: Sampling temperature; 0 keeps answers close to the passages.
        prompt_path: The system prompt; defaults to ``prompts/answer.txt``.
    """

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout_s: float = 20.0,
                 max_tokens: int = 400, temperature: float = 0.0,
                 prompt_path: Path | None = None) -> None:
        if not base_url or not model:
            raise ConfigurationError(
                "the OpenAI-compatible generator needs base_url and model, "
                "e.g. http://localhost:8001/v1 and the name of the model it serves"
            )
        if timeout_s <= 0 or max_tokens < 1 or not 0.0 <= temperature <= 2.0:
            raise ConfigurationError(
                "generator timeout_s must be > 0, max_tokens >= 1 and temperature in [0, 2]; "
                f"got {timeout_s}, {max_tokens} and {temperature}"
            )
        import openai

        self.system_prompt = _read_prompt(prompt_path or DEFAULT_PROMPT)
        self.name = f"openai:{model}"
        self.model, self.timeout_s = model, timeout_s
        self.max_tokens, self.temperature = max_tokens, temperature
        self.endpoint = _redact(base_url)
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s,
                                     max_retries=0)

    def generate(self, question: str, passages: Sequence[Passage], *,
                 history: Sequence[Turn] = (), style: str = "") -> Generation:
        """Ask the model once; ``declined`` is set when it replies with the refusal sentence.

        Raises:
            GeneratorError: The endpoint is unreachable, slow, failing, or replied with
                garbage or nothing.
        """
        messages: Any = build_messages(question, passages, system_prompt=self.system_prompt,
                                       history=history, style=style)
        started = time.perf_counter()
        try:
            reply = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=self.max_tokens,
                temperature=self.temperature)
        except _client_errors() as exc:
            raise self._error(exc) from exc
        text = self._reply_text(reply)
        logger.info("%s answered in %.0f ms (%d chars)", self.name,
                    (time.perf_counter() - started) * 1000, len(text))
        return Generation(text=text, declined=is_refusal(text, prefix=True), model=self.model)

    def stream(self, question: str, passages: Sequence[Passage], *,
               history: Sequence[Turn] = (), style: str = "") -> Iterator[str]:
        """Yield the reply's text deltas as they arrive.

        Raises:
            GeneratorError: As ``generate``, also when the stream breaks or carries nothing.
        """
        messages: Any = build_messages(question, passages, system_prompt=self.system_prompt,
                                       history=history, style=style)
        produced = False
        try:
            with self._client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=self.max_tokens,
                    temperature=self.temperature, stream=True) as chunks:
                for chunk in chunks:
                    delta = _delta(chunk)
                    if delta:
                        produced = True
                        yield delta
        except _client_errors() as exc:
            raise self._error(exc) from exc
        if not produced:
            raise self._failure("the streamed reply carried no text: is base_url an "
                                "OpenAI-compatible API?")

    def _reply_text(self, reply: Any) -> str:
        try:
            choice = reply.choices[0]
            text = choice.message.content
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise self._failure("the reply is not a chat completion") from exc
        if not isinstance(text, str) or not text.strip():
            raise self._failure("the reply is empty")
        if getattr(choice, "finish_reason", None) == "length":
            logger.warning("%s stopped at max_tokens=%d: the answer is cut short",
                           self.name, self.max_tokens)
        return text.strip()

    def _error(self, exc: Exception) -> GeneratorError:
        import httpx
        import openai

        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            cause = f"no reply within {self.timeout_s:g} s (a slow or overloaded server)"
        elif isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            cause = "cannot connect: check that the server runs and that base_url is right"
        elif isinstance(exc, openai.APIStatusError):
            hint = _STATUS_HINTS.get(exc.status_code, " (server error)"
                                     if exc.status_code >= 500 else "")
            cause = f"HTTP {exc.status_code}{hint}"
        elif isinstance(exc, ValueError | openai.APIResponseValidationError):
            cause = "the reply is not valid JSON: is base_url an OpenAI-compatible API?"
        else:
            cause = f"the API call failed ({type(exc).__name__})"
        return self._failure(cause)

    def _failure(self, cause: str) -> GeneratorError:
        logger.warning("generator %s at %s failed: %s", self.name, self.endpoint, cause)
        return GeneratorError(f"{self.name} at {self.endpoint}: {cause}")

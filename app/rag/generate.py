"""Answer generators behind the ``Generator`` protocol.

``ExtractiveGenerator`` (the offline default) copies the most relevant sentences and steps of
the top passages, so its answers are grounded by construction. ``OpenAIGenerator`` asks any
OpenAI-compatible chat-completions endpoint with the versioned prompt in ``prompts/``; what
it writes still goes through citation verification before a customer sees it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigurationError, RagError
from app.rag.citations import REFUSAL, content_words, is_refusal, split_sentences
from app.rag.types import Chunk, Generation, Passage, Sentence, Turn

logger = logging.getLogger(__name__)

DEFAULT_PROMPT = Path(__file__).parent / "prompts" / "answer.txt"
HISTORY_TURNS = 6
# A question word found only in a sentence's section heading counts this much: "Open
# Settings > Security." answers "turn on 2FA" when it sits under "## Turn on two-factor
# authentication", though it shares no word with the question. Below 1, so a sentence that
# says the words itself still ranks first.
HEADING_BONUS = 0.75


class GeneratorError(RagError):
    """The language model gave no usable answer: unreachable, slow, failing or garbled."""


_MARKDOWN = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"^[ \t]*(?:>[ \t]?)+|^[ \t]*#{1,6}[ \t]+", re.MULTILINE), ""),
)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)[\s#]*$")
_STEP = re.compile(r"^\s*\d+[.)]\s+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}")
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s")  # as in VerifiedAnswer.text


def strip_markdown(text: str) -> str:
    """Drop emphasis, code ticks, link targets, quote and heading marks; keep list markers."""
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    return text


def _parse_blocks(text: str) -> list[tuple[str, str]]:
    """(kind, text) blocks of a Markdown passage: heading, para, bullet, step, table, blank."""
    blocks: list[tuple[str, str]] = []
    joinable, fenced = False, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        kind = ("blank" if fenced or not stripped else "heading" if _HEADING.match(stripped)
                else "table" if stripped.startswith("|") else "step" if _STEP.match(line)
                else "bullet" if _BULLET.match(line) else "para")
        if kind == "bullet" and line[:1].isspace() and blocks and blocks[-1][0] == "step":
            kind = "step"  # an indented sub-item of a step belongs to the list
        if kind == "table" and blocks and blocks[-1][0] == "table":
            blocks[-1] = ("table", f"{blocks[-1][1]}\n{stripped}")
        elif kind == "para" and joinable:
            blocks[-1] = (blocks[-1][0], f"{blocks[-1][1]} {stripped}")
        elif kind == "heading":
            blocks.append((kind, _HEADING.match(stripped).group(1)))  # type: ignore[union-attr]
        else:
            blocks.append((kind, stripped))
        joinable = kind in ("para", "bullet", "step")
    return blocks


@dataclass(frozen=True, slots=True)
class _Unit:
    """One sentence, step or table row of a passage, in reading order."""

    pos: int
    text: str
    words: frozenset[str]
    section: frozenset[str]
    kind: str = "prose"  # prose | intro | step | row
    group: int = -1  # the list (for intro and step) or table (for row) it belongs to


def _table_units(table: str, *, start: int, group: int) -> list[_Unit]:
    rows = [[strip_markdown(c.strip()) for c in line.strip("|").split("|")]
            for line in table.splitlines() if not _TABLE_RULE.match(line)]
    if len(rows) < 2:
        return []
    header = [h.rstrip(":?") for h in rows[0]]
    return [_Unit(start + i, "; ".join(f"{h}: {v.rstrip('.')}" for h, v in
                                       zip(header, row, strict=False) if v) + ".",
                  content_words(" ".join(row)), frozenset(), "row", group)
            for i, row in enumerate(rows[1:])]


def _units(chunk: Chunk) -> list[_Unit]:
    """Split a passage into units, marking numbered lists, their intros and table rows."""
    section = content_words(chunk.heading_path[-1]) if chunk.heading_path else frozenset()
    units: list[_Unit] = []
    group, in_list, prev = 0, False, ""
    for kind, body in _parse_blocks(chunk.text):
        if kind == "blank":
            continue
        if kind == "step":
            if not in_list:
                group, in_list = group + 1, True
                if prev == "para" and units and units[-1].kind == "prose":
                    units[-1] = replace(units[-1], kind="intro", group=group)
            text = strip_markdown(body)
            units.append(_Unit(len(units), text, content_words(text), section, "step", group))
        else:
            in_list = False
            if kind == "heading":
                section = content_words(body)
            elif kind == "table":
                group += 1
                units.extend(_table_units(body, start=len(units), group=group))
            else:
                units.extend(_Unit(len(units) + i, s, content_words(s), section)
                             for i, s in enumerate(split_sentences(strip_markdown(body))))
        prev = kind
    return units


def _score(unit: _Unit, question: frozenset[str]) -> float:
    if not question:
        return 0.0
    own = unit.words & question
    bonus = 0.0 if unit.kind == "row" else HEADING_BONUS * len((unit.section & question) - own)
    return (len(own) + bonus) / len(question)


@dataclass(frozen=True, slots=True)
class _Group:
    """What is taken or left together: one sentence, one table row, or a whole list."""

    score: float
    units: tuple[_Unit, ...]
    is_list: bool = False


def _list_group(members: list[_Unit], question: frozenset[str], *, min_score: float,
                max_steps: int) -> list[_Group]:
    steps = [m for m in members if m.kind == "step"]
    scores = [_score(s, question) for s in steps]
    relevant = [i for i, s in enumerate(scores) if s >= min_score]
    if not relevant:
        return []
    first = relevant[0]
    start = 0 if first < max_steps else min(first, len(steps) - max_steps)
    taken = [m for m in members if m.kind == "intro"] + steps[start:start + max_steps]
    whole = replace(steps[0], words=frozenset().union(*(m.words for m in taken)))
    return [_Group(_score(whole, question), tuple(taken), is_list=True)]


def _groups(units: list[_Unit], question: frozenset[str], *, min_score: float,
            max_steps: int) -> list[_Group]:
    """Candidate groups scoring at least ``min_score``, best first."""
    groups: list[_Group] = []
    members: dict[int, list[_Unit]] = {}
    for u in units:
        if u.kind == "prose":
            score = _score(u, question)
            if score >= min_score:
                groups.append(_Group(score, (u,)))
        else:
            members.setdefault(u.group, []).append(u)
    for group in members.values():
        if group[0].kind != "row":
            groups.extend(_list_group(group, question, min_score=min_score, max_steps=max_steps))
            continue
        scores = [_score(r, question) for r in group]
        best = max(scores)  # only the best-matching rows of a table, and only on a real match
        groups.extend(_Group(s, (r,)) for r, s in zip(group, scores, strict=True)
                      if s == best and s > 0 and s >= min_score)
    return sorted(groups, key=lambda g: (-g.score, g.units[0].pos))


class _Budget:
    """Running totals of the answer being composed (a local tally, never shared)."""

    def __init__(self, max_sentences: int, max_words: int) -> None:
        self.max_sentences, self.max_words = max_sentences, max_words
        self.sentences, self.words, self.has_list = 0, 0, False

    def take(self, group: _Group, units: list[_Unit]) -> bool:
        words = sum(len(u.text.split()) for u in units)
        fits = (self.sentences + len(units) <= self.max_sentences
                and self.words + words <= self.max_words)
        room = self.sentences < self.max_sentences and self.words < self.max_words
        if not (fits or self.sentences == 0 or (group.is_list and not self.has_list and room)):
            return False
        self.sentences, self.words = self.sentences + len(units), self.words + words
        self.has_list = self.has_list or group.is_list
        return True


def _pieces(sentences: Sequence[Sentence]) -> list[str]:
    """Each sentence with its markers, preceded by the separator ``VerifiedAnswer`` uses."""
    out: list[str] = []
    for s in sentences:
        piece = f"{s.text} {''.join(f'[{n}]' for n in s.citations)}"
        sep = "" if not out else "\n" if _LIST_ITEM.match(s.text) else " "
        out.append(sep + piece)
    return out


class ExtractiveGenerator:
    """Answers with the passages' own sentences: offline, deterministic, grounded.

    Args:
        max_sentences: Cap on answer sentences, unless one numbered list needs more.
        max_words: Cap on answer words, unless one numbered list needs more.
        max_steps: Most steps of a numbered list to include.
        max_passages: Passages considered for a second source after passage 1.
        min_relevance: Share of the question's content words (plus the heading bonus) a
            sentence of passage 1 must match to be used.
        second_passage_min: The same, for sentences of a second passage.
    """

    name = "extractive"

    def __init__(self, *, max_sentences: int = 6, max_words: int = 120, max_steps: int = 8,
                 max_passages: int = 3, min_relevance: float = 0.3,
                 second_passage_min: float = 0.5) -> None:
        if min(max_sentences, max_words, max_steps, max_passages) < 1:
            raise ConfigurationError("extractive generator caps must all be at least 1")
        self.max_sentences, self.max_words, self.max_steps = max_sentences, max_words, max_steps
        self.max_passages = max_passages
        self.min_relevance, self.second_passage_min = min_relevance, second_passage_min

    def compose(self, question: str, passages: Sequence[Passage]) -> list[Sentence]:
        """The answer's sentences in reading order, each citing its passage."""
        if not passages:
            return []
        q = content_words(question)
        budget = _Budget(self.max_sentences, self.max_words)
        seen: set[str] = set()
        first = _units(passages[0].chunk)
        groups = (self._candidates(first, q, self.min_relevance)
                  or self._candidates(first, q, float("-inf"))[:1])
        picked = [(0, u) for u in self._take(groups, budget, seen)]
        options = [(i, self._candidates(_units(passages[i].chunk), q, self.second_passage_min))
                   for i in range(1, min(len(passages), self.max_passages))]
        options = [(i, gs) for i, gs in options if gs]
        if options:
            i, groups = max(options, key=lambda o: (o[1][0].score, -o[0]))
            picked += [(i, u) for u in self._take(groups, budget, seen)]
        picked.sort(key=lambda p: (p[0], p[1].pos))
        return [Sentence(u.text, (passages[i].n,)) for i, u in picked]

    def _candidates(self, units: list[_Unit], q: frozenset[str], min_score: float
                    ) -> list[_Group]:
        return _groups(units, q, min_score=min_score, max_steps=self.max_steps)

    @staticmethod
    def _take(groups: list[_Group], budget: _Budget, seen: set[str]) -> list[_Unit]:
        taken: list[_Unit] = []
        for group in groups:
            units = [u for u in group.units if u.text.lower() not in seen]
            if units and budget.take(group, units):
                seen.update(u.text.lower() for u in units)
                taken.extend(units)
        return taken

    def generate(self, question: str, passages: Sequence[Passage], *,
                 history: Sequence[Turn] = (), style: str = "") -> Generation:
        """Compose an answer; ``history`` and ``style`` cannot change copied text."""
        pieces = _pieces(self.compose(question, passages))
        if not pieces:
            return Generation(text=REFUSAL, declined=True, model=self.name)
        return Generation(text="".join(pieces), model=self.name)

    def stream(self, question: str, passages: Sequence[Passage], *,
               history: Sequence[Turn] = (), style: str = "") -> Iterator[str]:
        """Yield the answer sentence by sentence; the pieces join to ``generate``'s text."""
        yield from _pieces(self.compose(question, passages)) or [REFUSAL]


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

"""Turning a follow-up ("and for the annual plan?") into a standalone search query."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from app.rag.text import BM25_STOPWORDS, QUERY_WORD

logger = logging.getLogger(__name__)

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what if|same for|ok(ay)?|and if|or|"
    r"und|aber|oder|dann|was ist mit)\b",
    re.IGNORECASE,
)
# Words that point back at something said before: "can they skip the wait?", "it's not
# listed anymore", "und dafür?". A message holding one leans on the previous turn. "One" is
# not among them: it counts ("one room") more often than it points back ("that one").
_REFERRING = re.compile(r"\b(it|its|they|them|their|there|same|those|these|"
                        r"es|dafür|davon|damit|dort)\b", re.IGNORECASE)
# "Is there a fee?" asks whether something exists: that "there" points at nothing said before.
_EXISTENTIAL = re.compile(
    r"\b(?:is|are|was|were|be)\s+there\b|\bthere(?:\s+(?:is|are|was|were)|'s)\b", re.IGNORECASE)
# Short messages may refer with "that" or "this" too ("how long does that take?").
_REFERRING_SHORT = re.compile(r"\b(that|this)\b", re.IGNORECASE)
# A closing word that leans on the previous turn: "how much is shipping then?", "your page
# said 30 days though?".
_TRAILING = re.compile(r"\b(then|though|too|instead|either|as well|dann|auch)\W*$",
                       re.IGNORECASE)
# A question, by its mark or its words. Only a question leans on the previous turn through a
# pronoun or by being short: "yes please" or "great, they were quick" is chat, and borrowing
# the previous question's words would make it look like a question the articles answer.
_QUESTION = re.compile(
    r"\?|^\W*(?:how|what|when|where|which|who|why|can|could|do|does|did|is|are|will|would|"
    r"should|may|wie|was|wann|wo|welche\w*|kann|können|gibt|ist|sind|muss|darf)\b",
    re.IGNORECASE)
_FILLER = frozenset({"about", "also", "and", "ok", "okay", "same", "then", "so", "though",
                     "too", "und", "aber", "oder", "dann", "auch", "was", "ist", "mit"})
SHORT_WORDS = 3  # with "that" or "this", a message this short leans on the previous turn


def query_words(text: str) -> list[str]:
    """The words of a message that say what it is about (for follow-up detection)."""
    words = QUERY_WORD.findall(text.lower())
    return [w for w in words if w not in BM25_STOPWORDS and w not in _FILLER and len(w) > 1]


def is_follow_up(message: str) -> bool:
    """Messages that lean on the previous turn: "and for X?", "can they skip the wait?",
    "how much is shipping then?", "how many can I have?"."""
    if _FOLLOW_UP_START.match(message):
        return True
    if not _QUESTION.search(message):
        return False
    if _TRAILING.search(message) or _REFERRING.search(_EXISTENTIAL.sub(" ", message)):
        return True
    # One content word cannot name a topic ("how many can I have?").
    words = query_words(message)
    return len(words) <= 1 or (len(words) <= SHORT_WORDS
                                and bool(_REFERRING_SHORT.search(message)))


def rewrite_query(message: str, *, previous_questions: Sequence[str] = (),
                  previous_titles: Sequence[str] = ()) -> str:
    """Standalone query for retrieval, built by rules from the previous turn.

    A follow-up keeps its own words first (they carry the new constraint) and borrows the
    content words of the previous question and the titles of the articles that grounded
    the previous answer. A message that stands alone is returned unchanged.
    """
    if not previous_questions or not is_follow_up(message):
        return message
    own = query_words(message)
    borrowed = [w for w in query_words(previous_questions[-1]) if w not in own]
    if not own:  # purely referential ("how long does that take?"): lean on the last answer
        return " ".join([*borrowed, *previous_titles[:1]]).strip() or message
    # The follow-up's own words carry the new constraint ("camera" in "what about the
    # camera?"), so they are stated twice: BM25 counts repeated query terms again and the
    # embedding leans towards them, while the borrowed words keep the topic.
    return " ".join([*own, *borrowed, *own])


class RuleBasedRewriter:
    """The offline default: ``rewrite_query``."""

    name = "rules"

    def rewrite(self, message: str, *, previous_questions: Sequence[str] = (),
                previous_titles: Sequence[str] = ()) -> str:
        return rewrite_query(message, previous_questions=previous_questions,
                             previous_titles=previous_titles)


class LLMRewriter:
    """Asks an OpenAI-compatible model for the standalone query, only for follow-ups.

    Any failure (down, slow, empty or overlong reply) falls back to the rules, so a broken
    endpoint never breaks retrieval.
    """

    name = "llm"

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout_s: float = 5.0,
                 prompt_path: Path | None = None) -> None:
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s,
                              max_retries=0)
        self.model = model
        path = prompt_path or Path(__file__).parent / "prompts" / "rewrite.txt"
        self._prompt = path.read_text(encoding="utf-8")
        self._rules = RuleBasedRewriter()

    def rewrite(self, message: str, *, previous_questions: Sequence[str] = (),
                previous_titles: Sequence[str] = ()) -> str:
        fallback = self._rules.rewrite(message, previous_questions=previous_questions,
                                       previous_titles=previous_titles)
        if not previous_questions or not is_follow_up(message):
            return message
        earlier = "\n".join(f"- {q}" for q in previous_questions[-3:])
        try:
            reply = self._client.chat.completions.create(
                model=self.model, temperature=0.0, max_tokens=60,
                messages=[{"role": "system", "content": self._prompt},
                          {"role": "user", "content":
                           f"Earlier messages:\n{earlier}\n\nFollow-up: {message}"}])
            query = (reply.choices[0].message.content or "").strip().splitlines()[0]
        except Exception as exc:  # any client, HTTP or parsing failure: use the rules
            logger.warning("LLM query rewrite failed (%s); using rules", type(exc).__name__)
            return fallback
        return query if 0 < len(query) <= 300 else fallback

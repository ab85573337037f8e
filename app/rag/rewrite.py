"""Turning a follow-up ("and for the annual plan?") into a standalone search query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.rag.sparse import STOPWORDS

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what if|same for|ok(ay)?|and if|or)\b",
    re.IGNORECASE,
)
_REFERRING = re.compile(r"\b(it|that|this|those|these|they|them|there|one|same)\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_FILLER = frozenset({"about", "also", "and", "ok", "okay", "same", "then", "so"})


def content_words(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    return [w for w in words if w not in STOPWORDS and w not in _FILLER and len(w) > 1]


def is_follow_up(message: str) -> bool:
    """Short messages that lean on the previous turn: 'and for X?', 'what about it?'."""
    words = content_words(message)
    if _FOLLOW_UP_START.match(message):
        return True
    return len(words) <= 3 and bool(_REFERRING.search(message))


def rewrite_query(message: str, *, previous_questions: Sequence[str] = (),
                  previous_titles: Sequence[str] = ()) -> str:
    """Standalone query for retrieval, built by rules from the previous turn.

    A follow-up keeps its own words first (they carry the new constraint) and borrows the
    content words of the previous question and the titles of the articles that grounded
    the previous answer. A message that stands alone is returned unchanged.
    """
    if not previous_questions or not is_follow_up(message):
        return message
    own = content_words(message)
    borrowed = [w for w in content_words(previous_questions[-1]) if w not in own]
    if not own:  # purely referential ("how long does that take?"): lean on the last answer
        return " ".join([*borrowed, *previous_titles[:1]]).strip() or message
    # The follow-up's own words carry the new constraint ("camera" in "what about the
    # camera?"), so they are stated twice: BM25 counts repeated query terms again and the
    # embedding leans towards them, while the borrowed words keep the topic.
    return " ".join([*own, *borrowed, *own])

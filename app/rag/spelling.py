"""Misspelt question words, read as the knowledge base's own word one edit away.

"reutrn policy?" shares no word with the article that answers it: "reutrn" occurs nowhere in
the knowledge base, so BM25 misses the article, the decision's coverage signals count a
question word as unknown, and the answer's sentence choice has one word less to go on.

A question word is corrected only when neither the index's BM25 vocabulary nor an English or
German word list (``pyspellchecker``'s) knows it: "Spain" or "sister" are real words the help
center happens not to use, and what a question asks about outside the knowledge base must
stay outside it. Such a word is replaced by the real word one edit away (a letter deleted,
inserted or replaced, or two neighbours swapped) that the most passages hold; a word with no
such neighbour, a short word, a contraction typed without its apostrophe ("theres") and
anything with a digit stay as they are.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator

from app.rag.sparse import BM25Index, tokenize

MIN_LENGTH = 5  # shorter words are too close to too many others to correct safely
LANGUAGES = ("en", "de")  # the word lists that tell a real word from a misspelt one
_LETTERS = "abcdefghijklmnopqrstuvwxyzäöüß"
_WORD = re.compile(r"[^\W\d_]+")


_LOADING = threading.Lock()


def dictionary() -> frozenset[str]:
    """The lowercase words of the ``LANGUAGES`` word lists (about 0.5 million), loaded once
    per process whichever thread asks first."""
    with _LOADING:
        return _load_dictionary()


@functools.cache
def _load_dictionary() -> frozenset[str]:
    from spellchecker import SpellChecker

    words: set[str] = set()
    for language in LANGUAGES:
        words.update(SpellChecker(language=language, distance=1).word_frequency.keys())
    return frozenset(words)


def _edits(word: str) -> Iterator[str]:
    """Every string one edit away from ``word``."""
    for i in range(len(word) + 1):
        left, right = word[:i], word[i:]
        if right:
            yield left + right[1:]
            yield from (left + c + right[1:] for c in _LETTERS)
        if len(right) > 1:
            yield left + right[1] + right[0] + right[2:]
        yield from (left + c + right for c in _LETTERS)


def _passages_with(term: str, sparse: BM25Index) -> int:
    """How many passages hold ``term`` (a BM25 token); 0 when none does."""
    row = sparse.vocab.get(term)
    return 0 if row is None else int(sparse.indptr[row + 1] - sparse.indptr[row])


def correct_word(word: str, sparse: BM25Index) -> str:
    """``word``, or the real word one edit away that the most passages hold."""
    low = word.lower()
    if len(low) < MIN_LENGTH:
        return word
    tokens = tokenize(low)
    if not tokens or _passages_with(tokens[0], sparse):
        return word  # a stop word, or a word the articles use
    words = dictionary()
    if low in words:
        return word  # a real word the articles do not use
    if any(f"{low[:i]}'{low[i:]}" in words for i in range(1, len(low))):
        return word  # "theres": a contraction typed without its apostrophe
    best, best_count = word, 0
    for candidate in sorted(set(_edits(low)) & words):
        found = tokenize(candidate)
        count = _passages_with(found[0], sparse) if len(found) == 1 else 0
        if count > best_count:
            best, best_count = candidate, count
    if best is word:
        return word
    return best[:1].upper() + best[1:] if word[:1].isupper() else best


def corrected(text: str, sparse: BM25Index) -> str:
    """``text`` with each misspelt word replaced (see the module docstring)."""
    return _WORD.sub(lambda m: correct_word(m.group(0), sparse), text)

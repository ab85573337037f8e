"""What the customer reads: whether an answer states the key facts, first, and how long it is.

An answerable question of an evaluation set lists ``key_facts``: short strings stated
verbatim in a gold article (a number, a duration, a menu path, a country) that a correct
answer must contain, the first being the one that answers the question most directly; and
``avoid_facts`` where an archived article states an old value. Matching ignores case,
Markdown emphasis, link syntax, citation markers and the typography of quotes and dashes,
so a fact copied from an article matches the same words in an extractive or generated
answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.rag.citations import split_sentences
from app.rag.text import READ_WORD

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_EMPHASIS = re.compile(r"[*_`]")
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                       "\u2013": "-", "\u2014": "-", "\u00a0": " ", "\u2192": ">"})
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def normalise(text: str) -> str:
    """Lowercase text without Markdown emphasis, links' URLs or citation markers."""
    text = _MARKERS.sub("", _LINK.sub(r"\1", text)).translate(_FOLD)
    return " ".join(_EMPHASIS.sub("", text).lower().split())


def states(answer: str, fact: str) -> bool:
    """Whether ``answer`` contains ``fact`` (see :func:`normalise`)."""
    wanted = normalise(fact)
    return bool(wanted) and wanted in normalise(answer)


def first_sentence(answer: str) -> str:
    """The first sentence the customer reads (a list item counts as one)."""
    sentences = split_sentences(answer)
    return sentences[0] if sentences else ""


def words_outside_steps(answer: str) -> int:
    """Words of the answer outside numbered or bulleted lists (a step list is read whole)."""
    prose = [line for line in answer.splitlines() if not _LIST_ITEM.match(line)]
    return len(READ_WORD.findall(_MARKERS.sub("", "\n".join(prose)).translate(_FOLD)))


def is_correct(answer: str, *, key_facts: Sequence[str], avoid_facts: Sequence[str]) -> bool:
    """Every key fact stated and no avoided (outdated) fact."""
    return (all(states(answer, f) for f in key_facts)
            and not any(states(answer, f) for f in avoid_facts))


def leads_with_fact(answer: str, key_facts: Sequence[str]) -> bool:
    """The first sentence states the first key fact."""
    return bool(key_facts) and states(first_sentence(answer), key_facts[0])

"""Words: the patterns, stop words and stemmers that retrieval, citation checks and query
rewriting use, in one place.

The variants differ on purpose and each is named after what it is for. BM25's are baked into
the vocabulary of every index built (changing them needs a re-index and a new measurement);
the citation checker's decide which answer sentences count as supported, and its thresholds
were calibrated with them. Merging them would be a measured change of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Runs of letters and digits in any script: BM25 tokens ("wi-fi" -> "wi", "fi").
BM25_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# As BM25_WORD, keeping inner apostrophes: "don't" and "hub's" stay one word for citations.
CITATION_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Words in any script with inner apostrophes and hyphens: what a follow-up question says
# ("kündigen" stays whole).
QUERY_WORD = re.compile(r"[^\W_](?:[^\W_]|['-])*")
# Lowercase ASCII letters and digits: normalising names and questions before comparing them.
ASCII_WORD = re.compile(r"[a-z0-9]+")
# Words as a reader counts them ("5-7", "don't" and "v2.1" are one): the length of an answer.
READ_WORD = re.compile(r"\w+(?:['.-]\w+)*")

# A short English list for BM25 and query rewriting: enough to keep question words ("how do
# I ...") from dominating, small enough not to drop product vocabulary.
BM25_STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from had has have how i if in into is
    it its me my of on or our so than that the their them then there these they this to was we
    were what when where which who why will with would you your""".split()
)

# A longer list for citation support: a sentence is supported by the content words it shares
# with its passage, so function words must not count.
CITATION_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    both but by can can't could did didn't do does doesn't doing don't down during each either
    else for from further had has have having he her here hers how i if in into is isn't it
    its just let may me might more most must my no nor not now of off on once only or other
    our ours out over own please same shall she should so some such than that the their
    theirs them then there these they this those through to too under until up upon us very
    was wasn't we were what when where whether which while who whom whose why will with won't
    would yes yet you your yours""".split()
)


@lru_cache(maxsize=1)
def _snowball() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


def snowball_stems(words: Iterable[str]) -> list[str]:
    """English Snowball stems (PyStemmer), as BM25 indexes its tokens."""
    return list(_snowball().stemWords(list(words)))  # type: ignore[attr-defined]


def light_stem(word: str) -> str:
    """Citation checks' stemmer: fold plurals, -ing and -ed.

    "charging", "charged" and "charges" all meet "charge"; "added" meets "add".
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    suffix = "ing" if word.endswith("ing") else "ed" if word.endswith("ed") else ""
    stem = word[: -len(suffix)] if suffix else word
    if suffix and len(stem) >= 2 and re.search(r"[aeiouy]", stem) and not word.endswith("eed"):
        if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouslz":
            stem = stem[:-1]  # "tapped" -> "tap", but "called" -> "call", "added" -> "add"
        word = stem
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 2 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word

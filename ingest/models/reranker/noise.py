"""Typing and speech-recognition noise for training queries.

Customers type fast on phones and some talk to the widget through speech recognition: words
arrive misspelt ("delivry"), spelt as they sound ("kommen" for "common"), split ("out door")
or run together, and short words go missing. A reranker trained only on clean questions gives
such a query a low score for every passage, or a high one for any passage that names the
right product or place, so the first stage's order stands or gets worse. Training on copies
of the queries with this kind of noise teaches it to match the topic through the noise (the
approach of typo-robust retrieval training, e.g. Zhuang and Zuccon, "Dealing with Typos for
BERT-based Passage Retrieval and Ranking", EMNLP 2021).

The noise is synthetic and rule-based: nothing here is learnt from, or looked up in, an
evaluation set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from ingest.models.reranker.records import DataParams, Pair

VOWELS = "aeiou"
# Spellings that sound alike: what a speech recogniser or a hurried writer swaps.
SOUND_ALIKE = (("ph", "f"), ("ck", "k"), ("ee", "ea"), ("ou", "o"), ("tion", "shun"),
               ("ai", "ay"), ("er", "a"), ("c", "k"), ("s", "z"), ("y", "ie"), ("ll", "l"),
               ("th", "d"), ("ght", "t"), ("w", "wh"), ("or", "er"))
_TOKEN = re.compile(r"\S+")


def _delete(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1:]


def _swap(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _vowel(word: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(word) if c in VOWELS]
    if not spots:
        return word
    i = rng.choice(spots)
    return word[:i] + rng.choice([v for v in VOWELS if v != word[i]]) + word[i + 1:]


def _sound(word: str, rng: random.Random) -> str:
    rules = [(a, b) for a, b in SOUND_ALIKE if a in word]
    if not rules:
        return _vowel(word, rng)
    a, b = rng.choice(rules)
    return word.replace(a, b, 1)


def _split(word: str, rng: random.Random) -> str:
    i = rng.randrange(2, len(word) - 1)
    return f"{word[:i]} {word[i:]}"


def _truncate(word: str, rng: random.Random) -> str:
    return word[: rng.randrange(max(3, len(word) // 2), len(word))]


# Sound-alike spellings are listed twice: the commonest error of speech recognition.
EDITS: tuple[Callable[[str, random.Random], str], ...] = (
    _delete, _swap, _vowel, _sound, _sound, _split, _truncate)


def misspell(text: str, rng: random.Random, *, rate: float) -> str:
    """``text`` with each word of four or more letters garbled with probability ``rate``.

    Short words are dropped with probability ``rate / 3`` (speech recognisers lose them), and
    one garbled word in five is run together with the next word. At least one word changes
    when the text has a word long enough.

    Args:
        text: The query.
        rng: The seeded random source (the same seed gives the same noise).
        rate: Share of the long words to garble, in [0, 1].
    """
    tokens = _TOKEN.findall(text)
    long = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
    if not long:
        return text
    chosen = {i for i in long if rng.random() < rate} or {rng.choice(long)}
    out: list[str] = []
    merge = False
    for i, token in enumerate(tokens):
        if i in chosen:
            token = rng.choice(EDITS)(token, rng)
            merge_next = rng.random() < 0.2
        else:
            merge_next = False
            if len(token) <= 3 and token.isalpha() and len(tokens) > 3 and rng.random() < rate / 3:
                continue
        if merge and out:
            out[-1] += token
        else:
            out.append(token)
        merge = merge_next
    return " ".join(out)


def noisy_copy(pairs: Sequence[Pair], *, share: float, rate: float, seed: str) -> list[Pair]:
    """The pairs with a ``share`` of their queries garbled by ``misspell``.

    A query is garbled the same way in all of its pairs (its positive and its negatives see
    the same text); which queries, and how, follows from ``seed`` and the query alone, so a
    list built again gives the same copy and another ``seed`` gives another one.
    """
    if share <= 0:
        return list(pairs)
    garbled: dict[tuple[str, str], str] = {}
    out = []
    for p in pairs:
        key = (p.group, p.query)
        if key not in garbled:
            rng = random.Random(f"{seed}\x1f{p.group}\x1f{p.query}")
            garbled[key] = (misspell(p.query, rng, rate=rate) if rng.random() < share
                            else p.query)
        out.append(replace(p, query=garbled[key]) if garbled[key] != p.query else p)
    return out


def noisy_repeats(pairs: Sequence[Pair], *, params: DataParams) -> list[Pair]:
    """``params.kb_repeat`` copies of the pairs, each garbling its own share of the queries.

    Most queries are then seen clean in some copy and misspelt in another.
    """
    return [p for copy in range(params.kb_repeat)
            for p in noisy_copy(pairs, share=params.noise_share, rate=params.noise_rate,
                                seed=f"{params.seed}:{copy}")]

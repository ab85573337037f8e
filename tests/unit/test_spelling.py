"""Misspelt question words are read as the knowledge base's word one edit away; real words
the articles do not use, short words and contractions stay as written."""

from __future__ import annotations

import pytest

from app.rag.sparse import BM25Index, tokenize
from app.rag.spelling import correct_word, corrected

PASSAGES = [
    "You can return a device within 45 days. Returns are free.",
    "Return the device in its box. Our return policy covers every device.",
    "Reset your password from the sign-in screen.",
    "Cancel your subscription under Account > Billing.",
    "Eine Rücksendung starten Sie unter shop.lumora.example/returns.",
    "The camera records to the cloud.",
]


@pytest.fixture(scope="module")
def sparse() -> BM25Index:
    return BM25Index.build([tokenize(p) for p in PASSAGES])


@pytest.mark.parametrize(("message", "searched"), [
    ("reutrn policy?", "return policy?"),  # two letters swapped
    ("forgot my pasword", "forgot my password"),  # a letter left out
    ("cancle my subscripton", "cancel my subscription"),
    ("Wie starte ich eine Rücksendnug?", "Wie starte ich eine Rücksendung?"),  # German
    ("Camra offline", "Camera offline"),  # the capital stays
    ("new devce", "new device"),
])
def test_a_misspelt_word_becomes_the_articles_word(sparse: BM25Index, message: str,
                                                   searched: str) -> None:
    assert corrected(message, sparse) == searched


@pytest.mark.parametrize("word", [
    "Spain", "sister", "trash",  # real words the articles do not use: the question is about them
    "theres", "doesnt",  # contractions without their apostrophe
    "rturm",  # two edits away from "return"
])
def test_real_words_and_far_misspellings_stay(sparse: BM25Index, word: str) -> None:
    assert correct_word(word, sparse) == word


def test_short_words_and_words_with_digits_stay(sparse: BM25Index) -> None:
    assert correct_word("retn", sparse) == "retn"
    assert corrected("2fa on my cam3ra", sparse) == "2fa on my cam3ra"

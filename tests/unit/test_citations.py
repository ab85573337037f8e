"""Citation parsing and verification, on hand-computed cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from app.errors import ConfigurationError
from app.rag.citations import (
    REFUSAL,
    CitationVerifier,
    content_words,
    parse_markers,
    split_sentences,
)
from app.rag.types import Chunk, Passage, Sentence


def passage(n: int, title: str, heading: tuple[str, ...], text: str) -> Passage:
    chunk = Chunk(chunk_id=f"a{n}:0", article_id=f"a{n}", ordinal=0, title=title,
                  heading_path=heading, text=text, url="", char_start=0, char_end=len(text),
                  n_tokens=len(text.split()))
    return Passage(n=n, chunk=chunk, score=1.0)


# Content words (breadcrumb included):
# [1] refund tim issu original payment method within 5 business day
# [2] ship cost standard 4 99 free order 50
REFUNDS = passage(1, "Refunds", ("Timing",),
                  "Refunds are issued to the original payment method within 5 business days.")
SHIPPING = passage(2, "Shipping", ("Costs",),
                   "Standard shipping costs $4.99 and is free on orders over $50.")
PASSAGES = (REFUNDS, SHIPPING)


class OverlapReranker:
    """Scores a passage by the number of raw lowercase words it shares with the query."""

    name = "overlap"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.calls.append((query, list(passages)))
        words = set(query.lower().split())
        return np.array([len(words & set(p.lower().split())) for p in passages], np.float32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Use a browser, e.g. Chrome or Safari. Firefox works too.",
         ["Use a browser, e.g. Chrome or Safari.", "Firefox works too."]),
        ("That is, i.e. Wi-Fi only. Then restart.", ["That is, i.e. Wi-Fi only.", "Then restart."]),
        ("Update to 4.12.3 first. Then restart the hub.",
         ["Update to 4.12.3 first.", "Then restart the hub."]),
        ("Pro costs $4.99 a month. Cancel any time.",
         ["Pro costs $4.99 a month.", "Cancel any time."]),
        ("Free shipping in the U.S. Standard rates apply elsewhere.",
         ["Free shipping in the U.S. Standard rates apply elsewhere."]),
        ("Go to help.lumora.example today. It has guides.",
         ["Go to help.lumora.example today.", "It has guides."]),
        ("To start:\n1. Open the app.\n2. Tap Add device. Then wait.",
         ["To start:", "1. Open the app.", "2. Tap Add device.", "Then wait."]),
        ("Tap Save [1]. Then tap Done.[2] Wait a minute [1][3] Done!",
         ["Tap Save [1].", "Then tap Done.[2]", "Wait a minute [1][3]", "Done!"]),
        ("A paragraph that\nwraps onto two lines. Next one.",
         ["A paragraph that wraps onto two lines.", "Next one."]),
        ('The app shows "Account locked. Try again later." Wait 15 minutes.',
         ['The app shows "Account locked. Try again later."', "Wait 15 minutes."]),
        ("Tap \u201cSave. Then Done.\u201d Next step.",
         ["Tap \u201cSave. Then Done.\u201d", "Next step."]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("sentence", "clean", "numbers"),
    [
        ("Tap Save [1].", "Tap Save.", (1,)),
        ("Tap Save [1, 2].", "Tap Save.", (1, 2)),
        ("Tap Save.[1][3]", "Tap Save.", (1, 3)),
        ("[2] Tap Save [2].", "Tap Save.", (2,)),
        ("See [the guide](https://help.lumora.example/a) [4].",
         "See [the guide](https://help.lumora.example/a).", (4,)),
        ("Tap Save.", "Tap Save.", ()),
    ],
)
def test_parse_markers(sentence: str, clean: str, numbers: tuple[int, ...]) -> None:
    assert parse_markers(sentence) == (clean, numbers)


def test_content_words_fold_plurals_ing_and_ed() -> None:
    assert content_words("Charging charged charges") == content_words("charge")
    assert content_words("added tapped") == content_words("add tap")
    assert content_words("How do I reset my passwords?") == {"reset", "password"}


def test_supported_sentence_keeps_its_citation() -> None:
    answer = CitationVerifier().verify("Refunds are issued within 5 business days [1].", PASSAGES)
    assert answer.sentences == (Sentence("Refunds are issued within 5 business days.", (1,)),)
    assert answer.text == "Refunds are issued within 5 business days. [1]"


def test_overlap_threshold_is_inclusive_and_hand_computed() -> None:
    # refund tak 5 business day: 4 of 5 words are in [1] -> overlap 0.8
    text = "Refunds take 5 business days [1]."
    assert CitationVerifier(min_overlap=0.8).verify(text, PASSAGES).cited == (1,)
    strict = CitationVerifier(min_overlap=0.81).verify(text, PASSAGES)
    assert strict.sentences == ()
    assert strict.dropped == ("Refunds take 5 business days.",)


def test_unsupported_sentence_is_dropped_and_reported() -> None:
    # refund includ bonus voucher: 1 of 4 in [1], none in [2]
    text = "Refunds are issued within 5 business days [1]. Refunds include a bonus voucher [1]."
    answer = CitationVerifier().verify(text, PASSAGES)
    assert answer.text == "Refunds are issued within 5 business days. [1]"
    assert answer.dropped == ("Refunds include a bonus voucher.",)


def test_unknown_marker_is_dropped_and_reported() -> None:
    answer = CitationVerifier().verify("Standard shipping costs $4.99 [2][7].", PASSAGES)
    assert answer.sentences == (Sentence("Standard shipping costs $4.99.", (2,)),)
    assert answer.unknown_markers == (7,)


def test_sentence_with_only_unknown_marker_is_cited_to_its_supporting_passage() -> None:
    answer = CitationVerifier().verify("Standard shipping costs $4.99 [9].", PASSAGES)
    assert answer.cited == (2,)
    assert answer.unknown_markers == (9,)


def test_wrong_citation_is_recited_to_the_supporting_passage() -> None:
    answer = CitationVerifier().verify("Standard shipping costs $4.99 [1].", PASSAGES)
    assert answer.sentences == (Sentence("Standard shipping costs $4.99.", (2,)),)
    assert answer.dropped == ()


def test_uncited_sentence_kept_only_when_a_passage_supports_it() -> None:
    text = "Refunds go to the original payment method. We also sell gift cards."
    answer = CitationVerifier().verify(text, PASSAGES)
    assert answer.sentences == (Sentence("Refunds go to the original payment method.", (1,)),)
    assert answer.dropped == ("We also sell gift cards.",)


def test_sentence_needing_two_passages_survives_only_when_citing_both() -> None:
    # refund tak 5 business day standard ship 4 99: 4/9 in [1], 4/9 in [2], 8/9 in both
    both = "Refunds take 5 business days and standard shipping is $4.99 [1][2]."
    assert CitationVerifier().verify(both, PASSAGES).cited == (1, 2)
    one = "Refunds take 5 business days and standard shipping is $4.99 [1]."
    assert CitationVerifier().verify(one, PASSAGES).sentences == ()


def test_refusal_sentence_is_neither_content_nor_dropped() -> None:
    alone = CitationVerifier().verify(REFUSAL, PASSAGES)
    assert (alone.sentences, alone.dropped) == ((), ())
    mixed = CitationVerifier().verify(
        "Refunds take 5 business days [1]. I don\u2019t know based on our help center.", PASSAGES)
    assert mixed.text == "Refunds take 5 business days. [1]"
    assert mixed.dropped == ()


def test_list_items_stay_on_their_own_lines() -> None:
    text = "Shipping:\n1. Standard shipping costs $4.99 [2].\n2. Orders over $50 ship free [2]."
    answer = CitationVerifier().verify(text, PASSAGES)
    assert answer.text.splitlines() == ["Shipping: [2]",
                                        "1. Standard shipping costs $4.99. [2]",
                                        "2. Orders over $50 ship free. [2]"]


def test_reranker_is_called_once_per_sentence_with_every_passage() -> None:
    reranker = OverlapReranker()
    text = ("Refunds take 5 business days [1]. Standard shipping costs $4.99 [2]. "
            "We also sell gift cards.")
    answer = CitationVerifier(reranker=reranker, min_reranker_score=1).verify(text, PASSAGES)
    assert answer.cited == (1, 2)
    # two sentences with some overlap -> two calls; the gift-card one has none -> no call
    assert [query for query, _ in reranker.calls] == ["Refunds take 5 business days.",
                                                      "Standard shipping costs $4.99."]
    assert all(len(texts) == 2 for _, texts in reranker.calls)


def test_reranker_vetoes_a_sentence_that_word_overlap_accepts() -> None:
    # raw-word overlap with [1]: refunds, 5, business, days. -> score 4; with [2]: 0
    text = "Refunds take 5 business days [1]."
    kept = CitationVerifier(reranker=OverlapReranker(), min_reranker_score=4).verify(text, PASSAGES)
    assert kept.cited == (1,)
    vetoed = CitationVerifier(reranker=OverlapReranker(), min_reranker_score=5).verify(
        text, PASSAGES)
    assert vetoed.sentences == ()
    assert vetoed.dropped == ("Refunds take 5 business days.",)


def test_reranker_recites_to_the_passage_it_prefers() -> None:
    # Both passages hold every content word (hub light blink blu setup), but raw-word
    # overlap is 7 with [1] and 4 with [2].
    hubs = (passage(1, "Hub", (), "The hub light blinks blue during setup."),
            passage(2, "Hub light", (),
                    "A blinking blue hub light means the hub is in setup mode."))
    text = "The hub light blinks blue during setup [2]."
    assert CitationVerifier().verify(text, hubs).cited == (2,)
    reranked = CitationVerifier(reranker=OverlapReranker(), min_reranker_score=5)
    assert reranked.verify(text, hubs).cited == (1,)


def test_verify_sentence_for_streaming() -> None:
    verifier = CitationVerifier()
    assert verifier.verify_sentence("Standard shipping costs $4.99 [1].", PASSAGES) == Sentence(
        "Standard shipping costs $4.99.", (2,))
    assert verifier.verify_sentence("We also sell gift cards [1].", PASSAGES) is None
    assert verifier.verify_sentence(REFUSAL, PASSAGES) is None


def test_invalid_min_overlap_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="min_overlap"):
        CitationVerifier(min_overlap=0.0)

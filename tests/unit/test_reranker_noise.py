from __future__ import annotations

import random

from ingest.models.reranker.faq import FaqEntry, faq_pairs
from ingest.models.reranker.noise import misspell, noisy_copy, noisy_repeats
from ingest.models.reranker.records import DataParams, Pair, normalise

QUESTION = "does the restaurant offer delivery service on weekends"


def test_misspell_is_reproducible_and_changes_with_the_seed():
    first = misspell(QUESTION, random.Random(5), rate=0.3)
    assert first == misspell(QUESTION, random.Random(5), rate=0.3)
    assert first != QUESTION
    variants = {misspell(QUESTION, random.Random(seed), rate=0.3) for seed in range(20)}
    assert len(variants) > 10


def test_misspell_garbles_few_words_at_a_low_rate_and_most_at_a_high_one():
    def kept(rate: float) -> float:
        words = QUESTION.split()
        shares = []
        for seed in range(50):
            out = set(misspell(QUESTION, random.Random(seed), rate=rate).split())
            shares.append(sum(w in out for w in words) / len(words))
        return sum(shares) / len(shares)

    low, high = kept(0.0), kept(0.9)
    assert 0.7 < low < 1.0  # one long word always changes
    assert high < 0.5


def test_misspell_leaves_text_without_long_words_alone():
    assert misspell("is it ok", random.Random(1), rate=1.0) == "is it ok"
    assert misspell("", random.Random(1), rate=1.0) == ""


def pairs() -> list[Pair]:
    out = []
    for q in range(30):
        query = f"question number {q} about returning a faulty doorbell camera"
        out += [Pair(query, f"passage {q} {i}", float(i == 0), "questions", f"q{q}")
                for i in range(3)]
    return out


def test_noisy_copy_garbles_a_share_of_queries_the_same_way_in_all_their_pairs():
    original = pairs()
    copy = noisy_copy(original, share=0.5, rate=0.3, seed="13:0")
    assert [(p.passage, p.label, p.group) for p in copy] == \
        [(p.passage, p.label, p.group) for p in original]
    by_group: dict[str, set[str]] = {}
    for p in copy:
        by_group.setdefault(p.group, set()).add(p.query)
    assert all(len(texts) == 1 for texts in by_group.values())
    changed = sum(p.query != o.query for p, o in zip(copy, original, strict=True)) // 3
    assert 5 <= changed <= 25
    assert copy == noisy_copy(original, share=0.5, rate=0.3, seed="13:0")
    assert copy != noisy_copy(original, share=0.5, rate=0.3, seed="13:1")


def test_noisy_copy_with_no_share_is_the_input():
    original = pairs()
    assert noisy_copy(original, share=0.0, rate=0.3, seed="x") == original


def test_noisy_faq_queries_keep_their_entity_and_clean_passages():
    entries = [FaqEntry(f"hotel:{i}:0", f"Hotel Number{i}", "Do you offer airport shuttles?",
                        f"Hotel Number{i} offers shuttles.") for i in range(40)]
    clean = faq_pairs(entries, params=DataParams(faq_queries=40, noise_share=0.0),
                      rng=random.Random(2))
    noisy = faq_pairs(entries, params=DataParams(faq_queries=40, noise_share=1.0),
                      rng=random.Random(2))
    assert all("airport shuttles" in normalise(p.query) for p in clean if p.label == 1.0)
    positives = [p for p in noisy if p.label == 1.0]
    garbled = [p for p in positives if not {"offer", "airport", "shuttles"}
               <= set(normalise(p.query).split())]
    assert len(garbled) > len(positives) // 2
    entity = {e.id: e.entity for e in entries}
    for p in positives:  # the entity prefix is never garbled: only the question is
        assert normalise(p.query).startswith(normalise(entity[p.group]))
        assert "offers shuttles" in p.passage


def test_each_repeat_garbles_its_own_queries_and_most_queries_are_seen_clean():
    original = pairs()
    params = DataParams(kb_repeat=4, noise_share=0.4, noise_rate=0.2)
    repeats = noisy_repeats(original, params=params)
    assert len(repeats) == 4 * len(original)
    copies = [repeats[i * len(original):(i + 1) * len(original)] for i in range(4)]
    assert len({tuple(p.query for p in c) for c in copies}) == 4
    seen_clean = {p.group for c in copies for p, o in zip(c, original, strict=True)
                  if p.query == o.query}
    assert len(seen_clean) >= 25  # of 30: P(garbled in all four) = 0.4 ** 4
    clean = noisy_repeats(original, params=DataParams(kb_repeat=2, noise_share=0.0))
    assert clean == original * 2
